"""Gradient descent on F(θ) = f(X(θ)) + ρ(θ) with a constant step or Armijo backtracking."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from lowranklab.lowrank import Matrix
from lowranklab.objective import Objective
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result, StopCode, Trace
from lowranklab.solvers.step import default_step

Callback = Callable[[mon.State], bool | None]


def gradient_descent(
    objective: Objective,
    theta0: np.ndarray,
    *,
    step: float | None = None,
    line_search: str = "constant",
    max_iter: int = 1000,
    tol: float | None = None,
    gtol: float | None = None,
    stall_tol: float | None = None,
    stall_window: int = 50,
    blowup: float = 1e8,
    time_budget: float | None = None,
    truth: Matrix | None = None,
    monitors: Sequence[mon.Monitor] | None = None,
    record_every: int = 1,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    armijo_c: float = 1e-4,
    armijo_beta: float = 0.5,
) -> Result:
    """θ_{k+1} = θ_k − η_k ∇F(θ_k).

    Stops with `converged` once the training error ‖A(X) − b‖² (F itself for losses without
    one) is ≤ `tol`, or ‖∇F‖ ≤ `gtol`; `diverged` when F becomes non-finite or exceeds
    `blowup`·max(F(θ₀), 1) (the last finite iterate is returned); `stalled` when
    |F_k − F_{k−1}| ≤ stall_tol·|F_k| for `stall_window` consecutive steps; `budget` after
    `time_budget` seconds; `interrupted` when a callback returns True or on Ctrl-C.

    step: the constant step (default: `default_step`, 1/λ_max of the Hessian at the spectral
    estimate); with line_search="armijo" it is the largest step tried, and each iteration starts
    from twice the last accepted step and halves until F decreases by armijo_c·η‖∇F‖².
    """
    theta = objective.model.check(theta0, "theta0").copy()
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta0 must be finite")
    if line_search not in ("constant", "armijo"):
        raise ValueError(f"line_search must be 'constant' or 'armijo', got {line_search!r}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    if int(record_every) != record_every or record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every}")
    if step is None:
        step = default_step(objective)
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite number > 0, got {step}")

    if monitors is None:
        monitors = [mon.training_error(objective.loss), mon.spectrum()]
        if truth is not None:
            monitors.append(mon.test_error(truth))
    monitors = [mon.basic, *monitors]
    ls_train = mon.training_error(objective.loss)

    def target(e) -> float:
        return ls_train(_dummy(e)).get("train_error", e.value)

    op = getattr(objective.loss, "op", None)
    counts0 = dict(op.counts) if op is not None else {}
    trace = Trace()
    t0 = time.perf_counter()
    e = objective.evaluate(theta)
    n_evals = 1
    f_ref = max(abs(e.value), 1.0)
    eta = float(step)
    stop, message, k = StopCode.MAX_ITER, "", 0
    stalled_for = 0
    last_report = t0

    def record(k: int, e, force: bool = False) -> None:
        if force or k % record_every == 0:
            state = mon.State(k, theta, e, time.perf_counter() - t0, eta)
            row: dict[str, float] = {}
            for m in monitors:
                row.update(m(state))
            trace.append(row)

    try:
        if not np.isfinite(e.value):
            raise ValueError("F(theta0) is not finite")
        for k in range(max_iter + 1):
            gnorm = float(np.linalg.norm(e.grad))
            if tol is not None and target(e) <= tol:
                stop, message = StopCode.CONVERGED, f"training error <= {tol:g}"
                break
            if gtol is not None and gnorm <= gtol:
                stop, message = StopCode.CONVERGED, f"gradient norm <= {gtol:g}"
                break
            if k == max_iter:
                break
            if time_budget is not None and time.perf_counter() - t0 > time_budget:
                stop, message = StopCode.BUDGET, f"time budget {time_budget:g} s spent"
                break
            state = mon.State(k, theta, e, time.perf_counter() - t0, eta)
            if any(cb(state) for cb in callbacks):
                stop, message = StopCode.INTERRUPTED, "stopped by callback"
                break
            record(k, e)
            if progress and time.perf_counter() - last_report > 1.0:
                last_report = time.perf_counter()
                print(f"  gd iter {k}/{max_iter}  F={e.value:.3e}  |grad|={gnorm:.2e}",
                      file=sys.stderr)

            if line_search == "armijo":
                eta = min(2.0 * eta, float(step)) if k else float(step)
                while True:
                    trial = theta - eta * e.grad
                    e_new = objective.evaluate(trial)
                    n_evals += 1
                    if np.isfinite(e_new.value) and (
                        e_new.value <= e.value - armijo_c * eta * gnorm**2
                    ):
                        break
                    eta *= armijo_beta
                    if eta < 1e-300:
                        break
            else:
                trial = theta - eta * e.grad
                e_new = objective.evaluate(trial)
                n_evals += 1

            if not np.isfinite(e_new.value) or not np.all(np.isfinite(e_new.grad)) or (
                e_new.value > blowup * f_ref
            ):
                stop = StopCode.DIVERGED
                message = (f"F = {e_new.value:.3e} at iteration {k + 1} "
                           f"(F0 = {f_ref:.3e}); last finite iterate returned")
                break
            if stall_tol is not None and abs(e_new.value - e.value) <= stall_tol * abs(
                e_new.value
            ):
                stalled_for += 1
                if stalled_for >= stall_window:
                    theta, e = trial, e_new
                    k += 1
                    stop, message = StopCode.STALLED, f"no progress for {stall_window} steps"
                    break
            else:
                stalled_for = 0
            theta, e = trial, e_new
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"

    record(k, e, force=True)
    counts = {"grad_evals": n_evals}
    if op is not None:
        counts.update({key: v - counts0.get(key, 0) for key, v in op.counts.items()})
    return Result(theta=theta, X=e.X, stop=stop, iterations=k, trace=trace, counts=counts,
                  wall_time=time.perf_counter() - t0, message=message,
                  info={"step": float(step), "line_search": line_search})


def _dummy(e) -> mon.State:
    return mon.State(0, None, e, 0.0, 0.0)
