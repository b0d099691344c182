"""Batched measurement operators: B independent operators A_b : R^{d1×d2} → R^m of one shape,
stacked on a leading batch axis, applied to stacked matrices in one call (batched trials of a
sweep, `solvers/batched.py`).

Every method takes and returns arrays with the batch axis first — X: (B, d1, d2), factors
U: (B, d1, k), V: (B, d2, k), measurements y: (B, m) — on NumPy or torch (CPU or CUDA; the
data are copied to the tensors' device and dtype once and cached). Trial b of a batched
operator computes exactly what the unbatched operator `trial(b)` computes, up to round-off.

    forward(X)                 (A_b(X_b))_b
    forward_lr(U, V)           (A_b(U_b V_bᵀ))_b
    pull(y, U, V)              (A_b*(y_b) V_b, A_b*(y_b)ᵀ U_b)_b      (the UVᵀ gradient)
    pull_sym(y, U)             ((A_b*(y_b) + A_b*(y_b)ᵀ) U_b)_b       (the UUᵀ gradient)
    subset(idx)                the operator of the trials idx (a copy)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lowranklab.backend import cached_like, is_torch, to_like
from lowranklab.operators.base import check_shape
from lowranklab.operators.dense import DenseSensing
from lowranklab.operators.kernels import _compiled, sampled_dot, t_times, times
from lowranklab.operators.sampling import EntrySampling


def _fused():
    """The compiled batched loops, or None without numba (or with LOWRANKLAB_NUMBA=0)."""
    if _compiled() is None:
        return None
    from lowranklab.operators import _batched_kernels

    return _batched_kernels


def _batch_index(idx, B: int) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise TypeError(f"idx must be a 1-D integer array, got {idx.dtype} of shape {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= B):
        raise ValueError(f"idx out of range for a batch of {B}")
    return idx


class BatchedOperator:
    """Shared parts: shapes, checks and the per-device cache of the NumPy data."""

    B: int
    m: int
    shape_in: tuple[int, int]

    def __init__(self) -> None:
        self._tensors: dict[tuple, object] = {}

    def _data(self, name: str, like):
        """The NumPy attribute `name` on like's backend (copied once per device and dtype)."""
        return cached_like(self._tensors, name, getattr(self, name), like)

    def check_factors(self, U, V) -> None:
        d1, d2 = self.shape_in
        if U.ndim != 3 or V.ndim != 3 or tuple(U.shape[:2]) != (self.B, d1) or (
                tuple(V.shape[:2]) != (self.B, d2)) or U.shape[2] != V.shape[2]:
            raise ValueError(f"factors must have shapes ({self.B}, {d1}, k) and "
                             f"({self.B}, {d2}, k), got {tuple(U.shape)}, {tuple(V.shape)}")

    def check_y(self, y) -> None:
        if tuple(y.shape) != (self.B, self.m):
            raise ValueError(f"y must have shape {(self.B, self.m)}, got {tuple(y.shape)}")


class BatchedDenseSensing(BatchedOperator):
    """B dense sensing operators A: (B, m, d1·d2), rows the row-major vec(A_{b,i}).

    forward: one batched GEMV (B, m, d1·d2) @ (B, d1·d2) (np.matmul / torch.bmm); the adjoint
    A_b*(y_b) = Σ_i y_{b,i} A_{b,i} one batched GEMV with the transpose. When every A_{b,i} is
    exactly symmetric (the papers' `symmetric_gaussian`) only the half coordinates are kept
    (as the unbatched `DenseSensing._half_coordinates`): M[b, i, (j≤l)] = A_{b,i}[j, l]·w_jl
    (w = 1 on the diagonal, 2 off it), so A_b(X) = M_b x_half for symmetric X and the upper
    entries of A_b*(y) are (M_bᵀ y)/w (exact: w is a power of two). Half the memory and flops.
    """

    def __init__(self, A, shape: tuple[int, int], *, dtype=None) -> None:
        super().__init__()
        d1, d2 = check_shape(shape)
        A = np.asarray(A)
        if A.ndim != 3 or A.shape[2] != d1 * d2:
            raise ValueError(f"A must have shape (B, m, {d1 * d2}) for shape {shape}, "
                             f"got {A.shape}")
        if A.dtype.kind not in "biuf":
            raise TypeError(f"A must be a real numeric array, got dtype {A.dtype}")
        if not np.all(np.isfinite(A)):
            raise ValueError("A must have finite entries")
        from lowranklab.backend import float_dtype

        dt = float_dtype(A, dtype)
        self.B, self.m = int(A.shape[0]), int(A.shape[1])
        self.shape_in = (d1, d2)
        T = A.reshape(self.B, self.m, d1, d2)
        self.symmetric = d1 == d2 and bool(np.array_equal(T, T.transpose(0, 1, 3, 2)))
        if self.symmetric:
            iu, ju = np.triu_indices(d1)
            self.w = np.where(iu == ju, 1.0, 2.0).astype(dt)
            self.M = np.ascontiguousarray(T[:, :, iu, ju] * self.w, dtype=dt)
            self.flat, self.flat_t = iu * d1 + ju, ju * d1 + iu
            self.A = None
        else:
            self.A = np.ascontiguousarray(A, dtype=dt)
            self.M = None
        self.dtype = dt

    @classmethod
    def stack(cls, ops) -> BatchedDenseSensing:
        """The batch of unbatched `DenseSensing` operators of one shape and dtype."""
        ops = list(ops)
        if not ops or not all(isinstance(o, DenseSensing) for o in ops):
            raise TypeError("ops must be a non-empty sequence of DenseSensing operators")
        shapes = {(o.shape_in, o.m, o.dtype) for o in ops}
        if len(shapes) != 1:
            raise ValueError("the operators differ in shape, m or dtype")
        return cls(np.stack([o.A for o in ops]), ops[0].shape_in)

    def _full(self) -> np.ndarray:
        if self.A is not None:
            return self.A
        d = self.shape_in[0]
        U = self.M / self.w
        A = np.empty((self.B, self.m, d * d), dtype=self.dtype)
        A[:, :, self.flat] = U
        A[:, :, self.flat_t] = U
        return A

    def trial(self, b: int) -> DenseSensing:
        """Trial b as an unbatched operator (the same numbers)."""
        return DenseSensing(self._full()[b], self.shape_in)

    def subset(self, idx) -> BatchedDenseSensing:
        idx = _batch_index(idx, self.B)
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out._tensors = {}
        out.B = int(idx.size)
        if self.M is not None:
            out.M = np.ascontiguousarray(self.M[idx])
        else:
            out.A = np.ascontiguousarray(self.A[idx])
        return out

    def forward(self, X, *, symmetric: bool = False):
        """(A_b(X_b))_b for X: (B, d1, d2); symmetric=True promises X_b = X_bᵀ (half path)."""
        B, (d1, d2) = self.B, self.shape_in
        if tuple(X.shape) != (B, d1, d2):
            raise ValueError(f"X must have shape {(B, d1, d2)}, got {tuple(X.shape)}")
        # each A_b x_b as the row vector x_bᵀ A_bᵀ (a transposed view, no copy): the same
        # numbers, and 1.7–1.8× faster than A_b x_b on torch CPU at B = 64, m = 240, N = 465
        # (`benchmarks.micro`: its batched matmul takes a slow path for a vector right side)
        if self.M is not None and symmetric:
            x = X.reshape(B, d1 * d2)[:, self._data("flat", X)]
            return (x[:, None, :] @ self._data("M", X).mT)[:, 0, :]
        A = self._data("A", X) if self.A is not None else self._data_full(X)
        return (X.reshape(B, 1, d1 * d2) @ A.mT)[:, 0, :]

    def _data_full(self, like):
        if not is_torch(like):
            return self._full()
        key = ("full", str(like.device), like.dtype)
        t = self._tensors.get(key)
        if t is None:
            t = self._tensors[key] = to_like(self._full(), like)
        return t

    def forward_lr(self, U, V, *, symmetric: bool = False):
        """(A_b(U_b V_bᵀ))_b: U_b V_bᵀ formed (d1·d2·k flops, small beside the pass over A)."""
        self.check_factors(U, V)
        return self.forward(U @ V.mT, symmetric=symmetric)

    def adjoint(self, y):
        """(A_b*(y_b))_b, dense (B, d1, d2)."""
        self.check_y(y)
        B, (d1, d2) = self.B, self.shape_in
        if self.M is not None:
            return self._assemble((y[:, None, :] @ self._data("M", y))[:, 0, :]
                                  / self._data("w", y))
        return (y[:, None, :] @ self._data("A", y))[:, 0, :].reshape(B, d1, d2)

    def residual_adjoint_sym(self, U, b):
        """(A_b(U_bU_bᵀ) − b_b, A_b*(that)) for the trials at once, in one compiled pass over
        the half coordinates (`_batched_kernels.half_residual_adjoint`), or None where that
        path does not apply (torch, float32, non-symmetric A, numba missing or switched off
        with LOWRANKLAB_NUMBA=0)."""
        kernels = _fused()
        if (kernels is None or self.M is None or is_torch(U) or self.dtype != np.float64
                or U.dtype != np.float64):
            return None
        B, d = self.B, self.shape_in[0]
        x = np.ascontiguousarray((U @ U.mT).reshape(B, d * d)[:, self.flat])
        r = np.empty((B, self.m))
        s = np.empty((B, self.M.shape[2]))
        kernels.half_residual_adjoint(self.M, x, np.ascontiguousarray(b, dtype=np.float64),
                                      r, s)
        return r, self._assemble(s / self.w)

    def _assemble(self, s):
        """The symmetric (B, d, d) matrices with upper-triangle entries s (B, N)."""
        B, (d1, d2) = self.B, self.shape_in
        if is_torch(s):
            S = s.new_empty((B, d1 * d2))
        else:
            S = np.empty((B, d1 * d2), dtype=s.dtype)
        S[:, self._data("flat", s)] = s
        S[:, self._data("flat_t", s)] = s
        return S.reshape(B, d1, d2)

    def pull(self, y, U, V):
        G = self.adjoint(y)
        return G @ V, G.mT @ U

    def pull_sym(self, y, U):
        G = self.adjoint(y)
        return (G + G.mT) @ U


class BatchedEntrySampling(BatchedOperator):
    """B entry-sampling operators of one shape and one number m of observations: trial b
    observes (rows[b, k], cols[b, k]), k < m (one pattern for all trials, or one per trial).

    The batch is one flat problem over B·m entries of a block-diagonal (B·d1)×(B·d2) matrix:
    trial b's entry (i, j) sits at (b·d1 + i, b·d2 + j). A(UVᵀ) is one gather of factor rows
    over the B·m entries; A*(y)V and A*(y)ᵀU are one sparse-times-dense product each — a SciPy
    CSR matrix on the block-diagonal pattern (built once; each call only permutes y into it) on
    NumPy, an `index_add_` scatter over the B·m entries on torch (CPU or CUDA)."""

    narrow_blas = True  # as EntrySampling: one BLAS thread during a solve (threads.py)

    def __init__(self, rows, cols, shape: tuple[int, int]) -> None:
        super().__init__()
        d1, d2 = check_shape(shape)
        rows, cols = np.asarray(rows), np.asarray(cols)
        if rows.ndim != 2 or cols.shape != rows.shape or rows.shape[1] == 0:
            raise ValueError(f"rows and cols must be (B, m) arrays of one shape with m >= 1, "
                             f"got {rows.shape}, {cols.shape}")
        if rows.dtype.kind not in "iu" or cols.dtype.kind not in "iu":
            raise TypeError("rows and cols must be integer arrays")
        if rows.min() < 0 or rows.max() >= d1 or cols.min() < 0 or cols.max() >= d2:
            raise ValueError(f"indices out of range for shape {(d1, d2)}")
        self.B, self.m = int(rows.shape[0]), int(rows.shape[1])
        self.shape_in = (d1, d2)
        self.rows, self.cols = rows.astype(np.int64), cols.astype(np.int64)
        self._build()

    def _build(self) -> None:
        B, (d1, d2) = self.B, self.shape_in
        off = np.arange(B, dtype=np.int64)[:, None]
        self.frows = (self.rows + off * d1).ravel()  # flat row of each of the B·m entries
        self.fcols = (self.cols + off * d2).ravel()
        self.lin = (self.rows * d2 + self.cols + off * (d1 * d2)).ravel()  # into X (B, d1, d2)
        self._csr = None
        self._buffers: list[np.ndarray] = []  # sampled_dot's gather buffers, reused

    @classmethod
    def stack(cls, ops) -> BatchedEntrySampling:
        """The batch of unbatched `EntrySampling` operators of one shape and m."""
        ops = list(ops)
        if not ops or not all(isinstance(o, EntrySampling) for o in ops):
            raise TypeError("ops must be a non-empty sequence of EntrySampling operators")
        if len({(o.shape_in, o.m) for o in ops}) != 1:
            raise ValueError("the operators differ in shape or number of entries")
        return cls(np.stack([o.rows for o in ops]), np.stack([o.cols for o in ops]),
                   ops[0].shape_in)

    def trial(self, b: int) -> EntrySampling:
        return EntrySampling(self.rows[b], self.cols[b], self.shape_in)

    def subset(self, idx) -> BatchedEntrySampling:
        idx = _batch_index(idx, self.B)
        return type(self)(self.rows[idx], self.cols[idx], self.shape_in)

    def forward_lr(self, U, V, *, symmetric: bool = False):
        """(U_b V_bᵀ)_{i_k j_k} = ⟨U_b[i_k], V_b[j_k]⟩: one gather over the B·m entries."""
        self.check_factors(U, V)
        (d1, d2), k = self.shape_in, U.shape[2]
        Uf, Vf = U.reshape(self.B * d1, k), V.reshape(self.B * d2, k)
        if not is_torch(U):  # the unbatched operator's kernel (compiled with numba) on B·m
            return sampled_dot(self.frows, self.fcols, Uf, Vf,
                               buffers=self._buffers).reshape(self.B, self.m)
        g = Uf[self._data("frows", U)] * Vf[self._data("fcols", U)]
        return g.sum(-1).reshape(self.B, self.m)

    def forward(self, X, *, symmetric: bool = False):
        B, (d1, d2) = self.B, self.shape_in
        if tuple(X.shape) != (B, d1, d2):
            raise ValueError(f"X must have shape {(B, d1, d2)}, got {tuple(X.shape)}")
        return X.reshape(B * d1 * d2)[self._data("lin", X)].reshape(B, self.m)

    def _products(self, y, Z, *, transpose: bool, mat=None):
        """A*(y)Z (transpose=False, Z: (B, d2, k)) or A*(y)ᵀZ (Z: (B, d1, k)) over the flat
        block-diagonal pattern: on NumPy the unbatched operator's products (`kernels.times` /
        `t_times`: compiled with numba when it is there, SciPy otherwise) on one CSR matrix,
        on torch one `index_add_` scatter."""
        (d1, d2), k = self.shape_in, Z.shape[2]
        n_out, n_in = (d2, d1) if transpose else (d1, d2)
        Zf = Z.reshape(self.B * n_in, k)
        if is_torch(y):
            gather, scatter = ("frows", "fcols") if transpose else ("fcols", "frows")
            src = y.reshape(-1, 1) * Zf[self._data(gather, y)]
            out = Zf.new_zeros((self.B * n_out, k))
            out.index_add_(0, self._data(scatter, y), src)
            return out.reshape(self.B, n_out, k)
        mat = self._adjoint_csr(y) if mat is None else mat
        out = t_times(mat, Zf) if transpose else times(mat, Zf)
        return out.reshape(self.B, n_out, k)

    def _adjoint_csr(self, y) -> sp.csr_array:
        """The block-diagonal (B·d1)×(B·d2) CSR matrix of A*(y) (pattern built once)."""
        if self._csr is None:
            order = np.lexsort((self.fcols, self.frows))
            indptr = np.searchsorted(self.frows[order],
                                     np.arange(self.B * self.shape_in[0] + 1))
            self._csr = (self.fcols[order], indptr, order)
        indices, indptr, order = self._csr
        return sp.csr_array((y.reshape(-1)[order], indices, indptr),
                            shape=(self.B * self.shape_in[0], self.B * self.shape_in[1]))

    def pull(self, y, U, V):
        self.check_y(y)
        self.check_factors(U, V)
        mat = None if is_torch(y) else self._adjoint_csr(y)
        return (self._products(y, V, transpose=False, mat=mat),
                self._products(y, U, transpose=True, mat=mat))

    def pull_sym(self, y, U):
        self.check_y(y)
        self.check_factors(U, U)
        mat = None if is_torch(y) else self._adjoint_csr(y)
        return (self._products(y, U, transpose=False, mat=mat)
                + self._products(y, U, transpose=True, mat=mat))
