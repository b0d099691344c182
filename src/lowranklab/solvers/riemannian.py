"""Riemannian gradient descent on the fixed-rank manifold (Hou, Li & Zhang 2021, §4–5):

    Z_{k+1} = R(Z_k − α_k P_{T_{Z_k}} ∇f(Z_k)),

with the fixed step α_k ≡ α, the varying step α_k = α·σ_r(Z_k) (hou2021 eq. (2), Lemma 4.1),
Armijo backtracking from either, or the exact step along the gradient. It is the engine on
`ManifoldSpace(loss, manifold)` with the rule chosen by name; any `Loss` (dense, sparse or
LowRank ambient gradient) on `FixedRank` or `FixedRankPSD`.
"""

from __future__ import annotations

from collections.abc import Sequence

from lowranklab.lowrank import Matrix
from lowranklab.models.fixed_rank import FixedRank, FixedRankPoint
from lowranklab.problems.loss import Loss
from lowranklab.solvers import monitors as mon
from lowranklab.solvers import rules
from lowranklab.solvers.engine import AUTO, DEFAULT_FTOL, ManifoldSpace, Stop, run
from lowranklab.solvers.result import Result
from lowranklab.solvers.step import mean_curvature_step
from lowranklab.threads import blas_limited

STEP_RULES = ("fixed", "sigma")
LINE_SEARCHES = ("constant", "armijo", "exact")


def default_riemannian_step(loss: Loss) -> float:
    """1 / (average curvature of f) (`step.mean_curvature_step`): 1/p for completion with a
    fraction p observed (the usual RGD step for completion), 1 for other losses."""
    return mean_curvature_step(loss)


@blas_limited
def riemannian_gradient_descent(
    loss: Loss,
    manifold: FixedRank,
    x0: FixedRankPoint,
    *,
    step: float | None = None,
    step_rule: str = "fixed",
    line_search: str | None = None,
    direction: str = "gradient",
    max_iter: int = 1000,
    tol: float | str | None = AUTO,
    gtol: float | None = None,
    rtol: float | None = None,
    stall_tol: float | None = DEFAULT_FTOL,
    truth: Matrix | None = None,
    rank_tol: float = 1e-14,
    blowup: float = 1e8,
    time_budget: float | None = None,
    monitors: Sequence[mon.Monitor] | None = None,
    record_every: int = 1,
    callbacks: Sequence[mon.Callback] = (),
    progress: bool = False,
    armijo_c: float = 1e-4,
    armijo_beta: float = 0.5,
) -> Result:
    """Riemannian GD from x0 on `manifold` for `loss`.

    line_search: "exact" (the default when neither step nor step_rule is given) takes α times
    the minimizer of the quadratic model along the gradient, t* = ‖ξ‖²/⟨ξ, ∇²f(Z)[ξ]⟩ — exact
    for least squares, ‖P_T G‖²/‖A(P_T G)‖², the
    step of Wei, Cai, Chan & Leung 2016 (α = step, default 1); "constant" uses α_k = α (default
    `default_riemannian_step`) or, with step_rule="sigma", α_k = α·σ_r(Z_k) (hou2021 eq. (2));
    "armijo" backtracks from α_k until f(R(Z − tξ)) ≤ f(Z) − c·t‖ξ‖². With a step or
    step_rule="sigma" and no line search the step is constant (the hou2021 experiments).
    direction: "gradient" (RGD) or "cg" (Riemannian conjugate gradient, Polak–Ribière+ with
    the projection as vector transport; with the exact step it is Wei et al.'s RCG).

    Stops (`Stop`): `converged` when the training error ‖A(X) − b‖² (f itself for other losses)
    is ≤ tol ("auto": 1e-14·max(‖b‖², 1)), ‖grad f‖ ≤ gtol, or ‖Z − X♮‖_F/‖X♮‖_F ≤ rtol;
    `stalled` (stall_tol, see `Stop`); `rank_drop` when σ_r(Z_{k+1}) ≤ rank_tol·σ_1 (the
    iterate left M_r; the rank-deficient truncation is returned); `diverged` on a non-finite
    value or f > blowup·max(f₀, 1) (last finite iterate returned); `budget`, `interrupted`
    (callback returned True, or Ctrl-C), `max_iter`.

    Trace columns: iter, value, grad_norm, step, time, sigma_r, sigma_1 and, with a truth,
    dist = ‖Z − X♮‖_F, test_error = dist², rel_error; train_error for least squares.
    info["point"] is the final `FixedRankPoint`.
    """
    if line_search is None:
        line_search = "exact" if step is None and step_rule == "fixed" else "constant"
    if step_rule not in STEP_RULES:
        raise ValueError(f"step_rule must be one of {STEP_RULES}, got {step_rule!r}")
    if line_search not in LINE_SEARCHES:
        raise ValueError(f"line_search must be one of {LINE_SEARCHES}, got {line_search!r}")
    space = ManifoldSpace(loss, manifold, rank_tol=rank_tol)
    if step is not None:
        rules._positive("step", step)
    if line_search == "exact":
        rule: rules.Rule = rules.Exact(1.0 if step is None else step)
        if step_rule == "sigma":
            raise ValueError("step_rule='sigma' needs line_search 'constant' or 'armijo'")
    else:
        alpha = default_riemannian_step(loss) if step is None else step
        if line_search == "armijo":
            rule = rules.Armijo(alpha, c=armijo_c, beta=armijo_beta, grow=1.0,
                                sigma=step_rule == "sigma")
        else:
            rule = rules.SigmaScaled(alpha) if step_rule == "sigma" else rules.Constant(alpha)
    if direction not in ("gradient", "cg"):
        raise ValueError(f"direction must be 'gradient' or 'cg', got {direction!r}")
    if direction == "cg":
        rule = rules.ConjugateGradient(rule)
    stop = Stop(max_iter=max_iter, tol=tol, gtol=gtol, rtol=rtol, ftol=stall_tol,
                time_budget=time_budget, blowup=blowup)
    if monitors is None:
        monitors = [mon.training_error(loss), mon.manifold_sigmas]
        if truth is not None:
            monitors.append(mon.test_error(truth))
    res = run(space, x0, rule, stop=stop, truth=truth, monitors=monitors,
              callbacks=callbacks, record_every=record_every, progress=progress, name="rgd",
              info={"step": float(rule.describe().get("step", rule.describe().get("scale"))),
                    "step_rule": step_rule, "line_search": line_search,
                    "direction": direction})
    res.info["left_manifold"] = res.stop.value == "rank_drop"
    return res
