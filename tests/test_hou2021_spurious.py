"""hou2021: spurious critical points and their singular local geometry (spec §4 T8–T12,
T19, T20)."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from lowranklab.lowrank import LowRank
from lowranklab.models.fixed_rank import FixedRank, FixedRankPoint, FixedRankPSD
from lowranklab.models.fixed_rank_spurious import (
    by_rank,
    critical_completion,
    gd_map,
    gd_map_jacobian,
    gradient_norm_closed_form,
    orthonormal_complement_sample,
    reduced_map,
    spurious_points,
)
from lowranklab.problems.distance import MatrixDistance


def _orth(n, r, rng):
    return np.linalg.qr(rng.standard_normal((n, r)))[0]


def test_T8_spurious_set_enumeration_and_criticality(rng):
    n, r = 12, 5
    d = np.array([1.0, 0.8, 0.6, 0.4, 0.2])
    Ux = _orth(n, r, rng)
    X = LowRank(Ux * d, Ux)
    pts = spurious_points(Ux, d)
    assert len(pts) == 2**r - 1 == 31
    groups = by_rank(pts)
    assert {s: len(v) for s, v in groups.items()} == {s: comb(r, s) for s in range(r)}
    man = FixedRankPSD(n, r)
    for p in pts:
        miss = list(p.missing)
        assert abs(p.distance - np.linalg.norm(p.dense() - X.dense())) < 1e-12
        assert abs(p.distance - np.sqrt(np.sum(d[miss] ** 2))) < 1e-15
        x = critical_completion(p, rng)  # U₃ ⟂ U_x: a critical point of f on the closure
        assert np.abs(x.dense() - p.dense()).max() < 1e-14
        g = man.project(x, p.dense() - X.dense())
        assert man.norm(x, g) < 1e-12
    # a completion tilted toward the missing u_k by β: ‖P_T(Z_# − X)‖ = d_k|c|(2 − c²)^½
    for p in groups[r - 1]:
        k = p.missing[0]
        w0 = orthonormal_complement_sample(Ux, 1, rng)[:, 0]
        for beta in (0.1, 0.7, 1.3):
            U3 = np.cos(beta) * w0 + np.sin(beta) * Ux[:, k]
            U = np.hstack([Ux[:, list(p.kept)], U3[:, None]])
            x = FixedRankPoint(U, np.concatenate([d[list(p.kept)], [0.0]]), U)
            c = np.sin(beta)
            got = man.norm(x, man.project(x, p.dense() - X.dense()))
            assert abs(got - d[k] * abs(c) * np.sqrt(2 - c * c)) < 1e-12


def test_T8_repeated_singular_values_rejected():
    with pytest.raises(ValueError, match="strictly decreasing"):
        spurious_points(np.eye(4, 2), np.array([1.0, 1.0]))


def test_T9_gradient_discontinuity_closed_form():
    """Fig. 1 slice: X = diag(2,1,0), Z = diag(2,0,0) + ρ wwᵀ, w = (0, cos θ, sin θ)."""
    man = FixedRankPSD(3, 2)
    loss = MatrixDistance(np.diag([2.0, 1.0, 0.0]))
    for rho in (1e-1, 1e-3, 1e-6):
        for theta in np.linspace(0.1, 3.0, 5):
            w = np.array([0.0, np.cos(theta), np.sin(theta)])
            x = FixedRankPoint(np.stack([[1.0, 0, 0], w], axis=1), np.array([2.0, rho]),
                               None)
            x = FixedRankPoint(x.U, x.S, x.U)
            _, g, _ = man.gradient(loss, x)
            ref = gradient_norm_closed_form(rho, np.cos(theta), 1.0)
            assert abs(man.norm(x, g) - ref) < 1e-12
    # the limit depends on the direction: 0 along c = 0, 1 along c = 1, √3/2 at c² = ½
    assert gradient_norm_closed_form(0.0, 0.0, 1.0) == 0.0
    assert abs(gradient_norm_closed_form(0.0, 1.0, 1.0) - 1.0) < 1e-15
    assert abs(gradient_norm_closed_form(0.0, np.sqrt(0.5), 1.0) - np.sqrt(3) / 2) < 1e-15


def _psd_spurious_setup(k, rng):
    """X♮ = Ux diag(3, 2, 1) Uxᵀ in PSD 8×8 at rank 3; the spurious point missing the k-th
    component; a unit direction w orthogonal to range(Ux)."""
    d = np.array([3.0, 2.0, 1.0])
    Ux = _orth(8, 3, rng)
    loss = MatrixDistance(LowRank(Ux * d, Ux))
    p = next(q for q in spurious_points(Ux, d) if q.missing == (k,))
    w = orthonormal_complement_sample(Ux, 1, rng)[:, 0]
    return d, FixedRankPSD(8, 3), loss, p, w


def _near(p, eps, w, z=None):
    """Z_ε = Z_# + ε w zᵀ (z = w for PSD) as a LowRank."""
    z = w if z is None else z
    return p.lowrank() + LowRank(eps * w[:, None], z[:, None])


@pytest.mark.parametrize("k", [1, 2])
def test_T10_hessian_spectrum_near_spurious_point(k, rng):
    # PSD n = 8: {1 − d_k/ε, 1 − d_k/d_j (kept j), 1}
    d, man, loss, p, w = _psd_spurious_setup(k, rng)
    for eps in (1e-2, 1e-3):
        x = man.from_lowrank(_near(p, eps, w))
        ev = np.linalg.eigvalsh(man.hessian_matrix(loss, x))
        ref = np.sort([1 - d[k] / eps] + [1 - d[k] / d[j] for j in p.kept]
                      + [1.0] * (man.dim - len(d)))
        assert np.allclose(ev, ref, rtol=1e-6, atol=1e-6)
    # general (7, 6, 3): {1 ± d_k/ε, 1 ± d_k/d_j, 1}
    gen = FixedRank(7, 6, 3)
    Ux, Vx = _orth(7, 3, rng), _orth(6, 3, rng)
    loss = MatrixDistance(LowRank(Ux * d, Vx))
    p = next(q for q in spurious_points(Ux, d, Vx) if q.missing == (k,))
    w = orthonormal_complement_sample(Ux, 1, rng)[:, 0]
    z = orthonormal_complement_sample(Vx, 1, rng)[:, 0]
    eps = 1e-3
    x = gen.from_lowrank(_near(p, eps, w, z))
    ev = np.linalg.eigvalsh(gen.hessian_matrix(loss, x))
    special = [1 + s * d[k] / eps for s in (1, -1)]
    special += [1 + s * d[k] / d[j] for j in p.kept for s in (1, -1)]
    ref = np.sort(special + [1.0] * (gen.dim - len(special)))
    assert np.allclose(ev, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("symmetric", [True, False])
def test_T11_stable_family_is_invariant(symmetric):
    """Diagonal coordinates, n = 6, r = 3, missing k = 3: Z₀ = Z_# + e e₅e₆ᵀ (PSD: e₅e₅ᵀ).
    Fixed: Z_k = Z_# + (1−α)^k E; varying: e_{k+1} = e_k(1 − α e_k)."""
    n, r = 6, 3
    d = np.array([3.0, 2.0, 1.0])
    I = np.eye(n)
    man = FixedRankPSD(n, r) if symmetric else FixedRank(n, n, r)
    loss = MatrixDistance(np.diag(np.concatenate([d, np.zeros(3)])))
    Zs = np.diag([3.0, 2.0, 0, 0, 0, 0])
    w, z = I[:, 4], (I[:, 4] if symmetric else I[:, 5])
    for rule, alpha in (("fixed", 0.3), ("sigma", 0.7)):
        e0 = 0.5
        x = man.from_lowrank(LowRank(np.stack([3 * I[:, 0], 2 * I[:, 1], e0 * w], 1),
                                     np.stack([I[:, 0], I[:, 1], z], 1)))
        e = e0
        for _ in range(200):
            x = gd_map(man, loss, x, alpha, rule)
            e = e * (1 - alpha) if rule == "fixed" else e * (1 - alpha * e)
            assert np.abs(x.dense() - (Zs + e * np.outer(w, z))).max() < 1e-15
        assert x.sigma_r < (1e-15 if rule == "fixed" else 0.02)  # converges to Z_#


def test_T12_reduced_two_dimensional_map_is_exact():
    """Example 1.1 perturbed, PSD model: Z = Z_# + σ wwᵀ, w = cos θ e₃ + sin θ e₂."""
    man = FixedRankPSD(3, 2)
    loss = MatrixDistance(np.diag([2.0, 1.0, 0.0]))
    Zs = np.diag([2.0, 0.0, 0.0])
    for rule, alpha in (("fixed", 0.2), ("fixed", 0.5), ("sigma", 1.0)):
        eps = 1e-3
        sigma, theta = 1 + eps**2, np.arctan(eps)
        v = np.array([0.0, eps, 1.0])
        x = man.from_matrix(Zs + np.outer(v, v))
        for _ in range(80):
            a = alpha * (x.sigma_r if rule == "sigma" else 1.0)
            x = gd_map(man, loss, x, alpha, rule)
            sigma, theta = reduced_map(sigma, theta, a, 1.0)
            w = np.array([0.0, np.sin(theta), np.cos(theta)])
            assert np.abs(x.dense() - (Zs + sigma * np.outer(w, w))).max() < 1e-12


def test_T19_psd_step_below_one_keeps_rank(rng):
    """λ_r(R₊(Z − α grad f)) ≥ (1 − α) λ_r(Z) for α < 1 (spec §2.5, Courant–Fischer)."""
    n, r = 10, 3
    man = FixedRankPSD(n, r)
    worst = np.inf
    for _ in range(1000):
        X = man.random_point(rng, scale=rng.uniform(0.1, 3))
        x = man.random_point(rng, scale=rng.uniform(0.1, 3))
        alpha = rng.uniform(0, 1)
        y = gd_map(man, MatrixDistance(X.lowrank()), x, alpha)
        worst = min(worst, y.sigma_r / ((1 - alpha) * x.sigma_r))
    assert worst >= 1 - 1e-10


@pytest.mark.parametrize("k", [1, 2])
def test_T20_jacobian_of_varying_step_map(k, rng):
    """Lemma 4.1 corrected: eigenvalues 1 + α d_k (once) and 1 — not 1 + 2α d_k."""
    d, man, loss, p, w = _psd_spurious_setup(k, rng)
    eps = 1e-6
    x = man.from_lowrank(_near(p, eps, w))
    basis = man.tangent_basis(x)
    for alpha in (0.1, 1.0, 10.0, 100.0):
        ev = np.sort(np.linalg.eigvals(gd_map_jacobian(man, loss, x, alpha, "sigma",
                                                       h=1e-3 * eps, basis=basis)).real)
        assert abs(ev[-1] / (1 + alpha * d[k]) - 1) < 1e-2
        assert np.abs(ev[:-1] - 1).max() < 1e-2
        if alpha >= 1:  # the paper's first claim, 1 + 2α d_k, is off by a factor ≈ 2 in α d_k
            assert abs(ev[-1] / (1 + 2 * alpha * d[k]) - 1) > 0.25
    # general (7, 6, 3) at ε = 1e-3: 1 + α d_k, 1 − α d_k, and 1
    gen = FixedRank(7, 6, 3)
    Ux, Vx = _orth(7, 3, rng), _orth(6, 3, rng)
    loss = MatrixDistance(LowRank(Ux * d, Vx))
    p = next(q for q in spurious_points(Ux, d, Vx) if q.missing == (k,))
    w = orthonormal_complement_sample(Ux, 1, rng)[:, 0]
    z = orthonormal_complement_sample(Vx, 1, rng)[:, 0]
    eps = 1e-3
    x = gen.from_lowrank(_near(p, eps, w, z))
    for alpha in (0.1, 1.0):
        ev = np.sort(np.linalg.eigvals(gd_map_jacobian(gen, loss, x, alpha, "sigma",
                                                       h=1e-3 * eps)).real)
        assert abs(ev[-1] / (1 + alpha * d[k]) - 1) < 1e-2
        assert abs(ev[0] - (1 - alpha * d[k])) < 1e-2 * max(1.0, abs(1 - alpha * d[k]))
        assert np.abs(ev[1:-1] - 1).max() < 1e-2
