"""Algorithm 1 of ez2021 (L252): gradient descent that restarts from a lower-rank, smaller
initialization whenever the training error converges linearly ("too fast").

With e_k = f(U_k) = ‖A(U_kU_kᵀ) − b‖²₂ and 0-based k = 0, 1, …, K (spec §3.2):

    1. e_k = f(U_k); stop if e_k ≤ tol (optional, on by default)
    2. U_{k+1} = U_k − η ∇f(U_k)                                     (GD (3))
    3. if k mod W = 1 and k ≥ W:                                     (check)
         ratio = max_{k−W+1 ≤ k' ≤ k} e_{k'} / e_{k'−1}               (window_ratio)
         if ratio < τ:  ρ₀ ← factor·ρ₀,  r₀ ← max(r₀ − Δ_rank, r),
                        U_{k+1} ← a fresh rank-r₀ draw with ‖U‖_F = ρ₀ (overwrites step 2)

Clarifications (spec §3.2, erratum §7.8): the paper's "mod(k, W) = 1" at k = 1 needs the
nonexistent e_{2−W}, …, so the guard k ≥ W is added (first check at k = W + 1); in the default
"paper" window mode the error history is global, so a window may straddle a restart.
Options that are **not in the paper** (clearly labelled):
  window_mode="fresh": checks at k − s = W, 2W, … after the current run started at s, using only
      post-restart ratios;
  restart_policy="until_target_rank": no further restart once a run of rank r₀ = r has started
      (the literal algorithm keeps restarting successful rank-r runs forever with the Fig.-5
      parameters because their linear rate straddles τ = 0.998; spec §3.3, G14);
  max_restarts: a cap on the number of restarts (None = the paper: no cap).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from lowranklab.lowrank import LowRank
from lowranklab.problems.ez2021 import MACHINE_EPS, SymmetricSensing, rank_k_init
from lowranklab.solvers.result import Result, StopCode
from lowranklab.solvers.sensing_gd import (
    Callback,
    Recorder,
    SymmetricKernel,
    callback_state,
    evaluate,
    gd_update,
)

WINDOW_MODES = ("paper", "fresh")
RESTART_POLICIES = ("paper", "until_target_rank")


def window_ratio(errors: Sequence[float] | np.ndarray, k: int, W: int) -> float:
    """max_{k−W+1 ≤ k' ≤ k} e_{k'}/e_{k'−1}, the largest one-step error ratio over the last W
    steps (uses e_{k−W}, …, e_k; a ratio with e_{k'−1} = 0 counts as 1). Raises for k < W."""
    if int(W) != W or W < 1:
        raise ValueError(f"W must be a positive integer, got {W}")
    if k < W:
        raise ValueError(f"window_ratio needs k >= W (k={k}, W={W}): e_{{k-W}} must exist")
    if k >= len(errors):
        raise ValueError(f"k={k} is beyond the {len(errors)} recorded errors")
    e = np.asarray(errors[k - W:k + 1], dtype=float)
    prev, cur = e[:-1], e[1:]
    safe = np.where(prev == 0, 1.0, prev)
    return float(np.max(np.where(prev == 0, 1.0, cur / safe)))


def restart_gd(
    inst: SymmetricSensing,
    *,
    step: float,
    max_iter: int,
    window: int,
    tau: float,
    r0: int,
    rho0: float,
    delta_rank: int,
    factor: float,
    r: int,
    rng: np.random.Generator,
    p: int | None = None,
    U0: np.ndarray | None = None,
    window_mode: str = "paper",
    restart_policy: str = "paper",
    max_restarts: int | None = None,
    tol: float | None = MACHINE_EPS,
    on_sphere: bool = True,
    blowup: float = 1e8,
    record_every: int = 1,
    dense_until: int = 0,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> Result:
    """Run Algorithm 1 of ez2021 (see the module docstring) for k = 0, …, max_iter (= K).

    U₀ is a rank-r₀ draw on the sphere ‖U‖_F = ρ₀ (inside the ball with on_sphere=False) from
    `rng`, unless `U0` is given (e.g. to compare with plain GD from the same start). Restarts
    draw from `rng` too. Returns the usual `Result`: trace columns iter, train_error,
    test_error (with a truth), run (restart count so far), r0, rho0 (the current run's init
    rank and radius); info["restarts"] lists the events as dicts {k, ratio, train_error,
    r0, rho0, new_rank, new_norm}: at check iteration k the GD step is discarded and U_{k+1} is
    the fresh draw of rank new_rank and Frobenius norm new_norm.
    """
    d = inst.d
    p = d if p is None else int(p)
    _validate(step, max_iter, window, tau, r0, rho0, delta_rank, factor, r, p, window_mode,
              restart_policy, max_restarts, d)
    if U0 is None:
        U = rank_k_init((d, p), r0, rho0, rng, on_sphere=on_sphere)
    else:
        U = np.array(U0, dtype=float)
        if U.shape != (d, p) or not np.all(np.isfinite(U)):
            raise ValueError(f"U0 must be a finite array of shape ({d}, {p}), got {U.shape}")
    kern, truth = SymmetricKernel(inst), inst.truth
    has_truth = truth is not None
    names = ["iter", "train_error"] + (["test_error"] if has_truth else []) + [
        "run", "r0", "rho0"]
    rec = Recorder(names, record_every, dense_until)
    errors = np.empty(max_iter + 1)
    events: list[dict] = []
    rank, radius, start = int(r0), float(rho0), 0
    force = False

    t0 = time.perf_counter()
    last_report = t0
    stop, message, k = StopCode.MAX_ITER, "", 0
    res, f, test = evaluate(kern, U, truth)
    if not np.isfinite(f):
        raise ValueError("f(U0) is not finite")
    f_ref = max(f, 1.0)
    U_prev, f_prev, test_prev = U, f, test
    info: dict = {"step": float(step), "window_mode": window_mode,
                  "restart_policy": restart_policy, "max_restarts": max_restarts,
                  "window": int(window), "tau": float(tau)}

    def row(k: int, f: float, test: float) -> None:
        vals = (f, test) if has_truth else (f,)
        rec.add(k, *vals, len(events), rank, radius)

    try:
        for k in range(max_iter + 1):
            if k > 0:
                res, f, test = evaluate(kern, U, truth)
                if k == start:
                    f_ref = max(f_ref, f)
                if not np.isfinite(f) or f > blowup * f_ref or not np.all(np.isfinite(U)):
                    stop = StopCode.DIVERGED
                    message = (f"f = {f:.3e} at iteration {k}; last finite iterate returned")
                    info["diverged_at"] = k
                    U, f, test, k = U_prev, f_prev, test_prev, k - 1
                    break
            errors[k] = f
            if force or rec.wants(k):
                row(k, f, test)
                force = False
            if tol is not None and f <= tol:
                stop, message = StopCode.CONVERGED, f"training error <= {tol:g}"
                break
            if k == max_iter:
                break
            if callbacks:
                state = callback_state(k, U, kern, res, f, time.perf_counter() - t0, step)
                if any(cb(state) for cb in callbacks):
                    stop, message = StopCode.INTERRUPTED, "stopped by callback"
                    break
            if progress and time.perf_counter() - last_report > 1.0:
                last_report = time.perf_counter()
                print(f"  restart_gd iter {k}/{max_iter}  f={f:.3e}  restarts={len(events)}",
                      file=sys.stderr)
            U_prev, f_prev, test_prev = U, f, test
            U = gd_update(kern, res, U, step)  # step 1: GD (3)
            if _is_check(k, start, window, window_mode) and _may_restart(
                    rank, r, len(events), restart_policy, max_restarts):
                ratio = window_ratio(errors, k, window)
                if ratio < tau:  # step 2(b): linear convergence in the last window
                    row(k, f, test)
                    radius *= factor
                    rank = max(rank - delta_rank, r)
                    U = rank_k_init((d, p), rank, radius, rng, on_sphere=on_sphere)
                    sv = np.linalg.svd(U, compute_uv=False)
                    events.append({"k": k, "ratio": ratio, "train_error": f, "r0": rank,
                                   "rho0": radius, "new_rank": int(np.sum(
                                       sv > max(d, p) * MACHINE_EPS * sv[0])),
                                   "new_norm": float(np.linalg.norm(U))})
                    start, force = k + 1, True
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"
    row(k, f, test)
    info.update(restarts=events, n_restarts=len(events), final_r0=rank, final_rho0=radius,
                final_train_error=f, final_test_error=test, last_run_start=start)
    n = k + 1
    return Result(theta=U.ravel(), X=LowRank(U, U), stop=stop, iterations=k, trace=rec.trace(),
                  counts={"grad_evals": n, "forward": n, "adjoint": k},
                  wall_time=time.perf_counter() - t0, message=message, info=info)


def _is_check(k: int, start: int, W: int, mode: str) -> bool:
    if mode == "paper":
        return k % W == 1 and k >= W  # ez2021 Alg. 1 "mod(k, W) = 1", guarded (spec §3.2)
    return k - start >= W and (k - start) % W == 0  # fresh-window mode (not in the paper)


def _may_restart(rank: int, r: int, n: int, policy: str, max_restarts: int | None) -> bool:
    if max_restarts is not None and n >= max_restarts:
        return False
    return not (policy == "until_target_rank" and rank <= r)


def _validate(step, max_iter, W, tau, r0, rho0, delta_rank, factor, r, p, window_mode,
              restart_policy, max_restarts, d) -> None:
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite number > 0, got {step}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    if int(W) != W or W < 2:
        raise ValueError(f"window must be an integer >= 2 (mod(k, W) = 1 never holds for W = 1),"
                         f" got {W}")
    if not tau >= 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    if int(r) != r or int(r0) != r0 or not 1 <= r <= r0 <= min(d, p):
        raise ValueError(f"need integers 1 <= r <= r0 <= min(d, p) = {min(d, p)}, "
                         f"got r={r}, r0={r0}")
    if not (np.isfinite(rho0) and rho0 > 0):
        raise ValueError(f"rho0 must be a finite number > 0, got {rho0}")
    if int(delta_rank) != delta_rank or delta_rank < 1:
        raise ValueError(f"delta_rank must be a positive integer, got {delta_rank}")
    if not 0 < factor < 1:
        raise ValueError(f"factor must lie in (0, 1), got {factor}")
    if window_mode not in WINDOW_MODES:
        raise ValueError(f"window_mode must be one of {WINDOW_MODES}, got {window_mode!r}")
    if restart_policy not in RESTART_POLICIES:
        raise ValueError(f"restart_policy must be one of {RESTART_POLICIES}, "
                         f"got {restart_policy!r}")
    if max_restarts is not None and (int(max_restarts) != max_restarts or max_restarts < 0):
        raise ValueError(f"max_restarts must be None or a non-negative integer, "
                         f"got {max_restarts}")
