"""Seeded Gaussian sensing that is never stored: A is regenerated in blocks of rows.

Dense sensing at d = 1000 with m = c·r·d measurements needs m·d² numbers (≈ 10¹⁰, 80 GB in
float64), far beyond memory. But A is i.i.d. Gaussian, so it is fully described by a seed: the
streamed operator regenerates each block of rows when it is needed, holding one block
(`block_bytes`, default 64 MiB) at a time, and trades memory for the time of drawing the
numbers again on every pass.

How the numbers follow from the seed (this is the definition, shared by the stored operator):
row i of A, vec(A_i) in row-major order, is drawn by its own generator
`numpy.random.Generator(PCG64(SeedSequence(seed, spawn_key=(i,))))` in float64:

* general (`symmetric=False`): d1·d2 draws N(0, 1), times `scale` (default 1/√m, so
  E[A*A] = I as for `gaussian`);
* symmetric (`symmetric=True`, d1 = d2 = d): d(d+1)/2 draws N(0, 1) filling the upper triangle
  *including the diagonal* in `numpy.triu_indices` order, mirrored below, times `scale`
  (default 1: the papers' convention of `symmetric_gaussian`, ez2021 §1.2);

then rounded to the storage dtype (float32 storage rounds the same float64 numbers, so a
float32 and a float64 operator of one seed agree to float32 precision). Since every row has its
own stream, any block of rows can be drawn without drawing the others, and
`seeded_gaussian(..., stream=False)` (or `StreamedGaussian.materialize()`) stores exactly the
numbers the streamed operator generates.

One gradient of ½‖A(X) − b‖² needs only one pass: each row's contribution to
A*(A(X) − b) = Σ_i (⟨A_i, X⟩ − b_i) A_i depends on its own residual, so `residual_adjoint`
forms the residual and the adjoint of a block while it is in memory (`LeastSquares` uses it).

Cost: drawing dominates. At d = 1000 a row takes about 16 ms (symmetric: 5·10⁵ draws) or
30 ms (general: 10⁶ draws) on one core, so a pass over m rows takes m times that
(`python -m benchmarks.large_sensing`). On torch tensors the blocks are still drawn by NumPy
on the host (the numbers are NumPy's) and copied to the tensors' device block by block.
"""

from __future__ import annotations

import numpy as np

from lowranklab.backend import is_torch, resolve_dtype, to_like
from lowranklab.operators.base import MeasurementOperator
from lowranklab.operators.dense import DenseSensing, _check_dims

BLOCK_BYTES = 64 * 2**20


def _row_generator(seed: int, i: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(i,))))


class StreamedGaussian(MeasurementOperator):
    """A(X)_i = ⟨A_i, X⟩ with Gaussian A_i regenerated from `seed` block by block (see the
    module docstring for the numbers). Memory: one block of rows plus O(d1·d2)."""

    def __init__(self, shape: tuple[int, int], m: int, seed: int, *, symmetric: bool = False,
                 scale: float | None = None, dtype=None,
                 block_bytes: int = BLOCK_BYTES) -> None:
        super().__init__()
        d1, d2 = shape
        _check_dims(d1=d1, d2=d2, m=m)
        d1, d2 = int(d1), int(d2)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
        if symmetric and d1 != d2:
            raise ValueError(f"symmetric sensing needs a square shape, got {shape}")
        s = (1.0 if symmetric else 1.0 / np.sqrt(m)) if scale is None else float(scale)
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale}")
        if int(block_bytes) != block_bytes or block_bytes < 1:
            raise ValueError(f"block_bytes must be a positive integer, got {block_bytes!r}")
        self.shape_in = (d1, d2)
        self.m = int(m)
        self.seed = int(seed)
        self.symmetric = bool(symmetric)
        self.scale = s
        self._dtype = resolve_dtype(dtype) or np.dtype(np.float64)
        if self.symmetric:
            iu, ju = np.triu_indices(d1)
            self._upper = iu * d1 + ju  # flat positions of the upper triangle, triu order
            self._lower = ju * d1 + iu  # their mirror images
            self._diag = np.flatnonzero(iu == ju)  # diagonal among the drawn coordinates
        self.n_draws = self._upper.size if self.symmetric else d1 * d2
        self.block_rows = int(max(1, min(self.m,
                                         block_bytes // (self.n_draws * self._dtype.itemsize))))
        self._block: np.ndarray | None = None  # reused block buffer of drawn coordinates

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    # -- the numbers ----------------------------------------------------------------------
    def draws(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """The drawn numbers of rows start..stop−1, scaled, in the storage dtype: a
        (stop − start, n_draws) array (general: vec(A_i); symmetric: the upper triangle of
        A_i in `numpy.triu_indices` order)."""
        if not 0 <= start <= stop <= self.m:
            raise ValueError(f"need 0 <= start <= stop <= {self.m}, got {start}, {stop}")
        if out is None:
            out = np.empty((stop - start, self.n_draws), dtype=self._dtype)
        direct = self._dtype == np.float64
        tmp = None if direct else np.empty(self.n_draws)
        for k, i in enumerate(range(start, stop)):
            g = _row_generator(self.seed, i)
            row = out[k] if direct else tmp
            g.standard_normal(out=row)
            if self.scale != 1.0:
                row *= self.scale  # in float64, before rounding to the storage dtype
            if not direct:
                out[k] = tmp
        return out

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop−1 of A, vec(A_i) row-major, as a (stop − start, d1·d2) array."""
        D = self.draws(start, stop)
        if not self.symmetric:
            return D
        out = np.empty((stop - start, self.shape_in[0] * self.shape_in[1]), dtype=self._dtype)
        out[:, self._upper] = D
        out[:, self._lower] = D
        return out

    def blocks(self):
        """(start, stop, drawn block) over the rows of A; the block buffer is reused."""
        for start in range(0, self.m, self.block_rows):
            stop = min(start + self.block_rows, self.m)
            if self._block is None:
                self._block = np.empty((self.block_rows, self.n_draws), dtype=self._dtype)
            yield start, stop, self.draws(start, stop, out=self._block[: stop - start])

    def materialize(self) -> DenseSensing:
        """The stored operator with the same numbers (m·d1·d2 entries: small d only)."""
        return DenseSensing(self.rows(0, self.m), self.shape_in, dtype=self._dtype)

    # -- the operator ---------------------------------------------------------------------
    # With D_i the drawn coordinates of row i, ⟨A_i, X⟩ = ⟨D_i, fold(X)⟩ and
    # Σ_i y_i A_i = unfold(Σ_i y_i D_i): for the general kind fold = vec, unfold = reshape; for
    # the symmetric kind fold(X)_jk = X_jk + X_kj (j < k), X_jj (j = k) and unfold mirrors the
    # upper triangle, so each pass reads d(d+1)/2 numbers per row instead of d².
    def _block_on(self, blk: np.ndarray, like):
        return to_like(blk, like) if is_torch(like) else blk

    def _fold(self, X):
        if not self.symmetric:
            return X.reshape(-1)
        S = (X + X.T).reshape(-1)
        w = S[self._data("_upper", X)]
        w[self._data("_diag", X)] *= 0.5  # (X + Xᵀ)_jj = 2 X_jj
        return w

    def _unfold(self, u):
        if not self.symmetric:
            return u.reshape(self.shape_in)
        d = self.shape_in[0]
        M = u.new_zeros(d * d) if is_torch(u) else np.zeros(d * d, dtype=u.dtype)
        M[self._data("_upper", u)] = u
        M[self._data("_lower", u)] = u
        return M.reshape(d, d)

    def _forward_dense(self, X: np.ndarray) -> np.ndarray:
        w = self._fold(X)
        out = (w.new_empty(self.m) if is_torch(w)
               else np.empty(self.m, dtype=np.result_type(self._dtype, w.dtype)))
        for s, e, blk in self.blocks():
            out[s:e] = self._block_on(blk, w) @ w
        return out

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """A(U Vᵀ): U Vᵀ is formed once (d1·d2 numbers) and each block applied to it."""
        self.counts["forward"] += 1
        return self._forward_dense(U @ V.T)

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """A*(y) = Σ_i y_i A_i, accumulated block by block into one dense d1×d2 array (so
        `adjoint_times` and `adjoint_t_times` are one d1×d2 product after the pass)."""
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        acc = None
        for s, e, blk in self.blocks():
            part = y[s:e] @ self._block_on(blk, y)
            acc = part if acc is None else acc + part
        return self._unfold(acc)

    def residual_adjoint(self, X, b, weight: float = 1.0):
        """(r, A*(weight·r)) for r = A(X) − b in one pass over the rows (one generation of A
        instead of two). X dense or `LowRank`; b of length m on X's backend."""
        from lowranklab.lowrank import LowRank

        self.counts["forward"] += 1
        self.counts["adjoint"] += 1
        if tuple(X.shape) != self.shape_in:
            raise ValueError(f"X must have shape {self.shape_in}, got {tuple(X.shape)}")
        w = self._fold(X.L @ X.R.T if isinstance(X, LowRank) else X)
        r = (w.new_empty(self.m) if is_torch(w)
             else np.empty(self.m, dtype=np.result_type(self._dtype, w.dtype)))
        acc = None
        for s, e, blk in self.blocks():
            B = self._block_on(blk, w)
            r[s:e] = B @ w - b[s:e]
            part = (weight * r[s:e]) @ B
            acc = part if acc is None else acc + part
        return r, self._unfold(acc)

    def __repr__(self) -> str:
        return (f"StreamedGaussian(shape_in={self.shape_in}, m={self.m}, seed={self.seed}, "
                f"symmetric={self.symmetric}, dtype={self._dtype.name})")


def seeded_gaussian(shape: tuple[int, int], m: int, seed: int, *, symmetric: bool = False,
                    scale: float | None = None, dtype=None, stream: bool = False,
                    block_bytes: int = BLOCK_BYTES) -> DenseSensing | StreamedGaussian:
    """Gaussian sensing defined by a seed (module docstring): streamed (`stream=True`, for
    large d) or stored as a `DenseSensing` (the same numbers, held in memory)."""
    op = StreamedGaussian(shape, m, seed, symmetric=symmetric, scale=scale, dtype=dtype,
                          block_bytes=block_bytes)
    return op if stream else op.materialize()
