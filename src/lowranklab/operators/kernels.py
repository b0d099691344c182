"""The inner loops of a matrix-completion gradient step, compiled when numba is there.

* `sampled_dot(rows, cols, U, V)`: (U Vᵀ)_{i_k j_k} = ⟨U[i_k], V[j_k]⟩ over the observed
  entries, i.e. A(U Vᵀ) for entry sampling (the "SDDMM" of sparse linear algebra); for
  observations in row order (the generators' order) the compiled loop goes row by row,
  U[i] shared by four entries at a time (0.70× at n = 1000, r = 10, `sampled_dot_n1000_r10`).
* `times(G, Z)`, `t_times(G, Z)`: G Z and Gᵀ Z for the sparse G = A*(y), the pull
  DX*[G] = (G V, Gᵀ U), written straight into the parts of one gradient array.
* `sampled_gram(...)`: the 3×3 Gram matrix of a residual and the sampled entries of two
  factored matrices in one pass (compiled only), the exact line search's coefficients along
  a two-factor product without storing A(X₁), A(X₂) (0.67–0.80 ms against 0.71–0.90 ms for
  two forwards and six dot products at n = 1000, |Ω| = 10⁵, r = 10: `python -m
  benchmarks.micro`, `line_gram_n1000`). A fused residual + G V + Gᵀ U pass was tried and
  dropped: with every factor array in one loop the compiler keeps fewer values in registers,
  and it ran slower than the three kernels above together (1.08 against 0.96 ms when tried).

With numba (the `fast` extra) each is one compiled pass over the observations that never
stores the gathered factor rows; it is compiled on first use and cached on disk
(`cache=True`), so later processes start at once. Without numba:

* `sampled_dot` gathers U[i_k] and V[j_k] in blocks of `BLOCK` entries into reused buffers and
  takes the row-wise dot product (memory O(BLOCK·r), never an (m, r) temporary); about twice
  the compiled time, because the gathered rows make a round trip through memory;
* `times` and `t_times` are SciPy's `G @ Z` and `G.T @ Z`: the same loops, but G Z sums
  into memory rather than registers, and both pay SciPy's Python-side set-up (a CSC view for
  Gᵀ) and a copy into the gradient.

Altogether a completion step costs about 1.6× more without numba
(`python -m benchmarks.run --only completion`, with and without LOWRANKLAB_NUMBA=0).

`LOWRANKLAB_NUMBA=0` in the environment switches the compiled loops off (to compare, or to
debug the fallback); `backend()` says which one runs.

Threads: the compiled loops run on one thread unless `set_threads(n)` (or LOWRANKLAB_THREADS=n
in the environment) asks for more; then `sampled_dot` and G Z split their outputs over n
threads (bitwise the one-thread result) and Gᵀ Z sums n private buffers (equal to round-off;
the same for the same n): `_numba_parallel`. Measured on 2 cores: `python -m benchmarks.run
--suite peers` record `completion_threads_*`.
"""

from __future__ import annotations

import os
from functools import cache
from types import ModuleType

import numpy as np
import scipy.sparse as sp

from lowranklab.backend import is_torch

BLOCK = 4096  # entries gathered per block by the NumPy sampled_dot
_UNSIGNED = {np.dtype(np.int32): np.uint32, np.dtype(np.int64): np.uint64}


@cache
def _compiled() -> ModuleType | None:
    """The module of compiled loops, or None when numba is missing or switched off."""
    if os.environ.get("LOWRANKLAB_NUMBA", "1") == "0":
        return None
    try:
        from lowranklab.operators import _numba_kernels
    except ImportError:
        return None
    return _numba_kernels


THREADS_ENV = "LOWRANKLAB_THREADS"
_threads: list[int | None] = [None]  # set_threads' value (None: the environment's)


def set_threads(n: int | None) -> None:
    """Run the compiled completion loops on n threads (numba `parallel`); None goes back to
    LOWRANKLAB_THREADS, or 1 without it. n must be an integer ≥ 1; more threads than numba
    has (NUMBA_NUM_THREADS, the cores by default) are capped at those."""
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise ValueError(f"threads must be a positive integer or None, got {n!r}")
    _threads[0] = None if n is None else int(n)


def threads() -> int:
    """The threads the compiled loops use (see `set_threads`)."""
    if _threads[0] is not None:
        n = _threads[0]
    else:
        env = os.environ.get(THREADS_ENV, "1")
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {env!r}") from None
        if n < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {env!r}")
    if n > 1 and _compiled() is not None:
        import numba

        n = min(n, numba.config.NUMBA_NUM_THREADS)
    return n


@cache
def _parallel_module() -> ModuleType:
    from lowranklab.operators import _numba_parallel

    return _numba_parallel


def _kernels(n: int) -> ModuleType:
    """The module of compiled loops for n threads (the caller checked `_compiled()`)."""
    if n == 1:
        return _compiled()
    import numba

    numba.set_num_threads(n)  # per calling thread in numba: set at every call
    return _parallel_module()


def backend() -> str:
    """'numba' or 'numpy': which implementation the kernels run."""
    return "numpy" if _compiled() is None else "numba"


def _unsigned(idx: np.ndarray) -> np.ndarray:
    """A zero-copy unsigned view of a non-negative int32/int64 index array."""
    return idx.view(_UNSIGNED[idx.dtype])


def sampled_dot(rows: np.ndarray, cols: np.ndarray, U: np.ndarray, V: np.ndarray,
                *, buffers: list | None = None, indptr: np.ndarray | None = None) -> np.ndarray:
    """out[k] = Σ_t U[rows[k], t] · V[cols[k], t] for contiguous int64 index arrays of equal
    length.

    The indices must already be valid (EntrySampling checks them once at construction): the
    NumPy path gathers with mode="clip" and the compiled one does not check bounds.
    `buffers` is an optional list the caller keeps between calls, so that the NumPy path
    reuses its two (BLOCK, r) gather buffers instead of allocating them each time.
    `indptr`, given when the observations come in row order (rows[k] = i exactly for
    indptr[i] ≤ k < indptr[i + 1], the CSR row pointer), lets the compiled loop go row by row
    (`sampled_dot_rows_kernel`: each U[i] read once per four entries).
    """
    r = U.shape[1]
    if V.shape[1] != r:
        raise ValueError(f"U and V need the same number of columns, got {U.shape}, {V.shape}")
    dtype = np.result_type(U, V)
    U = np.ascontiguousarray(U, dtype=dtype)
    V = np.ascontiguousarray(V, dtype=dtype)
    out = np.empty(rows.size, dtype=dtype)
    if _compiled() is not None and dtype == np.float64:
        kernels = _kernels(threads())
        if indptr is not None:
            kernels.sampled_dot_rows_kernel(_unsigned(indptr), _unsigned(cols), U, V, out)
        else:
            kernels.sampled_dot_kernel(_unsigned(rows), _unsigned(cols), U, V, out)
        return out
    bu, bv = _gather_buffers(buffers, min(BLOCK, rows.size), r, dtype)
    for s in range(0, rows.size, BLOCK):
        e = min(s + BLOCK, rows.size)
        n = e - s
        # mode="clip" lets take() write straight into `out=` (default "raise" copies via a
        # hidden temporary); the indices are valid, so clipping never changes them
        np.take(U, rows[s:e], axis=0, out=bu[:n], mode="clip")
        np.take(V, cols[s:e], axis=0, out=bv[:n], mode="clip")
        np.einsum("ij,ij->i", bu[:n], bv[:n], out=out[s:e])
    return out


def times(G, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """G Z for any ambient matrix G (dense, SciPy sparse, LowRank), written into `out` when
    given; a SciPy CSR G of float64 with a float64 Z takes the compiled loop."""
    return _csr_product(G, Z, out, transpose=False)


def t_times(G, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Gᵀ Z, as `times`; the compiled loop scatters row i of G into the rows of the result."""
    return _csr_product(G, Z, out, transpose=True)


def _csr_product(G, Z, out, *, transpose: bool) -> np.ndarray:
    if isinstance(G, np.ndarray) and isinstance(Z, np.ndarray):  # dense: one GEMM
        if out is None:
            return G.T @ Z if transpose else G @ Z
        return np.matmul(G.T if transpose else G, Z, out=out)
    if is_torch(Z):
        return _torch_product(G, Z, out, transpose=transpose)
    n_in, n_out = (G.shape[0], G.shape[1]) if transpose else (G.shape[1], G.shape[0])
    compiled = _compiled()
    if (compiled is None or not sp.issparse(G) or G.format != "csr" or G.dtype != np.float64
            or Z.ndim != 2 or Z.dtype != np.float64 or G.indices.dtype not in _UNSIGNED
            or G.indptr.dtype not in _UNSIGNED):
        result = G.T @ Z if transpose else G @ Z
        if out is None:
            return result
        out[...] = result
        return out
    if Z.shape[0] != n_in:
        raise ValueError(f"{'Gᵀ' if transpose else 'G'} Z needs Z with {n_in} rows, got "
                         f"{Z.shape}")
    shape = (n_out, Z.shape[1])
    target = out
    if out is None or not out.flags.c_contiguous or out.dtype != np.float64:
        target = np.empty(shape)
    elif out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    n = threads()
    args = (_unsigned(G.indptr), _unsigned(G.indices), G.data, np.ascontiguousarray(Z), target)
    if not transpose:
        _kernels(n).csr_times_kernel(*args)
    elif n == 1:
        compiled.csr_t_times_kernel(*args)
    else:  # each thread scatters an equal share of the entries (whole rows)
        bounds = np.searchsorted(G.indptr, np.linspace(0, G.nnz, n + 1)).astype(np.int64)
        bounds[0], bounds[-1] = 0, G.shape[0]
        _kernels(n).csr_t_times_kernel(*args, bounds)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def _torch_product(G, Z, out, *, transpose: bool):
    """G Z or Gᵀ Z for a torch Z and G a dense or sparse (CSR/COO) tensor or a LowRank of
    tensors: torch's own products on Z's device, written into `out` when given."""
    if is_torch(G):
        result = (G.mT if transpose else G) @ Z
    else:
        result = (G.T if transpose else G) @ Z
    if out is None:
        return result
    out[...] = result
    return out


def _gather_buffers(buffers: list | None, n: int, r: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    if buffers and buffers[0].shape == (n, r) and buffers[0].dtype == dtype:
        return buffers[0], buffers[1]
    pair = [np.empty((n, r), dtype), np.empty((n, r), dtype)]
    if buffers is not None:
        buffers[:] = pair
    return pair[0], pair[1]


def sampled_gram(indptr: np.ndarray, cols: np.ndarray, factors: list, r0: np.ndarray):
    """The 3×3 Gram matrix of r0 and the sampled entries y_s = ((L_s R_sᵀ)_{i_k j_k})_k of two
    factored matrices `factors` = [(L_1, R_1), (L_2, R_2)], over the observations in CSR
    order (row pointer `indptr`, column indices `cols`; r0 in the same order), in one compiled
    pass that never stores the y_s (`sampled_gram2_kernel`; a sum, so any order of the
    observations gives the same matrix). None when the compiled loops are off, the number
    of factored matrices is not two, or an array is not float64 NumPy."""
    compiled = _compiled()
    if compiled is None or len(factors) != 2 or type(r0) is not np.ndarray or (
            r0.dtype != np.float64) or any(type(a) is not np.ndarray or a.dtype != np.float64
                                           for f in factors for a in f):
        return None
    (L1, R1), (L2, R2) = ((np.ascontiguousarray(a), np.ascontiguousarray(b)) for a, b in factors)
    g00, g01, g02, g11, g12, g22 = compiled.sampled_gram2_kernel(
        _unsigned(indptr), _unsigned(cols), L1, R1, L2, R2, np.ascontiguousarray(r0))
    return np.array([[g00, g01, g02], [g01, g11, g12], [g02, g12, g22]])
