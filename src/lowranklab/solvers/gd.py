"""Gradient descent on F(θ) = f(X(θ)) + ρ(θ) with a constant step or Armijo backtracking."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lowranklab.lowrank import Matrix
from lowranklab.objective import Objective
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.loop import IterationLoop
from lowranklab.solvers.result import Result, StopCode

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

    step: the constant step (default: `default_step`, ½/λ_max of the Hessian at the spectral
    estimate); with line_search="armijo" it is the largest step tried, and each iteration starts
    from twice the last accepted step and halves until F decreases by armijo_c·η‖∇F‖².
    """
    if line_search not in ("constant", "armijo"):
        raise ValueError(f"line_search must be 'constant' or 'armijo', got {line_search!r}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    L = IterationLoop(objective, theta0, step, truth, monitors, record_every, callbacks,
                      progress, time_budget, blowup, "gd")
    step0 = L.step
    stop, message, k = StopCode.MAX_ITER, "", 0
    stalled_for = 0
    try:
        for k in range(max_iter + 1):
            hit = L.checks(k, tol, gtol, max_iter)
            if hit:
                stop, message = hit
                break
            L.record(k, {})
            e = L.e
            if line_search == "armijo":
                L.step = min(2.0 * L.step, step0) if k else step0
                g2 = float(e.grad @ e.grad)
                while True:
                    trial = L.theta - L.step * e.grad
                    e_new = L.evaluate(trial)
                    if np.isfinite(e_new.value) and (
                        e_new.value <= e.value - armijo_c * L.step * g2
                    ) or L.step < 1e-300:
                        break
                    L.step *= armijo_beta
            else:
                trial = L.theta - L.step * e.grad
                e_new = L.evaluate(trial)
            hit = L.accept(trial, e_new, k)
            if hit:
                stop, message = hit
                break
            if stall_tol is not None and abs(e_new.value - e.value) <= stall_tol * abs(
                e_new.value
            ):
                stalled_for += 1
                if stalled_for >= stall_window:
                    k += 1
                    stop, message = StopCode.STALLED, f"no progress for {stall_window} steps"
                    break
            else:
                stalled_for = 0
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"
    return L.result(k, stop, message, {}, {"solver": "gd", "step": step0,
                                            "line_search": line_search})
