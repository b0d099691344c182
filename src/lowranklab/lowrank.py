"""A matrix held in factored form X = L Rᵀ, never formed densely unless asked.

Parametrizations hand the loss their X(θ) and DX(θ)[θ̇] in this form, so a loss on a completion
operator evaluates A(X) from the factors (O(m·r)) and no d1×d2 array is ever built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class LowRank:
    """The d1×d2 matrix L Rᵀ with L of shape (d1, k) and R of shape (d2, k)."""

    L: np.ndarray
    R: np.ndarray

    def __post_init__(self) -> None:
        if self.L.ndim != 2 or self.R.ndim != 2 or self.L.shape[1] != self.R.shape[1]:
            raise ValueError(
                f"LowRank needs L (d1, k) and R (d2, k) with equal k; got {self.L.shape}, "
                f"{self.R.shape}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return (self.L.shape[0], self.R.shape[0])

    @property
    def T(self) -> LowRank:
        return LowRank(self.R, self.L)

    def dense(self) -> np.ndarray:
        """L Rᵀ, formed once and cached (read-only: the factors are not to change either), so
        a loss and a monitor of the same iterate share one product."""
        D = self.__dict__.get("_dense")
        if D is None:
            D = self.L @ self.R.T
            D.flags.writeable = False
            object.__setattr__(self, "_dense", D)
        return D

    def __matmul__(self, Z: np.ndarray) -> np.ndarray:
        return self.L @ (self.R.T @ Z)

    def __add__(self, other: LowRank) -> LowRank:
        if not isinstance(other, LowRank):
            return NotImplemented
        return LowRank(np.hstack([self.L, other.L]), np.hstack([self.R, other.R]))

    def __mul__(self, c: float) -> LowRank:
        return LowRank(self.L * c, self.R)

    __rmul__ = __mul__

    def singular_values(self) -> np.ndarray:
        """σ(L Rᵀ) from two thin QRs and a k×k SVD: O((d1 + d2)k²)."""
        _, RL = np.linalg.qr(self.L)
        _, RR = np.linalg.qr(self.R)
        s = np.linalg.svd(RL @ RR.T, compute_uv=False)
        n = min(self.shape)
        return s[:n] if s.size >= n else np.concatenate([s, np.zeros(n - s.size)])

    def fro_sq(self) -> float:
        """‖L Rᵀ‖²_F = ‖R_L R_Rᵀ‖²_F from thin QRs of the factors (no cancellation, so the
        distance of two nearby factored matrices keeps its relative accuracy)."""
        _, RL = np.linalg.qr(self.L)
        _, RR = np.linalg.qr(self.R)
        return float(np.linalg.norm(RL @ RR.T) ** 2)


Matrix = np.ndarray | LowRank | sp.sparray | sp.spmatrix


def as_dense(X: Matrix) -> np.ndarray:
    """Dense copy of any ambient matrix representation (only for small problems)."""
    if isinstance(X, LowRank):
        return X.dense()
    if sp.issparse(X):
        return X.toarray()
    return np.asarray(X)


def inner(X: Matrix, Y: Matrix) -> float:
    """⟨X, Y⟩ = tr(XᵀY) for dense, sparse or factored X and Y, without densifying factors."""
    if isinstance(X, LowRank) and isinstance(Y, LowRank):
        return float(np.sum((X.L.T @ Y.L) * (X.R.T @ Y.R)))
    if isinstance(X, LowRank):
        X, Y = Y, X
    if isinstance(Y, LowRank):
        if sp.issparse(X):
            # ⟨S, L Rᵀ⟩ = Σ_(i,j)∈supp S  S_ij (L Rᵀ)_ij
            C = sp.coo_array(X)
            return float(np.sum(C.data * np.einsum("ij,ij->i", Y.L[C.row], Y.R[C.col])))
        return float(np.sum((np.asarray(X) @ Y.R) * Y.L))
    if sp.issparse(X):
        return float(sp.csr_array(X).multiply(Y).sum())
    if sp.issparse(Y):
        return float(sp.csr_array(Y).multiply(X).sum())
    return float(np.vdot(X, Y))


def fro_dist_sq(X: Matrix, Y: Matrix) -> float:
    """‖X − Y‖²_F, computed from factors when X and Y are LowRank."""
    if isinstance(X, LowRank) and isinstance(Y, LowRank):
        return (X + Y * -1.0).fro_sq()
    return float(np.linalg.norm(as_dense(X) - as_dense(Y)) ** 2)


def fro_norm(X: Matrix) -> float:
    if isinstance(X, LowRank):
        return float(np.sqrt(max(X.fro_sq(), 0.0)))
    if sp.issparse(X):
        return float(sp.linalg.norm(X))
    return float(np.linalg.norm(X))
