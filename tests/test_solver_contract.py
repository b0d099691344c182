"""The solver contract (issue 13): every iterative solver runs on the one engine and passes the
same checks — a callback stops it; a callback raising KeyboardInterrupt gives `interrupted` with
a usable partial result; an oversized step gives `diverged` with finite factors; the result
has one shape; the same seed gives bitwise-identical output; a solved problem stops with
`converged` under default settings."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.deep import balanced_symmetric_init
from lowranklab.models.fixed_rank import manifold_for
from lowranklab.models.init import gaussian_factor, initial_point
from lowranklab.objective import Objective
from lowranklab.problems import completion_problem, sensing_problem
from lowranklab.problems.ez2021 import example_instance
from lowranklab.problems.glrl_losses import FullObservation
from lowranklab.problems.min_norm_instances import random_instance
from lowranklab.solvers import Result, StopCode, gradient_descent
from lowranklab.solvers.deep import deep_gd, deep_glrl
from lowranklab.solvers.greedy import descend, glrl, r1mp
from lowranklab.solvers.merit import algorithm1, feasibility_gd, merit_bfgs, merit_euler
from lowranklab.solvers.noisy import noisy_gradient_descent, perturbed_gradient_descent
from lowranklab.solvers.restart import restart_gd
from lowranklab.solvers.riemannian import riemannian_gradient_descent
from lowranklab.solvers.sdp_bm import sdp_bm
from lowranklab.solvers.sensing_gd import sensing_gd, sensing_objective
from lowranklab.solvers.step import default_step


def _sensing(seed=0):
    rng = np.random.default_rng(seed)
    P = sensing_problem(10, 2, 120, rng)
    obj = Objective(P.loss(), SymmetricFactor(10, 2))
    return P, obj, obj.model.pack(gaussian_factor((10, 2), 1e-1, rng))


def _completion(seed=0):
    rng = np.random.default_rng(seed)
    P = completion_problem(40, 30, 2, 0.5, rng)
    return P, rng


def _gd(kind):
    def solve(seed=0, step=None, **kw):
        P, obj, th = _sensing(seed)
        extra = {"line_search": kind} if kind in ("armijo", "exact") else {}
        if kind in ("scaled", "cg", "lbfgs"):
            extra = {"direction": kind, "line_search": "exact"}
        return gradient_descent(obj, th, step=step, max_iter=kw.pop("max_iter", 3000),
                                truth=P.truth, **extra, **kw)
    return solve


def _noisy(seed=0, step=None, **kw):
    P, obj, th = _sensing(seed)
    return noisy_gradient_descent(obj, th, noise=kw.pop("noise", 1e-3),
                                  rng=np.random.default_rng(seed), step=step,
                                  max_iter=kw.pop("max_iter", 500), **kw)


def _perturbed(seed=0, step=None, **kw):
    P, obj, th = _sensing(seed)
    return perturbed_gradient_descent(obj, th, rng=np.random.default_rng(seed), step=step,
                                      max_iter=kw.pop("max_iter", 3000), **kw)


def _rgd(seed=0, step=None, direction="gradient", **kw):
    P, rng = _completion(seed)
    man = manifold_for(P.shape, 2, symmetric=False)
    x0 = initial_point(man, "spectral", rng, op=P.op, b=P.b)
    extra = {} if step is None else {"step": step, "line_search": "constant"}
    return riemannian_gradient_descent(P.loss(), man, x0, max_iter=kw.pop("max_iter", 500),
                                       direction=direction, **extra, **kw)


def _rcg(**kw):
    return _rgd(direction="cg", **kw)


def _ez_instance(seed):
    rng = np.random.default_rng(seed)
    inst = example_instance(8, 1, 40, rng)
    return inst, rng, default_step(sensing_objective(inst))


def _ez(seed=0, step=None, **kw):
    inst, rng, eta = _ez_instance(seed)
    U0 = 1e-2 * rng.standard_normal((8, 1))  # p = r: linear convergence (p = d: sublinear)
    return sensing_gd(inst, U0, step=eta if step is None else step,
                      max_iter=kw.pop("max_iter", 20_000), **kw)


def _restart(seed=0, step=None, **kw):
    inst, rng, eta = _ez_instance(seed)
    # a rank-r₀ = 2 start over a rank-1 truth: one restart to rank 1 once the error decays
    # linearly, then no more (until_target_rank) and linear convergence to machine precision
    return restart_gd(inst, step=eta if step is None else step,
                      max_iter=kw.pop("max_iter", 20_000), window=50, tau=0.999, r0=2,
                      rho0=1e-2, delta_rank=1, factor=0.5, r=1, rng=rng,
                      restart_policy="until_target_rank", **kw)


def _min_norm(fn):
    """(factor) on a random 6×6, m = 8 instance from ‖U₀‖_F = 3; solved=True starts 1e-6 away
    from the merit-BFGS solution (Algorithm 1's linear rate from a far start needs more than
    the default 10⁵ iterations: its stop is the paper's step test, not a budget)."""
    def solve(seed=0, step=None, solved=False, **kw):
        rng = np.random.default_rng(seed)
        P = random_instance(6, 8, rng)
        U0 = rng.standard_normal((6, 4))
        U0 *= 3.0 / np.linalg.norm(U0)
        if solved:
            U0 = merit_bfgs(P, U0).factors[0] + 1e-6 * rng.standard_normal((6, 4))
        return fn(P, U0, step=step, max_iter=kw.pop("max_iter", 100_000), **kw)
    return solve


def _bfgs(seed=0, step=None, **kw):
    rng = np.random.default_rng(seed)
    P = random_instance(6, 8, rng)
    U0 = rng.standard_normal((6, 4))
    U0 *= 3.0 / np.linalg.norm(U0)
    return merit_bfgs(P, U0, max_iter=kw.pop("max_iter", 5000), **kw)


def _glrl_loss(seed, full_rank=False):
    rng = np.random.default_rng(seed)
    if full_rank:  # deep GD converges linearly to a full-rank target (sublinearly otherwise)
        Z = rng.standard_normal((6, 6)) / np.sqrt(6)
        return FullObservation(Z @ Z.T + np.eye(6))
    Z = rng.standard_normal((6, 2))
    return FullObservation(Z @ Z.T)


def _glrl(seed=0, step=None, **kw):
    kw.pop("tol", None)
    return glrl(_glrl_loss(seed), step=step, max_iter=kw.pop("max_iter", 20_000), **kw)


def _descend(seed=0, step=None, **kw):
    rng = np.random.default_rng(seed)
    U0 = 1e-2 * rng.standard_normal((6, 2))
    return descend(_glrl_loss(seed), U0, step=step, gtol=kw.pop("gtol", 1e-9),
                   max_iter=kw.pop("max_iter", 20_000), **kw)


def _deep(seed=0, step=None, **kw):
    rng = np.random.default_rng(seed)
    Us = balanced_symmetric_init(6, 3, 1.0, rng)
    return deep_gd(_glrl_loss(seed, full_rank=True), Us, step=5e-2 if step is None else step,
                   max_iter=kw.pop("max_iter", 20_000), **kw)


def _deep_glrl(seed=0, step=None, **kw):
    """Deep GLRL at depth 3 on the rank-2 target; each phase is `deep_gd` (engine), the outer
    loop adds the eigensolve and the new blocks."""
    kw.pop("tol", None)
    return deep_glrl(_glrl_loss(seed), 3, step=5e-2 if step is None else step,
                     max_iter=kw.pop("max_iter", 20_000), **kw)


def _r1mp(seed=0, step=None, **kw):
    """R1MP on the full-rank 6×6 target (six atoms solve it exactly); max_iter caps the
    atoms. It has no step."""
    kw.pop("tol", None)
    return r1mp(_glrl_loss(seed, full_rank=True), min(kw.pop("max_iter", 6), 6), **kw)


def _sdp_bm(seed=0, step=None, **kw):
    """The SDP min tr X s.t. A(X) = b, X ⪰ 0 (d = 8, m = 16) from the seeded start; it picks
    its own steps (L-BFGS with the exact line search) and stops on its dual certificate."""
    P = random_instance(8, 16, np.random.default_rng(seed))
    return sdp_bm(P, seed=seed, max_iter=kw.pop("max_iter", 100_000), **kw)


SOLVERS = {
    "gd": _gd("constant"), "gd-armijo": _gd("armijo"), "gd-exact": _gd("exact"),
    "scaled-gd": _gd("scaled"), "cg": _gd("cg"), "lbfgs": _gd("lbfgs"), "rcg": _rcg,
    "noisy-gd": _noisy,
    "perturbed-gd": _perturbed, "rgd": _rgd,
    "sensing_gd": _ez, "restart_gd": _restart,
    "algorithm1": _min_norm(algorithm1), "merit_euler": _min_norm(merit_euler),
    "feasibility_gd": _min_norm(feasibility_gd), "merit_bfgs": _bfgs,
    "glrl": _glrl, "descend": _descend, "deep_gd": _deep, "sdp_bm": _sdp_bm,
    "deep_glrl": _deep_glrl, "r1mp": _r1mp,
}
# oversized steps (each ≫ 2/L for its problem); merit_bfgs and sdp_bm pick their own steps,
# R1MP takes none (its coefficients are a least-squares refit)
BIG_STEP = {"gd": 10.0, "gd-armijo": None, "gd-exact": None, "scaled-gd": None, "cg": None,
            "rcg": 1e3,
            "noisy-gd": 10.0, "perturbed-gd": 10.0, "rgd": 1e3, "sensing_gd": 10.0,
            "restart_gd": 10.0, "algorithm1": 1.0, "merit_euler": 1.0, "feasibility_gd": 1.0,
            "merit_bfgs": None, "sdp_bm": None, "glrl": 1e3, "descend": 1e3, "deep_gd": 1e2,
            "deep_glrl": 1e2, "r1mp": None}
# a solved problem under default settings: every solver converges, except noisy GD with
# constant noise, which hovers at its noise floor by design (Ge et al. 2015; zhu2021 e5)
NO_DEFAULT_CONVERGENCE = {"noisy-gd"}


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_callback_stops_the_run(name):
    seen = []

    def cb(state):
        seen.append(state.iteration)
        return len(seen) >= 3

    res = SOLVERS[name](callbacks=[cb])
    assert res.stop is StopCode.INTERRUPTED
    assert len(seen) == 3


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_keyboard_interrupt_returns_partial_result(name):
    calls = []

    def cb(state):
        calls.append(state.iteration)
        if len(calls) == 5:
            raise KeyboardInterrupt

    res = SOLVERS[name](callbacks=[cb])
    assert res.stop is StopCode.INTERRUPTED
    assert isinstance(res, Result) and np.all(np.isfinite(res.theta))
    assert len(res.factors) >= 1 and all(np.all(np.isfinite(F)) for F in res.factors)


@pytest.mark.parametrize("name", sorted(n for n, s in BIG_STEP.items() if s is not None))
def test_oversized_step_diverges_with_finite_factors(name):
    res = SOLVERS[name](step=BIG_STEP[name])
    assert res.stop is StopCode.DIVERGED, res.message
    assert all(np.all(np.isfinite(F)) for F in res.factors)
    assert np.all(np.isfinite(res.theta))


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_one_result_shape_and_same_seed_same_output(name):
    a = SOLVERS[name](seed=3, max_iter=50)
    b = SOLVERS[name](seed=3, max_iter=50)
    for res in (a, b):
        assert isinstance(res, Result) and isinstance(res.stop, StopCode)
        assert res.theta.ndim == 1 and len(res.factors) >= 1
        assert res.X is not None and "iter" in res.trace and res.wall_time >= 0
        assert isinstance(res.info, dict) and isinstance(res.counts, dict)
    np.testing.assert_array_equal(a.theta, b.theta)
    for Fa, Fb in zip(a.factors, b.factors, strict=True):
        np.testing.assert_array_equal(Fa, Fb)
    assert a.iterations == b.iterations and a.stop is b.stop


STARTS_SOLVED = {"algorithm1", "merit_euler"}


@pytest.mark.parametrize("name", sorted(set(SOLVERS) - NO_DEFAULT_CONVERGENCE))
def test_solved_problem_converges_under_defaults(name):
    res = SOLVERS[name](**({"solved": True} if name in STARTS_SOLVED else {}))
    assert res.stop is StopCode.CONVERGED, f"{res.stop.value}: {res.message}"


def test_balanced_scaled_gd_and_exact_step_recover_completion():
    """ScaledGD (Tong, Ma & Chi 2021) with the exact line search completes a rectangular
    matrix from its spectral start; the exact step alone too (fewer iterations for ScaledGD)."""
    P, rng = _completion(1)
    from lowranklab.models.init import initialize

    obj = Objective(P.loss(), BalancedFactor(40, 30, 2))
    th = initialize(obj.model, "spectral", rng, op=P.op, b=P.b)
    out = {}
    for direction in ("gradient", "scaled", "lbfgs"):
        res = gradient_descent(obj, th, line_search="exact", direction=direction,
                               max_iter=5000, truth=P.truth)
        assert res.stop is StopCode.CONVERGED, res.message
        assert res.trace["rel_error"][-1] < 1e-5
        out[direction] = res.iterations
    assert out["scaled"] < out["gradient"]
    assert out["lbfgs"] < out["gradient"]


@pytest.mark.parametrize("name", ["glrl", "deep_glrl"])
def test_ctrl_c_between_glrl_phases_keeps_the_partial_result(monkeypatch, name):
    """A Ctrl-C outside the engine (in the eigensolve between two phases of GLRL or Deep
    GLRL) also returns the phases done so far as `interrupted` (engine.catch_interrupt in the
    outer loop)."""
    from lowranklab.solvers import deep, greedy

    module = greedy if name == "glrl" else deep
    real, calls = module.top_eigenpairs, []

    def eig(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(module, "top_eigenpairs", eig)
    res = greedy.glrl(_glrl_loss(0), step=None, max_iter=20_000) if name == "glrl" else (
        _deep_glrl())
    assert res.stop is StopCode.INTERRUPTED and res.info["rank"] == 1
    assert len(res.info["phases"]) == 1 and np.all(np.isfinite(res.factors[0]))


def test_cli_solve_lbfgs_completes_a_matrix(tmp_path):
    """`solve --solver lbfgs` (L-BFGS on U Vᵀ, exact step by default) completes a planted
    rectangular matrix under the default stop, in fewer iterations than plain GD; torch is
    refused before any work."""
    from typer.testing import CliRunner

    from lowranklab.cli import app

    P, _ = _completion(3)
    P.save(tmp_path / "p.npz")
    runner = CliRunner()
    iters = {}
    for solver in ("lbfgs", "gd"):
        out = tmp_path / f"{solver}.npz"
        r = runner.invoke(app, ["solve", str(tmp_path / "p.npz"), "--model", "asym", "--mu",
                                "0", "--rank", "2", "--solver", solver, "--init", "spectral",
                                "--max-iter", "20000", "--out", str(out), "-q"])
        assert r.exit_code == 0, r.output
        z = np.load(out)
        assert str(z["stop_code"]) == "converged"
        X = z["U"] @ z["V"].T
        assert np.linalg.norm(X - P.truth.dense()) < 1e-5 * np.linalg.norm(P.truth.dense())
        iters[solver] = int(z["iterations"])
    assert iters["lbfgs"] < iters["gd"] / 5
    r = runner.invoke(app, ["solve", str(tmp_path / "p.npz"), "--solver", "lbfgs", "--rank",
                            "2", "--backend", "torch", "--out", str(tmp_path / "t.npz")])
    assert r.exit_code == 2 and "error:" in r.output


def test_trace_gathers_rows_into_aligned_columns():
    """Rows with the same keys take the C-level gather; a key order change, a missing or an
    extra key, and rows appended after a read all give aligned float columns (NaN where a
    row lacks the column)."""
    from lowranklab.solvers.result import Trace

    t = Trace()
    for k in range(3):
        t.append({"iter": k, "value": np.float32(0.5 * k)})
    assert t.columns == {"iter": [0.0, 1.0, 2.0], "value": [0.0, 0.5, 1.0]}
    t.append({"value": 9.0, "iter": 3})  # same keys, another order
    t.append({"iter": 4, "extra": 1})  # "value" missing, a new column
    t.append({"iter": 5, "value": 7.0})
    assert t["iter"].tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(t["value"], [0.0, 0.5, 1.0, 9.0, np.nan, 7.0])
    np.testing.assert_array_equal(t["extra"], [np.nan] * 4 + [1.0, np.nan])
    assert all(isinstance(v, float) for v in t.columns["iter"])
    empty = Trace()
    empty.append({})
    assert empty.columns == {} and len(empty) == 0
