"""hou2021: the DLRA gradient flow and the rescaled flow DLRA* (spec §4 T5, T13–T18, T22)."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.flows.dlra import (
    Truth,
    dlra_factor_derivatives,
    dlra_rhs,
    dlra_star_rhs,
    integrate_flow,
    jacobian_rescaled,
    phi,
    psi,
    psi_limit,
    sym_basis,
)
from lowranklab.models.fixed_rank_spurious import orthonormal_complement_sample


def _orth(n, r, rng):
    return np.linalg.qr(rng.standard_normal((n, r)))[0]


def _sym(r, rng):
    A = rng.standard_normal((r, r))
    return 0.5 * (A + A.T)


def test_T5_dlra_factor_derivatives(rng):
    m, n, r = 7, 5, 2
    U, V = _orth(m, r, rng), _orth(n, r, rng)
    S = rng.standard_normal((r, r)) + 3 * np.eye(r)  # invertible, not diagonal
    PU, PV = U @ U.T, V @ V.T
    A = rng.standard_normal((m, n))
    M = PU @ A + A @ PV - PU @ A @ PV  # a tangent vector at U S Vᵀ
    Ud, Sd, Vd = dlra_factor_derivatives(U, S, V, M)
    assert np.abs(Ud @ S @ V.T + U @ Sd @ V.T + U @ S @ Vd.T - M).max() < 1e-12
    assert np.abs(U.T @ Ud).max() < 1e-12 and np.abs(V.T @ Vd).max() < 1e-12


def _critical_pair(n, d, k, rng):
    """(U_#, S_#) ∈ N_{Z_#} for Z_# missing index k: U_# = (U₁, U₃)P_#ᵀ, U₃ ⟂ U_x."""
    r = d.size
    Ux = _orth(n, r, rng)
    kept = [i for i in range(r) if i != k]
    P = _orth(r, r, rng)
    U3 = orthonormal_complement_sample(Ux, 1, rng)
    U = np.hstack([Ux[:, kept], U3]) @ P.T
    S = P @ np.diag(np.concatenate([d[kept], [0.0]])) @ P.T
    return Truth(Ux, d), U, S, P, Ux


def test_T13_phi_continuity_and_psi_limits(rng):
    n, d = 7, np.array([3.0, 2.0, 1.0])
    r = d.size
    for k in range(r):
        X, U, S, P, Ux = _critical_pair(n, d, k, rng)
        p = P[:, -1]
        assert np.abs(phi(S) - np.outer(p, p)).max() < 1e-12
        h = 1e-6
        for eta in sym_basis(r):
            fd = (phi(S + h * eta) - phi(S - h * eta)) / (2 * h)
            assert np.abs(psi_limit(S, eta) - fd).max() < 1e-8
        # the corrected sign: η = p_i p_rᵀ + p_r p_iᵀ gives −η/d_i (paper: +)
        i = 0
        eta = np.outer(P[:, i], p) + np.outer(p, P[:, i])
        di = S @ P[:, i] @ P[:, i]
        assert np.abs(psi_limit(S, eta) + eta / di).max() < 1e-12
    # ψ(S, η) = Dφ(S)[η] at a nonsingular S
    S = _sym(r, rng) + 4 * np.eye(r)
    for eta in sym_basis(r):
        fd = (phi(S + h * eta) - phi(S - h * eta)) / (2 * h)
        assert np.abs(psi(S, eta) - fd).max() < 1e-8


def test_T14_c0_extension_orders(rng):
    n, d = 7, np.array([3.0, 2.0, 1.0])
    X, U0, S0, _, _ = _critical_pair(n, d, 2, rng)
    dU, dS = rng.standard_normal(U0.shape), _sym(3, rng)
    ts = 10.0 ** -np.arange(2, 9)
    F, H = [], []
    for t in ts:
        Q, R = np.linalg.qr(U0 + t * dU)
        U = Q * np.sign(np.diag(R))  # keep the column signs of U_#
        Ft, Ht = dlra_star_rhs(U, S0 + t * dS, X)
        F.append(np.linalg.norm(Ft))
        H.append(np.linalg.norm(Ht))
    sF = np.polyfit(np.log10(ts), np.log10(F), 1)[0]
    sH = np.polyfit(np.log10(ts), np.log10(H), 1)[0]
    assert abs(sF - 1) < 0.05 and abs(sH - 2) < 0.05


def test_T15_jacobian_at_critical_submanifold(rng):
    """Eigenvalues d_k (once, eigenvector (u_k pᵀ, 0)) and 0 (n r + r(r+1)/2 − 1 times)."""
    n, d = 7, np.array([3.0, 2.0, 1.0])
    r = d.size
    for k in range(r):
        for _ in range(3):
            X, U, S, P, Ux = _critical_pair(n, d, k, rng)
            J = jacobian_rescaled(U, S, X, h=1e-6)
            assert J.shape == (n * r + r * (r + 1) // 2,) * 2
            ev = np.linalg.eigvals(J)
            ev = ev[np.argsort(-ev.real)]
            assert abs(ev[0] - d[k]) < 1e-7 and np.abs(ev[1:]).max() < 1e-7
            v = np.concatenate([np.outer(Ux[:, k], P[:, -1]).ravel(), np.zeros(6)])
            assert np.abs(J @ v - d[k] * v).max() < 1e-7


def test_T16_extra_boundary_equilibria(rng):
    """U = U_x Pᵀ, S = P diag(D₁, 0) Pᵀ: an equilibrium of DLRA* that is not critical for f
    (H ≠ 0), with one positive Jacobian eigenvalue d_k (spec §2.9)."""
    n, d, k = 7, np.array([3.0, 2.0, 1.0]), 1
    Ux = _orth(n, 3, rng)
    X = Truth(Ux, d)
    order = [0, 2, 1]  # kept components first, the missing one spans the kernel
    P = _orth(3, 3, rng)
    U = Ux[:, order] @ P.T
    S = P @ np.diag([d[0], d[2], 0.0]) @ P.T
    Ft, Ht = dlra_star_rhs(U, S, X)
    assert np.abs(Ft).max() < 1e-12 and np.abs(Ht).max() < 1e-12
    H = -S + U.T @ X.times(U)
    assert np.linalg.norm(H) > 0.5
    ev = np.linalg.eigvals(jacobian_rescaled(U, S, X)).real
    assert np.sum(ev > 1e-6) == 1 and abs(ev.max() - d[k]) < 1e-6


def _e5_start(delta, rng, n=8, d=(1.0, 0.6, 0.3)):
    d = np.asarray(d)
    Ux = _orth(n, 3, rng)
    Zs = (Ux[:, :2] * d[:2]) @ Ux[:, :2].T
    w = rng.standard_normal(n)
    w /= np.linalg.norm(w)
    lam, Q = np.linalg.eigh(Zs + delta * np.outer(w, w))
    return Truth(Ux, d), Q[:, ::-1][:, :3], np.diag(lam[::-1][:3])


def test_T17_T18_rescaled_flow_same_path_and_sigma_bound(rng):
    X, U0, S0 = _e5_start(1e-4, rng)
    a = integrate_flow(U0, S0, X, 40.0, t_eval=np.linspace(0, 40, 401))
    assert a.success and a.dist[-1] < 1e-13
    ratio = a.sigma_r / (a.sigma_r[0] * np.exp(-a.t))
    assert ratio.min() >= 1 - 1e-8  # σ_r(Z_t) ≥ σ_r(Z_0) e^{−t} (hou2021 Lemma 3.4)
    assert a.drift.max() < 1e-8
    b = integrate_flow(U0, S0, X, 100.0, rescaled=True, t_eval=np.linspace(0, 100, 201))
    assert b.success and b.dist[-1] < 1e-8  # t(τ = 100) ≈ 21: e^{−21} ≈ 1e-9
    mask = b.t <= 40
    c = integrate_flow(U0, S0, X, float(b.t[mask][-1]), t_eval=b.t[mask])
    mismatch = max(np.linalg.norm(c.Z(i) - b.Z(i)) for i in range(mask.sum()))
    assert mismatch < 1e-8  # Z̃(τ) = Z(t(τ))


def test_T22_flow_escapes_spurious_points(rng):
    """The 3 points of S_2 (n = 8, r = 3), 2 random starts each: DLRA to T = 40 reaches X."""
    n, d = 8, np.array([1.0, 0.6, 0.3])
    Ux = _orth(n, 3, rng)
    X = Truth(Ux, d)
    for k in range(3):
        kept = [i for i in range(3) if i != k]
        Zs = (Ux[:, kept] * d[kept]) @ Ux[:, kept].T
        for _ in range(2):
            w = rng.standard_normal(n)
            lam, Q = np.linalg.eigh(Zs + 1e-3 * np.outer(w, w) / (w @ w))
            res = integrate_flow(Q[:, ::-1][:, :3], np.diag(lam[::-1][:3]), X, 40.0,
                                 t_eval=[0.0, 40.0], rtol=1e-9, atol=1e-12)
            assert res.dist[-1] < 1e-8


def test_dlra_rhs_is_the_projected_gradient_flow(rng):
    """U̇ S Uᵀ + U Ṡ Uᵀ + U S U̇ᵀ = −P_T(Z − X), and DLRA* = λ_min(S)·DLRA."""
    n, d = 6, np.array([2.0, 1.0])
    Ux = _orth(n, 2, rng)
    X = Truth(Ux, d)
    U = _orth(n, 2, rng)
    S = _sym(2, rng) + 3 * np.eye(2)
    F, H = dlra_rhs(U, S, X)
    Z = U @ S @ U.T
    PU = U @ U.T
    G = Z - X.dense()
    assert np.abs(F @ S @ U.T + U @ H @ U.T + U @ S @ F.T + (PU @ G + G @ PU - PU @ G @ PU)
                  ).max() < 1e-12
    Ft, Ht = dlra_star_rhs(U, S, X)
    lmin = np.linalg.eigvalsh(S)[0]
    assert np.abs(Ft - lmin * F).max() < 1e-12 and np.abs(Ht - lmin * H).max() < 1e-12
    with pytest.raises(ValueError, match="S0"):
        integrate_flow(U, np.eye(3), X, 1.0)
