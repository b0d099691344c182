"""Solvers for (factor) min ‖U‖²_F s.t. A(UUᵀ) = b (eftekhari2021):

- `algorithm1`: the paper's primal-dual Algorithm 1 in matrix form,
      λ_k = (K(U_k) + εI)^{-1} A(U_kU_kᵀ),   U_{k+1} = U_k − η (U_k − A*(λ_k − γ/2 r_k) U_k),
  i.e. gradient descent on L_γ(·, λ_k) with the multiplier frozen (ε = 1e-9 as in Sec. XII);
- `merit_euler`: explicit Euler on the exact merit flow U̇ = −∇h_γ(U) = −W_γ(U)U;
- `merit_bfgs`: a fast reference solver, scipy BFGS / L-BFGS on h_γ with its exact gradient;
- `feasibility_gd`: gradient descent on ‖A(UUᵀ) − b‖² (the figures' unregularised baseline).

Algorithm 1 and the Euler step are the engine's constant (or adaptive) step along a direction
field D(U) that is not a gradient (`MeritField`: one GEMM for B(U), one for K = BBᵀ, an m×m
Cholesky solve, one GEMV for A*), because Algorithm 1 needs 10⁵–10⁶ iterations;
`feasibility_gd` is plain GD on the `Objective` LeastSquares(A, b, scale 2) ∘ UUᵀ. All multiply
U on the left by a d×d matrix, so ker U₀ ⊆ ker U_k exactly (rank never increases). Each returns
the engine's `Result`; the trace (objective ‖U‖²_F, gap ‖A(UUᵀ) − b‖₂, rank, σ_p) is written on
record steps only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.linalg import lapack

from lowranklab.backend import require_numpy
from lowranklab.lowrank import LowRank
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Evaluation, Objective
from lowranklab.problems.loss import LeastSquares
from lowranklab.problems.min_norm import RIDGE, MinNormFactorization
from lowranklab.solvers import monitors as mon
from lowranklab.solvers import rules
from lowranklab.solvers.engine import Stop, StopRun, run
from lowranklab.solvers.result import Result, StopCode

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
    require_numpy(U0, "the merit solvers")
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


def min_norm_monitors(problem: MinNormFactorization, spectrum: bool = True):
    """objective ‖U‖²_F, gap ‖A(UUᵀ) − b‖₂ and (spectrum) the numerical rank and σ_p of U."""

    def monitor(s: mon.State) -> dict[str, float]:
        U = s.point.reshape(problem.d, -1)
        row = {"objective": float(np.sum(U * U)),
               "gap": float(np.linalg.norm(problem.residual(U)))}
        if spectrum:
            sv = np.linalg.svd(U, compute_uv=False)
            row.update(rank=int(np.sum(sv > 1e-8 * max(sv[0], 1e-300))),
                       sigma_min=float(sv[-1]))
        return row

    return [monitor]


class MeritField:
    """The direction field D(U) of Algorithm 1 ("alg1": ∇₁L_γ(U, λ_k) with the multiplier
    frozen at λ_k = (K(U) + ridge·I)⁻¹A(UUᵀ), eftekhari2021 Sec. XI–XII) or of the exact merit
    flow ("euler": ∇h_γ(U) = W_γ(U)U, eq. (19) with the corrected Dλ, spec §1.10), as an
    engine 'objective': evaluate(θ) gives F = ‖U‖²_F (the objective the run reports) and
    grad = D(U). A singular K stops the run (`diverged`)."""

    def __init__(self, problem: MinNormFactorization, p: int, kind: str, gamma: float,
                 ridge: float) -> None:
        self.problem, self.kind, self.gamma, self.ridge = problem, kind, float(gamma), ridge
        self.model = SymmetricFactor(problem.d, p)
        self.loss = None
        self.eye = np.eye(problem.d)
        self.lam = np.zeros(problem.m)

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        P, d = self.problem, self.problem.d
        U = theta.reshape(d, -1)
        m, hg = P.m, 0.5 * self.gamma
        Bm = (P.Astack @ U).reshape(m, -1)
        K = Bm @ Bm.T
        c = Bm @ U.ravel()  # A(UUᵀ) = B vec(U)
        diag = slice(None, None, m + 1)
        if self.kind == "alg1":
            # eftekhari2021 Algorithm 1 with K + 1e-9 I (Sec. XII), by Cholesky (LAPACK posv)
            K.flat[diag] += self.ridge
            _, lam, info = lapack.dposv(K, c, overwrite_a=1)
            if info != 0:
                raise StopRun(StopCode.DIVERGED, f"K(U) + ridge·I is not positive definite "
                                                 f"(posv info {info})")
            S = ((lam - hg * (c - P.b)) @ P.Amat).reshape(d, d)
            D = U - S @ U
        else:
            r = c - P.b
            if self.ridge > 0:
                K.flat[diag] += self.ridge
            R, sol, info = lapack.dposv(K, np.column_stack([c, 0.5 * r]), overwrite_a=1)
            if info != 0 or (self.ridge == 0 and not _well_conditioned(R)):
                raise StopRun(StopCode.DIVERGED, "K(U) is singular: the exact merit gradient "
                                                 "is undefined (use algorithm1)")
            lam = sol[:, 0]
            IM = self.eye - (lam @ P.Amat).reshape(d, d)
            N = (sol[:, 1] @ P.Amat).reshape(d, d)
            W = IM + hg * (r @ P.Amat).reshape(d, d) - IM @ N - N @ IM
            D = W @ U
        self.lam = lam
        value = float(theta.dot(theta))  # ‖U‖²_F (ndarray.dot: no Python-level wrapper)
        return Evaluation(value, value, D.ravel(), None, None)  # X: formed once, at the end


class MeritStep(rules.Constant):
    """The step of Algorithm 1: fixed η (the paper), or the spec §2 heuristic
    η = 1/(γ λ_max(K(U_k))) re-evaluated every `adapt_every` iterations (and at each of the
    first 10·adapt_every): 'safe' keeps η ← min(η, η_k), 'adaptive' sets η = η_k."""

    name = "merit"

    def __init__(self, step: float, rule: str, field: MeritField, adapt_every: int = 100):
        super().__init__(step)
        self.rule, self.field, self.adapt_every = rule, field, int(adapt_every)
        self.step0 = self.eta

    def step(self, ctx):
        k = ctx.k
        if self.rule != "fixed" and (k < 10 * self.adapt_every or k % self.adapt_every == 0):
            P = self.field.problem
            Bm = (P.Astack @ ctx.x.reshape(P.d, -1)).reshape(P.m, -1)
            lmax = float(np.linalg.eigvalsh(Bm @ Bm.T)[-1])
            if lmax > 0:
                eta_k = 1.0 / (self.field.gamma * lmax)
                self.eta = min(self.eta, eta_k) if self.rule == "safe" else eta_k
        return super().step(ctx)

    def info(self) -> dict:
        return {"final_step": self.eta, "multipliers": self.field.lam}

    def describe(self) -> dict:
        return {"rule": self.name, "step": self.step0, "step_rule": self.rule}


def _iterate(problem: MinNormFactorization, U0: np.ndarray, kind: str, *, gamma: float,
             step: float, max_iter: int, ridge: float, tol: float | str | None,
             record_every: int, callbacks: Sequence[mon.Callback], time_budget: float | None,
             progress: bool, spectrum: bool = True, step_rule: str = "fixed",
             blowup: float = 1e10) -> Result:
    """U ← U − η·D(U) on the engine; D = Algorithm 1's direction, the exact ∇h_γ, or the
    feasibility gradient ∇‖r‖² (plain GD on the least-squares objective)."""
    p = U0.shape[1]
    stop = Stop(max_iter=max_iter, tol=tol if kind == "gd_gap" else None,
                xtol=None if kind == "gd_gap" else tol, ftol=None, time_budget=time_budget,
                blowup=blowup**2)
    if kind == "gd_gap":
        target = Objective(LeastSquares(problem.operator(), problem.b, scale=2.0),
                           SymmetricFactor(problem.d, p))
        rule: rules.Rule = rules.Constant(step)
    else:
        target = MeritField(problem, p, kind, gamma, ridge)
        rule = MeritStep(step, step_rule, target)
    info = {"gamma": gamma, "step": float(step), "step_rule": step_rule, "ridge": ridge,
            "method": kind}
    res = run(target, U0.ravel(), rule, stop=stop, monitors=min_norm_monitors(problem, spectrum),
              callbacks=callbacks, record_every=record_every, progress=progress, name=kind,
              info=info)
    U = res.factors[0]
    res.X = LowRank(U, U)
    return res


def algorithm1(problem: MinNormFactorization, U0: np.ndarray, *, gamma: float = PAPER_GAMMA,
               step: float | None = None, max_iter: int = 100_000, ridge: float = RIDGE,
               tol: float | None = 1e-12, record_every: int = 100,
               callbacks: Sequence[mon.Callback] = (), time_budget: float | None = None,
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
    gap ‖A(UUᵀ) − b‖₂, and (spectrum=True) the numerical rank and σ_p of U; info: the
    multipliers λ_k and the final step.
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
                callbacks: Sequence[mon.Callback] = (), time_budget: float | None = None,
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
                   max_iter: int = 10_000, tol: float | str | None = "auto",
                   record_every: int = 100,
                   callbacks: Sequence[mon.Callback] = (), time_budget: float | None = None,
                   progress: bool = False, spectrum: bool = True) -> Result:
    """Gradient descent on ‖A(UUᵀ) − b‖² (gradient 4A*(r)U): no explicit regularisation
    (Figs. 1 left and 2 ①). Default step 1/L at U₀; stops (`converged`) when the feasibility
    gap ‖A(UUᵀ) − b‖² is ≤ tol ("auto": 1e-14·max(‖b‖², 1), see `Stop`)."""
    U0 = _check(problem, U0, None, step, max_iter, record_every)
    step = feasibility_step(problem, U0) if step is None else step
    return _iterate(problem, U0, "gd_gap", gamma=0.0, step=step, max_iter=max_iter, ridge=0.0,
                    tol=tol, record_every=record_every, callbacks=callbacks,
                    time_budget=time_budget, progress=progress, spectrum=spectrum)


def merit_bfgs(problem: MinNormFactorization, U0: np.ndarray, *, gamma: float = PAPER_GAMMA,
               method: str = "L-BFGS-B", gtol: float = 1e-10, max_iter: int = 20_000,
               record_every: int = 100, callbacks: Sequence[mon.Callback] = (),
               time_budget: float | None = None, progress: bool = False) -> Result:
    """Reference solver: scipy BFGS (or L-BFGS-B) on h_γ with the exact gradient W_γ(U)U,
    through the SciPy adapter (trace rows every `record_every` iterations only).

    h_γ is only meaningful near M_b and for large γ (Prop. 17): γ = 100 from ‖U₀‖_F = 3
    reaches the SDP value on the paper's sizes; γ = 10 can run away to ill-conditioned K."""
    from lowranklab.solvers.scipy_adapter import minimize

    U0 = _check(problem, U0, gamma, None, max_iter, record_every)
    if method not in ("BFGS", "L-BFGS-B"):
        raise ValueError(f"method must be 'BFGS' or 'L-BFGS-B', got {method!r}")
    shape = U0.shape

    def fun(x):
        h, gr = problem.merit_and_grad(x.reshape(shape), gamma)
        if not np.isfinite(h):
            return np.inf, np.zeros_like(x)
        return h, gr.ravel()

    def state(k, x, value, elapsed):
        U = x.reshape(shape)
        e = Evaluation(value, value, None, LowRank(U, U), None)
        return mon.State(k, x, e, elapsed, float("nan"), point=x)

    opts = {"gtol": gtol, "maxiter": max_iter}
    if method == "L-BFGS-B":
        opts.update(ftol=1e-15, maxcor=30)
    res, sp = minimize(fun, U0.ravel(), method=method, options=opts, state=state,
                       monitors=min_norm_monitors(problem), record_every=record_every,
                       callbacks=callbacks, time_budget=time_budget, progress=progress,
                       name="merit-bfgs")
    U = res.theta.reshape(shape)
    if sp is not None and res.stop is StopCode.MAX_ITER:
        gnorm = float(np.linalg.norm(problem.merit_grad(U, gamma)))
        if not np.all(np.isfinite(U)) or not np.isfinite(sp.fun):
            res.stop, res.message = StopCode.DIVERGED, "non-finite merit value"
        elif sp.success or gnorm <= 1e-4 * max(1.0, float(np.linalg.norm(U))):
            # h_γ is quartic along the rank-deficient directions at a rank-deficient
            # optimum, so ‖∇h_γ‖ ~ 1e-5 already means a ~1e-9 relative objective error
            res.stop, res.message = StopCode.CONVERGED, f"‖∇h_γ‖ = {gnorm:.2e}"
        elif res.iterations >= max_iter:
            res.message = str(sp.message)
        else:
            res.stop, res.message = StopCode.STALLED, f"{sp.message} (‖∇h_γ‖ = {gnorm:.2e})"
    res.X, res.factors = LowRank(U, U), (U.copy(),)
    res.info.update(gamma=gamma, multipliers=problem.multipliers(U))
    return res


def _well_conditioned(R: np.ndarray) -> bool:
    """The Cholesky factor R of K has cond(K) = cond(R)² ≲ 1e14."""
    dg = np.abs(np.diag(R))
    return bool(dg.min() > 1e-7 * dg.max())
