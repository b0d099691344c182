"""A matrix held in factored form X = L Rᵀ, never formed densely unless asked.

Parametrizations hand the loss their X(θ) and DX(θ)[θ̇] in this form, so a loss on a completion
operator evaluates A(X) from the factors (O(m·r)) and no d1×d2 array is ever built.
The factors may be NumPy arrays or torch tensors (`lowranklab.backend`); every function here
computes in the factors' own namespace, device and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from lowranklab.backend import concat, is_torch, namespace, zeros


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
            if isinstance(D, np.ndarray):  # torch: no cache (a tensor has no read-only flag)
                D.flags.writeable = False
                object.__setattr__(self, "_dense", D)
        return D

    def __matmul__(self, Z: np.ndarray) -> np.ndarray:
        return self.L @ (self.R.T @ Z)

    def __add__(self, other: LowRank) -> LowRank:
        if not isinstance(other, LowRank):
            return NotImplemented
        return LowRank(concat([self.L, other.L], axis=1), concat([self.R, other.R], axis=1))

    def __mul__(self, c: float) -> LowRank:
        return LowRank(self.L * c, self.R)

    __rmul__ = __mul__

    def singular_values(self) -> np.ndarray:
        """σ(L Rᵀ) from two thin QRs and a k×k SVD: O((d1 + d2)k²)."""
        xp = namespace(self.L)
        _, RL = xp.linalg.qr(self.L)
        _, RR = xp.linalg.qr(self.R)
        s = (np.linalg.svd(RL @ RR.T, compute_uv=False) if xp is np
             else xp.linalg.svdvals(RL @ RR.T))
        n = min(self.shape)
        if s.shape[0] >= n:
            return s[:n]
        return concat([s, zeros((n - s.shape[0],), like=s)])

    def fro_sq(self) -> float:
        """‖L Rᵀ‖²_F = ‖R_L R_Rᵀ‖²_F from thin QRs of the factors (no cancellation, so the
        distance of two nearby factored matrices keeps its relative accuracy)."""
        xp = namespace(self.L)
        if xp is np:  # mode "r": the triangular factors only (Q is never formed)
            RL = np.linalg.qr(self.L, mode="r")
            RR = np.linalg.qr(self.R, mode="r")
            M = RL @ RR.T
            return float(np.vdot(M, M))
        _, RL = xp.linalg.qr(self.L)
        _, RR = xp.linalg.qr(self.R)
        return float(xp.sum((RL @ RR.T) ** 2))


Matrix = np.ndarray | LowRank | sp.sparray | sp.spmatrix


def as_dense(X: Matrix) -> np.ndarray:
    """Dense copy of any ambient matrix representation (only for small problems)."""
    if isinstance(X, LowRank):
        return X.dense()
    if sp.issparse(X):
        return X.toarray()
    if is_torch(X):
        import torch

        return X if X.layout == torch.strided else X.to_dense()
    return np.asarray(X)


def inner(X: Matrix, Y: Matrix) -> float:
    """⟨X, Y⟩ = tr(XᵀY) for dense, sparse or factored X and Y, without densifying factors."""
    if isinstance(X, LowRank) and isinstance(Y, LowRank):
        return float(((X.L.T @ Y.L) * (X.R.T @ Y.R)).sum())
    if is_torch(X.L if isinstance(X, LowRank) else X):
        return _torch_inner(X, Y)
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


def _torch_inner(X, Y) -> float:
    """⟨X, Y⟩ on tensors: factors are contracted as above, sparse tensors are densified (the
    torch path of `inner` serves tests and monitors, not inner loops)."""
    if isinstance(X, LowRank):
        X, Y = Y, X
    if isinstance(Y, LowRank):
        return float(((as_dense(X) @ Y.R) * Y.L).sum())
    return float((as_dense(X) * as_dense(Y)).sum())


def fro_dist_sq(X: Matrix, Y: Matrix) -> float:
    """‖X − Y‖²_F, computed from factors when X and Y are LowRank."""
    if isinstance(X, LowRank) and isinstance(Y, LowRank):
        if not is_torch(X.L):
            return DistanceTo(Y)(X)
        return (X + Y * -1.0).fro_sq()
    D = as_dense(X) - as_dense(Y)
    return float((D * D).sum()) if is_torch(D) else float(np.vdot(D, D))


def orthonormal_parts(Y: LowRank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q, P, C) with Y = Q C Pᵀ and Q, P orthonormal: thin QRs of Y's factors (NumPy)."""
    Q, RL = scipy.linalg.qr(Y.L, mode="economic", check_finite=False)
    P, RR = scipy.linalg.qr(Y.R, mode="economic", check_finite=False)
    return Q, P, RL @ RR.T


def dist_sq_to(X: LowRank, parts: tuple) -> float:
    """‖X − Y‖²_F for Y = Q C Pᵀ (`orthonormal_parts(Y)`) and NumPy factors, without
    cancellation. With L = QA + L⊥, R = PB + R⊥ (A = QᵀL, B = PᵀR),

        X − Y = Q(ABᵀ − C)Pᵀ + QAR⊥ᵀ + L⊥BᵀPᵀ + L⊥R⊥ᵀ,

    four Frobenius-orthogonal parts (column space Q or ⊥Q, row space P or ⊥P), so
    ‖X − Y‖² = ‖ABᵀ − C‖² + ⟨AᵀA, R⊥ᵀR⊥⟩ + ⟨L⊥ᵀL⊥, BᵀB⟩ + ⟨L⊥ᵀL⊥, R⊥ᵀR⊥⟩: each term is
    formed from quantities of the size of the difference (no ‖X‖² − 2⟨X, Y⟩ + ‖Y‖²), at
    O((d1 + d2)k²) — one QR of each of Y's factors (k_Y columns) instead of the QRs of the
    stacked factors (k_X + k_Y columns), and none when Y's parts are kept (a monitor's truth)."""
    Q, P, C = parts
    A, B = Q.T @ X.L, P.T @ X.R
    Lp, Rp = X.L - Q @ A, X.R - P @ B
    D = A @ B.T - C
    LL, RR = Lp.T @ Lp, Rp.T @ Rp
    # the last three are traces of products of PSD matrices: ≥ 0 up to round-off
    return max(float(np.vdot(D, D) + np.vdot(A.T @ A, RR) + np.vdot(LL, B.T @ B)
                     + np.vdot(LL, RR)), 0.0)


class DistanceTo:
    """X ↦ ‖X − Y‖²_F for NumPy LowRank X and a fixed LowRank Y (a monitor's truth): the Gram
    expansion ‖X‖² − 2⟨X, Y⟩ + ‖Y‖² from k×k products where it is accurate (its rounding error
    is ~ε(‖X‖² + ‖Y‖²): kept when the result is ≥ 1e-7 of that, 2e-9 relative error at
    worst), else `dist_sq_to` along Y's orthonormal parts, computed on first need and kept."""

    def __init__(self, Y: LowRank) -> None:
        self.Y = Y
        self.yy = float(np.vdot(Y.L.T @ Y.L, Y.R.T @ Y.R))
        self._parts = None

    def __call__(self, X: LowRank) -> float:
        Y = self.Y
        xx = float(np.vdot(X.L.T @ X.L, X.R.T @ X.R))
        e2 = xx - 2.0 * float(np.vdot(X.L.T @ Y.L, X.R.T @ Y.R)) + self.yy
        if e2 >= 1e-7 * (xx + self.yy):
            return e2
        if self._parts is None:
            self._parts = orthonormal_parts(Y)
        return dist_sq_to(X, self._parts)


def fro_norm(X: Matrix) -> float:
    if isinstance(X, LowRank):
        return float(np.sqrt(max(X.fro_sq(), 0.0)))
    if sp.issparse(X):
        return float(sp.linalg.norm(X))
    if is_torch(X):
        return float(as_dense(X).square().sum().sqrt())
    return float(np.linalg.norm(X))
