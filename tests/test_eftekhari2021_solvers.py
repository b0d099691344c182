"""eftekhari2021 solvers (Algorithm 1, Euler on the merit flow, L-BFGS on h_γ), the CLI
(`solve --solver merit|merit-euler|merit-bfgs|sdp`) and the registered experiments."""

import numpy as np
import pytest
from typer.testing import CliRunner

from lowranklab.cli import app
from lowranklab.problems import Problem
from lowranklab.problems.min_norm_instances import planted_certificate_instance, random_instance
from lowranklab.solvers import StopCode
from lowranklab.solvers.merit import algorithm1, default_step, merit_bfgs, merit_euler

runner = CliRunner()


def instance(d, m, p, seed, b="gaussian"):
    rng = np.random.default_rng(seed)
    P = random_instance(d, m, rng, b=b)
    U0 = rng.standard_normal((d, p))
    return P, U0 * (3 / np.linalg.norm(U0))


def test_algorithm1_result_contract_and_default_step():
    P, U0 = instance(8, 10, 5, 0)
    res = algorithm1(P, U0, max_iter=300, record_every=100)
    assert res.stop is StopCode.MAX_ITER and res.iterations == 300
    assert res.info["step"] == pytest.approx(default_step(P, U0, 100.0))
    eta = 1.0 / (100.0 * np.linalg.eigvalsh(P.K(U0)).max())
    assert res.info["step"] == pytest.approx(eta)
    assert list(res.trace["iter"]) == [0, 100, 200, 300]
    assert res.trace["objective"][-1] == pytest.approx(P.objective(res.factors[0]))
    np.testing.assert_allclose(res.X.dense(), res.factors[0] @ res.factors[0].T)
    # the matrix-form loop equals the paper's sum form of Algorithm 1
    U = U0.copy()
    eta = 1e-4
    for _ in range(5):
        K = P.K(U) + 1e-9 * np.eye(P.m)
        lam = np.linalg.solve(K, P.forward(U @ U.T))
        coef = lam - 50.0 * (P.forward(U @ U.T) - P.b)
        U = (1 - eta) * U + eta * sum(c * Ai @ U for c, Ai in zip(coef, P.A3, strict=True))
    U5 = algorithm1(P, U0, step=eta, max_iter=5, tol=None).factors[0]
    np.testing.assert_allclose(U5, U, rtol=1e-12, atol=1e-14)


def test_callbacks_stop_and_divergence_and_convergence():
    P, U0 = instance(8, 10, 5, 1)
    res = algorithm1(P, U0, max_iter=1000, record_every=10,
                     callbacks=[lambda s: s.iteration >= 50])
    assert res.stop is StopCode.INTERRUPTED and res.iterations == 50
    res = algorithm1(P, U0, step=1.0, max_iter=1000)
    assert res.stop is StopCode.DIVERGED and np.all(np.isfinite(res.factors[0]))
    res = merit_bfgs(P, U0, max_iter=1000, callbacks=[lambda s: s.iteration >= 5])
    assert res.stop is StopCode.INTERRUPTED
    # Algorithm 1 stops `converged` once ‖U_(k+1) − U_k‖ ≤ tol·max(1, ‖U_k‖): at a planted FOSP
    Q, W, _ = planted_certificate_instance(6, 8, 2, np.random.default_rng(3))
    res = algorithm1(Q, np.hstack([W, np.zeros((6, 2))]), max_iter=10, tol=1e-9)
    assert res.stop is StopCode.CONVERGED and res.iterations == 0


def test_euler_refuses_singular_K_and_matches_alg1_near_feasible():
    rng = np.random.default_rng(0)
    P = random_instance(15, 30, rng)
    U = np.outer(rng.standard_normal(15), np.ones(8))  # rank 1: rank K = 15 < 30
    res = merit_euler(P, U, step=1e-5, max_iter=10)
    assert res.stop is StopCode.DIVERGED and "singular" in res.message
    # Algorithm 1 handles it (ridge) and keeps the rank
    res = algorithm1(P, U, max_iter=10)
    assert res.stop is StopCode.MAX_ITER and np.linalg.matrix_rank(res.factors[0]) == 1


def test_safe_step_rule_keeps_growing_runs_stable():
    # b = A(WWᵀ) with W ∈ R^{15×8}: opt ≈ 78 ≫ ‖U₀‖²_F = 9, so λ_max(K(U_k)) grows ~10× in
    # the first iterations and the constant heuristic step 1/(γ λ_max(K(U₀))) blows up
    rng = np.random.default_rng(0)
    P = random_instance(15, 30, rng, b="planted")
    U0 = rng.standard_normal((15, 8))
    U0 *= 3 / np.linalg.norm(U0)
    assert algorithm1(P, U0, max_iter=2000, step_rule="fixed").stop is StopCode.DIVERGED
    res = algorithm1(P, U0, max_iter=2000)  # default: 'safe'
    assert res.stop is StopCode.MAX_ITER and res.info["step_rule"] == "safe"
    assert res.trace["gap"][-1] <= 1e-6 and res.info["final_step"] < res.info["step"] / 5
    with pytest.raises(ValueError, match="step_rule"):
        algorithm1(P, U0, max_iter=1, step_rule="bogus")


@pytest.mark.parametrize("kw,match", [({"gamma": 0.0}, "gamma"), ({"step": -1.0}, "step"),
                                      ({"max_iter": -1}, "max_iter")])
def test_bad_arguments(kw, match):
    P, U0 = instance(8, 10, 5, 0)
    with pytest.raises(ValueError, match=match):
        algorithm1(P, U0, **kw)
    with pytest.raises(ValueError, match="U0"):
        algorithm1(P, U0[:5], max_iter=1)


def _save(tmp_path, d, m, seed, b="gaussian"):
    rng = np.random.default_rng(seed)
    P = random_instance(d, m, rng, b=b)
    path = tmp_path / "PROBLEM.npz"
    Problem(P.operator(), P.b).save(path)
    return P, path


def test_cli_sdp_and_merit_bfgs(tmp_path):
    pytest.importorskip("cvxpy")
    P, path = _save(tmp_path, 8, 10, 0)
    r = runner.invoke(app, ["solve", str(path), "--solver", "sdp", "--out",
                            str(tmp_path / "sdp.npz"), "-q"])
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "sdp.npz") as z:
        opt = float(z["value"])
        assert str(z["status"]) == "optimal"
        np.testing.assert_allclose(z["U"] @ z["U"].T, z["X"], atol=1e-8)
        assert abs(P.b @ z["dual"] - opt) <= 1e-6 * opt and float(z["lambda_min"]) >= -1e-7
    r = runner.invoke(app, ["solve", str(path), "--solver", "merit-bfgs", "--rank", "5",
                            "--gamma", "100", "--out", str(tmp_path / "m.npz"), "-q"])
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "m.npz") as z:
        assert abs(float(z["objective"]) - opt) <= 1e-6 * opt
        assert str(z["stop_code"]) == "converged"
        assert z["U"].shape == (8, 5) and float(z["lambda_min"]) >= -1e-6


def test_cli_merit_short_run_and_errors(tmp_path):
    _, path = _save(tmp_path, 8, 10, 0)
    r = runner.invoke(app, ["solve", str(path), "--solver", "merit", "--rank", "5",
                            "--max-iter", "2000", "--out", str(tmp_path / "a.npz"), "-q"])
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "a.npz") as z:
        assert int(z["iterations"]) == 2000 and float(z["gamma"]) == 100.0
    r = runner.invoke(app, ["solve", str(path), "--solver", "merit", "--gamma", "-1",
                            "--out", str(tmp_path / "b.npz")])
    assert r.exit_code == 2 and "error:" in r.output and "gamma" in r.output
    r = runner.invoke(app, ["solve", str(tmp_path / "missing.npz"), "--solver", "merit-euler",
                            "--out", str(tmp_path / "b.npz")])
    assert r.exit_code == 2 and "error:" in r.output


def test_experiments_registered_and_fig3_inits():
    from lowranklab.experiments import load_all
    from lowranklab.experiments.eftekhari2021.fig3 import fig3_inits

    reg = load_all()
    for k in (1, 2, 3):
        assert f"eftekhari2021.fig{k}" in reg
    rng = np.random.default_rng(0)
    P = random_instance(15, 30, rng)
    factor = rng.standard_normal((15, 8))
    U = fig3_inits(P, 8, rng, factor=factor)
    assert [np.linalg.matrix_rank(U[k]) for k in ("deterministic", "partial oracle", "random")
            ] == [1, 2, 8]
    for V in U.values():
        assert np.linalg.norm(V) == pytest.approx(3.0)


# -- "Done when" sizes (slow) ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("d,m,p", [(8, 10, 5), (15, 30, 8)])
@pytest.mark.parametrize("seed", [0, 1])
def test_done_when_merit_bfgs_and_algorithm1_reach_sdp(tmp_path, d, m, p, seed):
    pytest.importorskip("cvxpy")
    from lowranklab.solvers.convex import min_trace_psd

    P, U0 = instance(d, m, p, seed)
    opt = min_trace_psd(P.operator(), P.b).info["value"]
    res = merit_bfgs(P, U0)
    assert abs(P.objective(res.factors[0]) - opt) <= 1e-6 * opt
    # Algorithm 1 with the paper's γ = 100 and the step heuristic 1/(γ λ_max K(U₀))
    res = algorithm1(P, U0, max_iter=300_000, record_every=10_000)
    assert abs(P.objective(res.factors[0]) - opt) <= 1e-3 * opt
    assert np.linalg.norm(P.residual(res.factors[0])) <= 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("name", ["eftekhari2021.fig1", "eftekhari2021.fig2",
                                  "eftekhari2021.fig3"])
def test_quick_experiments_claims_hold(tmp_path, name):
    pytest.importorskip("cvxpy")
    from lowranklab.experiments.runner import run_experiment

    summary = run_experiment(name, quick=True, out=tmp_path, verbose=False)
    failed = [c["id"] for c in summary["claims"] if not c["holds"]]
    assert not failed
