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

from lowranklab.models.deep import DeepFactor
from lowranklab.problems.loss import Loss
from lowranklab.solvers.glrl_flows import dense_grad
from lowranklab.solvers.greedy import top_eigenpairs
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


def factor_grads(Us: list[np.ndarray], G: np.ndarray) -> list[np.ndarray]:
    """∇_{U_i} f(U₁⋯U_L) = (U₁⋯U_{i−1})ᵀ G (U_{i+1}⋯U_L)ᵀ (spec §1.4) with prefix/suffix
    products computed once."""
    L = len(Us)
    pre = [None] * (L + 1)
    for i in range(1, L + 1):
        pre[i] = Us[0] if i == 1 else pre[i - 1] @ Us[i - 1]
    suf = [None] * (L + 2)
    for i in range(L, 0, -1):
        suf[i] = Us[L - 1] if i == L else Us[i - 1] @ suf[i + 1]
    out = []
    for i in range(1, L + 1):
        M = G if suf[i + 1] is None else G @ suf[i + 1].T
        out.append(M if pre[i - 1] is None else pre[i - 1].T @ M)
    return out


def product(Us: list[np.ndarray]) -> np.ndarray:
    W = Us[0]
    for U in Us[1:]:
        W = W @ U
    return W


def deep_gd(loss: Loss, Us: list[np.ndarray], *, step: float | RMSpropStep, max_iter: int,
            t_max: float = np.inf, gtol: float = 0.0, record_every: int = 100,
            record=None, transpose_symmetric: bool = False) -> tuple[list[np.ndarray], dict]:
    """GD on f(U₁⋯U_L) (dense, small d) with a constant step or the scalar RMSprop; stops at
    max_iter, at continuous time t_max, or when ‖∇_{U_{1:L}}‖_F ≤ gtol. `record(k, t, W, gn)`
    is called every `record_every` steps. Returns the factors and {iterations, t, grad_norm,
    stop}.

    transpose_symmetric: project after each step onto U_{L+1−i} = U_iᵀ (an invariant set of
    GD for symmetric f and symmetric G, e.g. Deep GLRL's iterates); round-off would otherwise
    excite the unstable antisymmetric directions (erratum E5) and leave the symmetric path.
    """
    Us = [np.array(U, dtype=float) for U in Us]
    v = 0.0
    t = 0.0
    stop = StopCode.MAX_ITER
    k = 0
    gn = np.nan
    for k in range(max_iter + 1):
        W = product(Us)
        G = dense_grad(loss, W)
        grads = factor_grads(Us, G)
        gn2 = float(sum(np.sum(g * g) for g in grads))
        gn = np.sqrt(gn2)
        if record is not None and k % record_every == 0:
            record(k, t, W, gn)
        if not np.isfinite(gn2):
            stop = StopCode.DIVERGED
            break
        if gn <= gtol:
            stop = StopCode.CONVERGED
            break
        if k == max_iter or t >= t_max:
            stop = StopCode.MAX_ITER if k == max_iter else StopCode.CONVERGED
            break
        if isinstance(step, RMSpropStep):
            v = step.a * v + (1 - step.a) * gn2
            eta = step.eta / (np.sqrt(v / (1 - step.a ** (k + 1))) + step.eps)
        else:
            eta = float(step)
        Us = [U - eta * g for U, g in zip(Us, grads, strict=True)]
        if transpose_symmetric:
            L = len(Us)
            for i in range((L + 1) // 2):
                A = 0.5 * (Us[i] + Us[L - 1 - i].T)
                Us[i], Us[L - 1 - i] = A, A.T.copy()
        t += eta
    return Us, {"iterations": k, "t": t, "grad_norm": gn, "stop": stop}


def deep_glrl(loss: Loss, L: int, *, epsilon: float = 1e-7, step: float | RMSpropStep = 1e-3,
              max_rank: int | None = None, gtol: float = 1e-10, max_iter: int = 10**6,
              exit_tol: float | None = None) -> Result:
    """Deep GLRL, glrl2021 Algorithm 2 (errata E3: the loss is f(U₁⋯U_L); r ← 0 added).

    Each phase appends ε' = ε^{1/L} blocks: U₁ ← [U₁, ε'u_r], U_k ← blkdiag(U_k, ε'),
    U_L ← [U_L; ε'u_rᵀ], so the product gains exactly ε u_r u_rᵀ and balancedness is kept
    (U₁ᵀu_r = 0). For L = 2 this is Algorithm 1 (GD on ½f(UUᵀ) with U₂ = U₁ᵀ).
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
    while True:
        lam, V = top_eigenpairs(dense_grad(loss, W), 2)
        if exit_tol is None:
            exit_tol = 1e-8 * max(float(lam[0]), 1e-300)
        if lam[0] <= exit_tol:
            stop, message = StopCode.CONVERGED, f"λ₁(−∇f(W_{r})) = {lam[0]:.3e}"
            break
        if r >= max_rank:
            break
        r += 1
        u = V[:, 0] * (np.sign(V[np.argmax(np.abs(V[:, 0])), 0]) or 1.0)
        new = [np.hstack([Us[0], ep * u[:, None]])]
        for Uk in Us[1:-1]:
            B = np.zeros((r, r))
            B[:r - 1, :r - 1] = Uk
            B[r - 1, r - 1] = ep
            new.append(B)
        new.append(np.vstack([Us[-1], ep * u[None, :]]))
        factors_after.append([U.copy() for U in new])
        Us, info = deep_gd(loss, new, step=step, max_iter=max_iter, gtol=gtol,
                           transpose_symmetric=True)
        t += info["t"]
        W = product(Us)
        critical.append(W.copy())
        phases.append({"r": r, "lam1": float(lam[0]), "lam2": float(lam[1]),
                       "iterations": info["iterations"], "t_end": t,
                       "grad_norm": info["grad_norm"], "f": loss.value(W),
                       "stop": info["stop"].value})
        trace.append({"iter": r, "phase": r, "t": t, "f": loss.value(W)})
        if info["stop"] is StopCode.DIVERGED:
            stop, message = StopCode.DIVERGED, f"phase {r} diverged"
            break
    model = DeepFactor(d, d, L, widths=[U.shape[1] for U in Us[:-1]])
    return Result(theta=model.pack(*Us), X=W, stop=stop, iterations=sum(
        p["iterations"] for p in phases), trace=trace, counts={},
        wall_time=time.perf_counter() - t0, message=message,
        info={"phases": phases, "critical_points": critical, "factors": Us,
              "phase_start_factors": factors_after, "rank": r})
