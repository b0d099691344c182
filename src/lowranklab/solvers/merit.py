"""Solvers for (factor) min ‖U‖²_F s.t. A(UUᵀ) = b (eftekhari2021):

- `algorithm1`: the paper's primal-dual Algorithm 1 in matrix form,
      λ_k = (K(U_k) + εI)^{-1} A(U_kU_kᵀ),   U_{k+1} = U_k − η (U_k − A*(λ_k − γ/2 r_k) U_k),
  i.e. gradient descent on L_γ(·, λ_k) with the multiplier frozen (ε = 1e-9 as in Sec. XII);
- `merit_euler`: explicit Euler on the exact merit flow U̇ = −∇h_γ(U) = −W_γ(U)U;
- `merit_bfgs`: a fast reference solver, scipy BFGS / L-BFGS on h_γ with its exact gradient;
- `feasibility_gd`: gradient descent on ‖A(UUᵀ) − b‖² (the figures' unregularised baseline).

The first, second and fourth are written as tight NumPy loops (one GEMM for B(U), one for
K = BBᵀ, an m×m solve, one GEMV for A*) because Algorithm 1 needs 10⁵–10⁶ iterations. All
multiply U on the left by a d×d matrix, so ker U₀ ⊆ ker U_k exactly (rank never increases).
Each returns the foundation's `Result`; callbacks are called at every recorded iteration.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
from scipy.linalg import lapack

from lowranklab.lowrank import LowRank
from lowranklab.objective import Evaluation
from lowranklab.problems.min_norm import RIDGE, MinNormFactorization
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result, StopCode, Trace

Callback = Callable[[mon.State], bool | None]

PAPER_GAMMA = 100.0  # eftekhari2021 Sec. XII
PAPER_STEP = 2e-5  # eftekhari2021 Sec. XII (d = 15, m = 30, p = 8, ‖U₀‖_F = 3)


def default_step(problem: MinNormFactorization, U0: np.ndarray, gamma: float) -> float:
    """η = 1/(γ λ_max(K(U₀))) (spec §2 heuristic; 2.3–2.7e-5 at the paper's Sec. XII sizes,
    matching its 2e-5)."""
    lmax = float(np.linalg.eigvalsh(problem.K(U0)).max())
    if not lmax > 0:
        raise ValueError("K(U0) = 0 (U0 = 0?): cannot choose a default step; pass step=")
    return 1.0 / (gamma * lmax)


STEP_RULES = ("fixed", "safe", "adaptive")


def _step_rule(problem, U0, gamma, step, rule) -> tuple[float, str]:
    """Resolve (step, step_rule): a given step defaults to 'fixed' (the paper's constant η);
    no step defaults to 'safe' from η₀ = 1/(γ λ_max(K(U₀)))."""
    if rule is None:
        rule = "fixed" if step is not None else "safe"
    if rule not in STEP_RULES:
        raise ValueError(f"step_rule must be one of {STEP_RULES}, got {rule!r}")
    return (default_step(problem, U0, gamma) if step is None else float(step)), rule


def feasibility_step(problem: MinNormFactorization, U0: np.ndarray) -> float:
    """1/L for ‖A(UUᵀ) − b‖² at U₀: its Hessian is ≤ 8λ_max(K(U)) + 4‖A*(r)‖."""
    lmax = float(np.linalg.eigvalsh(problem.K(U0)).max())
    L = 8.0 * lmax + 4.0 * float(np.linalg.norm(problem.adjoint(problem.residual(U0)), 2))
    if not L > 0:
        raise ValueError("cannot choose a default step at U0; pass step=")
    return 1.0 / L


def _check(problem, U0, gamma, step, max_iter, record_every):
    if not isinstance(problem, MinNormFactorization):
        raise TypeError(f"problem must be a MinNormFactorization, got {type(problem).__name__}")
    U0 = problem.check_U(U0, "U0")
    if not np.all(np.isfinite(U0)):
        raise ValueError("U0 must be finite")
    if gamma is not None and not (math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma}")
    if step is not None and not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite number > 0, got {step}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    if int(record_every) != record_every or record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every}")
    return U0.copy()


def _row(problem: MinNormFactorization, k: int, U: np.ndarray, t: float, eta: float,
         spectrum: bool = True):
    r = problem.residual(U)
    row = {"iter": k, "objective": float(np.sum(U * U)), "gap": float(np.linalg.norm(r)),
           "time": t, "step": eta}
    if spectrum:
        s = np.linalg.svd(U, compute_uv=False)
        row.update(rank=int(np.sum(s > 1e-8 * max(s[0], 1e-300))), sigma_min=float(s[-1]))
    return row


def _state(problem, k, U, direction, t, eta) -> mon.State:
    e = Evaluation(value=float(np.sum(U * U)), loss_value=problem.G(U), grad=direction.ravel(),
                   X=LowRank(U, U), G=None)
    return mon.State(k, U.ravel(), e, t, eta)


def _iterate(problem: MinNormFactorization, U0: np.ndarray, kind: str, *, gamma: float,
             step: float, max_iter: int, ridge: float, tol: float | None,
             record_every: int, callbacks: Sequence[Callback], time_budget: float | None,
             progress: bool, spectrum: bool = True, step_rule: str = "fixed",
             adapt_every: int = 100, blowup: float = 1e10) -> Result:
    """U ← U − η·D(U) for D = Algorithm 1's ∇₁L_γ(U, λ(U, U)), the exact ∇h_γ, or ∇‖r‖²."""
    Ast, Amat, b, m, d = problem.Astack, problem.Amat, problem.b, problem.m, problem.d
    hg = 0.5 * gamma
    eye = np.eye(d)
    U = U0
    eta = float(step)
    trace = Trace()
    t0 = time.perf_counter()
    last_report = t0
    stop, message = StopCode.MAX_ITER, ""
    tol_sq = None if tol is None else tol * tol
    limit_sq = (blowup * max(1.0, float(np.sum(U0 * U0)))) ** 2
    lam = np.zeros(m)
    k = 0

    dposv = lapack.dposv
    diag = slice(None, None, m + 1)

    def direction(U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if kind == "gd_gap":
            r = Amat @ (U @ U.T).ravel() - b
            return 4.0 * ((r @ Amat).reshape(d, d) @ U), lam
        Bm = (Ast @ U).reshape(m, -1)
        K = Bm @ Bm.T
        c = Bm @ U.ravel()  # A(UUᵀ) = B vec(U)
        if kind == "alg1":
            # eftekhari2021 Algorithm 1 with K + 1e-9 I (Sec. XII), by Cholesky (LAPACK posv)
            K.flat[diag] += ridge
            _, lam_k, info = dposv(K, c, overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"posv info {info}")
            S = ((lam_k - hg * (c - b)) @ Amat).reshape(d, d)
            return U - S @ U, lam_k
        # exact merit gradient W_γ(U)U (eq. (19) with the corrected Dλ, spec §1.10)
        r = c - b
        if ridge > 0:
            K.flat[diag] += ridge
        R, sol, info = dposv(K, np.column_stack([c, 0.5 * r]), overwrite_a=1)
        if info != 0 or (ridge == 0 and not _well_conditioned(R)):
            raise np.linalg.LinAlgError("K(U) singular")
        IM = eye - (sol[:, 0] @ Amat).reshape(d, d)
        N = (sol[:, 1] @ Amat).reshape(d, d)
        W = IM + hg * (r @ Amat).reshape(d, d) - IM @ N - N @ IM
        return W @ U, sol[:, 0]

    try:
        for k in range(max_iter + 1):
            try:
                D, lam = direction(U)
            except np.linalg.LinAlgError:
                stop, message = StopCode.DIVERGED, (
                    "K(U) is singular: the exact merit gradient is undefined (use algorithm1)"
                    if kind == "euler" else f"non-finite iterate at iteration {k}")
                break
            if k % record_every == 0 or k == max_iter:
                now = time.perf_counter()
                trace.append(_row(problem, k, U, now - t0, eta, spectrum))
                if any(cb(_state(problem, k, U, D, now - t0, eta)) for cb in callbacks):
                    stop, message = StopCode.INTERRUPTED, "stopped by callback"
                    break
                if time_budget is not None and now - t0 > time_budget:
                    stop, message = StopCode.BUDGET, f"time budget {time_budget:g} s spent"
                    break
                if progress and now - last_report > 1.0:
                    last_report = now
                    print(f"  {kind} iter {k}/{max_iter}  ‖U‖²={trace['objective'][-1]:.6g}"
                          f"  gap={trace['gap'][-1]:.2e}", file=sys.stderr)
            if k == max_iter:
                break
            if step_rule != "fixed" and (k < 10 * adapt_every or k % adapt_every == 0):
                # spec §2 heuristic η = 1/(γ λ_max(K(U_k))) re-evaluated along the run
                Bm = (Ast @ U).reshape(m, -1)
                lmax = float(np.linalg.eigvalsh(Bm @ Bm.T)[-1])
                if lmax > 0:
                    eta_k = 1.0 / (gamma * lmax)
                    eta = min(eta, eta_k) if step_rule == "safe" else eta_k
            dd = float(np.vdot(D, D))
            if not dd * eta * eta < limit_sq:
                stop, message = StopCode.DIVERGED, (f"non-finite or exploding step at "
                                                    f"iteration {k}; last finite iterate kept")
                break
            if tol_sq is not None and eta * eta * dd <= tol_sq * max(1.0, float(np.vdot(U, U))):
                stop, message = StopCode.CONVERGED, f"‖U_(k+1) − U_k‖ ≤ {tol:g}·max(1, ‖U_k‖)"
                break
            U = U - eta * D
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"
    if len(trace) == 0 or trace["iter"][-1] != k:
        trace.append(_row(problem, k, U, time.perf_counter() - t0, eta, spectrum))
    return Result(theta=U.ravel().copy(), X=LowRank(U, U), stop=stop, iterations=k, trace=trace,
                  counts={"iterations": k}, wall_time=time.perf_counter() - t0,
                  message=message, info={"U": U, "gamma": gamma, "step": float(step),
                                         "final_step": eta, "step_rule": step_rule,
                                         "ridge": ridge,
                                         "multipliers": lam, "method": kind})


def algorithm1(problem: MinNormFactorization, U0: np.ndarray, *, gamma: float = PAPER_GAMMA,
               step: float | None = None, max_iter: int = 100_000, ridge: float = RIDGE,
               tol: float | None = 1e-12, record_every: int = 100,
               callbacks: Sequence[Callback] = (), time_budget: float | None = None,
               progress: bool = False, spectrum: bool = True,
               step_rule: str | None = None) -> Result:
    """eftekhari2021 Algorithm 1 (Sec. XI–XII): primal-dual discretisation of the merit flow.

    U_{k+1} = (1 − η)U_k + η Σ_i (λ_{k,i} − γ/2(⟨A_i, U_kU_kᵀ⟩ − b_i)) A_iU_k with
    λ_k = (K(U_k) + ridge·I)^{-1} A(U_kU_kᵀ).

    Step: `step` given → constant η (the paper: 2e-5 at d = 15, m = 30, ‖U₀‖_F = 3), unless
    step_rule says otherwise. No step → η₀ = 1/(γ λ_max(K(U₀))) (spec §2 heuristic) with
    step_rule 'safe': every 100 iterations η ← min(η, 1/(γ λ_max(K(U_k)))), so a run whose
    iterates grow (opt(SDP) ≫ ‖U₀‖²_F) stays stable; 'adaptive' sets η = 1/(γ λ_max(K(U_k)))
    (it also grows when the iterates shrink; a proposed speed-up, not the paper's). Stops with
    `converged` when ‖U_{k+1} − U_k‖_F ≤ tol·max(1, ‖U_k‖_F) (spec §2), `diverged` on a
    non-finite or exploding step. Trace every `record_every` iterations: iter, objective ‖U‖²_F,
    gap ‖A(UUᵀ) − b‖₂, and (spectrum=True) the numerical rank and σ_p of U.
    """
    U0 = _check(problem, U0, gamma, step, max_iter, record_every)
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    step, step_rule = _step_rule(problem, U0, gamma, step, step_rule)
    return _iterate(problem, U0, "alg1", gamma=gamma, step=step, max_iter=max_iter, ridge=ridge,
                    tol=tol, record_every=record_every, callbacks=callbacks,
                    time_budget=time_budget, progress=progress, spectrum=spectrum,
                    step_rule=step_rule)


def merit_euler(problem: MinNormFactorization, U0: np.ndarray, *, gamma: float = PAPER_GAMMA,
                step: float | None = None, max_iter: int = 100_000, ridge: float = 0.0,
                tol: float | None = 1e-12, record_every: int = 100,
                callbacks: Sequence[Callback] = (), time_budget: float | None = None,
                progress: bool = False, spectrum: bool = True,
               step_rule: str | None = None) -> Result:
    """Explicit Euler on the exact merit flow: U ← U − η W_γ(U)U (eq. (19), corrected Dλ).

    Needs K(U)^{-1}: stops with `diverged` where K is exactly singular (low-rank U with
    rd − r(r−1)/2 < m); use `algorithm1` there."""
    U0 = _check(problem, U0, gamma, step, max_iter, record_every)
    step, step_rule = _step_rule(problem, U0, gamma, step, step_rule)
    return _iterate(problem, U0, "euler", gamma=gamma, step=step, max_iter=max_iter,
                    ridge=ridge, tol=tol, record_every=record_every, callbacks=callbacks,
                    time_budget=time_budget, progress=progress, spectrum=spectrum,
                    step_rule=step_rule)


def feasibility_gd(problem: MinNormFactorization, U0: np.ndarray, *, step: float | None = None,
                   max_iter: int = 10_000, tol: float | None = None, record_every: int = 100,
                   callbacks: Sequence[Callback] = (), time_budget: float | None = None,
                   progress: bool = False, spectrum: bool = True) -> Result:
    """Gradient descent on ‖A(UUᵀ) − b‖² (gradient 4A*(r)U): no explicit regularisation
    (Figs. 1 left and 2 ①). Default step 1/L at U₀."""
    U0 = _check(problem, U0, None, step, max_iter, record_every)
    step = feasibility_step(problem, U0) if step is None else step
    return _iterate(problem, U0, "gd_gap", gamma=0.0, step=step, max_iter=max_iter, ridge=0.0,
                    tol=tol, record_every=record_every, callbacks=callbacks,
                    time_budget=time_budget, progress=progress, spectrum=spectrum)


def merit_bfgs(problem: MinNormFactorization, U0: np.ndarray, *, gamma: float = PAPER_GAMMA,
               method: str = "L-BFGS-B", gtol: float = 1e-10, max_iter: int = 20_000,
               callbacks: Sequence[Callback] = (), time_budget: float | None = None,
               progress: bool = False) -> Result:
    """Reference solver: scipy BFGS (or L-BFGS-B) on h_γ with the exact gradient W_γ(U)U.

    h_γ is only meaningful near M_b and for large γ (Prop. 17): γ = 100 from ‖U₀‖_F = 3
    reaches the SDP value on the paper's sizes; γ = 10 can run away to ill-conditioned K."""
    from scipy.optimize import minimize

    U0 = _check(problem, U0, gamma, None, max_iter, 1)
    if method not in ("BFGS", "L-BFGS-B"):
        raise ValueError(f"method must be 'BFGS' or 'L-BFGS-B', got {method!r}")
    shape = U0.shape
    trace = Trace()
    t0 = time.perf_counter()
    n_evals = [0]
    status = {"stop": StopCode.MAX_ITER, "message": "", "k": 0}

    def fun(x):
        n_evals[0] += 1
        h, gr = problem.merit_and_grad(x.reshape(shape), gamma)
        if not np.isfinite(h):
            return np.inf, np.zeros_like(x)
        return h, gr.ravel()

    last = [t0]

    def cb(intermediate_result):
        x = intermediate_result.x
        status["x"] = x
        status["k"] += 1
        k = status["k"]
        U = x.reshape(shape)
        now = time.perf_counter()
        trace.append(_row(problem, k, U, now - t0, 0.0))
        if callbacks and any(c(_state(problem, k, U, problem.merit_grad(U, gamma), now - t0,
                                       0.0)) for c in callbacks):
            status.update(stop=StopCode.INTERRUPTED, message="stopped by callback")
            raise StopIteration
        if time_budget is not None and now - t0 > time_budget:
            status.update(stop=StopCode.BUDGET, message=f"time budget {time_budget:g} s spent")
            raise StopIteration
        if progress and now - last[0] > 1.0:
            last[0] = now
            print(f"  merit-bfgs iter {k}  h={intermediate_result.fun:.10g}", file=sys.stderr)

    trace.append(_row(problem, 0, U0, 0.0, 0.0))
    opts = {"gtol": gtol, "maxiter": max_iter}
    if method == "L-BFGS-B":
        opts = {"gtol": gtol, "maxiter": max_iter, "ftol": 1e-15, "maxcor": 30}
    try:
        res = minimize(fun, U0.ravel(), jac=True, method=method, callback=cb, options=opts)
    except KeyboardInterrupt:
        status.update(stop=StopCode.INTERRUPTED, message="interrupted (Ctrl-C)")
        res = None
    if res is not None:
        U = res.x.reshape(shape)
        gnorm = float(np.linalg.norm(problem.merit_grad(U, gamma)))
        if status["stop"] is StopCode.MAX_ITER:
            if not np.all(np.isfinite(U)) or not np.isfinite(res.fun):
                status.update(stop=StopCode.DIVERGED, message="non-finite merit value")
            elif res.success or gnorm <= 1e-4 * max(1.0, float(np.linalg.norm(U))):
                # h_γ is quartic along the rank-deficient directions at a rank-deficient
                # optimum, so ‖∇h_γ‖ ~ 1e-5 already means a ~1e-9 relative objective error
                status.update(stop=StopCode.CONVERGED, message=f"‖∇h_γ‖ = {gnorm:.2e}")
            elif status["k"] >= max_iter:
                status.update(message=str(res.message))
            else:
                status.update(stop=StopCode.STALLED,
                              message=f"{res.message} (‖∇h_γ‖ = {gnorm:.2e})")
    else:
        U = np.asarray(status.get("x", U0.ravel())).reshape(shape)
    if trace["iter"][-1] != status["k"]:
        trace.append(_row(problem, status["k"], U, time.perf_counter() - t0, 0.0))
    return Result(theta=U.ravel().copy(), X=LowRank(U, U), stop=status["stop"],
                  iterations=status["k"], trace=trace,
                  counts={"merit_evals": n_evals[0]}, wall_time=time.perf_counter() - t0,
                  message=status["message"],
                  info={"U": U, "gamma": gamma, "method": method,
                        "multipliers": problem.multipliers(U)})


def _well_conditioned(R: np.ndarray) -> bool:
    """The Cholesky factor R of K has cond(K) = cond(R)² ≲ 1e14."""
    dg = np.abs(np.diag(R))
    return bool(dg.min() > 1e-7 * dg.max())
