"""Burer–Monteiro X = U Uᵀ with U ∈ R^{d×p} (p ≥ rank allowed: p = d is over-parametrized)."""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_solve

from lowranklab.backend import concat, is_torch, resolve_dtype
from lowranklab.lowrank import LowRank, Matrix
from lowranklab.models.base import Parametrization, skew_basis
from lowranklab.operators.kernels import t_times, times


class SymmetricFactor(Parametrization):
    """X(U) = U Uᵀ.

    DX(U)[U̇] = U̇Uᵀ + UU̇ᵀ,  DX(U)*[G] = (G + Gᵀ)U,  (D²X(U)[U̇, ·])*[G] = (G + Gᵀ)U̇.
    The loss is invariant under U ↦ UQ, Q ∈ O(p): the orbit tangent {UΩ : Ω skew} has
    dimension rk(rk−1)/2 + rk(p−rk) for rk = rank(U) (p(p−1)/2 when U has full column rank).
    """

    def __init__(self, d: int, p: int, *, dtype=None) -> None:
        if int(d) != d or int(p) != p or d < 1 or p < 1:
            raise ValueError(f"d and p must be positive integers, got d={d}, p={p}")
        self.dtype = resolve_dtype(dtype)
        self.d, self.p = int(d), int(p)
        self.shape = (self.d, self.d)
        self.dim = self.d * self.p

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray]:
        return (theta.reshape(self.d, self.p),)

    def pack(self, U: np.ndarray) -> np.ndarray:
        U = self.as_float(U)
        if tuple(U.shape) != (self.d, self.p):
            raise ValueError(f"U must have shape {(self.d, self.p)}, got {tuple(U.shape)}")
        return U.reshape(-1).clone() if is_torch(U) else U.ravel().copy()

    def to_matrix(self, theta: np.ndarray) -> LowRank:
        (U,) = self.unpack(theta)
        return LowRank(U, U)

    def push(self, theta, theta_dot) -> LowRank:
        (U,), (Ud,) = self.unpack(theta), self.unpack(theta_dot)
        return LowRank(concat([Ud, U], axis=1), concat([U, Ud], axis=1))

    def pull(self, theta, G: Matrix) -> np.ndarray:
        (U,) = self.unpack(theta)
        if isinstance(G, np.ndarray):  # dense: (G + Gᵀ)U in one GEMM
            return ((G + G.T) @ U).reshape(-1)
        return (times(G, U) + t_times(G, U)).reshape(-1)

    def pull_symmetric(self, theta, G: np.ndarray) -> np.ndarray:
        """`pull` for a dense G = Gᵀ (exactly): 2GU, the same numbers as (G + Gᵀ)U (doubling is
        exact), without forming G + Gᵀ (`Objective` uses it when the loss says
        `symmetric_gradient`)."""
        (U,) = self.unpack(theta)
        out = G @ U
        out *= 2.0
        return out.reshape(-1)

    def curvature(self, theta, theta_dot, G: Matrix) -> np.ndarray:
        (Ud,) = self.unpack(theta_dot)
        return (times(G, Ud) + t_times(G, Ud)).reshape(-1)

    def line(self, theta, xi) -> list[LowRank]:
        """X(U + sΞ) = UUᵀ + s(UΞᵀ + ΞUᵀ) + s²ΞΞᵀ, as the coefficients [X₀, X₁, X₂]."""
        (U,), (D,) = self.unpack(theta), self.unpack(xi)
        return [LowRank(U, U), LowRank(concat([U, D], axis=1), concat([D, U], axis=1)),
                LowRank(D, D)]

    def scaled_direction(self, theta, g, *, damping: float = 0.0) -> np.ndarray:
        """∇_U F (UᵀU + λI)⁻¹, λ = damping·‖UᵀU‖₂ (ScaledGD for UUᵀ, Tong, Ma & Chi 2021)."""
        (U,), (G,) = self.unpack(theta), self.unpack(g)
        return _right_solve(G, U.T @ U, damping).reshape(-1)

    def symmetry_tangents(self, theta) -> np.ndarray:
        (U,) = self.unpack(theta)
        cols = [(U @ E).ravel() for E in skew_basis(self.p)]
        return _independent(cols, self.dim)


def _right_solve(G, M, damping: float):
    """G (M + λI)⁻¹ for a symmetric PSD r×r M, λ = damping·‖M‖₂ (least squares when M + λI
    is singular), on G's backend."""
    if is_torch(G):
        import torch

        lam = damping * float(torch.linalg.matrix_norm(M, 2)) if damping > 0 else 0.0
        Mr = M + lam * torch.eye(M.shape[0], dtype=M.dtype, device=M.device)
        return torch.linalg.lstsq(Mr, G.mT).solution.mT  # Mr symmetric: (Mr⁻¹ Gᵀ)ᵀ
    r = M.shape[0]
    lam = damping * float(np.linalg.norm(M, 2)) if damping > 0 else 0.0
    Mr = M + lam * np.eye(r)
    try:
        c = np.linalg.cholesky(Mr)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(Mr, G.T, rcond=None)[0].T
    # Mr = c cᵀ: G Mr⁻¹ = (c⁻ᵀ c⁻¹ Gᵀ)ᵀ by LAPACK potrs on Gᵀ, a Fortran-ordered view of G
    # (no copy; two np.linalg.solve calls cost 2.2–2.6× more at n = 1000, r = 10:
    # `python -m benchmarks.micro`, scaled_solve_n1000)
    return cho_solve((c, True), G.T, check_finite=False).T


def _independent(cols: list[np.ndarray], dim: int) -> np.ndarray:
    """An orthonormal basis of span(cols) (rank decided relative to the largest column)."""
    if not cols:
        return np.zeros((dim, 0))
    M = np.stack(cols, axis=1)
    Q, s, _ = np.linalg.svd(M, full_matrices=False)
    tol = max(s[0], 1e-300) * max(M.shape) * np.finfo(float).eps * 10
    return Q[:, s > tol]
