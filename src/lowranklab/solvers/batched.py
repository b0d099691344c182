"""Batched trials: B independent least-squares problems of one shape (a sweep's seeds) stacked
on a leading batch axis and stepped together by gradient descent, on NumPy or torch (CPU or
CUDA), each trial with its own stop code.

The engine (`solvers/engine.py`) runs one trial and tests its stops on scalars; a batched run
is a different execution model, so it has its own loop here — one loop, written once — that
applies the engine's `Stop` (same fields, same validation, the same "auto" tolerance resolved
per trial) with per-trial masks:

- at each iterate k, in the engine's order: training error ≤ tol, ‖∇F‖ ≤ gtol, relative error
  ≤ rtol → `converged`; the stall window → `stalled`; k = max_iter → `max_iter`; the time
  budget → `budget` (for every trial still running);
- a step θ_b − t_b ξ_b whose F is non-finite or above blowup·max(|F_b(θ₀)|, 1) → `diverged`
  with the last finite iterate; t_b‖ξ_b‖ ≤ xtol·max(1, ‖θ_b‖) → `converged`;
- a trial that met its stop is frozen (its iterate no longer changes) and the loop ends when
  all are done. Frozen trials are dropped from the working batch once they are half of it
  (`compact`), so a long tail of slow trials does not pay for the finished ones.

Trial b of a batched run takes the same steps as `gradient_descent(objective.trial(b), θ₀[b],
...)` with the same rule (up to round-off: the batched products sum in another order), so
stop codes and iteration counts agree with separate runs.

On torch the loop stays on the tensors' device: per iteration only the number of running
trials crosses to the host (one synchronization); θ₀'s summary values, the indices kept at a
compaction and the final per-trial codes are the only copies to NumPy (tested: their number
does not grow with the iterations).

Rules: `Constant(η)` (η a number or one per trial) and `Exact(scale)`, the exact line search
for least squares on UUᵀ / UVᵀ: F_b(θ_b − tξ_b) is a quartic q_b(t) (`BatchedObjective.line`),
minimized over t > 0 through the real roots of q_b' (a batched 3×3 companion eigenproblem;
`rules.line_minimizer` is the unbatched one).

`run_batched(objective, θ₀, rule, stop=...)` returns one `Result` per trial (the engine's
shape); `solve_batch(objectives, thetas0, ...)` is the entry point for callers that hold
unbatched objectives (the sweep executor; `sweep.batched.solve_sensing_batch(configs)` builds
planted sensing trials from seeds and solves them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from lowranklab.backend import is_torch, namespace, to_like
from lowranklab.models.batched import BatchedEvaluation, BatchedObjective
from lowranklab.solvers.engine import (
    AUTO,
    DEFAULT_FTOL,
    DEFAULT_RTOL_TRAIN,
    DEFAULT_STALL_WINDOW,
    Stop,
    stop_message,
)
from lowranklab.solvers.result import Result, StopCode, Trace
from lowranklab.solvers.rules import _positive
from lowranklab.threads import blas_limited

# per-trial outcome codes (0: running); several codes map to `converged` with their message
RUNNING, TOL, GTOL, RTOL, XTOL, MAX_ITER, DIVERGED, STALLED, BUDGET = range(9)
_STOP = {TOL: StopCode.CONVERGED, GTOL: StopCode.CONVERGED, RTOL: StopCode.CONVERGED,
         XTOL: StopCode.CONVERGED, MAX_ITER: StopCode.MAX_ITER, DIVERGED: StopCode.DIVERGED,
         STALLED: StopCode.STALLED, BUDGET: StopCode.BUDGET}
_TEST = {TOL: "tol", GTOL: "gtol", RTOL: "rtol", XTOL: "xtol", MAX_ITER: "max_iter",
         DIVERGED: "diverged", STALLED: "stalled", BUDGET: "budget"}  # `stop_message`


# -- backend helpers: NumPy or torch, through the array namespace of the arrays -----------

def _host(x) -> np.ndarray:
    return x.detach().cpu().numpy() if is_torch(x) else np.asarray(x)


def _f64(x):
    """x as float64 on its own backend and device."""
    xp = namespace(x)
    return xp.astype(x, xp.float64)


def _where(mask, a, b):
    """where(mask, a, b) with a (B,) mask over the leading axis of a and b."""
    return namespace(a).where(mask.reshape(mask.shape + (1,) * (a.ndim - mask.ndim)), a, b)


def _norm(x):
    return ((x * x).sum(-1)) ** 0.5


# -- rules ----------------------------------------------------------------------------------

class Constant:
    """t_b = η_b: one step for all trials, or one per trial (an array of B steps)."""

    name = "constant"

    def __init__(self, step) -> None:
        if np.ndim(step) == 0:
            self.eta = np.array(_positive("step", step))
        else:
            eta = np.asarray(step, dtype=np.float64)
            if eta.ndim != 1 or eta.size == 0 or not np.all(np.isfinite(eta) & (eta > 0)):
                raise ValueError("step must be a finite number > 0 or a 1-D array of them")
            self.eta = eta

    def prepare(self, objective: BatchedObjective, like) -> None:
        if self.eta.ndim == 1 and self.eta.size != objective.B:
            raise ValueError(f"step has {self.eta.size} entries for {objective.B} trials")
        eta = self.eta if self.eta.ndim == 1 else np.full(objective.B, float(self.eta))
        self._eta = namespace(like).asarray(eta, device=like.device)

    def steps(self, objective, theta, e: BatchedEvaluation, ids):
        return self._eta[ids]

    def describe(self, b: int) -> dict:
        return {"rule": self.name, "step": float(self.eta if self.eta.ndim == 0 else
                                                  self.eta[b])}


class Exact:
    """t_b = scale·argmin_{t>0} F_b(θ_b − tξ_b) for least squares on UUᵀ / UVᵀ: the real
    positive root of the cubic q_b'(t) with the least q_b (t = 0 when there is none, or when
    q_b is not a proper quartic: ξ_b in the kernel of the quadratic term)."""

    name = "exact"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = _positive("step", scale)

    def prepare(self, objective, like) -> None:
        return None

    def steps(self, objective, theta, e: BatchedEvaluation, ids):
        q = objective.line(theta, e.grad, e.residual)  # (W, 5), float64
        return self.scale * quartic_minimizer(q)

    def describe(self, b: int) -> dict:
        return {"rule": self.name, "scale": self.scale}


def quartic_minimizer(q):
    """argmin over t > 0 of q_b(t) = Σ_k q_{b,k} t^k among the real roots of q_b' (0 where
    no real positive root exists or q_{b,4} ≤ 0), for q: (B, 5) on NumPy or torch.

    The roots are the eigenvalues of the companion matrix of the monic cubic q_b'/q_b'_3, as
    `np.polynomial.polynomial.polyroots` computes them; a root counts as real when
    |Im t| ≤ 1e-8·max(|t|, 1) (the tolerance of `rules.line_minimizer`)."""
    xp = namespace(q)
    dq = q[:, 1:] * xp.asarray([1.0, 2.0, 3.0, 4.0], dtype=q.dtype, device=q.device)
    ok = xp.all(xp.isfinite(dq), axis=-1) & (dq[:, 3] > 0)
    safe = _where(ok, dq, xp.zeros_like(dq) + xp.asarray([0.0, 0, 0, 1], dtype=q.dtype,
                                                         device=q.device))
    B = q.shape[0]
    C = xp.zeros((B, 3, 3), dtype=q.dtype, device=q.device)
    C[:, 1, 0] = 1.0
    C[:, 2, 1] = 1.0
    C[:, :, 2] = -safe[:, :3] / safe[:, 3:4]  # monic: t³ + a2 t² + a1 t + a0
    if is_torch(q):
        import torch

        roots = torch.linalg.eigvals(C)
    else:
        roots = np.linalg.eigvals(C)
    re, im = xp.real(roots), xp.imag(roots)
    mag = (re * re + im * im) ** 0.5
    cand = (abs(im) <= 1e-8 * xp.clip(mag, min=1.0)) & (re > 0) & ok[:, None]
    vals = q[:, :1] + re * (q[:, 1:2] + re * (q[:, 2:3] + re * (q[:, 3:4] + re * q[:, 4:5])))
    vals = xp.where(cand, vals, xp.full_like(vals, math.inf))
    t = xp.take_along_axis(re, xp.argmin(vals, axis=-1)[:, None], axis=1)[:, 0]
    return xp.where(xp.any(cand, axis=-1), t, xp.zeros_like(t))


def make_rule(line_search: str, step) -> Constant | Exact:
    if line_search == "constant":
        if step is None:
            raise ValueError("a batched constant step needs step= (a number or one per trial)")
        return Constant(step)
    if line_search == "exact":
        return Exact(1.0 if step is None else step)
    raise ValueError(f"line_search must be 'constant' or 'exact' for batched trials, got "
                     f"{line_search!r}")


# -- the loop -------------------------------------------------------------------------------

def trial_tolerances(objective: BatchedObjective, stop: Stop) -> np.ndarray | None:
    """The training-error tolerance of each trial: `Stop.resolve_tol` applied per trial ("auto":
    1e-14·max(‖b_b‖², 1), giving way to an explicit gtol, rtol or xtol)."""
    if not (isinstance(stop.tol, str)):
        return None if stop.tol is None else np.full(objective.B, float(stop.tol))
    if stop.gtol is not None or stop.rtol is not None or stop.xtol is not None:
        return None
    return np.array([DEFAULT_RTOL_TRAIN * max(float(bb @ bb), 1.0) for bb in objective.loss.b])


def _rel_error(model, theta, truth, truth_norm):
    F = model.factors(theta)
    X = F[0] @ F[-1].mT
    D = (X - truth).reshape(X.shape[0], -1)
    return _norm(D) / truth_norm


@blas_limited
def run_batched(objective: BatchedObjective, theta0, rule, *, stop: Stop | None = None,
                truth=None, compact: bool = True) -> list[Result]:
    """Gradient descent θ_b ← θ_b − t_b∇F_b(θ_b) on every trial of `objective` until each
    meets a `Stop` test (see the module docstring); one `Result` per trial.

    theta0: (B, n) NumPy array or torch tensor (float32 or float64; the run stays in its
    dtype, on its device). rule: `Constant` or `Exact`. truth: (B, d1, d2) planted matrices
    (needed by rtol; adds the relative error to the results). compact: drop finished trials
    from the working batch once they are half of it."""
    if not isinstance(objective, BatchedObjective):
        raise TypeError(f"objective must be a BatchedObjective, got {type(objective).__name__}")
    if not isinstance(rule, (Constant, Exact)):
        raise TypeError(f"rule must be a batched Constant or Exact rule, got "
                        f"{type(rule).__name__}")
    stop = Stop() if stop is None else stop
    if not isinstance(stop, Stop):
        raise TypeError(f"stop must be a Stop, got {type(stop).__name__}")
    if stop.rtol is not None and truth is None:
        raise ValueError("rtol needs the truth")
    theta = objective.check(theta0)
    xp = namespace(theta)
    theta = xp.asarray(theta, copy=True)
    if not bool(xp.all(xp.isfinite(theta))):
        raise ValueError("theta0 must be finite")
    B, dev = objective.B, theta.device
    if truth is not None:
        T = np.asarray(truth, dtype=np.float64) if not is_torch(truth) else truth
        if tuple(T.shape) != (B, *objective.model.shape):
            raise ValueError(f"truth must have shape {(B, *objective.model.shape)}, got "
                             f"{tuple(T.shape)}")
        truth_w = _like(T, theta)
        truth_norm = _norm(truth_w.reshape(B, -1))
    rule.prepare(objective, theta)
    tol_np = trial_tolerances(objective, stop)
    t0 = time.perf_counter()

    e = objective.evaluate(theta)
    if not bool(xp.all(xp.isfinite(e.value))):
        bad = np.flatnonzero(~np.isfinite(_host(e.value)))
        raise ValueError(f"F(theta0) is not finite for trial(s) {bad[:10].tolist()}")
    gn = _norm(e.grad)
    initial = [_host(v).astype(float) for v in (e.value, gn, e.train_error)]
    rel0 = _host(_rel_error(objective.model, theta, truth_w, truth_norm)) if truth is not None \
        else None

    # per-trial outputs (all B trials, on the backend)
    def full(value, dtype=xp.float64):
        return xp.full((B,), value, dtype=dtype, device=dev)

    out_theta = xp.asarray(theta, copy=True)
    out_code, out_iter = full(RUNNING, xp.int64), full(0, xp.int64)
    out_value, out_gn, out_train = full(0.0), full(0.0), full(0.0)
    out_div = full(math.nan)  # F of the rejected step of a diverged trial

    # the working batch (trials still running and, until compaction, frozen ones)
    ids = xp.arange(B, device=dev)
    tol = None if tol_np is None else xp.asarray(tol_np, device=dev)
    f_ref = xp.clip(abs(_f64(e.value)), min=1.0)
    active = full(True, xp.bool)
    S = stop.stall_window
    hist = None
    best = full(math.inf)
    if stop.ftol is not None:
        hist = xp.full((S + 1, B), math.inf, dtype=xp.float64, device=dev)
    work = objective
    k = 0

    def finish(mask, code: int, it: int) -> None:
        """Record the trials of the working batch in `mask` as stopped with `code` at `it`."""
        idx = ids[mask]
        out_theta[idx] = theta[mask]
        out_code[idx] = code
        out_iter[idx] = it
        out_value[idx] = _f64(e.value[mask])
        out_gn[idx] = _f64(gn[mask])
        out_train[idx] = _f64(e.train_error[mask])
        active[mask] = False

    for k in range(stop.max_iter + 1):
        value = _f64(e.value)
        if tol is not None:
            finish(active & (e.train_error <= tol), TOL, k)
        if stop.gtol is not None:
            finish(active & (gn <= stop.gtol), GTOL, k)
        if stop.rtol is not None:
            rel = _rel_error(objective.model, theta, truth_w, truth_norm)
            finish(active & (rel <= stop.rtol), RTOL, k)
        if hist is not None:
            best = xp.where(active, xp.minimum(best, value), best)
            hist[k % (S + 1)] = best
            if k >= S:
                old = hist[(k + 1) % (S + 1)]
                finish(active & (old - best <= stop.ftol * xp.clip(abs(best), min=1e-300)),
                       STALLED, k)
        if k == stop.max_iter:
            finish(active, MAX_ITER, k)
        if stop.time_budget is not None and time.perf_counter() - t0 > stop.time_budget:
            finish(active, BUDGET, k)
        n_active = int(active.sum())
        if n_active == 0:
            break
        if compact and n_active <= active.shape[0] // 2:
            keep = xp.nonzero(active)[0]
            work = work.subset(_host(keep))
            theta, ids, active, f_ref, best = (theta[keep], ids[keep], active[keep],
                                               f_ref[keep], best[keep])
            e = BatchedEvaluation(*(x[keep] for x in e))
            gn = gn[keep]
            tol = None if tol is None else tol[keep]
            if hist is not None:
                hist = hist[:, keep]
            if truth is not None:
                truth_w, truth_norm = truth_w[keep], truth_norm[keep]
        # one step for the whole working batch; frozen trials keep their iterate
        t = rule.steps(work, theta, e, ids)
        theta_new = theta + (-xp.astype(t, theta.dtype))[:, None] * e.grad
        e_new = work.evaluate(theta_new)
        v_new = _f64(e_new.value)
        div = active & (~xp.isfinite(v_new) | (v_new > stop.blowup * f_ref))
        if bool(div.any()):
            out_div[ids[div]] = v_new[div]
            finish(div, DIVERGED, k)
        if stop.xtol is not None:
            small = t * _f64(_norm(e.grad))
            finish(active & (small <= stop.xtol * xp.clip(_norm(theta), min=1.0)), XTOL, k)
        if int(active.sum()) == active.shape[0]:  # no trial frozen: take the step as it is
            theta, e = theta_new, e_new
        else:
            theta = _where(active, theta_new, theta)
            e = BatchedEvaluation(*(_where(active, a, b) for a, b in zip(e_new, e,
                                                                          strict=True)))
        gn = _norm(e.grad)
    wall = time.perf_counter() - t0
    rel = None
    if truth is not None:
        T = _like(T, out_theta)
        rel = _host(_rel_error(objective.model, out_theta, T, _norm(T.reshape(B, -1))))
    return _results(objective, rule, stop, out_theta, _host(out_code), _host(out_iter),
                    [_host(v) for v in (out_value, out_gn, out_train)], initial, rel, rel0,
                    tol_np, _host(out_div), wall)


def _like(x, like):
    """x (NumPy or torch) on like's backend, device and dtype."""
    if is_torch(like):
        if is_torch(x):
            return x.to(device=like.device, dtype=like.dtype)
        return to_like(np.asarray(x), like)
    return _host(x).astype(like.dtype, copy=False)


def _results(objective, rule, stop, theta, codes, iters, final, initial, rel, rel0, tol,
             div, wall) -> list[Result]:
    """One `Result` per trial: theta, factors, X, stop, message, iterations; the trace has the
    rows of θ₀ and of the final iterate (iter, value, grad_norm, train_error and, with a
    truth, rel_error); wall_time is the whole batch's; counts["grad_evals"] are θ₀ and one
    per step tried (a rejected diverging step and the step of an xtol stop included, as the
    engine counts)."""
    model = objective.model.trial()
    f_ref0 = np.maximum(np.abs(initial[0]), 1.0)
    out = []
    for b in range(len(codes)):
        c, it = int(codes[b]), int(iters[b])
        th = theta[b].clone() if is_torch(theta) else np.array(theta[b])
        tr = Trace()
        rows = [{"iter": 0, **{k: v[b] for k, v in zip(_COLS, initial, strict=True)}},
                {"iter": it, **{k: v[b] for k, v in zip(_COLS, final, strict=True)}}]
        if rel is not None:
            rows[0]["rel_error"], rows[1]["rel_error"] = rel0[b], rel[b]
        for row in rows[:1 + (it > 0)]:
            tr.append(row)
        info = {"solver": "gd_batched", "rule": rule.describe(b), "batch_size": len(codes),
                "trial": b}
        if c == DIVERGED:
            info["diverged_at"] = it + 1
        message = stop_message(_TEST[c], stop, tol=None if tol is None else tol[b],
                               value=div[b], iteration=it + 1, reference=f_ref0[b])
        out.append(Result(theta=th, X=model.to_matrix(th), stop=_STOP[c], iterations=it,
                          trace=tr, counts={"grad_evals": it + 1 + int(c in (DIVERGED, XTOL))},
                          wall_time=wall, message=message, info=info,
                          factors=tuple(F.clone() if is_torch(F) else np.array(F)
                                        for F in model.unpack(th))))
    return out


_COLS = ("value", "grad_norm", "train_error")


# -- entry points ---------------------------------------------------------------------------

def solve_batch(
    objectives: Sequence,
    thetas0,
    *,
    step=None,
    line_search: str = "constant",
    max_iter: int = 1000,
    tol: float | str | None = AUTO,
    gtol: float | None = None,
    rtol: float | None = None,
    stall_tol: float | None = DEFAULT_FTOL,
    stall_window: int = DEFAULT_STALL_WINDOW,
    blowup: float = 1e8,
    time_budget: float | None = None,
    truths: Sequence | None = None,
    compact: bool = True,
) -> list[Result]:
    """`gradient_descent(objectives[b], thetas0[b], ...)` for every b, as one batched run.

    objectives: unbatched `Objective`s of one shape — least squares with dense sensing or
    entry sampling on `SymmetricFactor(d, p)` or `BalancedFactor(d1, d2, r, mu)`; thetas0: one
    flat θ₀ per objective, or a (B, n) array / torch tensor (the run follows its backend,
    device and dtype). The keywords are `gradient_descent`'s (line_search "constant" or
    "exact"); step=None with the constant rule takes each trial's `default_step`, as
    `gradient_descent` does; step may also be one number per trial. truths: the planted
    matrices (dense or `LowRank`), for rtol and the rel_error trace column.
    Returns one `Result` per trial, in order."""
    objectives = list(objectives)
    if not objectives:
        raise ValueError("objectives must not be empty")
    batch = BatchedObjective.stack(objectives)
    if is_torch(thetas0) or isinstance(thetas0, np.ndarray):
        theta0 = thetas0
    else:
        thetas0 = list(thetas0)
        if len(thetas0) != len(objectives):
            raise ValueError(f"thetas0 has {len(thetas0)} entries for {len(objectives)} "
                             "objectives")
        if any(is_torch(t) for t in thetas0):
            import torch

            theta0 = torch.stack(list(thetas0))
        else:
            theta0 = np.stack([np.asarray(t) for t in thetas0])
    if line_search == "constant" and step is None:
        from lowranklab.solvers.step import default_step

        step = np.array([default_step(o) for o in objectives])
    rule = make_rule(line_search, step)
    stop = Stop(max_iter=max_iter, tol=tol, gtol=gtol, rtol=rtol, ftol=stall_tol,
                stall_window=stall_window, time_budget=time_budget, blowup=blowup)
    truth = None
    if truths is not None:
        from lowranklab.lowrank import as_dense

        truths = list(truths)
        if len(truths) != len(objectives):
            raise ValueError(f"truths has {len(truths)} entries for {len(objectives)} "
                             "objectives")
        truth = np.stack([np.asarray(as_dense(T), dtype=np.float64) for T in truths])
    return run_batched(batch, theta0, rule, stop=stop, truth=truth, compact=compact)
