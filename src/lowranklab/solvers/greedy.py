"""Greedy low-rank solvers: GLRL (glrl2021 Algorithm 1, spec §1.6) and R1MP (rank-one matrix
pursuit with the coefficient refit, Wang et al. 2014; glrl2021 §5, spec §1.8).

GLRL on L(U) = ½ f(UUᵀ), any `Loss` f (sparse, dense or factored gradient):

    r ← 0, W₀ ← 0, U₀ ← (d×0)
    while λ₁(−∇f(W_r)) > tol_exit:
        r ← r + 1
        u_r ← top eigenvector of −∇f(W_{r−1})        (Lanczos, matrix-free; errata E1, E2)
        U_r(0) ← [U_{r−1}(∞), √ε u_r]
        U_r(k+1) ← U_r(k) − η ∇f(U_r U_rᵀ) U_r         (GD on ½f(UUᵀ) to a stationary point)
    return the critical points W̄_r = U_r(∞)U_r(∞)ᵀ

∇f is used through sym(∇f) = ½(∇f + ∇fᵀ), the gradient of ½(f(W) + f(Wᵀ)) at symmetric W
(spec §1.2), so losses with a non-symmetric gradient (plain entry sampling) work too. Nothing
here builds a dense d×d array unless the loss's own gradient is dense (dense sensing, full
observation) or d ≤ `dense_eig_max` (the eigenproblem is then solved by `eigh`).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from lowranklab.backend import concat, copy, is_torch, to_like, vdot, zeros
from lowranklab.lowrank import LowRank, Matrix, as_dense, fro_dist_sq
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Evaluation, Objective
from lowranklab.problems.loss import Loss
from lowranklab.solvers import monitors as mon
from lowranklab.solvers import rules
from lowranklab.solvers.engine import INTERRUPTED, Stop, catch_interrupt, run
from lowranklab.solvers.result import Result, StopCode, Trace

DENSE_EIG_MAX = 300


def _sym_times(G: Matrix, Z: np.ndarray) -> np.ndarray:
    """sym(G) Z."""
    return 0.5 * (G @ Z + G.T @ Z)


def top_eigenpairs(G: Matrix, k: int = 2, *, dense_max: int = DENSE_EIG_MAX,
                   tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenpairs (decreasing) of −sym(G): dense `eigh` for d ≤ dense_max,
    otherwise Lanczos (`eigsh`, which="LA") on the matrix-free product v ↦ −sym(G)v."""
    d = G.shape[0]
    k = min(k, d)
    if is_torch(G.L if isinstance(G, LowRank) else G):
        if d > dense_max:
            raise ValueError(f"GLRL on torch solves its eigenproblems densely: d = {d} > "
                             f"dense_eig_max = {dense_max}; use NumPy arrays for larger d")
        import torch

        Gd = as_dense(G)
        lam, V = torch.linalg.eigh(-0.5 * (Gd + Gd.mT))
        return lam.flip(0)[:k], V.flip(1)[:, :k]
    if d <= dense_max:
        if isinstance(G, LowRank):
            Gd = G.dense()
        elif sp.issparse(G):
            Gd = G.toarray()
        else:
            Gd = np.asarray(G)
        S = -0.5 * (Gd + Gd.T)
        lam, V = np.linalg.eigh(S)
        return lam[::-1][:k], V[:, ::-1][:, :k]
    op = LinearOperator((d, d), matvec=lambda v: -_sym_times(G, v.reshape(-1, 1)).ravel(),
                        dtype=float)
    v0 = np.random.default_rng(0).standard_normal(d)
    lam, V = eigsh(op, k=max(k, 2) if d > 2 else k, which="LA", v0=v0, tol=tol)
    order = np.argsort(lam)[::-1]
    return lam[order][:k], V[:, order][:, :k]


@dataclass
class Phase:
    """One GLRL phase: the start eigenpair of −∇f(W_{r−1}) and the end state."""

    r: int
    lam1: float  # λ₁(−∇f(W_{r−1}))
    lam2: float
    u: np.ndarray
    iterations: int = 0
    t_start: float = 0.0  # continuous time (Σ η) at the phase start
    t_end: float = 0.0
    f: float = np.nan  # f(W_r)
    grad_norm: float = np.nan  # ‖∇L(U_r)‖_F = ‖sym(∇f) U_r‖_F
    stop: str = ""

    def as_dict(self) -> dict:
        return {"r": self.r, "lam1": self.lam1, "lam2": self.lam2,
                "iterations": self.iterations, "t_start": self.t_start, "t_end": self.t_end,
                "f": self.f, "grad_norm": self.grad_norm, "stop": self.stop}


def _check_positive(name: str, v: float | None, allow_none: bool = True) -> None:
    if v is None and allow_none:
        return
    if v is None or not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v}")


class Clock:
    """Hook: the continuous time t = Σ η of GD on L(U) = ½ f(UUᵀ) (η = 2 × the engine's step
    on f(UUᵀ)), the trajectory points (t, U) whenever W = UUᵀ moved by `spacing` (Frobenius),
    and the norm cap ‖U‖²_F ≤ max_norm (`diverged` beyond it)."""

    def __init__(self, d: int, t0: float, spacing: float | None, trajectory: list | None,
                 max_norm: float) -> None:
        self.d, self.t, self.spacing, self.trajectory = d, float(t0), spacing, trajectory
        self.max_norm = max_norm
        self.last = None

    def __call__(self, ctx) -> None:
        U = ctx.x.reshape(self.d, -1)
        if ctx.k > 0:
            self.t += 2.0 * ctx.step
            if vdot(U, U) > self.max_norm:
                ctx.stop(StopCode.DIVERGED, f"‖U‖²_F > max_norm = {self.max_norm:g}")
            if self.spacing is not None and fro_dist_sq(
                    LowRank(U, U), LowRank(self.last, self.last)) >= self.spacing**2:
                self.trajectory.append((self.t, copy(U)))
                self.last = copy(U)
        elif self.spacing is not None:
            self.last = copy(U)
        ctx.extra["t"] = self.t


def shifted(callbacks: Sequence[mon.Callback], base: int) -> list[mon.Callback]:
    """The callbacks of a greedy outer loop for one inner solve: each sees the iteration
    counted over all phases so far (base + the phase's own iteration)."""
    return [lambda st, c=c: c(st._replace(iteration=base + st.iteration))
            for c in callbacks]


def descend(loss: Loss, U: np.ndarray, *, step: float | None, gtol: float, max_iter: int,
            t0: float = 0.0, armijo_c: float = 0.4, max_step: float | None = None,
            blowup: float = 1e8, max_norm: float = np.inf, record_spacing: float | None = None,
            trajectory: list | None = None, callbacks: Sequence[mon.Callback] = (),
            time_budget: float | None = None, record_every: int = 10**9):
    """GD on L(U) = ½ f(UUᵀ) to a stationary point: U ← U − η sym(∇f(UUᵀ)) U.

    The engine on `Objective(loss, SymmetricFactor)` (F = f(UUᵀ), ∇F = 2 sym(∇f)U, so a step
    η on L is the step η/2 on F). step=None: Armijo backtracking (each iteration starts from
    1.25 × the last accepted step, capped by max_step); otherwise the constant step η (the
    paper's GD, spec §1.6). Stops when ‖∇L‖_F ≤ gtol. callbacks see the `State` with
    state.extra["t"] the continuous time. Returns (Result, t): the result's info["t"] too.
    """
    d, r = U.shape
    objective = Objective(loss, SymmetricFactor(d, r))
    if step is None:
        rule: rules.Rule = rules.Armijo(0.5 * (max_step or 1.0) * 1e-2, c=armijo_c, grow=1.25,
                                        max_step=None if max_step is None else 0.5 * max_step)
    else:
        rule = rules.Constant(0.5 * step)
    clock = Clock(d, t0, record_spacing, trajectory, max_norm)
    stop = Stop(max_iter=max_iter, tol=None, gtol=2.0 * gtol if gtol > 0 else None, ftol=None,
                time_budget=time_budget, blowup=blowup)
    res = run(objective, U.reshape(-1), rule, stop=stop, monitors=[], callbacks=callbacks,
              hooks=[clock], record_every=record_every, name="glrl-phase")
    res.info["t"] = clock.t
    return res


def glrl(
    loss: Loss,
    *,
    epsilon: float = 1e-7,
    step: float | None = None,
    max_rank: int | None = None,
    gtol: float = 1e-10,
    exit_tol: float | None = None,
    max_iter: int = 10**7,
    max_norm: float = np.inf,
    truth: Matrix | None = None,
    record_spacing: float | None = None,
    callbacks: Sequence[mon.Callback] = (),
    time_budget: float | None = None,
    dense_eig_max: int = DENSE_EIG_MAX,
    progress: bool = False,
    like=None,
) -> Result:
    """Greedy Low-Rank Learning, glrl2021 Algorithm 1 (reconstructed in spec §1.6).

    epsilon: the squared norm ε of the new column √ε u_r (paper: 1e-7).
    step: the constant GD step η on ½f(UUᵀ) (paper: 1e-3); None = Armijo backtracking.
    max_rank: cap on the number of phases (default d).
    gtol: a phase ends when ‖∇f(W)U‖_F ≤ gtol (spec §1.6 [proposed]) or after max_iter steps.
    exit_tol: GLRL stops when λ₁(−∇f(W_r)) ≤ exit_tol; default 1e-8·λ₁(−∇f(0)).
    record_spacing: store (t, U) whenever W moved by this much (Frobenius) — the GLRL
    trajectory of Fig. 1 — plus every phase start and end.

    Returns a `Result` whose `theta`/`X` are the last U and UUᵀ, with `info["phases"]` (list of
    `Phase.as_dict()`), `info["critical_points"]` (the factors U_r of W̄_r, r = 0..K),
    `info["trajectory"]` (list of (t, U)) when recorded, `info["rank"]`.

    like: a torch tensor to run on its device and dtype (the factors start as an empty
    tensor like it; the loss must accept tensors, e.g. LeastSquares); NumPy by default.
    """
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a lowranklab Loss, got {type(loss).__name__}")
    d1, d2 = loss.shape
    if d1 != d2:
        raise ValueError(f"GLRL needs a square (symmetric) problem, got {d1}×{d2}")
    d = d1
    _check_positive("epsilon", epsilon, allow_none=False)
    _check_positive("step", step)
    _check_positive("gtol", gtol, allow_none=False)
    _check_positive("exit_tol", exit_tol)
    if max_rank is None:
        max_rank = d
    if int(max_rank) != max_rank or not 1 <= max_rank <= d:
        raise ValueError(f"max_rank must be an integer in [1, {d}], got {max_rank}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter}")

    clock0 = time.perf_counter()
    op = getattr(loss, "op", None)
    counts0 = dict(op.counts) if op is not None else {}
    U = zeros((d, 0), like) if like is not None else np.zeros((d, 0))
    if like is not None and truth is not None and not isinstance(truth, LowRank):
        truth = to_like(np.asarray(truth), like)
    elif like is not None and truth is not None:
        truth = LowRank(to_like(truth.L, like), to_like(truth.R, like))
    trace = Trace()
    phases: list[Phase] = []
    critical = [copy(U)]
    trajectory: list | None = [] if record_spacing is not None else None
    t = 0.0
    total_iter = 0
    stop, message = StopCode.MAX_ITER, f"rank cap {max_rank} reached"
    lam0 = None

    def record(r: int, U: np.ndarray, f: float, gn: float) -> None:
        row = {"iter": total_iter, "phase": r, "t": t, "f": f, "grad_norm": gn,
               "time": time.perf_counter() - clock0}
        if truth is not None:
            X = LowRank(U, U)
            row["test_error"] = fro_dist_sq(X, truth)
        trace.append(row)

    f0 = loss.value(LowRank(U, U))
    record(0, U, f0, 0.0)
    r = 0
    lam1 = np.nan
    with catch_interrupt() as ctrl_c:
        while True:
            G = loss.grad(LowRank(U, U))
            lam, V = top_eigenpairs(G, 2, dense_max=dense_eig_max)
            lam1 = float(lam[0])
            lam2 = float(lam[1]) if lam.shape[0] > 1 else -np.inf
            if lam0 is None:
                lam0 = max(lam1, 0.0)
                if exit_tol is None:
                    exit_tol = 1e-8 * lam0 if lam0 > 0 else 1e-12
            if lam1 <= exit_tol:  # Lemma A.2: W_r minimises f over the PSD cone
                stop, message = StopCode.CONVERGED, (f"λ₁(−∇f(W_{r})) = {lam1:.3e} ≤ "
                                                     f"{exit_tol:.3e}")
                break
            if r >= max_rank:
                break
            if lam1 - lam2 <= 1e-8 * abs(lam1):
                warnings.warn(f"GLRL phase {r + 1}: top eigenvalue of −∇f is not simple "
                              f"(gap {lam1 - lam2:.2e}); the direction is ill-defined",
                              stacklevel=2)
            r += 1
            v = V[:, 0]
            u = v * (float(np.sign(float(v[int(abs(v).argmax())]))) or 1.0)
            ph = Phase(r=r, lam1=lam1, lam2=lam2, u=u, t_start=t)
            U = concat([U, np.sqrt(epsilon) * u[:, None]], axis=1)
            if trajectory is not None:
                trajectory.append((t, copy(U)))
            if progress:
                print(f"  glrl phase {r}: λ₁ = {lam1:.4g}, λ₂ = {lam2:.4g}", file=sys.stderr)
            budget = None if time_budget is None else max(
                time_budget - (time.perf_counter() - clock0), 0.0)
            res = descend(loss, U, step=step, gtol=gtol, max_iter=max_iter, t0=t,
                          max_norm=max_norm, record_spacing=record_spacing,
                          trajectory=trajectory, callbacks=shifted(callbacks, total_iter),
                          time_budget=budget)
            U = res.theta.reshape(d, r)
            k, t, st = res.iterations, res.info["t"], res.stop
            f, gn = float(res.trace["value"][-1]), 0.5 * float(res.trace["grad_norm"][-1])
            total_iter += k
            ph.iterations, ph.t_end, ph.f, ph.grad_norm, ph.stop = k, t, f, gn, st.value
            phases.append(ph)
            critical.append(copy(U))
            if trajectory is not None:
                trajectory.append((t, copy(U)))
            record(r, U, f, gn)
            if st in (StopCode.DIVERGED, StopCode.INTERRUPTED, StopCode.BUDGET):
                stop, message = st, f"phase {r} stopped: {st.value} ({res.message})"
                break
    if ctrl_c.fired:
        stop, message = StopCode.INTERRUPTED, INTERRUPTED

    counts = {"iterations": total_iter}
    if op is not None:
        counts.update({key: v - counts0.get(key, 0) for key, v in op.counts.items()})
    info = {"phases": [p.as_dict() for p in phases], "directions": [p.u for p in phases],
            "critical_points": critical, "rank": U.shape[1], "epsilon": epsilon,
            "step": step, "exit_tol": exit_tol, "lam1_final": lam1, "t": t}
    if trajectory is not None:
        info["trajectory"] = trajectory
    return Result(theta=copy(U.reshape(-1)), X=LowRank(U, U), stop=stop,
                  iterations=total_iter, trace=trace, counts=counts,
                  wall_time=time.perf_counter() - clock0, message=message, info=info,
                  factors=(copy(U),))


def r1mp(loss: Loss, r_max: int, *, dense_eig_max: int = DENSE_EIG_MAX,
         exit_tol: float | None = None, callbacks: Sequence[mon.Callback] = ()) -> Result:
    """Symmetric rank-one matrix pursuit (spec §1.8): u_r = top eigenvector of −∇f(W),
    B_r = u_r u_rᵀ, a = argmin_a f(Σ a_i B_i) (unconstrained: W may be indefinite).

    The refit assumes f quadratic: f(Σ a_i B_i) = f(0) + bᵀa + ½ aᵀHa with
    b_i = ⟨B_i, ∇f(0)⟩ and H_ij = ⟨B_i, ∇²f[B_j]⟩ (Hessian products, so no dense d×d array for
    sparse losses); a = −H⁺b by least squares.

    Stops `converged` when |λ₁(−∇f(W))| ≤ exit_tol (default 1e-8·|λ₁(−∇f(0))|): the next atom
    u uᵀ would have uᵀ∇f(W)u ≈ 0, so its refit cannot lower f (a solved problem has ∇f = 0);
    `max_iter` after r_max atoms (the papers' runs); `interrupted` when a callback returns True
    (called after each atom with the `State`, iteration = r) or on Ctrl-C, with the atoms so
    far. Returns a `Result` with X = Σ a_i u_i u_iᵀ as a LowRank, theta = a, factors
    (U diag(a), U), info["atoms"] (d×r), info["coefficients"] (per r), info["f"] (f after
    each r).
    """
    d = loss.shape[0]
    if int(r_max) != r_max or not 1 <= r_max <= d:
        raise ValueError(f"r_max must be an integer in [1, {d}], got {r_max}")
    _check_positive("exit_tol", exit_tol)
    t0 = time.perf_counter()
    zero = LowRank(np.zeros((d, 1)), np.zeros((d, 1)))
    G0 = loss.grad(zero)
    Ucols: list[np.ndarray] = []
    H = np.zeros((0, 0))
    b = np.zeros(0)
    a = np.zeros(0)
    fs, coefs = [], []
    trace = Trace()
    X, r = zero, 0
    stop, message = StopCode.MAX_ITER, f"{r_max} atoms"
    with catch_interrupt() as ctrl_c:
        while True:
            G = G0 if r == 0 else loss.grad(X)
            lam, V = top_eigenpairs(G, 1, dense_max=dense_eig_max)
            if exit_tol is None:
                exit_tol = 1e-8 * abs(float(lam[0])) if lam[0] != 0 else 1e-300
            if abs(float(lam[0])) <= exit_tol:
                stop, message = StopCode.CONVERGED, f"|λ₁(−∇f(W_{r}))| = {abs(lam[0]):.3e}"
                break
            if r == r_max:
                break
            u = V[:, 0]
            U = np.stack([*Ucols, u], axis=1)
            Hu = loss.hvp(zero, LowRank(u[:, None], u[:, None]))  # ∇²f[u uᵀ]
            hcol = np.einsum("ir,ir->r", U, np.asarray(Hu @ U))  # ⟨u_i u_iᵀ, ∇²f[u uᵀ]⟩
            Hn = np.zeros((r + 1, r + 1))
            Hn[:r, :r] = H
            Hn[:, r] = hcol
            Hn[r, :] = hcol
            bn = np.append(b, float(u @ np.asarray(G0 @ u)))
            an = np.linalg.lstsq(Hn, -bn, rcond=None)[0]
            Xn = LowRank(U * an, U)
            f = loss.value(Xn)
            # the atom is in, all at once (a Ctrl-C leaves W_{r-1} or W_r, never half of one)
            r, H, b, a, X, Ucols = r + 1, Hn, bn, an, Xn, [*Ucols, u]
            fs.append(f)
            coefs.append(a.copy())
            trace.append({"iter": r, "rank": r, "f": f, "lam1": float(lam[0])})
            if callbacks:
                st = mon.State(r, a, Evaluation(f, f, None, X, None), time.perf_counter() - t0,
                               float("nan"), point=X)
                if any(cb(st) for cb in callbacks):
                    stop, message = StopCode.INTERRUPTED, "stopped by callback"
                    break
    if ctrl_c.fired:
        stop, message = StopCode.INTERRUPTED, INTERRUPTED
    U = np.stack(Ucols, axis=1) if Ucols else np.zeros((d, 0))
    if not trace.columns:
        trace.append({"iter": 0, "rank": 0, "f": loss.value(zero), "lam1": np.nan})
    return Result(theta=a.copy(), X=X if Ucols else LowRank(U, U), stop=stop, iterations=r,
                  trace=trace, counts={}, wall_time=time.perf_counter() - t0, message=message,
                  info={"atoms": U, "coefficients": coefs, "f": fs},
                  factors=(U * a, U))
