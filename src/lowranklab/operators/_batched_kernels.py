"""Compiled loop of a batched dense sensing step (numba, the `fast` extra); imported on first
use only, through `operators.batched._fused()`."""

import numba


@numba.njit(cache=True, nogil=True, fastmath=True)
def half_residual_adjoint(M, x, bv, r, s):  # pragma: no cover - compiled
    """For every trial b, in one pass over M[b] (B, m, N): r[b, i] = ⟨M[b, i], x[b]⟩ − bv[b, i]
    and s[b] = Σ_i r[b, i] M[b, i] — the residual is known as soon as row i is read, so the
    adjoint takes row i while it is still in cache (one memory pass per step, not two)."""
    B, m, N = M.shape
    for b in range(B):
        for j in range(N):
            s[b, j] = 0.0
        for i in range(m):
            acc = 0.0
            for j in range(N):
                acc += M[b, i, j] * x[b, j]
            ri = acc - bv[b, i]
            r[b, i] = ri
            for j in range(N):
                s[b, j] += ri * M[b, i, j]
