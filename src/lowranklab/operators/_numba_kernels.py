"""Compiled loops (numba, the `fast` extra); imported on first use only, never at start-up.

Index arrays arrive as unsigned views of valid (non-negative) indices: numba then skips its
negative-index wrap-around branch, which halves the time of these memory-bound loops.

The outer loops over independent outputs are written with `prange`: compiled here (serially)
it is `range`; `_numba_parallel` compiles the same functions with `parallel=True`.
"""

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True, nogil=True, fastmath=True)
def sampled_dot_kernel(rows, cols, U, V, out):  # pragma: no cover - compiled
    """out[k] = ⟨U[rows[k]], V[cols[k]]⟩, one pass, no gathered copy of the rows."""
    r = U.shape[1]
    for k in prange(rows.shape[0]):
        i, j = rows[k], cols[k]
        s = 0.0
        for t in range(r):
            s += U[i, t] * V[j, t]
        out[k] = s


_NARROW = 6  # up to this many columns, csr_times_kernel accumulates in registers
_ROWS = 64  # rows of G per chunk of the outer loop (one accumulator array per chunk)


@numba.njit(cache=True, nogil=True, fastmath=True)
def csr_times_kernel(indptr, indices, data, Z, out):  # pragma: no cover - compiled
    """out = G Z for G in CSR form: out[i] = Σ_k data[k]·Z[indices[k]] over row i of G.

    Each row of out is summed in a private accumulator, never in out itself: an update of
    out[i] in memory is a load and a store the compiler cannot drop (out might alias Z). For
    r ≤ 6 columns the accumulators are scalars (registers), in blocks of 4 columns and one pass
    over the row's entries per block; for wider Z a local r-vector, summed in one vectorized
    pass (each further pass would gather the rows of Z again). On 1000×1000 completion with
    99 500 entries the vector takes 0.69–0.79× the time of the blocks of 8 + 1 + 1 it replaced
    at r = 10 (`python -m benchmarks.micro`, `csr_times_n1000_r10`); the threshold r = 7 is
    where a sweep over r = 1…40 found the vector no slower than the blocks. The outer loop
    runs over chunks of `_ROWS` rows, each with its own accumulator, so that `prange`
    (`_numba_parallel`) splits independent outputs."""
    r = Z.shape[1]
    n = indptr.shape[0] - 1
    if r > _NARROW:
        for c in prange((n + _ROWS - 1) // _ROWS):
            acc = np.empty(r)
            for i in range(c * _ROWS, min(n, (c + 1) * _ROWS)):
                for t in range(r):
                    acc[t] = 0.0
                for k in range(indptr[i], indptr[i + 1]):
                    j, y = indices[k], data[k]
                    for t in range(r):
                        acc[t] += y * Z[j, t]
                for t in range(r):
                    out[i, t] = acc[t]
        return
    for i in prange(n):
        lo, hi = indptr[i], indptr[i + 1]
        t = 0
        while t + 4 <= r:
            a0 = a1 = a2 = a3 = 0.0
            for k in range(lo, hi):
                j, y = indices[k], data[k]
                a0 += y * Z[j, t]
                a1 += y * Z[j, t + 1]
                a2 += y * Z[j, t + 2]
                a3 += y * Z[j, t + 3]
            out[i, t], out[i, t + 1], out[i, t + 2], out[i, t + 3] = a0, a1, a2, a3
            t += 4
        while t < r:
            a0 = 0.0
            for k in range(lo, hi):
                a0 += data[k] * Z[indices[k], t]
            out[i, t] = a0
            t += 1


@numba.njit(cache=True, nogil=True, fastmath=True)
def csr_t_times_kernel(indptr, indices, data, Z, out):  # pragma: no cover - compiled
    """out = Gᵀ Z for G in CSR form: row i of G scatters data[k]·Z[i] into out[indices[k]]."""
    r = Z.shape[1]
    out[:] = 0.0
    for i in range(indptr.shape[0] - 1):
        for k in range(indptr[i], indptr[i + 1]):
            j, y = indices[k], data[k]
            for t in range(r):
                out[j, t] += y * Z[i, t]


@numba.njit(cache=True, nogil=True, fastmath=True)
def sampled_gram2_kernel(rows, cols, L1, R1, L2, R2, r0):  # pragma: no cover - compiled
    """The six sums Σ_k y_a[k] y_c[k] (a ≤ c) of y_0 = r0, y_1[k] = ⟨L1[i_k], R1[j_k]⟩ and
    y_2[k] = ⟨L2[i_k], R2[j_k]⟩, in one pass held in scalars (registers), y_1 and y_2 never
    stored: the Gram matrix of an exact line search along a two-factor product."""
    k1, k2 = L1.shape[1], L2.shape[1]
    g00 = g01 = g02 = g11 = g12 = g22 = 0.0
    for k in range(rows.shape[0]):
        i, j = rows[k], cols[k]
        y1 = 0.0
        for t in range(k1):
            y1 += L1[i, t] * R1[j, t]
        y2 = 0.0
        for t in range(k2):
            y2 += L2[i, t] * R2[j, t]
        y0 = r0[k]
        g00 += y0 * y0
        g01 += y0 * y1
        g02 += y0 * y2
        g11 += y1 * y1
        g12 += y1 * y2
        g22 += y2 * y2
    return g00, g01, g02, g11, g12, g22
