"""Compiled loops (numba, the `fast` extra); imported on first use only, never at start-up.

Index arrays arrive as unsigned views of valid (non-negative) indices: numba then skips its
negative-index wrap-around branch, which halves the time of these memory-bound loops.

The outer loops over independent outputs are written with `prange`: compiled here (serially)
it is `range`; `_numba_parallel` compiles the same functions with `parallel=True`.
"""

import numba
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


_NARROW = 16  # up to this many columns, csr_times_kernel accumulates in registers


@numba.njit(cache=True, nogil=True, fastmath=True)
def csr_times_kernel(indptr, indices, data, Z, out):  # pragma: no cover - compiled
    """out = G Z for G in CSR form: out[i] = Σ_k data[k]·Z[indices[k]] over row i of G.

    For narrow Z (r ≤ 16, the usual rank) each row of out is summed in blocks of 8 columns held
    in scalar accumulators (registers), one pass over the row's entries per block: this halves
    the time against summing into out[i] in memory, whose every update is a load and a store
    the compiler cannot drop (out might alias Z). For wider Z the extra passes, each gathering
    rows of Z again, cost more than that saves, so it sums into out[i] directly."""
    r = Z.shape[1]
    for i in prange(indptr.shape[0] - 1):
        lo, hi = indptr[i], indptr[i + 1]
        if r > _NARROW:
            out[i, :] = 0.0
            for k in range(lo, hi):
                j, y = indices[k], data[k]
                for t in range(r):
                    out[i, t] += y * Z[j, t]
            continue
        t = 0
        while t + 8 <= r:
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
            for k in range(lo, hi):
                j, y = indices[k], data[k]
                a0 += y * Z[j, t]
                a1 += y * Z[j, t + 1]
                a2 += y * Z[j, t + 2]
                a3 += y * Z[j, t + 3]
                a4 += y * Z[j, t + 4]
                a5 += y * Z[j, t + 5]
                a6 += y * Z[j, t + 6]
                a7 += y * Z[j, t + 7]
            out[i, t], out[i, t + 1], out[i, t + 2], out[i, t + 3] = a0, a1, a2, a3
            out[i, t + 4], out[i, t + 5], out[i, t + 6], out[i, t + 7] = a4, a5, a6, a7
            t += 8
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
