"""SciPy-driven solvers (L-BFGS, BFGS) returning the engine's `Result`: the same stop codes,
trace rows on record steps only, callbacks, time budget, progress and Ctrl-C handling."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from lowranklab.solvers import monitors as mon
from lowranklab.solvers.engine import INTERRUPTED, catch_interrupt
from lowranklab.solvers.result import Result, StopCode, Trace


def minimize(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    method: str = "L-BFGS-B",
    options: dict | None = None,
    state: Callable[[int, np.ndarray, float, float], mon.State],
    monitors: Sequence[mon.Monitor] = (),
    record_every: int = 1,
    callbacks: Sequence[mon.Callback] = (),
    time_budget: float | None = None,
    progress: bool = False,
    name: str = "scipy",
) -> tuple[Result, object]:
    """scipy.optimize.minimize(fun, x0, jac=True) with the engine's bookkeeping.

    fun(x) -> (value, gradient); state(k, x, value, elapsed) builds the `State` monitors and
    callbacks see (called on record steps and for callbacks only, so SciPy's own iterations
    run at full speed). Returns the `Result` (stop `max_iter` unless a callback, the budget or
    Ctrl-C stopped it; the caller decides convergence from SciPy's answer) and SciPy's
    OptimizeResult (None after Ctrl-C)."""
    from scipy.optimize import minimize as sp_minimize

    if int(record_every) != record_every or record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every}")
    trace = Trace()
    t0 = time.perf_counter()
    n_evals = [0]
    status = {"stop": StopCode.MAX_ITER, "message": "", "k": 0, "x": np.asarray(x0)}
    last = [t0]

    def counted(x):
        n_evals[0] += 1
        return fun(x)

    def record(k, x, value, force=False):
        if force or k % record_every == 0:
            st = state(k, x, value, time.perf_counter() - t0)
            row = {"iter": k, "value": value, "time": st.elapsed}
            for m in monitors:
                row.update(m(st))
            if not trace.columns or trace.columns["iter"][-1] != k:
                trace.append(row)

    def cb(intermediate_result):
        x = intermediate_result.x
        status["k"] += 1
        status["x"] = x
        k = status["k"]
        record(k, x, float(intermediate_result.fun))
        now = time.perf_counter()
        if callbacks and any(c(state(k, x, float(intermediate_result.fun), now - t0))
                             for c in callbacks):
            status.update(stop=StopCode.INTERRUPTED, message="stopped by callback")
            raise StopIteration
        if time_budget is not None and now - t0 > time_budget:
            status.update(stop=StopCode.BUDGET, message=f"time budget {time_budget:g} s spent")
            raise StopIteration
        if progress and now - last[0] > 1.0:
            last[0] = now
            print(f"  {name} iter {k}  F={intermediate_result.fun:.10g}", file=sys.stderr)

    f0, _ = fun(np.asarray(x0))
    record(0, np.asarray(x0), float(f0), force=True)
    res = None
    with catch_interrupt() as ctrl_c:
        res = sp_minimize(counted, np.asarray(x0), jac=True, method=method, callback=cb,
                          options=options or {})
    if ctrl_c.fired:
        status.update(stop=StopCode.INTERRUPTED, message=INTERRUPTED)
        x = np.asarray(status["x"])
        value = float(fun(x)[0])
    else:
        x, value = res.x, float(res.fun)
    record(status["k"], x, value, force=True)
    out = Result(theta=np.array(x, copy=True), X=None, stop=status["stop"],
                 iterations=status["k"], trace=trace, counts={"grad_evals": n_evals[0]},
                 wall_time=time.perf_counter() - t0, message=status["message"],
                 info={"solver": name, "method": method})
    return out, res
