"""Entry sampling (matrix completion): A(X) = (X_{i_k j_k})_k, with no dense d1×d2 array.

A*(y) is the sparse matrix with y_k at (i_k, j_k) (duplicates add). The CSR structure is
built once; each adjoint only permutes y into it, so A*(y)·Z is one sparse-times-dense
product and A(U Vᵀ) one sampled dot product over the observed entries (`sampled_dot`).

On torch tensors (CPU or CUDA) the same three products run on the device: A(U Vᵀ) =
Σ_t U[i_k, t] V[j_k, t] is `torch.sparse.sampled_addmm` on the CSR pattern on CPU and a gather
of the factor rows elsewhere (in blocks of `TORCH_BLOCK` entries, so that no (m, r) temporary
is held at once), and A*(y) is a `CSRPair`: `torch.sparse_csr_tensor`s of
A*(y) and A*(y)ᵀ on patterns built once, so that A*(y)Z and A*(y)ᵀZ are both CSR-times-dense
products (torch's CSC transpose is some 50× slower on CPU).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lowranklab.backend import CSRPair, is_torch
from lowranklab.lowrank import LowRank
from lowranklab.operators.base import MeasurementOperator, check_shape
from lowranklab.operators.kernels import backend, sampled_dot, sampled_gram

TORCH_BLOCK = 1 << 22  # observations per gather/scatter block on torch


def _csr(crow, col, values, shape):
    """A torch CSR tensor on a known-valid pattern (no invariant checks, no beta warning)."""
    import warnings

    import torch

    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size=tuple(shape),
                                       check_invariants=False)


class EntrySampling(MeasurementOperator):
    """Observe the entries (rows[k], cols[k]) of a d1×d2 matrix."""

    narrow_blas = True  # a solve's BLAS calls are narrow (d×r factors): one thread (threads.py)

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
        # int32 indices where every index and every CSR offset fits (half the memory traffic
        # of int64 in each pass over the observations); int64 otherwise.
        idx = _index_dtype(d1, d2, rows.size)
        self.rows = rows.astype(idx)
        self.cols = cols.astype(idx)
        self.shape_in = (d1, d2)
        self.m = rows.size
        # CSR pattern of A*(y): order[k] is the observation stored at CSR position k; when the
        # observations already come in row-major order (the generators sort them; checked in
        # one O(m) pass over the linear indices) no permutation is needed and the factor
        # gathers below read U sequentially.
        flat = self.linear_indices()
        order = None if bool(np.all(flat[1:] >= flat[:-1])) else np.argsort(flat, kind="stable")
        del flat
        self._order = order
        sorted_rows = self.rows if order is None else self.rows[order]
        self._indptr = np.searchsorted(sorted_rows, np.arange(d1 + 1, dtype=idx)).astype(idx)
        self._indices = self.cols if order is None else self.cols[order]
        self._buffers: list[np.ndarray] = []  # sampled_dot's gather buffers, reused
        self._t_order: np.ndarray | None = None  # CSR pattern of A*(y)ᵀ, on first torch use

    def linear_indices(self) -> np.ndarray:
        """Row-major linear index i_k·d2 + j_k of each observation, in int64 (rows and cols
        may be int32, whose product would overflow for d1·d2 ≥ 2³¹)."""
        return self.rows.astype(np.int64) * self.shape_in[1] + self.cols

    @property
    def fraction(self) -> float:
        """Fraction of entries observed, m / (d1 d2)."""
        return self.m / (self.shape_in[0] * self.shape_in[1])

    def _forward_dense(self, X: np.ndarray) -> np.ndarray:
        return X[self._data("rows", X), self._data("cols", X)]

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """(U Vᵀ)_{i_k j_k} = ⟨U[i_k], V[j_k]⟩ (`sampled_dot`: compiled when numba is there,
        blocked gathers otherwise; memory O(m), never an (m, r) temporary)."""
        U, V = self.check_factors(U, V)
        self.counts["forward"] += 1
        if is_torch(U):
            if U.device.type == "cpu":
                return self._sampled_addmm(U, V)
            return self._gathered_dot(U, V)
        return sampled_dot(self.rows, self.cols, U, V, buffers=self._buffers,
                           indptr=self._row_pointer())

    def _row_pointer(self) -> np.ndarray | None:
        """The CSR row pointer when the observations come in row order (then observation k
        sits at CSR position k, and the compiled loops go row by row), else None."""
        return self._indptr if self._order is None else None

    def _gathered_dot(self, U, V):
        """⟨U[i_k], V[j_k]⟩ by gathering factor rows in blocks (torch on accelerators)."""
        rows, cols = self._data("rows", U), self._data("cols", U)
        out = U.new_empty(self.m)
        for s in range(0, self.m, TORCH_BLOCK):
            e = min(s + TORCH_BLOCK, self.m)
            out[s:e] = (U[rows[s:e]] * V[cols[s:e]]).sum(dim=1)
        return out

    def _sampled_addmm(self, U, V):
        """⟨U[i_k], V[j_k]⟩ by `torch.sparse.sampled_addmm` on the CSR pattern (torch on CPU,
        where gathering narrow rows costs some 6× more: 187 ms against 31 ms at
        n = 5000, |Ω| = 5·10⁵, r = 10), returned in observation order."""
        import torch

        ones = self._tensors.get(("ones", str(U.device), U.dtype))
        if ones is None:
            ones = self._tensors[("ones", str(U.device), U.dtype)] = _csr(
                self._data("_indptr", U), self._data("_indices", U),
                U.new_ones(self.m), self.shape_in)
        vals = torch.sparse.sampled_addmm(ones, U, V.T, beta=0.0).values()
        if self._order is None:
            return vals
        return vals.new_empty(self.m).index_copy_(0, self._data("_order", U), vals)

    def adjoint(self, y: np.ndarray) -> sp.csr_array:
        """A*(y): a SciPy CSR array (NumPy y) or a `CSRPair` of torch CSR tensors (tensor y)."""
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        if is_torch(y):
            return self._torch_adjoint(y)
        data = y.copy() if self._order is None else y[self._order]
        return sp.csr_array((data, self._indices, self._indptr), shape=self.shape_in)

    def _torch_adjoint(self, y) -> CSRPair:
        """A*(y) as the CSR tensors of A*(y) and of A*(y)ᵀ (the latter on first use), on the
        CSR patterns built once and copied to y's device once."""
        data = y.clone() if self._order is None else y[self._data("_order", y)]
        G = _csr(self._data("_indptr", y), self._data("_indices", y), data, self.shape_in)

        def transpose():
            self._transposed_pattern()
            return _csr(self._data("_t_indptr", y), self._data("_t_indices", y),
                        y[self._data("_t_order", y)], self.shape_in[::-1])

        return CSRPair(G, transpose)

    def forward_gram(self, Xs: list, r0) -> np.ndarray:
        """`MeasurementOperator.forward_gram` in one compiled pass over the observations for
        factored X_j (`kernels.sampled_gram`), the separate forwards otherwise."""
        if all(isinstance(X, LowRank) for X in Xs):
            for X in Xs:
                self.check_factors(X.L, X.R)
            gram = None
            if backend() == "numba":  # one pass in CSR order: r0 permuted into it if need be
                r0 = self.check_y(r0)
                csr_r0 = r0 if self._order is None or is_torch(r0) else r0[self._order]
                gram = sampled_gram(self._indptr, self._indices, [(X.L, X.R) for X in Xs],
                                    csr_r0)
            if gram is not None:
                self.counts["forward"] += len(Xs)
                return gram
        return super().forward_gram(Xs, r0)

    def _transposed_pattern(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The CSR pattern of A*(y)ᵀ (rows = columns of X), built on first use: observation
        `_t_order[k]` sits at position k."""
        if self._t_order is None:
            order = np.lexsort((self.rows, self.cols))
            self._t_indptr = np.searchsorted(self.cols[order], np.arange(self.shape_in[1] + 1))
            self._t_indices = self.rows[order]
            self._t_order = order
        return self._t_order, self._t_indptr, self._t_indices

    def adjoint_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y)·Z; on tensors one CSR-times-dense product."""
        if is_torch(Z):
            return self.adjoint(y) @ Z
        return super().adjoint_times(y, Z)

    def adjoint_t_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y)ᵀ·Z; on tensors one CSR-times-dense product with the transposed pattern."""
        if is_torch(Z):
            return self.adjoint(y).mT @ Z
        return super().adjoint_t_times(y, Z)

    def _compute_norm(self) -> float:
        # A*A is diagonal with the multiplicity of each entry: ‖A‖ = √(max multiplicity).
        flat = np.sort(self.linear_indices())
        starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1], True])
        return float(np.sqrt(np.diff(starts).max()))


def uniform_entries(
    shape: tuple[int, int], m: int, rng: np.random.Generator
) -> EntrySampling:
    """m distinct entries drawn uniformly without replacement, stored in row-major order.

    The linear indices come from `sample_distinct` (O(m log m) time, O(m) memory, no dense
    d1×d2 array and no hash-based `np.unique`); entry k is (flat_k // d2, flat_k % d2). The
    result is a deterministic function of the Generator's state: the same seed gives the
    same instance (on the same NumPy bit generator; earlier lowranklab versions, which used
    `rng.choice` and a rejection loop, gave other instances for the same seed)."""
    d1, d2 = shape
    if not 1 <= m <= d1 * d2:
        raise ValueError(f"m must be in [1, {d1 * d2}], got {m}")
    flat = sample_distinct(d1 * d2, m, rng)
    idx = _index_dtype(d1, d2, m)  # convert one array at a time: peak ≈ 3 int64 arrays of m
    rows = (flat // d2).astype(idx)
    cols = (flat % d2).astype(idx)
    del flat
    return EntrySampling(rows, cols, shape)


def bernoulli_entries(shape: tuple[int, int], p: float, rng: np.random.Generator) -> EntrySampling:
    """Each entry observed independently with probability p (no dense mask is built)."""
    d1, d2 = shape
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    m = max(int(rng.binomial(d1 * d2, p)), 1)
    return uniform_entries(shape, m, rng)


def sample_distinct(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """m distinct integers drawn uniformly from range(n), sorted ascending (int64).

    Method (m ≤ n/2): draw k i.i.d. uniform integers, with k a little above the expected
    number of draws that yields m distinct values, k ≈ −n·log(1 − m/n) (the coupon
    collector's partial sum, ≤ 1.39 m), sort them and drop repeats (adjacent after sorting);
    if fewer than m remain, draw again and merge. Then remove a uniformly chosen subset of
    the surplus. Both steps keep the law uniform: i.i.d. draws are exchangeable, so given
    its size the set of distinct values is a uniform subset of that size, and deleting a
    uniform sub-subset of it leaves a uniform m-subset. For m > n/2 the complement, n − m
    values, is drawn the same way and inverted with an n-bit mask (n < 2m, still O(m)).

    Cost: one sort of ≈ m·(1 + m/(2n)) int64 values; memory O(m). Deterministic in the
    Generator's state."""
    if not 0 <= m <= n:
        raise ValueError(f"m must be in [0, n={n}], got {m}")
    if m > n // 2:
        keep = np.ones(n, dtype=bool)
        keep[sample_distinct(n, n - m, rng)] = False
        return np.flatnonzero(keep).astype(np.int64, copy=False)
    if m == 0:
        return np.empty(0, dtype=np.int64)
    expected = -n * np.log1p(-m / n)  # E[draws until m distinct values], approximately
    k = int(expected + 4 * np.sqrt(expected) + 64)
    out = _sorted_unique(rng.integers(0, n, size=k, dtype=np.int64))
    while out.size < m:  # rare: the surplus above covers 4 standard deviations
        more = rng.integers(0, n, size=m - out.size + 64, dtype=np.int64)
        out = _sorted_unique(np.concatenate([out, more]))
    if out.size > m:
        out = np.delete(out, rng.choice(out.size, size=out.size - m, replace=False))
    return out


def _index_dtype(d1: int, d2: int, m: int) -> type:
    """int32 when every row, column and CSR offset fits, int64 otherwise."""
    return np.int32 if max(d1, d2, m) <= np.iinfo(np.int32).max else np.int64


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """The distinct values of a, sorted (in-place sort, then adjacent repeats dropped)."""
    a.sort()
    if a.size < 2:
        return a
    keep = np.empty(a.size, dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]
