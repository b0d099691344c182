"""Multi-threaded variants of the compiled completion loops (numba `parallel=True`), used when
`kernels.set_threads(n)` or LOWRANKLAB_THREADS asks for n > 1 threads; imported on first such
use and compiled then (not cached on disk: the cache of a function is keyed by its source,
which the serial kernels of `_numba_kernels` share).

`sampled_dot` and G Z are the serial functions compiled in parallel: their `prange` loops
split independent outputs (one observed entry, one row of G Z) over the threads, so the
result is bitwise the serial one. Gᵀ Z scatters row i of G into the rows of the result, so
each thread sums its share of G's rows (split by entry count) into a private buffer and the
buffers are then added: the result agrees with the serial one to round-off and is the same
for the same number of threads.
"""

import numba
import numpy as np
from numba import prange

from lowranklab.operators import _numba_kernels as serial

_OPTS = {"parallel": True, "nogil": True, "fastmath": True}

sampled_dot_kernel = numba.njit(**_OPTS)(serial.sampled_dot_kernel.py_func)
sampled_dot_rows_kernel = numba.njit(**_OPTS)(serial.sampled_dot_rows_kernel.py_func)
csr_times_kernel = numba.njit(**_OPTS)(serial.csr_times_kernel.py_func)


@numba.njit(**_OPTS)
def csr_t_times_kernel(indptr, indices, data, Z, out, bounds):  # pragma: no cover - compiled
    """out = Gᵀ Z for G in CSR form, thread c scattering rows bounds[c]:bounds[c + 1] of G into
    its private buffer, then the buffers added."""
    threads, r = bounds.shape[0] - 1, Z.shape[1]
    buf = np.zeros((threads, out.shape[0], r))
    for c in prange(threads):
        for i in range(bounds[c], bounds[c + 1]):
            for k in range(indptr[i], indptr[i + 1]):
                j, y = indices[k], data[k]
                for t in range(r):
                    buf[c, j, t] += y * Z[i, t]
    for j in prange(out.shape[0]):
        for t in range(r):
            s = 0.0
            for c in range(threads):
                s += buf[c, j, t]
            out[j, t] = s
