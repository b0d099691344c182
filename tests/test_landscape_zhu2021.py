"""zhu2021 (seed002_spec §2) claims about points and regions, tested with the landscape toolkit.

Covered here: C1, C2, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C16, C20, C21. The other claims
(C3, C4, C15, C17–C19, C22: lemmas on functions, derivative plumbing and dynamics) are
tested by the zhu2021 experiment/solver tests.
Tolerances follow seed002_spec §2: gradients at constructed points ≤ 1e-10, eigenvalue
inequalities `lhs <= bound + 1e-8`, ratios ≥ 1 − 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.landscape import classify_point, dense_hessian, hessian_spectrum
from lowranklab.landscape.closed_forms import (
    factorization_critical_points,
    factorization_objective,
    weighted_pca_critical_points,
    weighted_pca_objective,
    weighted_pca_spurious_minima,
)
from lowranklab.landscape.finder import find_critical_point
from lowranklab.landscape.regions import (
    TAU,
    balanced_factors,
    dist,
    r2_witness,
    region_inequalities,
    regions,
)
from lowranklab.models import BalancedFactor
from lowranklab.objective import Objective
from lowranklab.problems.balanced_truth import planted_spectrum
from lowranklab.problems.smooth_losses import LogCoshRSC, QuadRSC, synthetic_rip_sensing

EIG_TOL = 1e-8
RATIO_TOL = 1e-9


def _orth(rng, n, r):
    Q, R = np.linalg.qr(rng.standard_normal((n, r)))
    return Q * np.sign(np.diag(R))


# ------------------------------------------------------------------ the global minimizer
@pytest.mark.parametrize("kind", ["quadrsc", "logcosh"])
def test_C1_global_minimizer_quadratic_growth(kind, rng):
    """Prop 1: f(X) − f(X★) ≥ a/2‖X − X★‖²_F for every X of rank ≤ r (c = 0.4, n = 5, m = 4,
    r = 2; 2000 random rank-2 X at scales 0.01–10); X★ is then the unique global minimizer."""
    t = planted_spectrum(5, 4, [2.0, 1.0], rng)
    loss = QuadRSC(t.Xstar, 0.4, rng) if kind == "quadrsc" else LogCoshRSC(t.Xstar, 0.4)
    f_star = loss.value(t.Xstar)
    assert abs(f_star) <= 1e-12
    ratios = []
    for _ in range(2000):
        X = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 4)) * 10 ** rng.uniform(-2, 1)
        ratios.append((loss.value(X) - f_star) / (0.5 * loss.a_rsc
                                                  * np.linalg.norm(X - t.Xstar) ** 2))
    assert min(ratios) >= 1 - RATIO_TOL


# ------------------------------------------------------------------ critical points (App. A)
@pytest.mark.parametrize("loss_kind", ["mf", "quadrsc"])
def test_C2_every_critical_point_is_balanced(loss_kind, rng):
    """Lemma 2: every critical point of G (any f, μ > 0) has UᵀU = VᵀV; found by the
    critical-point finder from random starts (saddles and minima alike)."""
    t = planted_spectrum(5, 4, [2.0, 1.0], rng)
    if loss_kind == "mf":
        obj = factorization_objective(t.Xstar, 2, mu=0.5)
    else:
        obj = Objective(QuadRSC(t.Xstar, 0.3, rng), BalancedFactor(5, 4, 2, mu=0.5))
    found = 0
    for _ in range(6):
        theta0 = rng.uniform(0.05, 1.5) * rng.standard_normal(obj.dim)
        res = find_critical_point(obj, theta0, gtol=1e-10)
        if not res.success:
            continue
        found += 1
        U, V = obj.model.unpack(res.theta)
        assert np.linalg.norm(U.T @ U - V.T @ V) < 1e-5  # seed002_spec gotcha 10
    assert found >= 4


@pytest.mark.parametrize("mu", [0.05, 0.5, 3.0])
def test_C5_closed_form_critical_set(mu, rng):
    """Lemma 5: all 2^r classes (random R) are critical, balanced, g = ½Σ_{λᵢ=0} σᵢ²."""
    t = planted_spectrum(6, 5, [4.0, 2.5, 1.0], rng)
    obj = factorization_objective(t.Xstar, 3, mu=mu)
    pts = factorization_critical_points(t.Xstar, 3, mu=mu, rng=rng)
    assert len(pts) == 2**3
    for p in pts:
        assert np.linalg.norm(obj.grad(p.theta)) <= 1e-10
        assert np.linalg.norm(p.U.T @ p.U - p.V.T @ p.V) <= 1e-10
        missing = [i for i in range(3) if i not in p.kept]
        assert obj.value(p.theta) == pytest.approx(0.5 * np.sum(t.sigma[missing] ** 2),
                                                   abs=1e-10)


def test_C5_root_finding_finds_only_closed_form_values(rng):
    """Completeness of Lemma 5: critical points found by root finding have ‖UVᵀ − X★‖_F in
    {√(Σ_S σᵢ²)}; σ = (2, 1) gives {0, 1, 2, √5}."""
    t = planted_spectrum(5, 4, [2.0, 1.0], rng)
    obj = factorization_objective(t.Xstar, 2, mu=0.5)
    allowed = np.sqrt([0.0, 1.0, 4.0, 5.0])
    for _ in range(6):
        res = find_critical_point(obj, rng.uniform(0.05, 1.5) * rng.standard_normal(obj.dim))
        assert res.success
        U, V = obj.model.unpack(res.theta)
        resid = np.linalg.norm(U @ V.T - t.Xstar)
        assert np.min(np.abs(allowed - resid)) < 1e-6


def test_C6_regularizer_hessian_psd_on_balanced_set(rng):
    """Lemma 6 on ℰ: ‖Δ_U Uᵀ‖² + ‖Δ_V Vᵀ‖² = ‖Δ_U Vᵀ‖² + ‖Δ_V Uᵀ‖² (37) and ∇²ρ ⪰ 0 (38),
    with ∇²ρ = Hess_{μ=1} − Hess_{μ=0} at X★ = 0."""
    n, m, r = 5, 4, 3
    for _ in range(3):
        D = np.diag(rng.uniform(0.0, 2.0, r))
        R = _orth(rng, r, r)
        U, V = _orth(rng, n, r) @ D @ R, _orth(rng, m, r) @ D @ R
        dU, dV = rng.standard_normal((n, r)), rng.standard_normal((m, r))
        lhs = np.linalg.norm(dU @ U.T) ** 2 + np.linalg.norm(dV @ V.T) ** 2
        rhs = np.linalg.norm(dU @ V.T) ** 2 + np.linalg.norm(dV @ U.T) ** 2
        assert lhs == pytest.approx(rhs, rel=1e-12)
        zero = np.zeros((n, m))
        theta = BalancedFactor(n, m, r).pack(U, V)
        H_rho = (dense_hessian(factorization_objective(zero, r, mu=1.0), theta)
                 - dense_hessian(factorization_objective(zero, r, mu=0.0), theta))
        assert np.linalg.eigvalsh(H_rho)[0] >= -1e-12 * max(1.0, np.abs(H_rho).max())


@pytest.mark.parametrize("mu", [0.05, 0.5, 3.0])
def test_C7_exact_parametrization_saddles_and_minimizers(mu, rng):
    """Thm 2 (n = 8, m = 6, r = 3): every non-global critical point is a strict saddle with
    λ_min(∇²g) ≤ −½‖WWᵀ − W★W★ᵀ‖ = −σ_k ≤ −σ_r (equality observed), witnessed by
    Δ = (φ_kαᵀ, ψ_kαᵀ)/√2; at 𝒳, λ_min = 0 with nullity r(r−1)/2 (r² for μ = 0), the
    symmetry dimension is r(r−1)/2 and [∇²g](W★S, W★S) = 0 for skew S."""
    r = 3
    t = planted_spectrum(8, 6, [3.0, 2.0, 1.0], rng)
    obj = factorization_objective(t.Xstar, r, mu=mu)
    Ws = t.W
    for p in factorization_critical_points(t.Xstar, r, mu=mu, rng=rng):
        rep = classify_point(obj, p.theta, f_star=0.0)
        full = np.linalg.eigvalsh(dense_hessian(obj, p.theta))
        if p.is_global:
            assert rep.kind == "global_minimizer"
            assert rep.symmetry_dim == r * (r - 1) // 2
            assert abs(full[0]) <= EIG_TOL
            nullity = int(np.sum(np.abs(full) <= 1e-8))
            assert nullity == r * (r - 1) // 2
            assert rep.lambda_min > 1e-3  # nothing flat beyond the symmetry
        else:
            assert rep.kind == "strict_saddle"
            W = np.vstack([p.U, p.V])
            half_gap = 0.5 * np.linalg.norm(W @ W.T - Ws @ Ws.T, 2)
            k = min(set(range(r)) - set(p.kept))
            assert half_gap == pytest.approx(t.sigma[k], rel=1e-10)
            assert full[0] <= -half_gap + EIG_TOL
            assert full[0] <= -t.sigma[-1] + EIG_TOL
            assert full[0] == pytest.approx(-t.sigma[k], abs=1e-8)  # observed equality
            assert rep.lambda_min == pytest.approx(full[0], abs=1e-8)
            d = p.witness
            assert np.linalg.norm(d) == pytest.approx(1.0)
            assert d @ obj.hvp(p.theta, d) == pytest.approx(-t.sigma[k], abs=1e-10)
    theta_s = obj.model.pack(t.U, t.V)
    for i in range(r):
        for j in range(i + 1, r):
            S = np.zeros((r, r))
            S[i, j], S[j, i] = 1.0, -1.0
            d = obj.model.pack(t.U @ S, t.V @ S)
            assert abs(d @ obj.hvp(theta_s, d)) <= 1e-10
    if mu == 0.5:  # μ = 0: the GL(r) orbit, nullity r²
        obj0 = factorization_objective(t.Xstar, r, mu=0.0)
        full0 = np.linalg.eigvalsh(dense_hessian(obj0, theta_s))
        assert int(np.sum(np.abs(full0) <= 1e-8)) == r * r
        assert classify_point(obj0, theta_s, f_star=0.0).symmetry_dim == r * r


def test_C8_over_parametrization(rng):
    """Thm 3 (n = 6, m = 5, r = 4, σ = (3, 1.5)): saddles have λ_min ≤ −σ_{r'}; minima λ_min = 0."""
    t = planted_spectrum(6, 5, [3.0, 1.5], rng)
    obj = factorization_objective(t.Xstar, 4, mu=0.5)
    pts = factorization_critical_points(t.Xstar, 4, mu=0.5, rng=rng)
    assert len(pts) == 4 and all(p.case == "over" for p in pts)
    seen = []
    for p in pts:
        assert np.linalg.norm(obj.grad(p.theta)) <= 1e-10
        lam = np.linalg.eigvalsh(dense_hessian(obj, p.theta))[0]
        rep = classify_point(obj, p.theta, f_star=0.0)
        if p.is_global:
            assert abs(lam) <= EIG_TOL and rep.kind == "global_minimizer"
        else:
            assert lam <= -1.5 + EIG_TOL and lam <= p.lambda_min_bound + EIG_TOL
            assert rep.kind == "strict_saddle"
            seen.append(round(lam, 8))
    assert sorted(seen) == [-3.0, -3.0, -1.5]


def test_C9_under_parametrization(rng):
    """Thm 4 (n = 6, m = 5, r = 2, σ = (4, 3, 2, 1)): saddles have λ_min ≤ −(σ_r − σ_{r+1});
    the only minimizer is the best rank-2 approximation; λ_min = −(σ_i★ − λ_min(UᵀU))."""
    sig = np.array([4.0, 3.0, 2.0, 1.0])
    t = planted_spectrum(6, 5, sig, rng)
    obj = factorization_objective(t.Xstar, 2, mu=0.5)
    pts = factorization_critical_points(t.Xstar, 2, mu=0.5, rng=rng)
    assert len(pts) == 1 + 4 + 6
    f_star = 0.5 * (2.0**2 + 1.0**2)
    for p in pts:
        assert np.linalg.norm(obj.grad(p.theta)) <= 1e-10
        lam = np.linalg.eigvalsh(dense_hessian(obj, p.theta))[0]
        rep = classify_point(obj, p.theta, f_star=f_star)
        if p.is_global:
            assert p.kept == (0, 1) and rep.kind == "global_minimizer"
            assert abs(lam) <= EIG_TOL
            U, V = p.U, p.V
            best = t.Phi[:, :2] @ np.diag(sig[:2]) @ t.Psi[:, :2].T
            assert np.linalg.norm(U @ V.T - best) <= 1e-10
        else:
            assert lam <= -(sig[1] - sig[2]) + EIG_TOL
            assert lam == pytest.approx(p.lambda_min_expected, abs=1e-8)
            assert p.witness @ obj.hvp(p.theta, p.witness) == pytest.approx(
                p.witness_curvature, abs=1e-10)
            assert rep.kind == "strict_saddle"


# ------------------------------------------------------------------ regions (Thms 5 and 1)
def _sample_W(rng, Ws, kind):
    n_m, r = Ws.shape
    if kind == "near":
        Z = rng.standard_normal(Ws.shape)
        return Ws @ _orth(rng, r, r) + Z
    s = np.sort(rng.uniform(0.0, 1.0, r) ** 2)[::-1]
    s *= 10 ** rng.uniform(-1.5, 1.0) * np.linalg.norm(Ws, 2) / max(s[0], 1e-12)
    return _orth(rng, n_m, r) @ np.diag(s) @ _orth(rng, r, r)


def _region_samples(t, rng, n_samples, *, tau=TAU):
    """Random W in every region: near W★ (R1), low σ_r (R2), generic and huge scales (R3),
    and moderate singular values in random frames (R3')."""
    r = t.sigma.size
    out = []
    for i in range(n_samples):
        kind = ("near", "generic", "r1", "r3p")[i % 4]
        if kind == "r3p":  # singular values between √(σ_r/2) and 20/19‖W★‖, random frames
            lo, hi = np.sqrt(t.sigma[-1] / 2), 20 / 19 * np.sqrt(2 * t.sigma[0])
            s = rng.uniform(1.01 * lo, 0.99 * hi, r)
            W = _orth(rng, t.W.shape[0], r) @ np.diag(s) @ _orth(rng, r, r)
        elif kind == "r1":
            Z = rng.standard_normal(t.W.shape)
            W = t.W @ _orth(rng, r, r) + Z * (rng.uniform() * np.sqrt(t.sigma[-1])
                                             / np.linalg.norm(Z))
        else:
            W = _sample_W(rng, t.W, kind)
        out.append(W)
    return out


def test_C10_C11_C12_regions_of_thm5(rng):
    """Thm 5 for g (μ = ½) at random W in every region: R1 regularity (σ_r/32, 1/(48σ_1)),
    R2 λ_min ≤ −σ_r/4, R3' ‖∇g‖ ≥ σ_r^{3/2}/11, R3'' ‖∇g‖ > 39/800‖W‖³,
    R3''' ⟨∇g, W⟩ > ‖WWᵀ‖²_F/20."""
    t = planted_spectrum(4, 3, [2.0, 1.0], rng)
    obj = factorization_objective(t.Xstar, 2, mu=0.5)
    counts: dict[str, int] = {}
    for W in _region_samples(t, rng, 240):
        for q in region_inequalities(obj, W.ravel(), t.Xstar, constants="thm5"):
            counts[q.region] = counts.get(q.region, 0) + 1
            assert q.ratio >= 1 - RATIO_TOL, (q.region, q.ratio)
    assert all(counts.get(k, 0) >= 5 for k in ("R1", "R2", "R3p", "R3ppp")), counts


def test_C10_r1_regularity_holds_near_the_optimum(rng):
    """Thm 5(1): dist(W, W★) ≤ σ_r^½ ⇒ the regularity inequality, and it is loose (≥ 6×)."""
    t = planted_spectrum(8, 6, [3.0, 2.0, 1.0], rng)
    obj = factorization_objective(t.Xstar, 3, mu=0.5)
    worst = np.inf
    for _ in range(100):
        Z = rng.standard_normal(t.W.shape)
        W = t.W @ _orth(rng, 3, 3) + Z * (rng.uniform() * np.sqrt(t.sigma[-1]) / np.linalg.norm(Z))
        (q,) = [q for q in region_inequalities(obj, W.ravel(), t.Xstar) if q.region == "R1"]
        worst = min(worst, q.ratio)
    assert worst >= 6.0  # seed002_spec C10: random min ratio ≈ 19.7, adversarial ≈ 12.2


def test_C11_r2_tight_family_and_witness(rng):
    """Thm 5(2) tight family W(t) = [ΦΛ_t^½; ΨΛ_t^½], Λ_t = diag(σ_1..σ_{r−1}, tσ_r):
    λ_min = (3t − 1)σ_r, exactly −σ_r/4 at t = ¼; the witness qαᵀ has curvature
    ≤ 3/2 σ_r(W)² − σ_r ≤ −σ_r/4 in R2."""
    sig = np.array([3.0, 2.0, 1.0])
    t = planted_spectrum(8, 6, sig, rng)
    obj = factorization_objective(t.Xstar, 3, mu=0.5)
    for tt in (0.0, 0.1, 0.2, 0.25):
        lam_t = np.concatenate([sig[:-1], [tt * sig[-1]]])
        U, V = t.Phi * np.sqrt(lam_t), t.Psi * np.sqrt(lam_t)
        assert regions(U, V, t.Xstar)["R2"]
        lam = hessian_spectrum(obj, obj.model.pack(U, V), restrict=False).lambda_min
        assert lam == pytest.approx((3 * tt - 1) * sig[-1], abs=1e-8)
        assert lam <= -sig[-1] / 4 + EIG_TOL
        d = r2_witness(U, V, t.Xstar)
        sr_W = np.linalg.svd(np.vstack([U, V]), compute_uv=False)[-1]
        curv = d @ obj.hvp(obj.model.pack(U, V), d)
        assert curv <= 1.5 * sr_W**2 - sig[-1] + EIG_TOL
        assert curv <= -sig[-1] / 4 + EIG_TOL


def test_C12_r3_product_preserving_unbalanced_points(rng):
    """Thm 5 at W = [U★M; V★M⁻ᵀ] (UVᵀ = X★ but unbalanced, seed002_spec C12 recipe): far from
    W★ these lie in the R3 regions, where the gradient inequalities hold."""
    t = planted_spectrum(4, 3, [2.0, 1.0], rng)
    obj = factorization_objective(t.Xstar, 2, mu=0.5)
    hits = 0
    for _ in range(60):
        M = np.diag(np.exp(rng.normal(0, 0.5, 2))) @ _orth(rng, 2, 2)
        U, V = t.U @ M, t.V @ np.linalg.inv(M).T
        for q in region_inequalities(obj, obj.model.pack(U, V), t.Xstar):
            assert q.ratio >= 1 - RATIO_TOL
            hits += q.region.startswith("R3")
    assert hits >= 5


@pytest.mark.parametrize("kind", ["quadrsc", "synthetic_rip"])
def test_C13_C14_regions_of_thm1_general_f(kind, rng):
    """Thm 1 / Cor 1 for G = f + ½/4‖UᵀU − VᵀV‖² with c = c_max of (14) (QuadRSC, and the
    synthetic-RIP sensing operator with δ = c_max): R1 (σ_r/16, 1/(260σ_1)), R2 −σ_r/6,
    R3' σ_r^{3/2}/50, R3'' ‖W‖³/50, R3''' ‖WWᵀ‖_F^{3/2}/45."""
    t = planted_spectrum(4, 3, [2.0, 1.0], rng)
    s = t.sigma
    c_max = s[-1] ** 1.5 / (100 * np.linalg.norm(s) * np.sqrt(s[0]))  # zhu2021 eq. (14)
    assert c_max == pytest.approx(0.00316, abs=1e-5)
    loss = (QuadRSC(t.Xstar, c_max, rng) if kind == "quadrsc"
            else synthetic_rip_sensing(t.Xstar, c_max, rng))
    obj = Objective(loss, BalancedFactor(4, 3, 2, mu=0.5))
    counts: dict[str, int] = {}
    for W in _region_samples(t, rng, 150):
        for q in region_inequalities(obj, W.ravel(), t.Xstar, constants="thm1"):
            counts[q.region] = counts.get(q.region, 0) + 1
            assert q.ratio >= 1 - RATIO_TOL, (q.region, q.ratio)
    assert all(counts.get(k, 0) >= 3 for k in ("R1", "R2", "R3p", "R3ppp")), counts


def test_C16_regions_cover_with_corrected_cap_only(rng):
    """Remark 1: R1 ∪ R2 ∪ R3' ∪ R3'' ∪ R3''' is everything with τ = 10/9; the literal cap
    20/19 leaves the seed002_spec counterexample W = √2.15·E (E orthonormal, EᵀQ = 0,
    σ = (1, 1)) uncovered."""
    t = planted_spectrum(5, 4, [2.0, 1.0], rng)
    for W in _region_samples(t, rng, 300):
        U, V = W[:5], W[5:]
        assert any(regions(U, V, t.Xstar).values())
    # counterexample (seed002_spec C16)
    n, m, r = 4, 3, 2
    Phi, Psi = _orth(rng, n, r), _orth(rng, m, r)
    X = Phi @ Psi.T  # σ = (1, 1)
    Q = np.vstack([Phi, Psi]) / np.sqrt(2)
    E = np.linalg.qr(np.hstack([Q, rng.standard_normal((n + m, r))]))[0][:, r:]
    W = np.sqrt(2.15) * E
    U, V = W[:n], W[n:]
    assert dist(W, balanced_factors(X, r).W) == pytest.approx(2.88, abs=0.01)
    assert not any(regions(U, V, X, tau=20 / 19).values())
    assert any(regions(U, V, X, tau=10 / 9).values())


# ------------------------------------------------------------------ weighted PCA (Remark 4)
@pytest.mark.parametrize("w", [1.0, 1.5, np.sqrt(2.96), np.sqrt(3.03), 2.0, 8.0])
def test_C20_weighted_pca_spurious_minima_iff_w2_gt_3(w, rng):
    """Remark 4 / Fig. 1: Ω = [[w, 1], [1, w]], X★ = 11ᵀ. The closed-form points are critical with
    the stated Hessian eigenvalues; ±x(1, −1) are spurious minima exactly when w² > 3
    (classified as such, and found by multistart local minimization), strict saddles below."""
    obj = weighted_pca_objective(w)
    pts = weighted_pca_critical_points(w)
    for p in pts:
        assert np.linalg.norm(obj.grad(p.u)) <= 1e-10
        assert obj.value(p.u) == pytest.approx(p.value, abs=1e-12)
        np.testing.assert_allclose(np.linalg.eigvalsh(dense_hessian(obj, p.u)),
                                   p.hessian_eigenvalues, atol=1e-9)
        kind = classify_point(obj, p.u, f_star=0.0).kind
        expect = {"global_minimizer": "global_minimizer", "strict_saddle": "strict_saddle",
                  "spurious_minimizer": "spurious_second_order"}[p.kind]
        assert kind == expect
    spurious = weighted_pca_spurious_minima(w)
    assert (len(spurious) == 2) == (w * w > 3)
    if w == 8.0:
        np.testing.assert_allclose(np.abs(spurious[0]), np.sqrt(63 / 65), atol=1e-12)
        assert obj.value(spurious[0]) == pytest.approx(256 / 65, abs=1e-12)
    # multistart local minimization finds a spurious minimum iff w² > 3 (away from the
    # threshold: at w² = 3.03 the spurious basins are too small for 40 random starts)
    if abs(w * w - 3) < 0.5:
        return
    from scipy.optimize import minimize

    finals = []
    for _ in range(40):
        res = minimize(obj.value_and_grad, rng.uniform(-2, 2, 2), jac=True, method="BFGS",
                       options={"gtol": 1e-10})
        finals.append(obj.value(res.x))
    assert (max(finals) > 1e-6) == (w * w > 3)


# ------------------------------------------------------------------ μ too small (§A-F)
def test_C21_gradient_is_linear_in_mu_on_product_preserving_points(rng):
    """§A-F: at W̃ = [U★M; V★M⁻ᵀ], ∇g(W̃) = μ Ŵ̃Ŵ̃ᵀW̃ (linear in μ; the loss part vanishes) while
    dist(W̃, W★) grows with cond(M): a tiny μ makes points far from 𝒳 nearly critical."""
    t = planted_spectrum(6, 5, [3.0, 2.0, 1.0], rng)
    dists = []
    for kappa in (1.0, 3.0, 10.0):
        M = _orth(rng, 3, 3) @ np.diag([kappa, 1.0, 1.0 / kappa]) @ _orth(rng, 3, 3)
        U, V = t.U @ M, t.V @ np.linalg.inv(M).T
        Wt = np.vstack([U, V])
        Wh = np.vstack([U, -V])
        for mu in (0.01, 0.5, 2.0):
            obj = factorization_objective(t.Xstar, 3, mu=mu)
            g = obj.grad(obj.model.pack(U, V)).reshape(Wt.shape)
            np.testing.assert_allclose(g, mu * Wh @ Wh.T @ Wt, atol=1e-9 * max(1, kappa**4))
        dists.append(dist(Wt, t.W))
    assert dists[0] < 1e-10 < dists[1] < dists[2]
