"""hou2021: Riemannian gradient descent — Example 1.1 (T6, T7), escape from every spurious
point (T21), escape-time scaling (T23), local rate (T24), stop codes and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.lowrank import LowRank
from lowranklab.models.fixed_rank import FixedRank, FixedRankPSD
from lowranklab.models.fixed_rank_spurious import sample_near, spurious_points
from lowranklab.problems import sensing_problem
from lowranklab.problems.distance import MatrixDistance
from lowranklab.solvers import StopCode
from lowranklab.solvers.riemannian import riemannian_gradient_descent

EX11_X = np.diag([2.0, 1.0, 0.0])


def _iterates(man, loss, x0, **kw):
    """Run RGD and collect the dense iterates Z_0, Z_1, ... through a callback."""
    seen = []
    res = riemannian_gradient_descent(loss, man, x0, callbacks=[
        lambda s: seen.append(s.evaluation.X.dense())], **kw)
    seen.append(res.X.dense())
    return seen, res


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.9])
def test_T6_example_1_1_converges_to_spurious_point(alpha):
    man = FixedRank(3, 3, 2)
    x0 = man.from_matrix(np.diag([2.0, 0.0, 1.0]))
    # rank_tol=0: σ₂ = (1−α)^k falls below the default 1e-14·σ₁ yet stays exactly positive
    Z, res = _iterates(man, MatrixDistance(EX11_X), x0, step=alpha, max_iter=50, rank_tol=0.0)
    assert res.stop is StopCode.MAX_ITER and len(Z) == 51
    for k, Zk in enumerate(Z):
        assert np.abs(Zk - np.diag([2.0, 0.0, (1 - alpha) ** k])).max() < 1e-15


@pytest.mark.parametrize("alpha", [0.2, 0.5])
@pytest.mark.parametrize("eps", [1e-1, 1e-6])
def test_T6_example_1_1_perturbed_converges_to_truth(alpha, eps):
    man = FixedRank(3, 3, 2)
    x0 = man.from_matrix(np.array([[2, 0, 0], [0, eps**2, eps], [0, eps, 1.0]]))
    res = riemannian_gradient_descent(MatrixDistance(EX11_X), man, x0, step=alpha,
                                      max_iter=300, truth=EX11_X, rtol=1e-10 / 5**0.5)
    assert res.stop is StopCode.CONVERGED
    assert np.linalg.norm(res.X.dense() - EX11_X) < 1e-10


def test_T7_round_off_escape_in_rotated_coordinates(rng):
    """Gotcha 3 (characterization): conjugated by a random orthogonal Q, Example 1.1 does
    not stay on the stable family — round-off in the tiny singular direction escapes to
    QXQᵀ."""
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    man = FixedRank(3, 3, 2)
    X = Q @ EX11_X @ Q.T
    x0 = man.from_matrix(Q @ np.diag([2.0, 0.0, 1.0]) @ Q.T)
    res = riemannian_gradient_descent(MatrixDistance(X), man, x0, step=0.5, max_iter=400,
                                      truth=X)
    assert np.linalg.norm(res.X.dense() - X) < 1e-12


def test_example_1_1_unit_step_leaves_manifold():
    """α = 1 lands on Z_# in one step: the solver stops with `rank_drop` (Gotcha 4)."""
    man = FixedRank(3, 3, 2)
    x0 = man.from_matrix(np.diag([2.0, 0.0, 1.0]))
    res = riemannian_gradient_descent(MatrixDistance(EX11_X), man, x0, step=1.0, max_iter=10)
    assert res.stop is StopCode.RANK_DROP and res.iterations == 1
    assert res.info["left_manifold"] and "left the rank-2 manifold" in res.message
    assert np.abs(res.X.dense() - np.diag([2.0, 0, 0])).max() < 1e-15


def _setup(symmetric, rng, n=10, d=(1.0, 0.6, 0.2)):
    d = np.asarray(d)
    r = d.size
    Ux = np.linalg.qr(rng.standard_normal((n, r)))[0]
    Vx = Ux if symmetric else np.linalg.qr(rng.standard_normal((n, r)))[0]
    man = FixedRankPSD(n, r) if symmetric else FixedRank(n, n, r)
    X = LowRank(Ux * d, Vx)
    return man, X, spurious_points(Ux, d, None if symmetric else Vx)


def _escape_runs(symmetric, rule, alpha, K, inits, rng):
    man, X, pts = _setup(symmetric, rng)
    xn = np.sqrt(X.fro_sq())
    its = []
    for p in pts:
        for _ in range(inits):
            x0 = sample_near(p, 1e-3, rng, man)
            res = riemannian_gradient_descent(MatrixDistance(X), man, x0, step=alpha,
                                              step_rule=rule, max_iter=K, truth=X,
                                              rtol=1e-8 / xn, record_every=K)
            assert res.stop is StopCode.CONVERGED, (p.keep, res)
            its.append(res.iterations)
    return its


@pytest.mark.parametrize("symmetric", [True, False])
def test_T21_escape_from_all_spurious_points(symmetric, rng):
    """All 2^r − 1 = 7 spurious points (s = 0, 1, 2), 2 starts each, δ = 1e-3: every run
    reaches ‖Z − X‖ < 1e-8 (spec: max 85 iterations fixed, 69 varying)."""
    fixed = _escape_runs(symmetric, "fixed", 0.2, 250, 2, rng)
    varying = _escape_runs(symmetric, "sigma", 2.0, 400, 2, rng)
    assert max(fixed) <= 100 and max(varying) <= 90


@pytest.mark.slow
@pytest.mark.parametrize("symmetric", [True, False])
def test_T21_escape_full(symmetric, rng):
    fixed = _escape_runs(symmetric, "fixed", 0.2, 250, 20, rng)
    varying = _escape_runs(symmetric, "sigma", 2.0, 400, 20, rng)
    assert max(fixed) <= 100 and max(varying) <= 90


def test_T23_escape_time_scaling(rng):
    """Varying step: escape iterations grow ≈ 6.8 per decade of 1/δ; fixed: O(1)."""
    man, X, pts = _setup(True, rng)
    p = next(q for q in pts if q.missing == (2,))
    xn = np.sqrt(X.fro_sq())
    deltas = [1e-2, 1e-4, 1e-6, 1e-8]
    med = {}
    for rule, alpha in (("sigma", 2.0), ("fixed", 0.2)):
        for delta in deltas:
            its = []
            for _ in range(5):
                x0 = sample_near(p, delta, rng, man)
                res = riemannian_gradient_descent(
                    MatrixDistance(X), man, x0, step=alpha, step_rule=rule, max_iter=300,
                    truth=X, rtol=0.5 * p.distance / xn, record_every=300)
                assert res.stop is StopCode.CONVERGED
                its.append(res.iterations)
            med[rule, delta] = np.median(its)
    slope = np.polyfit(np.log10(1 / np.array(deltas)), [med["sigma", d] for d in deltas], 1)[0]
    assert 4 <= slope <= 10
    assert max(med["fixed", d] for d in deltas) <= 8


@pytest.mark.parametrize("rule,alpha,rate", [("fixed", 0.2, 0.8), ("fixed", 0.5, 0.5),
                                             ("sigma", 2.0, 0.6)])
def test_T24_local_rate(rule, alpha, rate, rng):
    """Hess f(X) = Id on T_X: the error contracts by |1 − α_k| with α_k → α d_r (d_r = 0.2)."""
    man, X, _ = _setup(True, rng, d=(1.0, 0.6, 0.2))
    x0 = man.from_lowrank(X + LowRank(1e-3 * rng.standard_normal((10, 1)),
                                      rng.standard_normal((10, 1))))
    res = riemannian_gradient_descent(MatrixDistance(X), man, x0, step=alpha, step_rule=rule,
                                      max_iter=30, truth=X)
    dist = res.trace["dist"]
    assert abs(dist[-1] / dist[-2] - rate) < 1e-3


def test_armijo_and_callbacks_and_validation(rng):
    man, X, _ = _setup(False, rng)
    loss = MatrixDistance(X)
    x0 = man.random_point(rng)
    res = riemannian_gradient_descent(loss, man, x0, step=5.0, line_search="armijo",
                                      max_iter=200, gtol=1e-12, truth=X)
    assert res.stop is StopCode.CONVERGED and np.all(np.diff(res.trace["value"]) <= 0)
    res = riemannian_gradient_descent(loss, man, x0, step=0.2, max_iter=50,
                                      callbacks=[lambda s: s.iteration == 3])
    assert res.stop is StopCode.INTERRUPTED and res.iterations == 3
    for kw, match in (({"step_rule": "bogus"}, "step_rule"), ({"step": -1.0}, "step"),
                      ({"rtol": 1e-3}, "truth"), ({"line_search": "x"}, "line_search")):
        with pytest.raises(ValueError, match=match):
            riemannian_gradient_descent(loss, man, x0, **kw)
    with pytest.raises(ValueError, match="acts on"):
        riemannian_gradient_descent(MatrixDistance(np.eye(4)), man, x0)


def test_rgd_solves_sensing(rng):
    """Any library loss: RGD on the PSD manifold recovers a planted rank-2 matrix from
    symmetric Gaussian measurements (varying step, exact line search along the gradient)."""
    P = sensing_problem(15, 2, 300, rng)
    man = FixedRankPSD(15, 2)
    from lowranklab.models.init import initial_point

    x0 = initial_point(man, "spectral", rng, op=P.op, b=P.b)
    res = riemannian_gradient_descent(P.loss(), man, x0, line_search="exact", max_iter=300,
                                      truth=P.truth, rtol=1e-10)
    assert res.stop is StopCode.CONVERGED
    assert "train_error" in res.trace and "sigma_r" in res.trace


def test_cli_solve_fixed_rank_rgd(tmp_path, rng):
    from typer.testing import CliRunner

    from lowranklab.cli import app
    from lowranklab.problems import completion_problem

    P = completion_problem(60, 50, 2, 0.4, rng)
    P.save(tmp_path / "p.npz")
    out = tmp_path / "r.npz"
    runner = CliRunner()
    r = runner.invoke(app, ["solve", str(tmp_path / "p.npz"), "--model", "fixed-rank",
                            "--rank", "2", "--solver", "rgd", "--step-rule", "fixed",
                            "--init", "spectral", "--max-iter", "400", "--tol", "1e-20",
                            "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    z = np.load(out)
    assert z["U"].shape == (60, 2) and z["S"].shape == (2,) and z["V"].shape == (50, 2)
    assert str(z["stop_code"]) == "converged"
    Z = (z["U"] * z["S"]) @ z["V"].T
    assert np.linalg.norm(Z - P.truth.dense()) < 1e-8 * np.linalg.norm(P.truth.dense())
    r = runner.invoke(app, ["solve", str(tmp_path / "p.npz"), "--model", "fixed-rank",
                            "--rank", "2", "--solver", "rgd", "--step-rule", "nope",
                            "--out", str(out), "--force"])
    assert r.exit_code == 2 and "error: --step-rule must be" in r.output
    r = runner.invoke(app, ["solve", str(tmp_path / "p.npz"), "--model", "sym", "--rank", "2",
                            "--solver", "rgd", "--out", str(out), "--force"])
    assert r.exit_code == 2 and "fixed-rank" in r.output
