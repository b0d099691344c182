"""Gradient descent on F(θ) = f(X(θ)) + ρ(θ): the engine with a step rule chosen by name."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lowranklab.lowrank import Matrix
from lowranklab.objective import Objective
from lowranklab.solvers import monitors as mon
from lowranklab.solvers import rules
from lowranklab.solvers.engine import AUTO, DEFAULT_FTOL, DEFAULT_STALL_WINDOW, Stop, run
from lowranklab.solvers.result import Result
from lowranklab.threads import blas_limited

LINE_SEARCHES = ("constant", "armijo", "exact")
DIRECTIONS = ("gradient", "scaled", "cg", "lbfgs")
LBFGS_MEMORY = 5  # pairs kept (the `lbfgs-exact` configuration of benchmarks/peers.py)


def make_rule(objective: Objective, *, step: float | None, line_search: str | None,
              direction: str = "gradient", armijo_c: float = 1e-4,
              armijo_beta: float = 0.5) -> rules.Rule:
    """The step rule for `line_search` ∈ LINE_SEARCHES along `direction` ∈ DIRECTIONS.

    constant: t = step (default `default_step`); armijo: backtracking from twice the last
    accepted step (first try `step`); exact: the minimizer along the direction (least squares
    on UUᵀ / UVᵀ; `step` scales it, default 1). direction "scaled" is ScaledGD, "cg" nonlinear
    CG, "lbfgs" L-BFGS with `LBFGS_MEMORY` pairs (NumPy only). None means constant."""
    if line_search is None:
        line_search = "constant"
    if line_search not in LINE_SEARCHES:
        raise ValueError(f"line_search must be one of {LINE_SEARCHES}, got {line_search!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if step is not None:
        rules._positive("step", step)
    if line_search == "exact":
        rule: rules.Rule = rules.Exact(1.0 if step is None else step)
    else:
        if step is None:
            from lowranklab.solvers.step import default_step

            step = default_step(objective)
            if direction == "scaled":
                step = scaled_default_step(objective)
        rule = (rules.Constant(step) if line_search == "constant" else
                rules.Armijo(step, c=armijo_c, beta=armijo_beta))
    if direction == "scaled":
        rule = rules.ScaledGD(rule)
    elif direction == "cg":
        rule = rules.ConjugateGradient(rule)
    elif direction == "lbfgs":
        rule = rules.LBFGS(rule, memory=LBFGS_MEMORY)
    return rule


def scaled_default_step(objective: Objective) -> float:
    """ScaledGD's step: η = 0.5 / (the mean curvature of f) (`step.mean_curvature_step`),
    0.5/p for completion with a fraction p observed (Tong, Ma & Chi 2021 use η = 0.5 on the
    1/p-scaled loss)."""
    from lowranklab.solvers.step import mean_curvature_step

    return 0.5 * mean_curvature_step(objective.loss)


@blas_limited
def gradient_descent(
    objective: Objective,
    theta0: np.ndarray,
    *,
    step: float | None = None,
    line_search: str | None = None,
    direction: str = "gradient",
    max_iter: int = 1000,
    tol: float | str | None = AUTO,
    gtol: float | None = None,
    rtol: float | None = None,
    stall_tol: float | None = DEFAULT_FTOL,
    stall_window: int = DEFAULT_STALL_WINDOW,
    blowup: float = 1e8,
    time_budget: float | None = None,
    truth: Matrix | None = None,
    monitors: Sequence[mon.Monitor] | None = None,
    record_every: int = 1,
    callbacks: Sequence[mon.Callback] = (),
    hooks: Sequence = (),
    progress: bool = False,
    armijo_c: float = 1e-4,
    armijo_beta: float = 0.5,
) -> Result:
    """θ_{k+1} = θ_k − t_k ξ_k with ξ_k = ∇F(θ_k) (or the ScaledGD direction).

    line_search: "constant" (t = step, default `default_step`), "armijo" (backtracking that can
    grow the step again) or "exact" (the exact minimizer along ξ for least squares, where F is
    a polynomial in t). The default is "constant": at the exact rank "exact" reaches 1e-6 3×
    faster on 1000×1000 completion (`python -m benchmarks.run --suite peers`), but on
    over-parametrized UUᵀ (p > rank) from a small start its greedy steps converge slower than
    the constant step (measured: 2e-3 against 7e-6 relative error after 1500 iterations at
    d = 6, p = 6, r = 1), and the papers' implicit-bias settings are over-parametrized.
    direction: "gradient", "scaled" (ScaledGD), "cg" (nonlinear CG, Polak–Ribière+) or
    "lbfgs" (L-BFGS, the two-loop recursion over the last 5 pairs; NumPy only). With the exact
    step, L-BFGS on U Vᵀ without the balancing term (μ = 0) reaches 1e-6 on 1000×1000
    completion in 22 iterations, as Riemannian CG does (`benchmarks/peers.py`, "lbfgs-exact").
    Stops (`Stop`): `converged` when the training error ‖A(X) − b‖² is
    ≤ tol ("auto": 1e-14·max(‖b‖², 1)), ‖∇F‖ ≤ gtol, or the relative error to `truth` is
    ≤ rtol; `stalled` when F drops by ≤ stall_tol·|F| over stall_window iterations (None: off);
    `diverged` when F becomes non-finite or exceeds blowup·max(|F₀|, 1) (last finite iterate
    returned); `budget` after time_budget seconds; `interrupted` on a callback or Ctrl-C.
    """
    stop = Stop(max_iter=max_iter, tol=tol, gtol=gtol, rtol=rtol, ftol=stall_tol,
                stall_window=stall_window, time_budget=time_budget, blowup=blowup)
    rule = make_rule(objective, step=step, line_search=line_search, direction=direction,
                     armijo_c=armijo_c, armijo_beta=armijo_beta)
    return run(objective, theta0, rule, stop=stop, truth=truth, monitors=monitors,
               callbacks=callbacks, hooks=hooks, record_every=record_every, progress=progress,
               name="gd", info={"line_search": line_search, "direction": direction,
                                "step": rule.describe().get("step", step)})
