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

`solve_batch(objectives, thetas0, ...) -> list[Result]` is the entry point for callers that
hold unbatched objectives (the sweep executor; `sweep.batched.solve_sensing_batch(configs)`
builds planted sensing trials from seeds and solves them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lowranklab.backend import is_torch, to_like
from lowranklab.models.batched import BatchedEvaluation, BatchedObjective
from lowranklab.solvers.engine import (
    AUTO,
    DEFAULT_FTOL,
    DEFAULT_RTOL_TRAIN,
    DEFAULT_STALL_WINDOW,
    Stop,
)
from lowranklab.solvers.result import Result, StopCode, Trace
from lowranklab.solvers.rules import _positive

# per-trial outcome codes (0: running); several codes map to `converged` with their message
RUNNING, TOL, GTOL, RTOL, XTOL, MAX_ITER, DIVERGED, STALLED, BUDGET = range(9)
_STOP = {TOL: StopCode.CONVERGED, GTOL: StopCode.CONVERGED, RTOL: StopCode.CONVERGED,
         XTOL: StopCode.CONVERGED, MAX_ITER: StopCode.MAX_ITER, DIVERGED: StopCode.DIVERGED,
         STALLED: StopCode.STALLED, BUDGET: StopCode.BUDGET}


# -- backend helpers (NumPy or torch, chosen by the arrays) --------------------------------

def _full(n: int, value, like, dtype=None):
    if is_torch(like):
        import torch

        return torch.full((n,), value, dtype=like.dtype if dtype is None else dtype,
                          device=like.device)
    return np.full(n, value, dtype=like.dtype if dtype is None else dtype)


def _f64(like):
    if is_torch(like):
        import torch

        return torch.float64
    return np.float64


def _int(like):
    if is_torch(like):
        import torch

        return torch.int64
    return np.int64


def _where(mask, a, b):
    if is_torch(a):
        import torch

        return torch.where(mask.reshape(mask.shape + (1,) * (a.ndim - mask.ndim)), a, b)
    return np.where(mask.reshape(mask.shape + (1,) * (a.ndim - mask.ndim)), a, b)


def _bool(like):
    if is_torch(like):
        import torch

        return torch.bool
    return np.bool_


def _isfinite(x):
    return x.isfinite() if is_torch(x) else np.isfinite(x)


def _nonzero(mask):
    return mask.nonzero().reshape(-1) if is_torch(mask) else np.flatnonzero(mask)


def _host(x) -> np.ndarray:
    return x.detach().cpu().numpy() if is_torch(x) else np.asarray(x)


def _on(arr: np.ndarray, like):
    """A NumPy array on like's backend and device (its own dtype kept)."""
    if not is_torch(like):
        return arr
    import torch

    return torch.as_tensor(arr).to(like.device)


def _like(x, like):
    """x (NumPy or torch) on like's backend, device and dtype."""
    if is_torch(like):
        if is_torch(x):
            return x.to(device=like.device, dtype=like.dtype)
        return to_like(np.asarray(x), like)
    return _host(x).astype(like.dtype, copy=False)


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
        self._eta = _on(eta, like)

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
    torch = None
    if is_torch(q):
        import torch
    dq = q[:, 1:] * (q.new_tensor([1.0, 2.0, 3.0, 4.0]) if torch else np.array([1.0, 2, 3, 4]))
    lead = dq[:, 3]
    ok = _isfinite(dq).all(-1) & (lead > 0)
    safe = _where(ok, dq, dq * 0 + (q.new_tensor([0.0, 0, 0, 1]) if torch else
                                      np.array([0.0, 0, 0, 1])))
    a = safe[:, :3] / safe[:, 3:4]  # monic: t³ + a2 t² + a1 t + a0
    B = q.shape[0]
    if torch:
        C = q.new_zeros((B, 3, 3))
        C[:, 1, 0] = 1.0
        C[:, 2, 1] = 1.0
        C[:, :, 2] = -a
        roots = torch.linalg.eigvals(C)
        re, im = roots.real, roots.imag
    else:
        C = np.zeros((B, 3, 3))
        C[:, 1, 0] = 1.0
        C[:, 2, 1] = 1.0
        C[:, :, 2] = -a
        roots = np.linalg.eigvals(C)
        re, im = roots.real, roots.imag
    mag = (re * re + im * im) ** 0.5
    one = mag * 0 + 1.0
    cand = (abs(im) <= 1e-8 * _maximum(mag, one)) & (re > 0) & ok[:, None]
    vals = q[:, :1] + re * (q[:, 1:2] + re * (q[:, 2:3] + re * (q[:, 3:4] + re * q[:, 4:5])))
    inf = vals * 0 + math.inf
    vals = _where(cand, vals, inf)
    best = vals.argmin(-1)
    t = (re.gather(1, best[:, None])[:, 0] if torch else
         np.take_along_axis(re, best[:, None], axis=1)[:, 0])
    return _where(cand.any(-1), t, t * 0)


def _maximum(a, b):
    if is_torch(a):
        import torch

        return torch.maximum(a, b)
    return np.maximum(a, b)


def make_rule(line_search: str, step) -> Constant | Exact:
    if line_search == "constant":
        if step is None:
            raise ValueError("a batched constant step needs step= (a number or one per trial)")
        return Constant(step)
    if line_search == "exact":
        return Exact(1.0 if step is None else step)
    raise ValueError(f"line_search must be 'constant' or 'exact' for batched trials, got "
                     f"{line_search!r}")


# -- the result -----------------------------------------------------------------------------

@dataclass
class BatchedResult:
    """The per-trial outcome of a batched run (arrays on the backend of θ₀ for theta, NumPy
    for the rest). `results()` gives each trial as an ordinary `Result`."""

    objective: BatchedObjective
    theta: Any  # (B, n) final iterates (the last finite one for diverged trials)
    stop: list[StopCode]
    iterations: np.ndarray  # (B,) int
    value: np.ndarray  # (B,) final F
    grad_norm: np.ndarray  # (B,) final ‖∇F‖
    train_error: np.ndarray  # (B,) final ‖A(X) − b‖²
    messages: list[str]
    wall_time: float
    initial: dict[str, np.ndarray]  # value, grad_norm, train_error at θ₀
    rel_error: np.ndarray | None = None  # (B,) final ‖X − X♮‖_F/‖X♮‖_F with a truth
    rel_error0: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    rule: Any = None
    codes: np.ndarray | None = None  # (B,) the loop's outcome codes (TOL, GTOL, ..., BUDGET)

    @property
    def B(self) -> int:
        return len(self.stop)

    def factors(self, b: int) -> tuple:
        model = self.objective.model.trial()
        return tuple(F.clone() if is_torch(F) else np.array(F) for F in
                     model.unpack(self.theta[b]))

    def grad_evals(self, b: int) -> int:
        """Evaluations of trial b: θ₀ and one per step tried (a rejected diverging step and
        the step of an xtol stop included, as the engine counts)."""
        return int(self.iterations[b]) + 1 + int(self.codes[b] in (DIVERGED, XTOL))

    def results(self) -> list[Result]:
        """One `Result` per trial: theta, factors, X, stop, iterations, message; the trace has
        the rows of θ₀ and of the final iterate (iter, value, grad_norm, train_error and, with
        a truth, rel_error); wall_time is the whole batch's."""
        model = self.objective.model.trial()
        out = []
        for b in range(self.B):
            theta = self.theta[b].clone() if is_torch(self.theta) else np.array(self.theta[b])
            tr = Trace()
            r0 = {"iter": 0, "value": self.initial["value"][b],
                  "grad_norm": self.initial["grad_norm"][b],
                  "train_error": self.initial["train_error"][b]}
            r1 = {"iter": int(self.iterations[b]), "value": self.value[b],
                  "grad_norm": self.grad_norm[b], "train_error": self.train_error[b]}
            if self.rel_error is not None:
                r0["rel_error"], r1["rel_error"] = self.rel_error0[b], self.rel_error[b]
            tr.append(r0)
            if self.iterations[b] > 0:
                tr.append(r1)
            info = {"solver": "gd_batched", "rule": self.rule.describe(b),
                    "batch_size": self.B, "trial": b, **self.info.get("per_trial", {}).get(b, {})}
            info.update({k: v for k, v in self.info.items() if k != "per_trial"})
            out.append(Result(theta=theta, X=model.to_matrix(theta), stop=self.stop[b],
                              iterations=int(self.iterations[b]), trace=tr,
                              counts={"grad_evals": self.grad_evals(b)},
                              wall_time=self.wall_time, message=self.messages[b], info=info,
                              factors=tuple(F.clone() if is_torch(F) else np.array(F)
                                            for F in model.unpack(theta))))
        return out


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


def run_batched(objective: BatchedObjective, theta0, rule, *, stop: Stop | None = None,
                truth=None, compact: bool = True) -> BatchedResult:
    """Gradient descent θ_b ← θ_b − t_b∇F_b(θ_b) on every trial of `objective` until each
    meets a `Stop` test (see the module docstring).

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
    theta = theta.clone() if is_torch(theta) else np.array(theta, copy=True)
    if not bool(_isfinite(theta).all()):
        raise ValueError("theta0 must be finite")
    B = objective.B
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
    if not bool(_isfinite(e.value).all()):
        bad = np.flatnonzero(~np.isfinite(_host(e.value)))
        raise ValueError(f"F(theta0) is not finite for trial(s) {bad[:10].tolist()}")
    f64 = _f64(theta)
    gn = _norm(e.grad)
    initial = {"value": _host(e.value).astype(float), "grad_norm": _host(gn).astype(float),
               "train_error": _host(e.train_error).astype(float)}
    rel0 = _host(_rel_error(objective.model, theta, truth_w, truth_norm)) if truth is not None \
        else None

    # per-trial outputs (all B trials, on the backend)
    out_theta = theta.clone() if is_torch(theta) else theta.copy()
    out_code = _full(B, RUNNING, theta, _int(theta))
    out_iter = _full(B, 0, theta, _int(theta))
    out_value = _full(B, 0.0, theta, f64)
    out_gn = _full(B, 0.0, theta, f64)
    out_train = _full(B, 0.0, theta, f64)
    out_div = _full(B, math.nan, theta, f64)  # F of the rejected step of a diverged trial

    # the working batch (trials still running and, until compaction, frozen ones)
    ids = _on(np.arange(B), theta)
    tol = None if tol_np is None else _on(tol_np, theta)
    f_ref = _maximum(abs(e.value).to(f64) if is_torch(theta) else abs(e.value).astype(f64),
                     _full(B, 1.0, theta, f64))
    active = _full(B, True, theta, _bool(theta))
    S = stop.stall_window
    hist = None
    best = _full(B, math.inf, theta, f64)
    if stop.ftol is not None:
        hist = (theta.new_full((S + 1, B), math.inf, dtype=f64) if is_torch(theta)
                else np.full((S + 1, B), math.inf))
    work = objective
    k = 0

    def finish(mask, code: int, it: int) -> None:
        """Record the trials of the working batch in `mask` as stopped with `code` at `it`."""
        idx = ids[mask]
        out_theta[idx] = theta[mask]
        out_code[idx] = code
        out_iter[idx] = it
        v, g, tr = e.value[mask], gn[mask], e.train_error[mask]
        out_value[idx] = v.to(f64) if is_torch(v) else v
        out_gn[idx] = g.to(f64) if is_torch(g) else g
        out_train[idx] = tr.to(f64) if is_torch(tr) else tr
        active[mask] = False

    for k in range(stop.max_iter + 1):
        value = e.value.to(f64) if is_torch(e.value) else e.value.astype(f64)
        if tol is not None:
            finish(active & (e.train_error <= tol), TOL, k)
        if stop.gtol is not None:
            finish(active & (gn <= stop.gtol), GTOL, k)
        if stop.rtol is not None:
            rel = _rel_error(objective.model, theta, truth_w, truth_norm)
            finish(active & (rel <= stop.rtol), RTOL, k)
        if hist is not None:
            best = _where(active, _minimum(best, value), best)
            hist[k % (S + 1)] = best
            if k >= S:
                old = hist[(k + 1) % (S + 1)]
                finish(active & (old - best <= stop.ftol * _maximum(abs(best), best * 0 + 1e-300)),
                       STALLED, k)
        if k == stop.max_iter:
            finish(active, MAX_ITER, k)
        if stop.time_budget is not None and time.perf_counter() - t0 > stop.time_budget:
            finish(active, BUDGET, k)
        n_active = int(active.sum())
        if n_active == 0:
            break
        if compact and n_active <= active.shape[0] // 2:
            keep = _nonzero(active)
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
        tt = t.to(theta.dtype) if is_torch(theta) else t.astype(theta.dtype)
        theta_new = theta + (-tt)[:, None] * e.grad
        e_new = work.evaluate(theta_new)
        v_new = e_new.value.to(f64) if is_torch(e_new.value) else e_new.value.astype(f64)
        bad = ~_isfinite(v_new) | (v_new > stop.blowup * f_ref)
        div = active & bad
        if bool(div.any()):
            idx = ids[div]
            out_div[idx] = v_new[div]
            finish(div, DIVERGED, k)
        if stop.xtol is not None:
            small = t * _norm(e.grad).to(f64) if is_torch(t) else t * _norm(e.grad)
            lim = stop.xtol * _maximum(_norm(theta), _norm(theta) * 0 + 1.0)
            finish(active & (small <= lim), XTOL, k)
        if int(active.sum()) == active.shape[0]:  # no trial frozen: take the step as it is
            theta, e = theta_new, e_new
        else:
            theta = _where(active, theta_new, theta)
            e = BatchedEvaluation(*(_where(active, a, b) for a, b in zip(e_new, e,
                                                                          strict=True)))
        gn = _norm(e.grad)
    wall = time.perf_counter() - t0

    codes = _host(out_code)
    iters = _host(out_iter).astype(int)
    div_v = _host(out_div)
    f_ref0 = np.maximum(np.abs(initial["value"]), 1.0)
    tol_h = tol_np
    stops, messages = [], []
    for b in range(B):
        c = int(codes[b])
        stops.append(_STOP[c])
        if c == TOL:
            messages.append(f"training error <= {tol_h[b]:.3g}")
        elif c == GTOL:
            messages.append(f"gradient norm <= {stop.gtol:g}")
        elif c == RTOL:
            messages.append(f"relative error <= {stop.rtol:g}")
        elif c == XTOL:
            messages.append(f"‖x_(k+1) − x_k‖ <= {stop.xtol:g}·max(1, ‖x_k‖)")
        elif c == MAX_ITER:
            messages.append(f"{stop.max_iter} iterations")
        elif c == DIVERGED:
            messages.append(f"F = {div_v[b]:.3e} at iteration {iters[b] + 1} (reference "
                            f"{f_ref0[b]:.3e}); last finite iterate returned")
        elif c == STALLED:
            messages.append(f"F dropped by <= {stop.ftol:.2g}·|F| over the last "
                            f"{stop.stall_window} iterations")
        else:
            messages.append(f"time budget {stop.time_budget:g} s spent")
    per_trial = {b: {"diverged_at": int(iters[b]) + 1} for b in range(B)
                 if codes[b] == DIVERGED}
    rel = None
    if truth is not None:
        T = _like(T, out_theta)
        rel = _host(_rel_error(objective.model, out_theta, T, _norm(T.reshape(B, -1))))
    return BatchedResult(objective=objective, theta=out_theta, stop=stops, iterations=iters,
                         value=_host(out_value), grad_norm=_host(out_gn),
                         train_error=_host(out_train), messages=messages, wall_time=wall,
                         initial=initial, rel_error=rel, rel_error0=rel0,
                         info={"per_trial": per_trial}, rule=rule, codes=codes)


def _minimum(a, b):
    if is_torch(a):
        import torch

        return torch.minimum(a, b)
    return np.minimum(a, b)


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
    return run_batched(batch, theta0, rule, stop=stop, truth=truth, compact=compact).results()
