"""GD on deep factors W = U₁⋯U_L for f(W) (no ½), with the scalar "group RMSprop" step of
glrl2021 App. C (spec §2.3) and the clock t = Σ η̃, and Deep GLRL (Algorithm 2, spec §1.7).

    v_{k+1} = a v_k + (1 − a)‖∇L(θ_k)‖²,  η̃_k = η / (√(v_{k+1}/(1 − a^{k+1})) + ε)
    θ_{k+1} = θ_k − η̃_k ∇L(θ_k)          (one scalar step for all factors: a time-reparametrised
                                           GD path; a = 0.99, v₀ = 0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lowranklab.backend import require_numpy
from lowranklab.flows.glrl import dense_grad
from lowranklab.models.deep import DeepFactor
from lowranklab.objective import Objective
from lowranklab.problems.loss import Loss
from lowranklab.solvers import rules
from lowranklab.solvers.engine import INTERRUPTED, FlatSpace, Stop, catch_interrupt, run
from lowranklab.solvers.greedy import shifted, top_eigenpairs
from lowranklab.solvers.result import Result, StopCode, Trace


@dataclass(frozen=True)
class RMSpropStep:
    """The scalar RMSprop rule (spec §2.3); `paper_L3`/`default_L3`/`paper_L4` are Table 1."""

    eta: float
    eps: float
    a: float = 0.99


PAPER_L3 = RMSpropStep(2e-5, 1e-4)  # glrl2021 Table 1 (does not finish in 1e6 steps, §2.2)
DEFAULT_L3 = RMSpropStep(1e-4, 1e-4)  # spec §2.2 [proposed]
PAPER_L4 = RMSpropStep(3e-4, 1e-3)


def product(Us: list[np.ndarray]) -> np.ndarray:
    W = Us[0]
    for U in Us[1:]:
        W = W @ U
    return W


def transpose_symmetric(model: DeepFactor):
    """θ ↦ θ with U_{L+1−i} = U_iᵀ enforced (the average of the pair): an invariant set of GD
    for symmetric f and symmetric G, e.g. Deep GLRL's iterates; round-off would otherwise
    excite the unstable antisymmetric directions (erratum E5) and leave the symmetric path."""

    def project(theta: np.ndarray) -> np.ndarray:
        Us = [U.copy() for U in model.unpack(theta)]
        L = len(Us)
        for i in range((L + 1) // 2):
            A = 0.5 * (Us[i] + Us[L - 1 - i].T)
            Us[i], Us[L - 1 - i] = A, A.T.copy()
        return model.pack(*Us)

    return project


class Horizon:
    """Hook: the clock t = Σ_k t_k (the step of each move) in state.extra["t"]; the run ends
    (`converged`: the time horizon is what was asked for) once t ≥ t_max."""

    def __init__(self, t_max: float) -> None:
        self.t_max, self.t = float(t_max), 0.0

    def __call__(self, ctx) -> None:
        if ctx.k > 0:
            self.t += ctx.step
        ctx.extra["t"] = self.t
        if self.t >= self.t_max:
            ctx.stop(StopCode.CONVERGED, f"reached t = {self.t:g} >= t_max = {self.t_max:g}")

    def info(self) -> dict:
        return {"t": self.t}


def deep_gd(loss: Loss, Us: list[np.ndarray], *, step: float | RMSpropStep, max_iter: int,
            t_max: float = np.inf, gtol: float = 1e-10, record_every: int = 100,
            callbacks=(), transpose_symmetric_path: bool = False,
            time_budget: float | None = None) -> Result:
    """GD on f(U₁⋯U_L) with a constant step or the scalar RMSprop: the engine on
    `Objective(loss, DeepFactor)`. Stops at max_iter, at continuous time t_max, when
    ‖∇_{U_{1:L}}‖_F ≤ gtol, or after time_budget seconds (`budget`). callbacks see the
    `State` (state.extra["t"] the clock). Returns the `Result` (factors U₁, …, U_L; info["t"]).

    transpose_symmetric_path: project after each step onto U_{L+1−i} = U_iᵀ
    (`transpose_symmetric`)."""
    for U in Us:
        require_numpy(U, "deep_gd")
    Us = [np.array(U, dtype=float) for U in Us]
    d1, d2 = Us[0].shape[0], Us[-1].shape[1]
    model = DeepFactor(d1, d2, len(Us), widths=[U.shape[1] for U in Us[:-1]])
    objective = Objective(loss, model)
    space = FlatSpace(objective, project=transpose_symmetric(model)
                      if transpose_symmetric_path else None)
    if isinstance(step, RMSpropStep):
        rule: rules.Rule = rules.RMSprop(step.eta, step.eps, step.a)
    else:
        rule = rules.Constant(step)
    stop = Stop(max_iter=max_iter, tol=None, gtol=gtol if gtol > 0 else None, ftol=None,
                time_budget=time_budget)
    return run(space, model.pack(*Us), rule, stop=stop, monitors=[], callbacks=callbacks,
               hooks=[Horizon(t_max)], record_every=record_every, name="deep-gd")


def deep_glrl(loss: Loss, L: int, *, epsilon: float = 1e-7, step: float | RMSpropStep = 1e-3,
              max_rank: int | None = None, gtol: float = 1e-10, max_iter: int = 10**6,
              exit_tol: float | None = None, callbacks=(),
              time_budget: float | None = None) -> Result:
    """Deep GLRL, glrl2021 Algorithm 2 (errata E3: the loss is f(U₁⋯U_L); r ← 0 added).

    Each phase appends ε' = ε^{1/L} blocks: U₁ ← [U₁, ε'u_r], U_k ← blkdiag(U_k, ε'),
    U_L ← [U_L; ε'u_rᵀ], so the product gains exactly ε u_r u_rᵀ and balancedness is kept
    (U₁ᵀu_r = 0). For L = 2 this is Algorithm 1 (GD on ½f(UUᵀ) with U₂ = U₁ᵀ).

    Stops `converged` when λ₁(−∇f(W_r)) ≤ exit_tol (default 1e-8·λ₁(−∇f(0))), `max_iter` at
    the rank cap; a phase that ends `diverged`, `interrupted` (a callback, which sees the
    iterations counted over all phases) or `budget` (time_budget seconds for the whole run)
    ends the run with its code, and Ctrl-C anywhere (in a phase or in the eigensolve between
    two) returns the phases done so far as `interrupted`.
    """
    d = loss.shape[0]
    if int(L) != L or L < 2:
        raise ValueError(f"L must be an integer >= 2, got {L}")
    max_rank = d if max_rank is None else int(max_rank)
    t0 = time.perf_counter()
    ep = epsilon ** (1.0 / L)
    Us = [np.zeros((d, 0))] + [np.zeros((0, 0)) for _ in range(L - 2)] + [np.zeros((0, d))]
    phases, critical, factors_after = [], [np.zeros((d, d))], []
    trace = Trace()
    stop, message, r, t = StopCode.MAX_ITER, f"rank cap {max_rank} reached", 0, 0.0
    W = np.zeros((d, d))
    total = 0
    with catch_interrupt() as ctrl_c:
        while True:
            lam, V = top_eigenpairs(dense_grad(loss, W), 2)
            if exit_tol is None:
                exit_tol = 1e-8 * max(float(lam[0]), 1e-300)
            if lam[0] <= exit_tol:
                stop, message = StopCode.CONVERGED, f"λ₁(−∇f(W_{r})) = {lam[0]:.3e}"
                break
            if r >= max_rank:
                break
            u = V[:, 0] * (np.sign(V[np.argmax(np.abs(V[:, 0])), 0]) or 1.0)
            new = [np.hstack([Us[0], ep * u[:, None]])]
            for Uk in Us[1:-1]:
                B = np.zeros((r + 1, r + 1))
                B[:r, :r] = Uk
                B[r, r] = ep
                new.append(B)
            new.append(np.vstack([Us[-1], ep * u[None, :]]))
            budget = None if time_budget is None else max(
                time_budget - (time.perf_counter() - t0), 0.0)
            res = deep_gd(loss, new, step=step, max_iter=max_iter, gtol=gtol,
                          transpose_symmetric_path=True, time_budget=budget,
                          callbacks=shifted(callbacks, total))
            r += 1
            factors_after.append([U.copy() for U in new])
            Us = list(res.factors)
            t += res.info["t"]
            total += res.iterations
            W = product(Us)
            critical.append(W.copy())
            phases.append({"r": r, "lam1": float(lam[0]), "lam2": float(lam[1]),
                           "iterations": res.iterations, "t_end": t,
                           "grad_norm": float(res.trace["grad_norm"][-1]), "f": loss.value(W),
                           "stop": res.stop.value})
            trace.append({"iter": r, "phase": r, "t": t, "f": loss.value(W)})
            if res.stop in (StopCode.DIVERGED, StopCode.INTERRUPTED, StopCode.BUDGET):
                stop, message = res.stop, f"phase {r} stopped: {res.stop.value} ({res.message})"
                break
    if ctrl_c.fired:
        stop, message = StopCode.INTERRUPTED, INTERRUPTED
    model = DeepFactor(d, d, L, widths=[U.shape[1] for U in Us[:-1]])
    return Result(theta=model.pack(*Us), X=W, stop=stop, iterations=total, trace=trace,
                  counts={"iterations": total}, wall_time=time.perf_counter() - t0,
                  message=message, info={"phases": phases, "critical_points": critical,
                                         "phase_start_factors": factors_after, "rank": r},
                  factors=tuple(Us))
