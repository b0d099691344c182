"""Convex baselines: optimality via the dual certificate, recovery where theory guarantees it."""

import numpy as np
import pytest

from lowranklab.lowrank import as_dense
from lowranklab.operators import EntrySampling
from lowranklab.problems import completion_problem, sensing_problem
from lowranklab.solvers import StopCode

pytest.importorskip("cvxpy")
from lowranklab.solvers.convex import min_nuclear_norm, min_trace_psd  # noqa: E402


def test_min_trace_sdp_recovers_and_certifies():
    rng = np.random.default_rng(0)
    P = sensing_problem(10, 2, 60, rng)
    res = min_trace_psd(P.op, P.b)
    assert res.converged and res.stop is StopCode.CONVERGED
    Xt = as_dense(P.truth)
    assert np.linalg.norm(res.X - Xt) < 1e-6
    # eftekhari2021 eq. (4): I − A*(λ) ⪰ 0 and zero duality gap tr(X) = bᵀλ
    lam = res.info["multipliers"]
    assert np.linalg.eigvalsh(np.eye(10) - P.op.adjoint(lam)).min() > -1e-6
    assert abs(res.info["value"] - P.b @ lam) < 1e-6
    U = res.factors[0]
    np.testing.assert_allclose(U @ U.T, res.X, atol=1e-8)
    np.testing.assert_array_equal(res.theta, U.ravel())
    assert res.iterations > 0 and res.trace["value"][-1] == res.info["value"]


def test_min_nuclear_norm_value_not_above_truth_and_feasible():
    rng = np.random.default_rng(1)
    Q = completion_problem(15, 12, 2, 0.7, rng)
    res = min_nuclear_norm(Q.op, Q.b)
    assert res.converged and res.stop is StopCode.CONVERGED
    np.testing.assert_allclose(Q.op.forward(res.X), Q.b, atol=1e-6)
    assert res.info["value"] <= np.linalg.norm(as_dense(Q.truth), "nuc") + 1e-6


def test_min_nuclear_norm_full_observation_returns_the_matrix():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((5, 4))
    rows, cols = np.divmod(np.arange(20), 4)
    res = min_nuclear_norm(EntrySampling(rows, cols, (5, 4)), M.ravel())
    np.testing.assert_allclose(res.X, M, atol=1e-6)
    assert res.info["value"] == pytest.approx(np.linalg.norm(M, "nuc"), rel=1e-6)


def test_rectangular_problem_rejected_by_psd_baseline():
    rng = np.random.default_rng(3)
    Q = completion_problem(6, 5, 1, 0.8, rng)
    with pytest.raises(ValueError, match="square"):
        min_trace_psd(Q.op, Q.b)
