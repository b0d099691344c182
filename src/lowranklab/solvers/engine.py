"""The one solve engine (DESIGN.md, "Solvers and results"): every iterative solver is

    run(space, x0, rule, stop=Stop(...), monitors=..., callbacks=..., hooks=...) -> Result

What varies is declared, not re-looped:

- the **space** — `FlatSpace(objective)` moves θ ∈ R^n by θ + tξ; `ManifoldSpace(loss,
  manifold)` moves a point of the fixed-rank manifold by its retraction. Both evaluate through
  the loss ∘ parametrization interface and return an `Evaluation`;
- the **step rule** (`solvers/rules.py`): how far, and along which direction, to move;
- **hooks** (`solvers/hooks.py`) that may replace the iterate (perturbation, restart,
  projection) or finish the run;
- the **stop** tests (`Stop`), written once: tolerances, stall, time budget, divergence,
  callbacks and Ctrl-C.

Monitors run on record steps only, so the loop stays at the speed of the step; callbacks run
at every iteration (a callback must be able to stop the run at any step).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lowranklab.backend import all_finite, copy, vdot
from lowranklab.objective import Evaluation, Objective
from lowranklab.problems.loss import LeastSquares, Loss
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result, StopCode, Trace
from lowranklab.threads import blas_limited

AUTO = "auto"
DEFAULT_RTOL_TRAIN = 1e-14  # converged when ‖A(X) − b‖² ≤ 1e-14·max(‖b‖², 1) (see Stop)
DEFAULT_FTOL = 10 * np.finfo(float).eps  # stalled: no relative decrease above 10 eps ...
DEFAULT_STALL_WINDOW = 100  # ... over this many iterations


class CtrlC:
    """Whether a Ctrl-C ended the block of `catch_interrupt`."""

    fired = False


@contextlib.contextmanager
def catch_interrupt():
    """`with catch_interrupt() as c: ...` ends the block on Ctrl-C (KeyboardInterrupt) and sets
    `c.fired`, so the caller returns its partial result as `interrupted`: the one place
    solvers handle Ctrl-C (the engine's loop, the SciPy adapter, the GLRL and sdp-bm outer
    loops between their inner solves)."""
    c = CtrlC()
    try:
        yield c
    except KeyboardInterrupt:
        c.fired = True


INTERRUPTED = "interrupted (Ctrl-C)"


class StopRun(Exception):  # noqa: N818 (a control-flow signal, not an error)
    """Raised by a rule that cannot take the step (e.g. a singular system): the run ends at
    the current iterate with `code` and `message`."""

    def __init__(self, code: StopCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _check_tol(name: str, v, *, allow_auto: bool = False) -> None:
    if v is None or (allow_auto and isinstance(v, str) and v == AUTO):
        return
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number or None, got {v!r}")
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 or None, got {v}")


@dataclass(frozen=True)
class Stop:
    """The stop tests, in the order they are tried at each iterate:

    - tol: training error ‖A(X) − b‖² (F itself for losses without measurements) ≤ tol →
      `converged`. "auto" (default) means 1e-14·max(‖b‖², 1) for least squares (a relative
      residual of 1e-7) and no test for other losses, or when gtol or rtol is given;
    - gtol: ‖∇F‖ ≤ gtol → `converged`;
    - rtol: ‖X − X♮‖_F ≤ rtol·‖X♮‖_F (needs the truth) → `converged`;
    - xtol: the step ‖x_{k+1} − x_k‖ = t_k‖ξ_k‖ ≤ xtol·max(1, ‖x_k‖) → `converged` (flat space;
      eftekhari2021 spec §2's stop for Algorithm 1);
    - max_iter → `max_iter`; time_budget (seconds) → `budget`;
    - ftol / stall_window: the best F has not dropped by more than ftol·|F| over the last
      stall_window iterations → `stalled` (default 10 machine epsilons over 100 iterations:
      F no longer changes in its last digits); ftol=None switches the test off;
    - blowup: F non-finite or above blowup·max(|F₀|, 1) → `diverged`, last finite iterate kept.

    Every tolerance is validated here, once: negative, NaN or non-numeric values are errors.
    The papers' experiments pass their own explicit settings.
    """

    max_iter: int = 1000
    tol: float | str | None = AUTO
    gtol: float | None = None
    rtol: float | None = None
    xtol: float | None = None
    ftol: float | None = DEFAULT_FTOL
    stall_window: int = DEFAULT_STALL_WINDOW
    time_budget: float | None = None
    blowup: float = 1e8

    def __post_init__(self) -> None:
        if isinstance(self.max_iter, bool) or int(self.max_iter) != self.max_iter or (
                self.max_iter < 0):
            raise ValueError(f"max_iter must be a non-negative integer, got {self.max_iter}")
        _check_tol("tol", self.tol, allow_auto=True)
        _check_tol("gtol", self.gtol)
        _check_tol("rtol", self.rtol)
        _check_tol("xtol", self.xtol)
        _check_tol("ftol", self.ftol)
        _check_tol("time_budget", self.time_budget)
        if int(self.stall_window) != self.stall_window or self.stall_window < 1:
            raise ValueError(f"stall_window must be a positive integer, got {self.stall_window}")
        if not (math.isfinite(self.blowup) and self.blowup > 1):
            raise ValueError(f"blowup must be a finite number > 1, got {self.blowup}")

    def resolve_tol(self, loss: Loss | None) -> float | None:
        """The training-error tolerance: "auto" gives way to an explicit gtol or rtol."""
        if not (isinstance(self.tol, str) and self.tol == AUTO):
            return self.tol
        if self.gtol is not None or self.rtol is not None or self.xtol is not None:
            return None
        if isinstance(loss, LeastSquares):
            return DEFAULT_RTOL_TRAIN * max(float(loss.b @ loss.b), 1.0)
        return None


def stop_message(test: str, stop: Stop, **v) -> str:
    """The message of a stop test that fired ("tol", "gtol", "rtol", "xtol", "max_iter",
    "stalled", "budget"; "diverged" with value, iteration and reference), shared by the
    engine and the batched loop."""
    if test == "tol":
        return f"training error <= {v['tol']:.3g}"
    if test == "diverged":
        return (f"F = {v['value']:.3e} at iteration {v['iteration']} (reference "
                f"{v['reference']:.3e}); last finite iterate returned")
    if test == "gtol":
        return f"gradient norm <= {stop.gtol:g}"
    if test == "rtol":
        return f"relative error <= {stop.rtol:g}"
    if test == "xtol":
        return f"‖x_(k+1) − x_k‖ <= {stop.xtol:g}·max(1, ‖x_k‖)"
    if test == "max_iter":
        return f"{stop.max_iter} iterations"
    if test == "stalled":
        return (f"F dropped by <= {stop.ftol:.2g}·|F| over the last {stop.stall_window} "
                "iterations")
    if test == "budget":
        return f"time budget {stop.time_budget:g} s spent"
    raise ValueError(f"unknown stop test {test!r}")


# -- spaces ---------------------------------------------------------------------------------

class FlatSpace:
    """θ ∈ R^n for an `Objective` F(θ) = f(X(θ)) + ρ(θ); a move is θ + tξ, followed by
    `project` where given (an invariant set of the iteration that round-off would leave, e.g.
    `transpose_symmetric` for deep GLRL)."""

    manifold = False

    def __init__(self, objective: Objective, *, project: Callable | None = None) -> None:
        if not (isinstance(objective, Objective) or (
                hasattr(objective, "evaluate") and hasattr(objective, "model"))):
            raise TypeError(f"objective must be a lowranklab Objective (or a direction field "
                            f"with evaluate and model), got {type(objective).__name__}")
        self.objective = objective
        self.project = project
        self.loss = getattr(objective, "loss", None)
        self.model = objective.model
        self.evaluate = objective.evaluate  # bound once: F(θ), ∇F(θ) as an `Evaluation`

    def check(self, theta0) -> np.ndarray:
        theta = copy(self.model.check(theta0, "theta0"))
        if not all_finite(theta):
            raise ValueError("theta0 must be finite")
        self._numpy = type(theta) is np.ndarray
        return theta

    def move(self, theta: np.ndarray, xi: np.ndarray, t: float) -> np.ndarray:
        out = theta + t * xi
        return out if self.project is None else self.project(out)

    _numpy = True  # set by `check`: NumPy iterates (no backend dispatch per inner product)

    def inner(self, theta, u: np.ndarray, v: np.ndarray) -> float:
        return float(u.dot(v)) if self._numpy else vdot(u, v)  # flat θ: u·v is the dot

    def norm(self, theta, u: np.ndarray) -> float:
        return math.sqrt(u.dot(u)) if self._numpy else math.sqrt(vdot(u, u))

    def transport(self, theta, theta_new, u):
        """Vector transport to θ_new: the identity on a flat space."""
        return u

    def finite(self, theta: np.ndarray, e: Evaluation) -> bool:
        """F finite (a non-finite gradient makes the next F non-finite, and the iterate
        before that one, with finite factors, is what a divergence returns)."""
        return math.isfinite(e.value)

    def flat(self, theta: np.ndarray) -> np.ndarray:
        return theta

    def factors(self, theta: np.ndarray) -> tuple:
        return tuple(copy(F) for F in self.model.unpack(theta))

    def matrix(self, theta: np.ndarray):
        return self.model.to_matrix(theta)

    def info(self, theta: np.ndarray) -> dict:
        return {}


class ManifoldSpace:
    """A point Z = U diag(S) Vᵀ of the fixed-rank manifold M_r (hou2021 §4); the gradient is
    the Riemannian one P_T ∇f(Z) (a `TangentVector`) and a move is the retraction R(Z + tξ)
    (complement bases + 2r×2r SVD, never an SVD of a dense d1×d2 matrix)."""

    manifold = True

    def __init__(self, loss: Loss, manifold, *, rank_tol: float = 1e-14) -> None:
        from lowranklab.models.fixed_rank import FixedRank

        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a lowranklab Loss, got {type(loss).__name__}")
        if not isinstance(manifold, FixedRank):
            raise TypeError(f"manifold must be a FixedRank manifold, got "
                            f"{type(manifold).__name__}")
        if tuple(loss.shape) != manifold.shape:
            raise ValueError(f"loss acts on {loss.shape} matrices but the manifold is "
                             f"{manifold.shape}")
        _check_tol("rank_tol", rank_tol)
        self.loss, self.mf, self.rank_tol = loss, manifold, float(rank_tol)

    def check(self, x0):
        from lowranklab.models.fixed_rank import FixedRankPoint

        if not isinstance(x0, FixedRankPoint):
            raise TypeError(f"x0 must be a FixedRankPoint, got {type(x0).__name__}")
        x = self.mf.point(x0.U, x0.S, x0.V)
        if not (all_finite(x.U) and all_finite(x.S) and all_finite(x.V)):
            raise ValueError("x0 must be finite")
        if x.sigma_r <= self.rank_tol * max(x.sigma_1, 1e-300):
            raise ValueError(f"x0 is not on the manifold: sigma_r = {x.sigma_r:.3g}")
        return x

    def evaluate(self, x) -> Evaluation:
        f, xi, G = self.mf.gradient(self.loss, x)
        return Evaluation(f, f, xi, x.lowrank(), G)

    def move(self, x, xi, t: float):
        return self.mf.retract(x, xi, t)

    def inner(self, x, u, v) -> float:
        return self.mf.inner(x, u, v)

    def norm(self, x, u) -> float:
        return self.mf.norm(x, u)

    def transport(self, x, y, xi):
        """ξ ∈ T_x M_r carried to T_y M_r by the projection P_{T_y}."""
        return self.mf.transport(x, y, xi)

    def finite(self, x, e: Evaluation) -> bool:
        return math.isfinite(e.value) and all_finite(x.S) and all_finite(x.U)

    def flat(self, x) -> np.ndarray:
        return x.flat()

    def factors(self, x) -> tuple:
        return (x.U, x.S, x.V)

    def matrix(self, x):
        return x.lowrank()

    def info(self, x) -> dict:
        return {"point": x, "manifold": repr(self.mf)}

    def left_manifold(self, x) -> bool:
        return x.sigma_r <= self.rank_tol * max(x.sigma_1, 1e-300)

    def curvature_along(self, x, xi) -> float:
        """⟨ξ, ∇²f(Z)[ξ]⟩ (Euclidean Hessian along the tangent ξ); for least squares
        scale·‖A(ξ)‖² with ξ = (UM + U_p)Vᵀ + U V_pᵀ as one rank-2r forward (measured 3.6×
        cheaper than two rank-r forwards on 1000² completion with 10⁵ entries: one pass over
        the indices and one m-vector instead of two)."""
        from lowranklab.backend import concat
        from lowranklab.lowrank import inner

        if isinstance(self.loss, LeastSquares):
            y = self.loss.op.forward_lr(concat([x.U @ xi.M + xi.Up, x.U], axis=1),
                                        concat([x.V, xi.Vp], axis=1))
            return self.loss.scale * float(y @ y)
        xi_lr = self.mf.to_lowrank(x, xi)
        return inner(self.loss.hvp(x.lowrank(), xi_lr), xi_lr)


def as_space(problem, model=None):
    """A space from an `Objective`, a ready space, or (loss, manifold)."""
    if isinstance(problem, (FlatSpace, ManifoldSpace)):
        return problem
    if isinstance(problem, Objective) or (hasattr(problem, "evaluate")
                                          and hasattr(problem, "model")):
        return FlatSpace(problem)
    if isinstance(problem, Loss) and model is not None:
        return ManifoldSpace(problem, model)
    raise TypeError(f"cannot solve a {type(problem).__name__}: pass an Objective, or a Loss "
                    "with a FixedRank manifold")


# -- the loop -------------------------------------------------------------------------------

@dataclass
class Context:
    """What rules, hooks and the loop share: the iterate, its evaluation, the step taken."""

    space: Any
    x: Any
    e: Evaluation
    k: int = 0
    step: float = 0.0
    f_ref: float = 1.0
    n_evals: int = 1
    t0: float = field(default_factory=time.perf_counter)
    force_record: bool = False
    finish: tuple[StopCode, str] | None = None
    extra: dict = field(default_factory=dict)  # per-record columns a rule or hook adds

    def evaluate(self, x) -> Evaluation:
        self.n_evals += 1
        return self.space.evaluate(x)

    def replace(self, x, e: Evaluation | None = None, *, record: bool = True) -> None:
        """Make x the iterate (a hook's restart or perturbation); F₀'s reference for the
        blow-up test grows with it."""
        self.x = x
        self.e = self.evaluate(x) if e is None else e
        if np.isfinite(self.e.value):
            self.f_ref = max(self.f_ref, abs(self.e.value))
        self.force_record = self.force_record or record

    def stop(self, code: StopCode, message: str) -> None:
        """End the run at the current iterate with this stop code (a hook's, e.g. PGD's
        stopping rule; a rule that cannot step raises `StopRun` instead)."""
        self.finish = (code, message)

    def state(self) -> mon.State:
        x = self.x
        return mon.State(self.k, self.space.flat(x), self.e, time.perf_counter() - self.t0,
                         self.step, self.space.norm(x, self.e.grad), x, self.extra)

    def light_state(self) -> mon.State:
        """A `State` without the flat copy and the norm (for the cheap stop tests)."""
        return mon.State(self.k, None, self.e, 0.0, self.step, point=self.x)


def default_monitors(space, truth=None) -> list[mon.Monitor]:
    """Cheap defaults: the training error (read off the loss value) and, with a truth, the test
    error (one factored distance). The spectrum monitor (QR + SVD) is opt-in."""
    out = [mon.training_error(space.loss)]
    if truth is not None:
        out.append(mon.test_error(truth))
    return out


@blas_limited
def run(
    problem,
    x0,
    rule,
    *,
    stop: Stop | None = None,
    truth=None,
    monitors: Sequence[mon.Monitor] | None = None,
    callbacks: Sequence[mon.Callback] = (),
    hooks: Sequence = (),
    record_every: int = 1,
    dense_until: int = 0,
    progress: bool = False,
    name: str = "solve",
    info: dict | None = None,
) -> Result:
    """Iterate x ← rule(x) from x0 until a `Stop` test fires; return the `Result`.

    problem: an `Objective` (flat θ), a space (`FlatSpace`, `ManifoldSpace`).
    rule: a step rule from `solvers/rules.py` (constant, Armijo, exact line search, ...).
    hooks: callables `hook(ctx)` run at the start of every iteration; they may call
    `ctx.replace(x)` or `ctx.stop(code, message)`.
    monitors: functions of the `State` adding trace columns (default: `default_monitors`);
    the iteration, F, ‖∇F‖, the time and the step are always recorded. Rows are written at
    k ≤ dense_until, every `record_every`-th k, after a hook replaced the iterate, and at the
    end. callbacks: called with the `State` at every iteration (so they can stop the run at
    any step; keep them cheap); True stops the run with `interrupted`. Ctrl-C
    (KeyboardInterrupt) also returns the partial result, `interrupted`. The BLAS runs on
    one thread for the whole call on entry-sampling problems (`lowranklab.threads`).
    """
    space = as_space(problem)
    stop = Stop() if stop is None else stop
    if not isinstance(stop, Stop):
        raise TypeError(f"stop must be a Stop, got {type(stop).__name__}")
    if int(record_every) != record_every or record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every}")
    if int(dense_until) != dense_until or dense_until < 0:
        raise ValueError(f"dense_until must be a non-negative integer, got {dense_until}")
    if stop.rtol is not None and truth is None:
        raise ValueError("rtol needs the truth")
    x = space.check(x0)
    tol = stop.resolve_tol(space.loss)
    train_error = training_error_of(space.loss)
    monitors = default_monitors(space, truth) if monitors is None else list(monitors)
    callbacks = list(callbacks)
    hooks = list(hooks)
    truth_rel = mon.test_error(truth) if stop.rtol is not None else None
    op = getattr(space.loss, "op", None)
    counts0 = dict(op.counts) if op is not None else {}
    trace = Trace()

    t0 = time.perf_counter()
    code, message, k = StopCode.MAX_ITER, stop_message("max_iter", stop), 0
    diverged_at = None
    try:
        e = space.evaluate(x)
    except StopRun as sr:  # the rule's direction does not exist at x0
        code, message = sr.code, sr.message
        e = Evaluation(np.nan, np.nan, space.flat(x) * 0.0, space.matrix(x), None)
    else:
        if not np.isfinite(e.value):
            raise ValueError("F(x0) is not finite")
    ctx = Context(space, x, e, f_ref=max(abs(e.value), 1.0) if np.isfinite(e.value) else 1.0,
                  t0=t0)
    if code is not StopCode.MAX_ITER:
        ctx.finish = (code, message)
    ctx.step = rule.start(ctx)
    on_manifold = getattr(space, "manifold", False)
    window: deque[float] = deque(maxlen=stop.stall_window + 1)
    best = np.inf
    last_report = t0

    last_row = [-1]  # the iteration of the last trace row
    append_row = trace.append

    def record(due: bool, call: bool = True) -> None:
        """Write the trace row of the current iterate when `due` (a record step), then ask
        the callbacks (`call`) whether to stop."""
        st = ctx.state() if due or (call and callbacks) else None
        if due:
            row = {"iter": st.iteration, "value": ctx.e.value, "grad_norm": st.grad_norm,
                   "time": st.elapsed, "step": st.step}
            for m in monitors:
                row.update(m(st))
            if ctx.extra:
                row.update(ctx.extra)
            append_row(row)
            last_row[0] = st.iteration
            ctx.force_record = False
        if call and callbacks and any(cb(st) for cb in callbacks):
            ctx.finish = (StopCode.INTERRUPTED, "stopped by callback")

    max_iter, gtol, ftol, xtol = stop.max_iter, stop.gtol, stop.ftol, stop.xtol
    budget, blowup = stop.time_budget, stop.blowup
    take_step, finite = rule.step, space.finite
    with catch_interrupt() as ctrl_c:
        # ctx.finish is set by a hook (ctx.stop), a callback (checked after `record`) or, before
        # the loop, by a rule that found no direction at x0 (then the loop does not run)
        for k in range(max_iter + 1 if ctx.finish is None else 0):
            ctx.k = k
            if hooks:
                for hook in hooks:
                    hook(ctx)
                    if ctx.finish:
                        break
                if ctx.finish:
                    code, message = ctx.finish
                    break
            e = ctx.e
            if tol is not None and train_error(e) <= tol:
                code, message = StopCode.CONVERGED, stop_message("tol", stop, tol=tol)
                break
            if gtol is not None and space.norm(ctx.x, e.grad) <= gtol:
                code, message = StopCode.CONVERGED, stop_message("gtol", stop)
                break
            if truth_rel is not None and truth_rel(ctx.light_state())["rel_error"] <= stop.rtol:
                code, message = StopCode.CONVERGED, stop_message("rtol", stop)
                break
            if ftol is not None:
                best = min(best, e.value)
                window.append(best)
                if len(window) == window.maxlen and (
                        window[0] - best <= ftol * max(abs(best), 1e-300)):
                    code, message = StopCode.STALLED, stop_message("stalled", stop)
                    break
            if k == max_iter:
                break
            if budget is not None and time.perf_counter() - t0 > budget:
                code, message = StopCode.BUDGET, stop_message("budget", stop)
                break
            due = ctx.force_record or k <= dense_until or k % record_every == 0
            if due or callbacks:
                record(due)
                if ctx.finish:
                    code, message = ctx.finish
                    break
            if progress and time.perf_counter() - last_report > 1.0:
                last_report = time.perf_counter()
                print(f"  {name} iter {k}/{stop.max_iter}  F={e.value:.3e}  "
                      f"|grad|={space.norm(ctx.x, e.grad):.2e}", file=sys.stderr)
            try:
                x_new, e_new, t = take_step(ctx)
            except StopRun as sr:
                code, message = sr.code, sr.message
                break
            if not finite(x_new, e_new) or e_new.value > blowup * ctx.f_ref:
                code = StopCode.DIVERGED
                message = stop_message("diverged", stop, value=e_new.value, iteration=k + 1,
                                       reference=ctx.f_ref)
                diverged_at = k + 1
                break
            if xtol is not None and t * space.norm(ctx.x, rule.last_direction) <= (
                    xtol * max(1.0, space.norm(ctx.x, ctx.x))):
                code, message = StopCode.CONVERGED, stop_message("xtol", stop)
                break
            ctx.x, ctx.e, ctx.step = x_new, e_new, t
            if on_manifold and space.left_manifold(x_new):
                k += 1
                ctx.k = k
                code = StopCode.RANK_DROP
                message = (f"iterate left the rank-{space.mf.r} manifold at iteration {k}: "
                           f"sigma_r = {x_new.sigma_r:.3g} <= {space.rank_tol:g} sigma_1")
                break
    if ctrl_c.fired:
        code, message = StopCode.INTERRUPTED, INTERRUPTED
    ctx.k = k
    if last_row[0] != k:  # the last iterate, unless the loop recorded it before it stopped
        record(True, call=False)
    counts = {"grad_evals": ctx.n_evals}
    if op is not None:
        counts.update({key: v - counts0.get(key, 0) for key, v in op.counts.items()})
    out_info = {"solver": name, "rule": rule.describe(), **space.info(ctx.x), **(info or {}),
                **rule.info()}
    for hook in hooks:
        out_info.update(getattr(hook, "info", lambda: {})())
    if diverged_at is not None:
        out_info["diverged_at"] = diverged_at
    X = ctx.e.X
    return Result(theta=copy(space.flat(ctx.x)), X=X, stop=code, iterations=k,
                  trace=trace, counts=counts, wall_time=time.perf_counter() - t0,
                  message=message, info=out_info, factors=space.factors(ctx.x))


def training_error_of(loss: Loss | None) -> Callable[[Evaluation], float]:
    """e ↦ ‖A(X) − b‖² for least squares (read off f, no extra pass), F itself otherwise."""
    if isinstance(loss, LeastSquares):
        c = 2.0 / loss.scale
        return lambda e: c * e.loss_value
    return lambda e: e.value
