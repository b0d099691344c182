"""classify_point / PointReport, the critical-point finder, certificates and the closed forms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lowranklab.landscape import KINDS, PointReport, classify_point, hessian_eigs
from lowranklab.landscape.certificates import certificate_psd
from lowranklab.landscape.closed_forms import (
    factorization_critical_points,
    factorization_objective,
    fixed_rank_spurious_points,
    weighted_pca_objective,
)
from lowranklab.landscape.finder import find_critical_point
from lowranklab.lowrank import LowRank
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.operators import Identity
from lowranklab.problems import LeastSquares, sensing_problem
from lowranklab.problems.smooth_losses import QuadRSC


def _random_X(rng, n=8, m=6, r=3):
    return rng.standard_normal((n, r)) @ rng.standard_normal((r, m))


@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_every_closed_form_critical_point_is_classified(method, rng):
    """Random X★ (n = 8, m = 6, r = 3, Gaussian factors): the 2^r closed-form critical points are
    one global minimizer (symmetry dim r(r−1)/2) and 7 strict saddles whose smallest Hessian
    eigenvalue meets zhu2021 Thm 2's bound −½‖WWᵀ − W★W★ᵀ‖ = −σ_k ≤ −σ_r."""
    X = _random_X(rng)
    sig = np.linalg.svd(X, compute_uv=False)[:3]
    obj = factorization_objective(X, 3, mu=0.5)
    kinds = []
    for p in factorization_critical_points(X, 3, mu=0.5, rng=rng):
        rep = classify_point(obj, p.theta, f_star=0.0, method=method)
        kinds.append(rep.kind)
        if p.is_global:
            assert rep.kind == "global_minimizer"
            assert rep.symmetry_dim == 3
        else:
            assert rep.kind == "strict_saddle"
            assert rep.lambda_min <= p.lambda_min_bound + 1e-8
            assert rep.lambda_min <= -sig[-1] + 1e-8
            # the reported direction has the reported curvature
            d = rep.direction
            assert d @ obj.hvp(p.theta, d) == pytest.approx(rep.lambda_min, abs=1e-7)
        assert rep.method == method
    assert kinds.count("global_minimizer") == 1 and kinds.count("strict_saddle") == 7


def test_point_report_text_and_json(rng):
    X = _random_X(rng, 5, 4, 2)
    obj = factorization_objective(X, 2)
    p = factorization_critical_points(X, 2, rng=rng)[0]  # W = 0
    rep = classify_point(obj, p.theta, f_star=0.0)
    assert isinstance(rep, PointReport) and rep.kind in KINDS
    text = str(rep)
    assert "strict_saddle" in text and "symmetry dim" in text and "λ_min" in text
    d = json.loads(json.dumps(rep.as_dict()))
    for key in ("kind", "grad_norm", "lambda_min", "symmetry_dim", "value", "f_star",
                "grad_tol", "curv_tol", "value_tol"):
        assert key in d
    assert d["symmetry_dim"] == 0 and d["n_negative"] == 4  # W = 0: −σ₁, −σ₂ twice each
    assert len(rep.as_dict(direction=True)["direction"]) == obj.dim


def test_not_stationary_and_tolerance_scaling(rng):
    """A random point is not stationary; the same point with a scaled loss gets a scaled grad_tol
    and the same kind (tolerances are relative to the problem)."""
    X = _random_X(rng, 5, 4, 2)
    th = rng.standard_normal(BalancedFactor(5, 4, 2).dim)
    r1 = classify_point(factorization_objective(X, 2), th)
    r2 = classify_point(factorization_objective(100 * X, 2), 10 * th)
    assert r1.kind == r2.kind == "not_stationary"
    assert r2.grad_tol == pytest.approx(1000 * r1.grad_tol, rel=1e-12)


def test_certificates_decide_without_f_star(rng):
    """PSD: λ_min(∇f) ≥ 0 at the recovered truth certifies a global minimizer; at a saddle the
    certificate is negative (GLRL's λ₁(−∇f) > 0) and curvature decides. UVᵀ: ∇f = 0."""
    P = sensing_problem(6, 2, 80, rng)
    obj = Objective(P.loss(), SymmetricFactor(6, 2))
    rep = classify_point(obj, P.truth.L.ravel())
    assert rep.kind == "global_minimizer" and rep.f_star_source == "certificate"
    # a PSD factorization saddle: drop the top eigencomponent of M
    Z = np.linalg.qr(rng.standard_normal((5, 2)))[0] * np.sqrt([2.0, 1.0])
    objm = Objective(LeastSquares(Identity((5, 5)), (Z @ Z.T).ravel()), SymmetricFactor(5, 2))
    U = np.hstack([np.zeros((5, 1)), Z[:, 1:]])
    rep = classify_point(objm, U.ravel())
    assert rep.certificate == pytest.approx(-2.0, abs=1e-10)
    assert rep.kind == "strict_saddle" and rep.f_star is None
    assert certificate_psd(LowRank(Z, Z)) == pytest.approx(0.0, abs=1e-12)
    X = _random_X(rng, 5, 4, 2)
    gm = factorization_critical_points(X, 2, rng=rng)[-1]
    rep = classify_point(factorization_objective(X, 2), gm.theta)
    assert rep.kind == "global_minimizer" and rep.f_star_source == "certificate"


def test_unknown_optimum_and_degenerate_points(rng):
    """No f★ and no certificate (QuadRSC is not a LeastSquares): second_order_stationary.
    Weighted PCA at w² = 3: ±x(1, −1) has Hessian eigenvalues {0, +}: non_strict_saddle."""
    X = _random_X(rng, 4, 3, 2)
    obj = Objective(QuadRSC(X, 0.1, rng), BalancedFactor(4, 3, 2, mu=0.5))
    gm = factorization_critical_points(X, 2, rng=rng)[-1]
    assert classify_point(obj, gm.theta).kind == "second_order_stationary"
    w = np.sqrt(3.0)
    x = np.sqrt((w * w - 1) / (w * w + 1))
    rep = classify_point(weighted_pca_objective(w), x * np.array([1.0, -1.0]), f_star=0.0)
    assert abs(rep.lambda_min) <= rep.curv_tol
    assert rep.kind == "non_strict_saddle"


def test_finder_locates_a_saddle_near_a_start(rng):
    """From a perturbed saddle, minimizing ½‖∇F‖² returns to a critical point of the same value
    (gradient descent on F would leave it), classified strict saddle."""
    X = _random_X(rng, 5, 4, 2)
    obj = factorization_objective(X, 2, mu=0.5)
    saddle = next(p for p in factorization_critical_points(X, 2, rng=rng) if p.kept == (1,))
    res = find_critical_point(obj, saddle.theta + 1e-3 * rng.standard_normal(obj.dim))
    assert res.success and res.grad_norm <= 1e-10
    assert res.value == pytest.approx(saddle.value, rel=1e-8)
    rep = classify_point(obj, res.theta, f_star=0.0)
    assert rep.kind == "strict_saddle"
    assert rep.lambda_min == pytest.approx(saddle.lambda_min_expected, abs=1e-6)
    with pytest.raises(ValueError, match="gtol"):
        find_critical_point(obj, saddle.theta, gtol=0.0)


def test_fixed_rank_spurious_points(rng):
    """hou2021 Lemma 2.4: 2^r − 1 points Z#(η), f = ½Σ_missing d², P_T(Z# − X) = 0 for the
    special completion; each is (as balanced factors) a strict saddle of ½‖UVᵀ − X‖² with
    λ_min = −(largest missing d) (zhu2021 Thm 2)."""
    n, m, r = 7, 6, 3
    d = np.array([3.0, 2.0, 1.0])
    P = np.linalg.qr(rng.standard_normal((n, r)))[0]
    Q = np.linalg.qr(rng.standard_normal((m, r)))[0]
    X = P @ np.diag(d) @ Q.T
    pts = fixed_rank_spurious_points(X, r)
    assert len(pts) == 2**r - 1
    assert sorted(p.rank for p in pts) == [0, 1, 1, 1, 2, 2, 2]
    obj = factorization_objective(X, r, mu=0.5)
    for p in pts:
        Zd = p.Z.dense()
        assert 0.5 * np.linalg.norm(Zd - X) ** 2 == pytest.approx(p.value, abs=1e-12)
        Uc, Vc = p.U_complete, p.V_complete
        E = Zd - X
        PT = Uc @ Uc.T @ E + E @ Vc @ Vc.T - Uc @ Uc.T @ E @ Vc @ Vc.T
        assert np.linalg.norm(PT) <= 1e-12
        pad = r - p.rank
        theta = obj.model.pack(np.hstack([p.Z.L, np.zeros((n, pad))]),
                               np.hstack([p.Z.R, np.zeros((m, pad))]))
        rep = classify_point(obj, theta, f_star=0.0)
        assert rep.kind == "strict_saddle"
        top_missing = d[[i for i in range(r) if not p.eta[i]]].max()
        assert rep.lambda_min == pytest.approx(-top_missing, abs=1e-8)
    with pytest.raises(ValueError, match="distinct"):
        fixed_rank_spurious_points(np.eye(4), 2)
    # X of rank 4 > r = 2: same criticality with a completion from the null spaces
    d4 = np.array([4.0, 3.0, 2.0, 1.0])
    P4 = np.linalg.qr(rng.standard_normal((n, 4)))[0]
    Q4 = np.linalg.qr(rng.standard_normal((m, 4)))[0]
    X4 = P4 @ np.diag(d4) @ Q4.T
    pts = fixed_rank_spurious_points(X4, 2)
    assert len(pts) == 3
    for p in pts:
        E = p.Z.dense() - X4
        assert 0.5 * np.linalg.norm(E) ** 2 == pytest.approx(p.value, abs=1e-12)
        Pu, Pv = p.U_complete @ p.U_complete.T, p.V_complete @ p.V_complete.T
        assert np.linalg.norm(Pu @ E + E @ Pv - Pu @ E @ Pv) <= 1e-12


def test_closed_form_input_validation(rng):
    with pytest.raises(ValueError, match="distinct"):
        factorization_critical_points(np.eye(3), 2)
    with pytest.raises(ValueError, match="r must"):
        factorization_critical_points(_random_X(rng, 4, 3, 2), 5)
    with pytest.raises(ValueError, match="w must"):
        weighted_pca_objective(-1.0)
    with pytest.raises(ValueError, match="f_star"):
        classify_point(factorization_objective(_random_X(rng, 4, 3, 2), 2), np.zeros(14),
                       f_star=float("nan"))


def test_lanczos_classification_matches_dense_at_larger_size(rng):
    """auto → Lanczos beyond 600 parameters: GD-free check at the planted minimizer of a PSD
    factorization with d = 130, p = 5 (dim 650): global minimizer by certificate."""
    d, p = 130, 5
    Z = np.linalg.qr(rng.standard_normal((d, p)))[0] * np.sqrt([5.0, 4.0, 3.0, 2.0, 1.0])
    obj = Objective(LeastSquares(Identity((d, d)), (Z @ Z.T).ravel()), SymmetricFactor(d, p))
    rep = classify_point(obj, Z.ravel())
    assert rep.method == "lanczos" and rep.kind == "global_minimizer"
    assert rep.symmetry_dim == 10
    U = Z.copy()
    U[:, 0] = 0.0  # drop the top component: a strict saddle with λ_min = −... < 0
    rep = classify_point(obj, U.ravel(), f_star=0.0)
    assert rep.kind == "strict_saddle"
    lam = hessian_eigs(obj, U.ravel(), 1, method="lanczos").lambda_min
    assert rep.lambda_min == pytest.approx(lam, abs=1e-8) and lam < -1.0
