"""Rank-one measurements A(X)_i = a_iᵀ X b_i, i.e. A_i = a_i b_iᵀ (symmetric: b_i = a_i).

Storing the m vector pairs costs m(d1 + d2) numbers instead of the m·d1·d2 of dense sensing,
and on factored X = U Vᵀ

    A(U Vᵀ)_i = ⟨Uᵀa_i, Vᵀb_i⟩          two GEMMs a U, b V and a row-wise dot: O(m r (d1 + d2))
    A*(y) = Σ_i y_i a_i b_iᵀ = aᵀ diag(y) b     held as LowRank(aᵀ diag(y), bᵀ), never dense
    A*(y) Z = aᵀ (y ⊙ (b Z)),  A*(y)ᵀ Z = bᵀ (y ⊙ (a Z))     O(m r (d1 + d2))

with a (m, d1) and b (m, d2) holding the a_i, b_i as rows. So sensing at d = 1000 fits easily
in memory (m = 50 000: 0.8 GB in float64) and a gradient step of U Vᵀ costs O(m r d).
With i.i.d. N(0, s²) entries and s = m^(−1/4), E[A*A(X)] = X for the general kind
(E[(aᵀXb)²] = ‖X‖²_F for independent standard a, b); for the symmetric kind
E[(aᵀXa)²] = 2‖X‖²_F + (tr X)² (X symmetric), the rank-one (phase-retrieval-like) model.
"""

from __future__ import annotations

import numpy as np

from lowranklab.backend import float_dtype
from lowranklab.lowrank import LowRank
from lowranklab.operators.base import MeasurementOperator
from lowranklab.operators.dense import _check_dims


class RankOne(MeasurementOperator):
    """A(X)_i = a_iᵀ X b_i for the rows a_i of `a` (m, d1) and b_i of `b` (m, d2); `b=None`
    gives the symmetric kind b_i = a_i (d × d)."""

    def __init__(self, a: np.ndarray, b: np.ndarray | None = None, *, dtype=None) -> None:
        super().__init__()
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"a must be a non-empty 2-D array (m, d1), got shape {a.shape}")
        dt = float_dtype(a, dtype)
        self.a = np.ascontiguousarray(a, dtype=dt)
        if b is None:
            self.b = self.a
        else:
            b = np.asarray(b)
            if b.ndim != 2 or b.shape[0] != a.shape[0] or b.shape[1] < 1:
                raise ValueError(f"b must have shape ({a.shape[0]}, d2) to match a, "
                                 f"got {b.shape}")
            self.b = np.ascontiguousarray(b, dtype=dt)
        for name, v in (("a", self.a), ("b", self.b)):
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{name} must have finite entries")
        self.symmetric = b is None
        self.m = self.a.shape[0]
        self.shape_in = (self.a.shape[1], self.b.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.a.dtype

    def _ab(self, like):
        a = self._data("a", like)
        return a, (a if self.symmetric else self._data("b", like))

    def _forward_dense(self, X: np.ndarray) -> np.ndarray:
        """a_iᵀ X b_i for all i: O(m d1 d2)."""
        a, b = self._ab(X)
        return ((a @ X) * b).sum(1)

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """⟨Uᵀa_i, Vᵀb_i⟩: O(m r (d1 + d2)), no d1×d2 array."""
        self.counts["forward"] += 1
        a, b = self._ab(U)
        aU = a @ U
        return (aU * (aU if (self.symmetric and U is V) else b @ V)).sum(1)

    def forward_sym(self, U: np.ndarray) -> np.ndarray:
        """A(U Uᵀ) = ‖Uᵀa_i‖² on the symmetric kind (one GEMM)."""
        return self.forward_lr(U, U)

    def adjoint(self, y: np.ndarray) -> LowRank:
        """A*(y) = aᵀ diag(y) b as LowRank(aᵀ diag(y), bᵀ) (inner dimension m)."""
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        a, b = self._ab(y)
        return LowRank((a * y[:, None]).T, b.T)

    def adjoint_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y) Z = aᵀ (y ⊙ (b Z))."""
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        a, b = self._ab(Z)
        return a.T @ ((b @ Z) * y[:, None])

    def adjoint_t_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y)ᵀ Z = bᵀ (y ⊙ (a Z))."""
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        a, b = self._ab(Z)
        return b.T @ ((a @ Z) * y[:, None])

    def _compute_norm(self) -> float:
        from scipy.sparse.linalg import LinearOperator, svds

        d1, d2 = self.shape_in
        lin = LinearOperator(
            (self.m, d1 * d2),
            matvec=lambda x: self._forward_dense(np.asarray(x).reshape(d1, d2)),
            rmatvec=lambda y: (self.a.T @ (np.asarray(y).ravel()[:, None] * self.b)).ravel(),
            dtype=self.dtype,
        )
        return svds(lin, k=1, return_singular_vectors=False, random_state=0)[0]


def rank_one_gaussian(d1: int, d2: int, m: int, rng: np.random.Generator, *,
                      symmetric: bool = False, scale: float | None = None,
                      dtype=None) -> RankOne:
    """Rank-one Gaussian measurements: a_i, b_i i.i.d. N(0, scale²) (default
    scale = m^(−1/4), so E[A*A] = I for the general kind; see the module docstring).
    symmetric=True draws only a (d1 = d2 needed). Drawn in float64, stored in `dtype`."""
    _check_dims(d1=d1, d2=d2, m=m)
    if symmetric and d1 != d2:
        raise ValueError(f"symmetric rank-one sensing needs d1 == d2, got {d1}, {d2}")
    s = m ** -0.25 if scale is None else float(scale)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale}")
    dt = float_dtype(np.empty(0), dtype)
    a = (rng.standard_normal((m, d1)) * s).astype(dt, copy=False)
    if symmetric:
        return RankOne(a, dtype=dt)
    b = (rng.standard_normal((m, d2)) * s).astype(dt, copy=False)
    return RankOne(a, b, dtype=dt)
