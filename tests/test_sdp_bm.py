"""The Burer–Monteiro augmented-Lagrangian SDP solver (solvers/sdp_bm.py, SDPLR's method)."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.lowrank import as_dense
from lowranklab.problems.min_norm_instances import planted_certificate_instance, random_instance
from lowranklab.solvers.result import StopCode
from lowranklab.solvers.sdp_bm import augmented_lagrangian, default_rank, sdp_bm


def _cost(d: int, rng: np.random.Generator) -> np.ndarray:
    G = rng.standard_normal((d, d))
    return np.eye(d) + G @ G.T / d  # symmetric positive definite: the SDP is bounded


@pytest.mark.parametrize("with_cost", [False, True])
def test_augmented_lagrangian_gradient_matches_finite_differences(rng, with_cost):
    P = random_instance(6, 9, rng)
    C = _cost(6, rng) if with_cost else None
    U = rng.standard_normal((6, 3))
    y = rng.standard_normal(9)
    sigma = 0.7
    _, G = augmented_lagrangian(P, U, y, sigma, C)
    for _ in range(3):
        D = rng.standard_normal(U.shape)
        e = 1e-6
        fd = (augmented_lagrangian(P, U + e * D, y, sigma, C)[0]
              - augmented_lagrangian(P, U - e * D, y, sigma, C)[0]) / (2 * e)
        assert abs(fd - np.sum(G * D)) <= 1e-6 * max(1.0, abs(fd))


def test_augmented_lagrangian_is_twice_eftekhari_l_gamma(rng):
    """With C = I, L_σ(U, y) = 2 L_γ(U, y) of eftekhari2021 (AL) at γ = 2σ (f = ½‖U‖², g = ½r)."""
    P = random_instance(5, 8, rng)
    U = rng.standard_normal((5, 2))
    y = rng.standard_normal(8)
    val, G = augmented_lagrangian(P, U, y, 0.3)
    assert val == pytest.approx(2 * P.aug_lagrangian(U, y, 0.6), rel=1e-12)
    np.testing.assert_allclose(G, 2 * P.aug_lagrangian_grad(U, y, 0.6), rtol=1e-11, atol=1e-11)


def test_default_rank_is_pataki_plus_one():
    assert default_rank(20, 40) == 9  # 8·9/2 = 36 ≤ 40 < 45
    assert default_rank(100, 200) == 20  # 19·20/2 = 190 ≤ 200 < 210
    assert default_rank(3, 40) == 3  # capped at d


def test_planted_optimum_reached_and_certified(rng):
    """An instance with a known optimum ‖W‖²_F = bᵀλ̄ (spec §4.0): no convex solver needed."""
    P, W, lam = planted_certificate_instance(12, 30, 3, rng)
    opt = float(np.sum(W * W))
    res = sdp_bm(P, tol=1e-8, seed=1)
    cert = res.info["certificate"]
    assert res.stop is StopCode.CONVERGED and res.info["certified"]
    assert cert.certifies(1e-8)
    assert abs(cert.objective - opt) <= 1e-7 * opt
    np.testing.assert_allclose(res.info["multipliers"], lam, atol=1e-5)
    assert np.allclose(as_dense(res.X), res.factors[0] @ res.factors[0].T)


def test_result_trace_rows_only_on_record_steps_and_two_passes_per_iteration(rng):
    P = random_instance(15, 30, rng)
    res = sdp_bm(P, record_every=50)
    k, outer = res.iterations, res.counts["outer"]
    assert res.converged
    assert len(res.trace) <= 1 + k // 50 + outer
    lm = res.trace["lambda_min"]
    assert np.sum(~np.isnan(lm)) == outer  # the certificate columns only on outer rows
    assert lm[-1] >= -res.info["tol"]
    # per inner iteration: the line-search GEMVs (a₁, a₂) and the gradient's A*(y − σr)
    assert 3 * k <= res.counts["passes"] <= 3 * k + 5 * outer + 3
    assert res.info["rank"] == default_rank(15, 30)


def test_tampered_certificate_fails(rng):
    P = random_instance(12, 24, rng)
    res = sdp_bm(P, tol=1e-8)
    U, y = res.factors[0], res.info["multipliers"]
    assert P.certificate(U, lam=y).certifies(1e-7)
    e = np.zeros_like(y)
    e[0] = 1e-3
    bad = P.certificate(U, lam=y + e)  # a perturbed multiplier: slack indefinite or gap open
    assert not bad.certifies(1e-7)
    assert bad.lambda_min < -1e-7 or abs(bad.dual_gap) > 1e-7 * bad.objective
    assert not P.certificate(1.001 * U, lam=y).certifies(1e-7)  # infeasible primal


def test_general_cost_matrix_against_clarabel(rng):
    cp = pytest.importorskip("cvxpy")
    P = random_instance(10, 20, rng)
    C = _cost(10, rng)
    res = sdp_bm(P, C=C, tol=1e-8)
    assert res.converged
    X = cp.Variable((10, 10), PSD=True)
    prob = cp.Problem(cp.Minimize(cp.trace(C @ X)), [P.Amat @ cp.vec(X, order="C") == P.b])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    obj = res.info["certificate"].objective
    assert obj == pytest.approx(float(np.sum((C @ res.factors[0]) * res.factors[0])), rel=1e-14)
    assert abs(obj - prob.value) <= 1e-6 * abs(prob.value)


@pytest.mark.parametrize("solver", ["SCS", "CLARABEL"])
@pytest.mark.parametrize("b", ["gaussian", "planted"])
def test_agrees_with_cvxpy_at_d20(solver, b):
    pytest.importorskip("cvxpy")
    from lowranklab.solvers.convex import min_trace_psd

    P = random_instance(20, 40, np.random.default_rng(0), b=b)
    res = sdp_bm(P, tol=1e-7)
    cert = res.info["certificate"]
    assert res.converged and cert.certifies(1e-7)
    ref = min_trace_psd(P.operator(), P.b, solver=solver, eps=1e-9)
    assert ref.converged
    assert abs(cert.objective - ref.info["value"]) <= 1e-6 * abs(ref.info["value"])
    assert cert.feasibility <= 1e-6 * np.linalg.norm(P.b)


def test_bad_input_is_rejected(rng):
    P = random_instance(6, 9, rng)
    with pytest.raises(TypeError, match="MinNormFactorization"):
        sdp_bm(P.Amat)
    with pytest.raises(ValueError, match="rank"):
        sdp_bm(P, rank=7)
    with pytest.raises(ValueError, match="tol"):
        sdp_bm(P, tol=0.0)
    with pytest.raises(ValueError, match="C must be symmetric"):
        sdp_bm(P, C=np.triu(np.ones((6, 6))))
    with pytest.raises(ValueError, match="C must have shape"):
        sdp_bm(P, C=np.eye(5))
    with pytest.raises(ValueError, match="U0"):
        sdp_bm(P, U0=np.ones((5, 2)))
    with pytest.raises(ValueError, match="disagrees"):
        sdp_bm(P, U0=np.ones((6, 2)), rank=3)
    with pytest.raises(ValueError, match="max_iter"):
        sdp_bm(P, max_iter=-1)
    with pytest.raises(ValueError, match="sigma"):
        augmented_lagrangian(P, np.ones((6, 2)), np.zeros(9), 0.0)
    with pytest.raises(ValueError, match="y must have shape"):
        augmented_lagrangian(P, np.ones((6, 2)), np.zeros(8), 1.0)


def test_certificate_with_identity_cost_equals_default(rng):
    P = random_instance(6, 9, rng)
    U = rng.standard_normal((6, 2))
    lam = rng.standard_normal(9)
    a, b = P.certificate(U, lam=lam), P.certificate(U, lam=lam, C=np.eye(6))
    assert a.as_dict() == pytest.approx(b.as_dict(), rel=1e-12, abs=1e-12)


def test_max_iter_budget_stops_uncertified(rng):
    P = random_instance(15, 30, rng)
    res = sdp_bm(P, max_iter=5)
    assert res.stop is StopCode.MAX_ITER and not res.info["certified"]
    assert res.iterations == 5


def test_cli_sdp_bm_writes_a_certified_result(tmp_path, rng):
    from typer.testing import CliRunner

    from lowranklab.cli import app
    from lowranklab.problems import Problem

    P, W, _ = planted_certificate_instance(10, 24, 3, rng)
    path = tmp_path / "PROBLEM.npz"
    Problem(P.operator(), P.b).save(path)
    out = tmp_path / "R.npz"
    r = CliRunner().invoke(app, ["solve", str(path), "--solver", "sdp-bm", "--out", str(out),
                                 "--tol", "1e-8", "-q"])
    assert r.exit_code == 0, r.output
    with np.load(out, allow_pickle=False) as z:
        assert str(z["stop_code"]) == "converged" and bool(z["certified"])
        assert abs(float(z["objective"]) - np.sum(W * W)) <= 1e-7 * np.sum(W * W)
        np.testing.assert_allclose(z["U"] @ z["U"].T, z["X"], atol=1e-12)
        assert float(z["lambda_min"]) >= -1e-8 and z["multipliers"].shape == (24,)
    # a cost matrix C stored next to A and b
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    C = _cost(10, rng)
    np.savez(path, **data, C=C)
    r = CliRunner().invoke(app, ["solve", str(path), "--solver", "sdp-bm", "--out", str(out),
                                 "-q", "--force"])
    assert r.exit_code == 0, r.output
    with np.load(out, allow_pickle=False) as z:
        assert bool(z["certified"])
        assert float(z["objective"]) == pytest.approx(float(np.sum((C @ z["U"]) * z["U"])))


def test_infeasible_and_unbounded_sdps_stop_with_a_reason():
    from lowranklab.problems.min_norm import MinNormFactorization

    d = 5
    # tr X = −1 has no PSD solution: the penalty grows, feasibility never falls
    P = MinNormFactorization(np.stack([np.eye(d), np.diag(np.arange(d) * 1.0)]),
                             np.array([-1.0, 2.0]))
    res = sdp_bm(P, max_iter=20_000)
    assert res.stop is StopCode.STALLED and "infeasible" in res.message
    assert not res.info["certified"]
    # min −tr X s.t. X₁₁ = 1 is unbounded below
    A = np.zeros((1, d, d))
    A[0, 0, 0] = 1.0
    res = sdp_bm(MinNormFactorization(A, np.array([1.0])), C=-np.eye(d), max_iter=20_000)
    assert res.stop is StopCode.DIVERGED and "unbounded" in res.message


def test_peer_benchmark_records_at_a_small_size():
    """The benchmark's record schema and its accuracy checks (benchmarks/peers_sdp.py)."""
    pytest.importorskip("cvxpy")
    from benchmarks.peers_sdp import TOL, sdp_records

    recs = sdp_records((8,), repeats=1)
    assert [r["name"] for r in recs] == ["sdp_vs_cvxpy_scs_d8", "sdp_vs_cvxpy_clarabel_d8"]
    for r in recs:
        assert r["ratio"] == pytest.approx(r["ours_s"] / r["reference_s"])
        assert r["ours_reached"] and r["ours_extra"]["certified"] and r["reference_reached"]
        assert r["ours_final"] <= TOL and r["ours_extra"]["feasibility"] <= TOL
        assert r["opt_lower"] <= r["opt"] * (1 + 1e-12) and r["opt"] - r["opt_lower"] <= 1e-6


def test_callbacks_see_every_inner_iteration_numbered_across_inner_solves(rng):
    P = random_instance(10, 20, rng)
    seen = []
    res = sdp_bm(P, callbacks=[lambda st: seen.append(st.iteration)])
    assert res.converged and res.counts["outer"] > 1
    assert seen == list(range(res.iterations))  # one call per inner step, no gaps or repeats
    capped = sdp_bm(P, max_iter=7)
    assert capped.stop is StopCode.MAX_ITER and capped.iterations == 7
