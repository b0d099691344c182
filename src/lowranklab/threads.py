"""BLAS threads during a solve.

A solver's dense linear algebra on matrix completion is narrow: the factors are d×r with
r ≪ d (Gram matrices, thin QRs, r×r and 2r×2r SVDs), while the passes over the observations
are the compiled loops of `operators/kernels.py`. A threaded BLAS splits each narrow call over
its threads and pays their synchronization every time: on the 2-core development machine,
Riemannian CG to 1e-6 on 1000×1000 completion took 0.27–0.32 s with OpenBLAS's default two
threads and 0.044–0.046 s with one (6–7×; 1.0 s against 0.26 s at n = 5000). Dense sensing is
the opposite case: its pass over A is one large GEMV that gains from threads (7.0 against
8.7 ms per gradient at d = 100, m = 3000).

So `blas_limit(op)` limits the BLAS to one thread while a solve on an operator with
`narrow_blas = True` (entry sampling) runs and leaves it alone otherwise; `@blas_limited`
holds it around a whole solver call (the engine's `run`, `gradient_descent`,
`riemannian_gradient_descent`), set-up included: the truth's QRs for the test error, outside
the loop, cost a third of the loop's time with threads on the 2-core machine (rcg 0.064 s
with the limit around the loop only, 0.045 s around the call).

`LOWRANKLAB_BLAS_THREADS` overrides: "auto" (default) as described, "keep" never changes the
BLAS, an integer n limits every solve to n threads. The limit is threadpoolctl's, and it is
process-wide: solves running in several threads of one process share one limit, counted, so
that the first to start sets it and the last to end restores the BLAS as it was before the
first (nested limited calls, `run` inside `gradient_descent`, count the same way). Left to
threadpoolctl alone, each exit would restore what it saw on entry: of two overlapping solves
the one still running would lose its limit when the other ended, and the process could be
left on one BLAS thread for good (a count set in any thread holds for the process). While the
shared limit holds, a solve asking for another count (dense sensing, which keeps the BLAS as it
is) runs under it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from functools import cache

ENV = "LOWRANKLAB_BLAS_THREADS"


def policy() -> int | None:
    """The BLAS thread limit asked for by LOWRANKLAB_BLAS_THREADS: 0 for "auto", None for
    "keep", n ≥ 1 for an integer."""
    v = os.environ.get(ENV, "auto").strip()
    if v == "auto":
        return 0
    if v == "keep":
        return None
    try:
        n = int(v)
    except ValueError:
        n = 0
    if str(n) != v or n < 1:
        raise ValueError(f"{ENV} must be auto, keep or a positive integer, got {v!r}")
    return n


@cache
def _controller():
    """threadpoolctl's view of the loaded BLAS libraries, built once (about 1 ms; entering a
    limit with it costs a few µs)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def blas_limit(op) -> contextlib.AbstractContextManager:
    """A context in which the BLAS runs on the threads the policy gives for a solve on `op`
    (see the module docstring); a no-op context when nothing is to change."""
    p = policy()
    n = (1 if getattr(op, "narrow_blas", False) else None) if p == 0 else p
    if n is None:
        return contextlib.nullcontext()
    return _shared_limit(n)


_LOCK = threading.Lock()
_HELD: dict = {"count": 0, "limiter": None}  # the one limit the running solves share


@contextlib.contextmanager
def _shared_limit(n: int):
    """threadpoolctl's BLAS limit to n threads, shared by overlapping and nested callers: the
    first to enter sets it, the last to leave restores the limits from before the first."""
    with _LOCK:
        if _HELD["count"] == 0:
            _HELD["limiter"] = _controller().limit(limits=n, user_api="blas")
        _HELD["count"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HELD["count"] -= 1
            if _HELD["count"] == 0:
                _HELD["limiter"].restore_original_limits()
                _HELD["limiter"] = None


def operator_of(problem):
    """The measurement operator of an `Objective`, a space or a `Loss`, or the operator itself
    (None without one)."""
    if hasattr(problem, "forward_lr"):
        return problem
    loss = problem if hasattr(problem, "op") else getattr(problem, "loss", None)
    return getattr(loss, "op", None)


def blas_limited(fn):
    """Decorator: `fn(problem, ...)` runs under `blas_limit(operator_of(problem))`."""
    @functools.wraps(fn)
    def wrapper(problem, *args, **kwargs):
        with blas_limit(operator_of(problem)):
            return fn(problem, *args, **kwargs)
    return wrapper
