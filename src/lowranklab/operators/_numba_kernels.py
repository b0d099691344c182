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


# unsigned offsets for positions k read off an unsigned indptr (numba types uint64 + int64 as
# float64; uint32 or uint64 + uint64 stays an unsigned integer)
_U1, _U2, _U3, _U4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)


@numba.njit(cache=True, nogil=True, fastmath=True)
def sampled_dot_rows_kernel(indptr, cols, U, V, out):  # pragma: no cover - compiled
    """`sampled_dot_kernel` for observations in row order (rows[k] = i for indptr[i] ≤ k <
    indptr[i + 1]): row by row, four entries per pass over t sharing the load of U[i, t] and
    four rows of V in flight. On 1000×1000 completion (|Ω| = 99 500) it took 0.54–0.71× the
    time of the entry-by-entry loop in a sweep over r = 1…40, and 0.70× at r = 10 in
    `python -m benchmarks.micro` (`sampled_dot_n1000_r10`)."""
    r = U.shape[1]
    one, two, three, four = _U1, _U2, _U3, _U4
    for i in prange(indptr.shape[0] - 1):
        k, hi = indptr[i], indptr[i + 1]
        while k + four <= hi:
            j0, j1, j2, j3 = cols[k], cols[k + one], cols[k + two], cols[k + three]
            s0 = s1 = s2 = s3 = 0.0
            for t in range(r):
                u = U[i, t]
                s0 += u * V[j0, t]
                s1 += u * V[j1, t]
                s2 += u * V[j2, t]
                s3 += u * V[j3, t]
            out[k], out[k + one], out[k + two], out[k + three] = s0, s1, s2, s3
            k += four
        while k < hi:
            j = cols[k]
            s = 0.0
            for t in range(r):
                s += U[i, t] * V[j, t]
            out[k] = s
            k += one


_NARROW = 6  # up to this many columns, csr_times_kernel accumulates in registers
_ROWS = 64  # rows of G per chunk of the outer loop (one accumulator array per chunk)


@numba.njit(cache=True, nogil=True, fastmath=True)
def csr_times_kernel(indptr, indices, data, Z, out):  # pragma: no cover - compiled
    """out = G Z for G in CSR form: out[i] = Σ_k data[k]·Z[indices[k]] over row i of G.

    Each row of out is summed in a private accumulator, never in out itself: an update of
    out[i] in memory is a load and a store the compiler cannot drop (out might alias Z). For
    r ≤ 6 columns the accumulators are scalars (registers), in blocks of 4 columns and one pass
    over the row's entries per block; for wider Z a local r-vector, summed in one vectorized
    pass (each further pass would gather the rows of Z again) that takes four entries of the
    row at a time (four rows of Z in flight: 0.57–0.77× the time of one entry at a time in a
    sweep over r = 7…40 on 1000×1000 completion with 99 500 entries, 0.54–0.58× at r = 10 in
    `python -m benchmarks.micro`, `csr_times_n1000_r10`; at r ≤ 6 it was slower than the
    register blocks). The threshold
    r = 7 is where a sweep over r = 1…40 found the vector no slower than the blocks. The outer loop
    runs over chunks of `_ROWS` rows, each with its own accumulator, so that `prange`
    (`_numba_parallel`) splits independent outputs."""
    r = Z.shape[1]
    n = indptr.shape[0] - 1
    one, two, three, four = _U1, _U2, _U3, _U4
    if r > _NARROW:
        for c in prange((n + _ROWS - 1) // _ROWS):
            acc = np.empty(r)
            for i in range(c * _ROWS, min(n, (c + 1) * _ROWS)):
                for t in range(r):
                    acc[t] = 0.0
                k, hi = indptr[i], indptr[i + 1]
                while k + four <= hi:  # four entries per pass over acc: four rows of Z in flight
                    j0, j1 = indices[k], indices[k + one]
                    j2, j3 = indices[k + two], indices[k + three]
                    y0, y1, y2, y3 = data[k], data[k + one], data[k + two], data[k + three]
                    for t in range(r):
                        acc[t] += (y0 * Z[j0, t] + y1 * Z[j1, t]) + (y2 * Z[j2, t]
                                                                     + y3 * Z[j3, t])
                    k += four
                while k < hi:
                    j, y = indices[k], data[k]
                    for t in range(r):
                        acc[t] += y * Z[j, t]
                    k += one
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
def sampled_gram2_kernel(indptr, cols, L1, R1, L2, R2, r0):  # pragma: no cover - compiled
    """The six sums Σ_k y_a[k] y_c[k] (a ≤ c) of y_0 = r0, y_1[k] = ⟨L1[i_k], R1[j_k]⟩ and
    y_2[k] = ⟨L2[i_k], R2[j_k]⟩ over the CSR pattern (indptr, cols) with r0 in CSR order, in
    one pass held in scalars (registers), y_1 and y_2 never stored: the Gram matrix of an exact
    line search along a two-factor product. Row by row, four entries per pass sharing L1[i],
    L2[i] (0.59–0.74× the entry-by-entry pass it replaced on 1000×1000 completion,
    |Ω| = 99 500, k1 = 20, k2 = 10)."""
    k1, k2 = L1.shape[1], L2.shape[1]
    g00 = g01 = g02 = g11 = g12 = g22 = 0.0
    one, two, three, four = _U1, _U2, _U3, _U4
    for i in range(indptr.shape[0] - 1):
        k, hi = indptr[i], indptr[i + 1]
        while k + four <= hi:
            ja, jb, jc, jd = cols[k], cols[k + one], cols[k + two], cols[k + three]
            a1 = b1 = c1 = d1 = 0.0
            for t in range(k1):
                u = L1[i, t]
                a1 += u * R1[ja, t]
                b1 += u * R1[jb, t]
                c1 += u * R1[jc, t]
                d1 += u * R1[jd, t]
            a2 = b2 = c2 = d2 = 0.0
            for t in range(k2):
                u = L2[i, t]
                a2 += u * R2[ja, t]
                b2 += u * R2[jb, t]
                c2 += u * R2[jc, t]
                d2 += u * R2[jd, t]
            a0, b0, c0, d0 = r0[k], r0[k + one], r0[k + two], r0[k + three]
            g00 += (a0 * a0 + b0 * b0) + (c0 * c0 + d0 * d0)
            g01 += (a0 * a1 + b0 * b1) + (c0 * c1 + d0 * d1)
            g02 += (a0 * a2 + b0 * b2) + (c0 * c2 + d0 * d2)
            g11 += (a1 * a1 + b1 * b1) + (c1 * c1 + d1 * d1)
            g12 += (a1 * a2 + b1 * b2) + (c1 * c2 + d1 * d2)
            g22 += (a2 * a2 + b2 * b2) + (c2 * c2 + d2 * d2)
            k += four
        while k < hi:
            j = cols[k]
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
            k += one
    return g00, g01, g02, g11, g12, g22
