"""Entry sampling (matrix completion): A(X) = (X_{i_k j_k})_k, with no dense d1×d2 array.

A*(y) is the sparse matrix with y_k at (i_k, j_k) (duplicates add). The CSR structure is
built once; each adjoint only permutes y into it, so A*(y)·Z is one sparse-times-dense
product and A(U Vᵀ) one sampled dot product over the observed entries (`sampled_dot`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lowranklab.operators.base import MeasurementOperator, check_shape
from lowranklab.operators.kernels import sampled_dot


class EntrySampling(MeasurementOperator):
    """Observe the entries (rows[k], cols[k]) of a d1×d2 matrix."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> None:
        super().__init__()
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        d1, d2 = check_shape(shape)
        if rows.ndim != 1 or cols.shape != rows.shape:
            raise ValueError(f"rows and cols must be 1-D of equal length, got {rows.shape}, "
                             f"{cols.shape}")
        if rows.size == 0:
            raise ValueError("at least one observed entry is needed")
        if not (np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)):
            raise TypeError("rows and cols must be integer arrays")
        if rows.min() < 0 or rows.max() >= d1 or cols.min() < 0 or cols.max() >= d2:
            raise ValueError(f"indices out of range for shape {(d1, d2)}")
        self.rows = rows.astype(np.int64)
        self.cols = cols.astype(np.int64)
        self.shape_in = (d1, d2)
        self.m = rows.size
        # CSR pattern of A*(y): order[k] is the observation stored at CSR position k; when the
        # observations already come in row-major order (the generators sort them) no
        # permutation is needed and the factor gathers below read U sequentially.
        order = np.lexsort((self.cols, self.rows))
        self._order = None if np.array_equal(order, np.arange(self.m)) else order
        sorted_rows = self.rows if self._order is None else self.rows[order]
        self._indptr = np.searchsorted(sorted_rows, np.arange(d1 + 1)).astype(np.int64)
        self._indices = self.cols if self._order is None else self.cols[order]
        self._buffers: list[np.ndarray] = []  # sampled_dot's gather buffers, reused

    @property
    def fraction(self) -> float:
        """Fraction of entries observed, m / (d1 d2)."""
        return self.m / (self.shape_in[0] * self.shape_in[1])

    def _forward_dense(self, X: np.ndarray) -> np.ndarray:
        return X[self.rows, self.cols]

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """(U Vᵀ)_{i_k j_k} = ⟨U[i_k], V[j_k]⟩ (`sampled_dot`: compiled when numba is there,
        blocked gathers otherwise; memory O(m), never an (m, r) temporary)."""
        U, V = self.check_factors(U, V)
        self.counts["forward"] += 1
        return sampled_dot(self.rows, self.cols, U, V, buffers=self._buffers)

    def adjoint(self, y: np.ndarray) -> sp.csr_array:
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        data = y.copy() if self._order is None else y[self._order]
        return sp.csr_array((data, self._indices, self._indptr), shape=self.shape_in)

    def _compute_norm(self) -> float:
        # A*A is diagonal with the multiplicity of each entry: ‖A‖ = √(max multiplicity).
        flat = self.rows * self.shape_in[1] + self.cols
        return float(np.sqrt(np.unique(flat, return_counts=True)[1].max()))


def uniform_entries(
    shape: tuple[int, int], m: int, rng: np.random.Generator
) -> EntrySampling:
    """m distinct entries drawn uniformly without replacement, stored in row-major order."""
    d1, d2 = shape
    if not 1 <= m <= d1 * d2:
        raise ValueError(f"m must be in [1, {d1 * d2}], got {m}")
    flat = rng.choice(d1 * d2, size=m, replace=False) if d1 * d2 <= 10**7 else _sample_large(
        d1 * d2, m, rng)
    flat = np.sort(flat)
    return EntrySampling(flat // d2, flat % d2, shape)


def bernoulli_entries(shape: tuple[int, int], p: float, rng: np.random.Generator) -> EntrySampling:
    """Each entry observed independently with probability p (no dense mask is built)."""
    d1, d2 = shape
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    m = max(int(rng.binomial(d1 * d2, p)), 1)
    return uniform_entries(shape, m, rng)


def _sample_large(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """m distinct integers from range(n) by rejection, O(m log m) memory-light."""
    out = np.unique(rng.integers(0, n, size=int(m * 1.1) + 16))
    while out.size < m:
        out = np.unique(np.concatenate([out, rng.integers(0, n, size=m - out.size + 16)]))
    return rng.permutation(out)[:m]
