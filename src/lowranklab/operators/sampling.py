"""Entry sampling (matrix completion): A(X) = (X_{i_k j_k})_k, with no dense d1×d2 array.

A*(y) is the sparse matrix with y_k at (i_k, j_k) (duplicates add). The CSR structure is
built once; each adjoint only permutes y into it, so A*(y)·Z is one sparse-times-dense
product and A(U Vᵀ) one sampled dot product over the observed entries (`sampled_dot`).

On torch tensors (CPU or CUDA) the same three products are gathers and scatters on the device:
A(U Vᵀ) = Σ_t U[i_k, t] V[j_k, t] gathers the factor rows, A*(y) is a `torch.sparse_csr_tensor`
on the cached CSR pattern, and the fast paths A*(y)Z, A*(y)ᵀZ scatter y_k Z[j_k] into row i_k
with `index_add_`; all work in blocks of `TORCH_BLOCK` entries so that no (m, r) temporary is
held at once.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lowranklab.backend import is_torch
from lowranklab.operators.base import MeasurementOperator
from lowranklab.operators.kernels import sampled_dot

TORCH_BLOCK = 1 << 22  # observations per gather/scatter block on torch


class EntrySampling(MeasurementOperator):
    """Observe the entries (rows[k], cols[k]) of a d1×d2 matrix."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> None:
        super().__init__()
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        d1, d2 = (int(s) for s in shape)
        if d1 < 1 or d2 < 1:
            raise ValueError(f"shape must be positive, got {shape}")
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
        return X[self._data("rows", X), self._data("cols", X)]

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """(U Vᵀ)_{i_k j_k} = ⟨U[i_k], V[j_k]⟩ (`sampled_dot`: compiled when numba is there,
        blocked gathers otherwise; memory O(m), never an (m, r) temporary)."""
        self.counts["forward"] += 1
        if is_torch(U):
            rows, cols = self._data("rows", U), self._data("cols", U)
            out = U.new_empty(self.m)
            for s in range(0, self.m, TORCH_BLOCK):
                e = min(s + TORCH_BLOCK, self.m)
                out[s:e] = (U[rows[s:e]] * V[cols[s:e]]).sum(dim=1)
            return out
        return sampled_dot(self.rows, self.cols, U, V, buffers=self._buffers)

    def adjoint(self, y: np.ndarray) -> sp.csr_array:
        """A*(y): a SciPy CSR array (NumPy y) or a torch sparse CSR tensor (tensor y)."""
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        if is_torch(y):
            return self._torch_adjoint(y)
        data = y.copy() if self._order is None else y[self._order]
        return sp.csr_array((data, self._indices, self._indptr), shape=self.shape_in)

    def _torch_adjoint(self, y):
        import warnings

        import torch

        data = y.clone() if self._order is None else y[self._data("_order", y)]
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self._data("_indptr", y), self._data("_indices", y),
                                           data, size=self.shape_in, check_invariants=False)

    def adjoint_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y)·Z; on tensors one scatter out[i_k] += y_k Z[j_k] (`index_add_`)."""
        if is_torch(Z):
            self.counts["adjoint"] += 1
            return self._scatter(self.check_y(y), Z, "rows", "cols", self.shape_in[0])
        return super().adjoint_times(y, Z)

    def adjoint_t_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y)ᵀ·Z; on tensors one scatter out[j_k] += y_k Z[i_k] (`index_add_`)."""
        if is_torch(Z):
            self.counts["adjoint"] += 1
            return self._scatter(self.check_y(y), Z, "cols", "rows", self.shape_in[1])
        return super().adjoint_t_times(y, Z)

    def _scatter(self, y, Z, into: str, gather: str, n: int):
        """out[into_k] += y_k · Z[gather_k] over the observations, in blocks."""
        dst, src = self._data(into, Z), self._data(gather, Z)
        out = Z.new_zeros((n, Z.shape[1]))
        for s in range(0, self.m, TORCH_BLOCK):
            e = min(s + TORCH_BLOCK, self.m)
            out.index_add_(0, dst[s:e], Z[src[s:e]] * y[s:e, None])
        return out

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
