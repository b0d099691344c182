"""A safe default step size from the curvature at the scale of the solution."""

from __future__ import annotations

import numpy as np

from lowranklab.models.balanced import BalancedFactor
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems.loss import LeastSquares


def mean_curvature_step(loss) -> float:
    """1 / (the mean curvature of f over unit directions): d1·d2 / (scale·‖A‖²_F) for least
    squares (‖A‖²_F = m for entry sampling) — 1 for Gaussian sensing with N(0, 1/m) entries,
    1/p for completion with a fraction p observed; 1 for other losses. The step scale of RGD
    and ScaledGD, which precondition away the factors' own curvature."""
    if not isinstance(loss, LeastSquares):
        return 1.0
    op = loss.op
    d1, d2 = op.shape_in
    A = getattr(op, "A", None)
    fro_sq = float(np.sum(A * A)) if A is not None else float(op.m)
    return d1 * d2 / (loss.scale * max(fro_sq, 1e-300))


def hessian_lambda_max(objective: Objective, theta: np.ndarray, *, iters: int = 30,
                       rng: np.random.Generator | None = None) -> float:
    """λ_max(∇²F(θ)) by power iteration on the Hessian-vector product (`iters` products;
    the largest-magnitude eigenvalue, which is λ_max near a minimizer where ∇²F ⪰ −small)."""
    G = objective.loss.grad(objective.matrix(theta))
    rng = np.random.default_rng(0) if rng is None else rng
    v = rng.standard_normal(objective.dim)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        w = objective.hvp(theta, v, G=G)
        lam = float(v @ w)
        n = float(np.linalg.norm(w))
        if not n > 0:
            return lam
        v = w / n
    return max(lam, float(np.linalg.norm(objective.hvp(theta, v, G=G))))


def default_step(objective: Objective, *, safety: float = 0.5) -> float:
    """safety / λ_max(∇²F(θ_s)), θ_s a spectral estimate of the solution.

    Near a minimizer GD is stable for η < 2/λ_max; the spectral estimate puts θ_s at the scale
    of X♮, so this step is safe along the whole trajectory in practice, and the engine reports
    `diverged` if it is not. The estimate is cheap: a randomized top-p subspace of A*(b) (two
    power iterations) and 30 Hessian-vector products. Where no spectral estimate exists (a loss
    without an operator, other parametrizations) a random unit-norm θ stands in.
    """
    from lowranklab.models.init import initialize

    model, loss = objective.model, objective.loss
    rng = np.random.default_rng(0)
    theta_s = None
    if isinstance(loss, LeastSquares) and isinstance(model, (SymmetricFactor, BalancedFactor)):
        try:
            theta_s = initialize(model, "spectral", rng, op=loss.op, b=loss.b,
                                 power_iters=2)
        except ValueError:
            theta_s = None
    if theta_s is None or not np.any(theta_s):
        theta_s = rng.standard_normal(model.dim) / np.sqrt(model.dim)
    if isinstance(model, SymmetricFactor):
        # columns beyond the spectral rank are zero; a tiny fill keeps λ_max well defined
        theta_s = theta_s + 1e-8 * rng.standard_normal(model.dim)
    lam = hessian_lambda_max(objective, theta_s)
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError("cannot choose a default step: the curvature at the spectral "
                         "estimate is not positive; pass step= explicitly")
    return safety / lam
