"""Compiled loop of a batched dense sensing step (numba, the `fast` extra); imported on first
use only, through `operators.batched._fused()`."""

import numba


@numba.njit(cache=True, nogil=True, fastmath=True)
def half_residual_adjoint(M, x, bv, r, s):  # pragma: no cover - compiled
    """For every trial b, in one pass over M[b] (B, m, N): r[b, i] = ⟨M[b, i], x[b]⟩ − bv[b, i]
    and s[b] = Σ_i r[b, i] M[b, i]. The residual of row i is known as soon as the row is read,
    so the adjoint uses it while it is still in cache: one memory pass per step, not two.
    Rows go four at a time (four dot products against one read of x, then one update of s
    with four rows), which brings the pass to the speed of one BLAS GEMV (measured: 33 µs
    per trial at m = 240, N = 465 against 31 µs for the bare GEMV, one core)."""
    B, m, N = M.shape
    for b in range(B):
        xb, sb, Mb = x[b], s[b], M[b]
        for j in range(N):
            sb[j] = 0.0
        i = 0
        while i + 3 < m:
            r0, r1, r2, r3 = Mb[i], Mb[i + 1], Mb[i + 2], Mb[i + 3]
            a0 = a1 = a2 = a3 = 0.0
            for j in range(N):
                xj = xb[j]
                a0 += r0[j] * xj
                a1 += r1[j] * xj
                a2 += r2[j] * xj
                a3 += r3[j] * xj
            a0 -= bv[b, i]
            a1 -= bv[b, i + 1]
            a2 -= bv[b, i + 2]
            a3 -= bv[b, i + 3]
            r[b, i], r[b, i + 1], r[b, i + 2], r[b, i + 3] = a0, a1, a2, a3
            for j in range(N):
                sb[j] += a0 * r0[j] + a1 * r1[j] + a2 * r2[j] + a3 * r3[j]
            i += 4
        while i < m:
            row = Mb[i]
            acc = 0.0
            for j in range(N):
                acc += row[j] * xb[j]
            acc -= bv[b, i]
            r[b, i] = acc
            for j in range(N):
                sb[j] += acc * row[j]
            i += 1
