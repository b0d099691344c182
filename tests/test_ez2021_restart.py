"""Algorithm 1 of ez2021 (restart heuristic): window ratio, mechanics of both window modes and
both restart policies, and the Fig.-5 integration (spec §4: T18, T19 slow)."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.models.init import rank_k_init
from lowranklab.problems.ez2021 import example_instance
from lowranklab.solvers import StopCode
from lowranklab.solvers.restart import restart_gd, window_ratio
from lowranklab.solvers.sensing_gd import sensing_gd


def _setup(seed=0, d=10, m=40):
    rng = np.random.default_rng(seed)
    inst = example_instance(d, 2, m, rng)
    return inst, rng, 0.25 / inst.opnorm() ** 2


def _alg1(inst, rng, eta, **kw):
    args = dict(step=eta, max_iter=60, window=5, tau=0.998, r0=10, rho0=1.0, delta_rank=3,
                factor=0.5, r=2, rng=rng, tol=None)
    args.update(kw)
    return restart_gd(inst, **args)


def test_T18c_window_ratio():
    e = 0.99 ** np.arange(30)
    assert window_ratio(e, 20, 10) == pytest.approx(0.99, rel=1e-14)
    e2 = e.copy()
    e2[15] = e2[14]  # one flat step inside the window
    assert window_ratio(e2, 20, 10) == 1.0
    assert window_ratio(np.array([1.0, 0.0, 0.0, 0.0]), 3, 2) == 1.0  # 0/0 guarded as 1
    with pytest.raises(ValueError, match="k >= W"):
        window_ratio(e, 4, 5)


def test_T18a_tau_zero_is_bitwise_plain_gd():
    inst, rng, eta = _setup()
    U0 = rank_k_init((10, 10), 10, 1.0, rng)
    a = _alg1(inst, rng, eta, tau=0.0, U0=U0, max_iter=300)
    g = sensing_gd(inst, U0, step=eta, max_iter=300, tol=None)
    assert a.info["n_restarts"] == 0
    assert np.array_equal(a.theta, g.theta)
    assert np.array_equal(a.trace["train_error"], g.trace["train_error"])


def test_T18b_tau_infinite_restarts_at_every_check_paper_mode():
    inst, rng, eta = _setup()
    res = _alg1(inst, rng, eta, tau=np.inf)
    ev = res.info["restarts"]
    assert [e["k"] for e in ev] == [6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56]  # k ≡ 1 mod W
    for j, e in enumerate(ev, start=1):
        assert e["r0"] == max(10 - 3 * j, 2)
        assert e["rho0"] == pytest.approx(0.5**j, rel=1e-15)
        assert e["new_rank"] == e["r0"]
        assert e["new_norm"] == pytest.approx(e["rho0"], rel=1e-12)
    # the trace marks the runs: after the restart at k the new run starts at k + 1
    tr = res.trace
    it, run = tr["iter"].astype(int), tr["run"].astype(int)
    assert run[it == 6][0] == 0 and run[it == 7][0] == 1 and tr["r0"][it == 7][0] == 7


def test_T18b_restart_discards_the_gd_step_and_overwrites_the_iterate():
    inst, _, eta = _setup()
    a = _alg1(inst, np.random.default_rng(3), eta, tau=np.inf, max_iter=7, max_restarts=1)
    U0 = rank_k_init((10, 10), 10, 1.0, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    rank_k_init((10, 10), 10, 1.0, rng)  # the same stream: U₀, then the restart draw
    fresh = rank_k_init((10, 10), 7, 0.5, rng)
    g = sensing_gd(inst, U0, step=eta, max_iter=6, tol=None)
    assert np.array_equal(a.trace["train_error"][:7], g.trace["train_error"])
    assert a.info["final_train_error"] == pytest.approx(inst.train_error(fresh), rel=1e-14)


def test_T18d_fresh_window_mode():
    inst, rng, eta = _setup()
    res = _alg1(inst, rng, eta, tau=np.inf, window_mode="fresh")
    ks = [e["k"] for e in res.info["restarts"]]
    assert ks[0] == 5  # first check at k − s = W with s = 0
    assert np.all(np.diff(ks) == 6)  # restart at k → next check at k + W + 1
    # every check evaluates window_ratio on the global history; in fresh mode its window
    # e_{k-W..k} starts after the previous restart, in paper mode it starts at the restart
    for mode in ("paper", "fresh"):
        r = _alg1(inst, np.random.default_rng(0), eta, tau=np.inf, window_mode=mode)
        e = r.trace["train_error"]
        assert np.array_equal(r.trace["iter"], np.arange(len(e)))  # dense record
        ev = r.info["restarts"]
        for prev, cur in zip(ev, ev[1:], strict=False):
            assert cur["ratio"] == window_ratio(e, cur["k"], 5)
            first = cur["k"] - 5  # the oldest error in the window
            assert first == (prev["k"] + 1 if mode == "fresh" else prev["k"])


def test_policies_and_cap():
    inst, rng, eta = _setup()
    capped = _alg1(inst, np.random.default_rng(0), eta, tau=np.inf, max_restarts=3)
    assert capped.info["n_restarts"] == 3
    until = _alg1(inst, np.random.default_rng(0), eta, tau=np.inf,
                  restart_policy="until_target_rank")
    ranks = [e["r0"] for e in until.info["restarts"]]
    assert ranks == [7, 4, 2] and until.info["final_r0"] == 2  # no restart once r₀ = r
    for bad in (dict(window=1), dict(factor=1.0), dict(r0=1), dict(window_mode="x"),
                dict(restart_policy="x"), dict(max_restarts=-1), dict(step=0.0)):
        with pytest.raises(ValueError):
            _alg1(inst, rng, eta, **bad)


def test_callbacks_and_eps_stop():
    inst, rng, eta = _setup()
    res = _alg1(inst, rng, eta, callbacks=[lambda s: s.iteration == 4])
    assert res.stop is StopCode.INTERRUPTED and res.iterations == 4
    conv = _alg1(inst, rng, eta, tol=1e300)
    assert conv.stop is StopCode.CONVERGED and conv.iterations == 0


@pytest.mark.slow
def test_T19_fig5_integration():
    inst = example_instance(30, 2, None, np.random.default_rng(1))
    rng = np.random.default_rng(123)
    U0 = rank_k_init((30, 30), 30, 10.0, rng)
    kw = dict(step=5e-6, max_iter=50_000, window=100, tau=0.998, r0=30, rho0=10.0,
              delta_rank=3, factor=0.5, r=2, U0=U0, record_every=100)
    a = restart_gd(inst, rng=np.random.default_rng(7), restart_policy="until_target_rank", **kw)
    assert a.info["n_restarts"] == 10 and a.stop is StopCode.CONVERGED
    assert a.info["final_test_error"] <= 1e-10
    g = sensing_gd(inst, U0, step=5e-6, max_iter=50_000, record_every=100)
    assert g.info["final_test_error"] >= 1
    lit = restart_gd(inst, rng=np.random.default_rng(7), **{**kw, "max_iter": 20_000})
    assert lit.info["n_restarts"] >= 10
