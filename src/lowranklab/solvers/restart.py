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

from collections.abc import Sequence

import numpy as np

from lowranklab.backend import require_numpy
from lowranklab.models.init import rank_k_init
from lowranklab.problems.ez2021 import MACHINE_EPS, SymmetricSensing
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result
from lowranklab.solvers.sensing_gd import sensing_gd

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


class Restart:
    """The restart test of ez2021 Algorithm 1 as an engine hook. At iteration k it stores
    e_k = f(U_k); at a check iteration whose window ratio is below τ it forces a trace row and
    replaces the next iterate U_{k+1} (the GD step just taken) by a fresh rank-r₀ draw of
    radius ρ₀ (both reduced first)."""

    def __init__(self, *, shape, window, tau, r0, rho0, delta_rank, factor, r, rng, max_iter,
                 window_mode, restart_policy, max_restarts, on_sphere) -> None:
        self.shape, self.W, self.tau = shape, int(window), float(tau)
        self.rank, self.radius, self.delta_rank, self.factor = int(r0), float(rho0), \
            int(delta_rank), float(factor)
        self.r, self.rng, self.on_sphere = int(r), rng, on_sphere
        self.mode, self.policy, self.max_restarts = window_mode, restart_policy, max_restarts
        self.errors = np.empty(max_iter + 1)
        self.events: list[dict] = []
        self.start, self.pending = 0, None

    def __call__(self, ctx) -> None:
        k = ctx.k
        if self.pending is not None:  # the check at k − 1 fired: U_k is a fresh draw
            ratio, f_check = self.pending
            self.pending = None
            self.radius *= self.factor
            self.rank = max(self.rank - self.delta_rank, self.r)
            U = rank_k_init(self.shape, self.rank, self.radius, self.rng,
                            on_sphere=self.on_sphere)
            sv = np.linalg.svd(U, compute_uv=False)
            self.events.append({"k": k - 1, "ratio": ratio, "train_error": f_check,
                                "r0": self.rank, "rho0": self.radius,
                                "new_rank": int(np.sum(sv > max(self.shape) * MACHINE_EPS
                                                       * sv[0])),
                                "new_norm": float(np.linalg.norm(U))})
            self.start = k
            ctx.replace(U.ravel())
        f = ctx.e.value
        self.errors[k] = f
        ctx.extra.update(run=len(self.events), r0=self.rank, rho0=self.radius)
        if _is_check(k, self.start, self.W, self.mode) and _may_restart(
                self.rank, self.r, len(self.events), self.policy, self.max_restarts):
            ratio = window_ratio(self.errors, k, self.W)
            if ratio < self.tau:  # step 2(b): linear convergence in the last window
                self.pending = (ratio, f)
                ctx.force_record = True

    def info(self) -> dict:
        return {"restarts": self.events, "n_restarts": len(self.events),
                "final_r0": self.rank, "final_rho0": self.radius,
                "last_run_start": self.start}


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
    callbacks: Sequence[mon.Callback] = (),
    progress: bool = False,
) -> Result:
    """Run Algorithm 1 of ez2021 (see the module docstring) for k = 0, …, max_iter (= K):
    `sensing_gd` with the `Restart` hook.

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
        require_numpy(U0, "restart_gd")
        U = np.array(U0, dtype=float)
        if U.shape != (d, p) or not np.all(np.isfinite(U)):
            raise ValueError(f"U0 must be a finite array of shape ({d}, {p}), got {U.shape}")
    hook = Restart(shape=(d, p), window=window, tau=tau, r0=r0, rho0=rho0,
                   delta_rank=delta_rank, factor=factor, r=r, rng=rng, max_iter=max_iter,
                   window_mode=window_mode, restart_policy=restart_policy,
                   max_restarts=max_restarts, on_sphere=on_sphere)
    res = sensing_gd(inst, U, step=step, max_iter=max_iter, tol=tol, blowup=blowup,
                     record_every=record_every, dense_until=dense_until, callbacks=callbacks,
                     hooks=[hook], progress=progress)
    res.info.update(window_mode=window_mode, restart_policy=restart_policy,
                    max_restarts=max_restarts, window=int(window), tau=float(tau))
    return res


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
