"""Balanced asymmetric factorization X = U Vᵀ with the regularizer μ/4‖UᵀU − VᵀV‖²_F
(zhu2021 eq. (3)); θ = vec(W), W = [U; V] ∈ R^{(d1+d2)×r}."""

from __future__ import annotations

import numpy as np

from lowranklab.backend import concat, empty, resolve_dtype, zeros
from lowranklab.lowrank import LowRank, Matrix
from lowranklab.models.base import Parametrization, skew_basis
from lowranklab.models.symmetric import _independent, _right_solve
from lowranklab.operators.kernels import t_times, times


class BalancedFactor(Parametrization):
    """X(U, V) = U Vᵀ, regularizer ρ(U, V) = μ/4‖D‖²_F with D = UᵀU − VᵀV.

    DX[U̇, V̇] = U̇Vᵀ + UV̇ᵀ;  DX*[G] = (G V, Gᵀ U);  (D²X[(U̇, V̇), ·])*[G] = (G V̇, Gᵀ U̇).
    ∇ρ = (μ U D, −μ V D);  ∇²ρ[U̇, V̇] = (μ(U̇D + UḊ), −μ(V̇D + VḊ)),
    Ḋ = U̇ᵀU + UᵀU̇ − V̇ᵀV − VᵀV̇.
    Symmetry: (U, V) ↦ (UQ, VQ), Q ∈ O(r) (dimension r(r−1)/2); with μ = 0 the whole
    GL(r) action (UB, VB⁻ᵀ) leaves the loss unchanged (dimension r²).
    """

    def __init__(self, d1: int, d2: int, r: int, mu: float = 0.0, *, dtype=None) -> None:
        for name, v in (("d1", d1), ("d2", d2), ("r", r)):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not (np.isfinite(mu) and mu >= 0):
            raise ValueError(f"mu must be a finite number >= 0, got {mu}")
        self.d1, self.d2, self.r = int(d1), int(d2), int(r)
        self.mu = float(mu)
        self.dtype = resolve_dtype(dtype)
        self.shape = (self.d1, self.d2)
        self.dim = (self.d1 + self.d2) * self.r

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        W = theta.reshape(self.d1 + self.d2, self.r)
        return W[: self.d1], W[self.d1 :]

    def pack(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        U, V = self.as_float(U), self.as_float(V)
        if tuple(U.shape) != (self.d1, self.r) or tuple(V.shape) != (self.d2, self.r):
            raise ValueError(f"U, V must have shapes {(self.d1, self.r)}, {(self.d2, self.r)}; "
                             f"got {tuple(U.shape)}, {tuple(V.shape)}")
        return concat([U, V], axis=0).reshape(-1)

    def to_matrix(self, theta) -> LowRank:
        U, V = self.unpack(theta)
        return LowRank(U, V)

    def push(self, theta, theta_dot) -> LowRank:
        (U, V), (Ud, Vd) = self.unpack(theta), self.unpack(theta_dot)
        return LowRank(concat([Ud, U], axis=1), concat([V, Vd], axis=1))

    def pull(self, theta, G: Matrix) -> np.ndarray:
        U, V = self.unpack(theta)
        return self._both_sides(G, U, V)

    def curvature(self, theta, theta_dot, G: Matrix) -> np.ndarray:
        Ud, Vd = self.unpack(theta_dot)
        return self._both_sides(G, Ud, Vd)

    def _both_sides(self, G: Matrix, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """vec([G B; Gᵀ A]), each product written straight into its half."""
        out = empty((self.d1 + self.d2, self.r), like=B)
        times(G, B, out=out[: self.d1])
        t_times(G, A, out=out[self.d1 :])
        return out.reshape(-1)

    def imbalance(self, theta) -> np.ndarray:
        """D = UᵀU − VᵀV (conserved by gradient flow when μ = 0)."""
        U, V = self.unpack(theta)
        return U.T @ U - V.T @ V

    def reg_value(self, theta) -> float:
        return 0.25 * self.mu * float((self.imbalance(theta) ** 2).sum())

    def reg_grad(self, theta) -> np.ndarray:
        return self.reg_value_and_grad(theta)[1]

    def reg_value_and_grad(self, theta) -> tuple[float, np.ndarray]:
        if self.mu == 0:
            return 0.0, zeros(theta.shape, like=theta)
        D = self.imbalance(theta)
        g = theta.reshape(self.d1 + self.d2, self.r) @ (self.mu * D)  # [μUD; μVD], one GEMM
        g[self.d1 :] *= -1.0
        return 0.25 * self.mu * float((D**2).sum()), g.reshape(-1)

    def reg_hvp(self, theta, theta_dot) -> np.ndarray:
        if self.mu == 0:
            return zeros(theta.shape, like=theta)
        (U, V), (Ud, Vd) = self.unpack(theta), self.unpack(theta_dot)
        D = self.imbalance(theta)
        Dd = Ud.T @ U + U.T @ Ud - Vd.T @ V - V.T @ Vd
        return self.mu * concat([Ud @ D + U @ Dd, -(Vd @ D + V @ Dd)], axis=0).reshape(-1)

    def line(self, theta, xi) -> list[LowRank]:
        """X(θ + sξ) = UVᵀ + s(UΞ_Vᵀ + Ξ_UVᵀ) + s²Ξ_UΞ_Vᵀ as [X₀, X₁, X₂]."""
        (U, V), (DU, DV) = self.unpack(theta), self.unpack(xi)
        return [LowRank(U, V), LowRank(concat([U, DU], axis=1), concat([DV, V], axis=1)),
                LowRank(DU, DV)]

    def reg_line(self, theta, xi) -> np.ndarray | None:
        """μ/4‖D(s)‖² with D(s) = D₀ + sD₁ + s²D₂ (D₁ = UᵀΞ_U + Ξ_UᵀU − VᵀΞ_V − Ξ_VᵀV,
        D₂ = Ξ_UᵀΞ_U − Ξ_VᵀΞ_V): a quartic in s."""
        if self.mu == 0:
            return None
        (U, V), (DU, DV) = self.unpack(theta), self.unpack(xi)
        D = [U.T @ U - V.T @ V, U.T @ DU + DU.T @ U - V.T @ DV - DV.T @ V,
             DU.T @ DU - DV.T @ DV]
        c = np.zeros(5)
        for i in range(3):
            for j in range(3):
                c[i + j] += float((D[i] * D[j]).sum())
        return 0.25 * self.mu * c

    def scaled_direction(self, theta, g, *, damping: float = 0.0) -> np.ndarray:
        """(∇_U F (VᵀV + λI)⁻¹, ∇_V F (UᵀU + λI)⁻¹): ScaledGD (Tong, Ma & Chi 2021, eq. (6))."""
        (U, V), (GU, GV) = self.unpack(theta), self.unpack(g)
        return concat([_right_solve(GU, V.T @ V, damping),
                       _right_solve(GV, U.T @ U, damping)], axis=0).reshape(-1)

    def symmetry_tangents(self, theta) -> np.ndarray:
        U, V = self.unpack(theta)
        if self.mu > 0:
            gens = [np.vstack([U @ E, V @ E]).ravel() for E in skew_basis(self.r)]
        else:  # d/dt (U e^{tB}, V e^{−tBᵀ}) = (UB, −VBᵀ)
            gens = []
            for i in range(self.r):
                for j in range(self.r):
                    B = np.zeros((self.r, self.r))
                    B[i, j] = 1.0
                    gens.append(np.vstack([U @ B, -(V @ B.T)]).ravel())
        return _independent(gens, self.dim)
