"""The iteration bookkeeping every first-order solver on an `Objective` shares."""

from __future__ import annotations

import sys
import time

import numpy as np

from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result, StopCode, Trace
from lowranklab.solvers.step import default_step


class IterationLoop:
    """Bookkeeping shared by the first-order solvers on an `Objective`: argument checks, the
    default step, monitors and trace, stop tests (tol, gtol, budget, callbacks), divergence
    detection on every move, progress lines, operator counts and the final `Result`.

    A solver keeps only its update rule:

        L = IterationLoop(objective, theta0, step, truth, monitors, record_every, callbacks,
                          progress, time_budget, blowup, "name")
        for k in range(max_iter + 1):
            if (hit := L.checks(k, tol, gtol, max_iter)): ...; break
            L.record(k, {})
            if (hit := L.move(L.theta - L.step * L.e.grad, k)): ...; break
        return L.result(k, stop, message, {}, info)
    """

    def __init__(self, objective, theta0, step, truth, monitors, record_every, callbacks,
                 progress, time_budget, blowup, name):
        self.objective = objective
        theta = objective.model.check(theta0, "theta0").copy()
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta0 must be finite")
        if int(record_every) != record_every or record_every < 1:
            raise ValueError(f"record_every must be a positive integer, got {record_every}")
        if step is None:
            step = default_step(objective)
        if not (np.isfinite(step) and step > 0):
            raise ValueError(f"step must be a finite number > 0, got {step}")
        self.theta, self.step = theta, float(step)
        if monitors is None:
            monitors = [mon.training_error(objective.loss), mon.spectrum()]
            if truth is not None:
                monitors.append(mon.test_error(truth))
        self.monitors = [mon.basic, *monitors]
        self.record_every = int(record_every)
        self.callbacks = list(callbacks)
        self.progress, self.time_budget, self.name = progress, time_budget, name
        self.trace = Trace()
        op = getattr(objective.loss, "op", None)
        self.op = op
        self.counts0 = dict(op.counts) if op is not None else {}
        self.t0 = self.last_report = time.perf_counter()
        self.e = objective.evaluate(theta)
        if not np.isfinite(self.e.value):
            raise ValueError("F(theta0) is not finite")
        self.n_evals = 1
        self.f_ref = max(abs(self.e.value), 1.0)
        self.blowup = blowup
        self._ls = mon.training_error(objective.loss)

    def target(self) -> float:
        return self._ls(mon.State(0, None, self.e, 0.0, 0.0)).get("train_error", self.e.value)

    def record(self, k: int, extra: dict[str, float], force: bool = False) -> None:
        if force or k % self.record_every == 0:
            state = mon.State(k, self.theta, self.e, time.perf_counter() - self.t0, self.step)
            row: dict[str, float] = {}
            for m in self.monitors:
                row.update(m(state))
            row.update(extra)
            self.trace.append(row)

    def checks(self, k: int, tol, gtol, max_iter: int | None = None
               ) -> tuple[StopCode, str] | None:
        """The stop tests at iterate k, in order: tol, gtol, max_iter, budget, callbacks."""
        gnorm = float(np.linalg.norm(self.e.grad))
        if tol is not None and self.target() <= tol:
            return StopCode.CONVERGED, f"training error <= {tol:g}"
        if gtol is not None and gnorm <= gtol:
            return StopCode.CONVERGED, f"gradient norm <= {gtol:g}"
        if max_iter is not None and k >= max_iter:
            return StopCode.MAX_ITER, f"{max_iter} iterations"
        if self.time_budget is not None and time.perf_counter() - self.t0 > self.time_budget:
            return StopCode.BUDGET, f"time budget {self.time_budget:g} s spent"
        state = mon.State(k, self.theta, self.e, time.perf_counter() - self.t0, self.step)
        if any(cb(state) for cb in self.callbacks):
            return StopCode.INTERRUPTED, "stopped by callback"
        if self.progress and time.perf_counter() - self.last_report > 1.0:
            self.last_report = time.perf_counter()
            print(f"  {self.name} iter {k}  F={self.e.value:.3e}  |grad|={gnorm:.2e}",
                  file=sys.stderr)
        return None

    def move(self, trial: np.ndarray, k: int) -> tuple[StopCode, str] | None:
        """Evaluate θ = trial and accept it (see `accept`)."""
        return self.accept(trial, self.evaluate(trial), k)

    def evaluate(self, theta: np.ndarray):
        self.n_evals += 1
        return self.objective.evaluate(theta)

    def accept(self, trial: np.ndarray, e_new, k: int) -> tuple[StopCode, str] | None:
        """Make `trial` the iterate, unless F is non-finite or above blowup·max(|F₀|, 1): then
        report `diverged` and keep the last finite iterate."""
        if not np.isfinite(e_new.value) or not np.all(np.isfinite(e_new.grad)) or (
            e_new.value > self.blowup * self.f_ref
        ):
            return StopCode.DIVERGED, (f"F = {e_new.value:.3e} at iteration {k + 1}; "
                                       "last finite iterate returned")
        self.theta, self.e = trial, e_new
        return None

    def result(self, k: int, stop: StopCode, message: str, extra: dict, info: dict) -> Result:
        self.record(k, extra, force=True)
        counts = {"grad_evals": self.n_evals}
        if self.op is not None:
            counts.update({key: v - self.counts0.get(key, 0) for key, v in self.op.counts.items()})
        info = {"step": self.step, **info}
        return Result(theta=self.theta, X=self.e.X, stop=stop, iterations=k, trace=self.trace,
                      counts=counts, wall_time=time.perf_counter() - self.t0, message=message,
                      info=info)
