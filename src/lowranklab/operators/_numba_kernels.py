"""Compiled loops (numba, the `fast` extra); imported on first use only, never at start-up.

Index arrays arrive as unsigned views of valid (non-negative) indices: numba then skips its
negative-index wrap-around branch, which halves the time of these memory-bound loops.
"""

import numba


@numba.njit(cache=True, nogil=True, fastmath=True)
def sampled_dot_kernel(rows, cols, U, V, out):  # pragma: no cover - compiled
    """out[k] = ⟨U[rows[k]], V[cols[k]]⟩, one pass, no gathered copy of the rows."""
    r = U.shape[1]
    for k in range(rows.shape[0]):
        i, j = rows[k], cols[k]
        s = 0.0
        for t in range(r):
            s += U[i, t] * V[j, t]
        out[k] = s


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
