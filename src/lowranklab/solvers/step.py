"""A safe default step size from the curvature at the scale of the solution."""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from lowranklab.models.balanced import BalancedFactor
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems.loss import LeastSquares


def hessian_lambda_max(objective: Objective, theta: np.ndarray) -> float:
    """Largest Hessian eigenvalue of F at θ by Lanczos on the Hessian-vector product."""
    G = objective.loss.grad(objective.matrix(theta))
    n = objective.dim
    H = LinearOperator((n, n), matvec=lambda v: objective.hvp(theta, np.ravel(v), G=G),
                       dtype=float)
    if n <= 2:
        return float(max(np.linalg.eigvalsh(H @ np.eye(n))))
    return float(eigsh(H, k=1, which="LA", v0=np.ones(n), tol=1e-3,
                       return_eigenvectors=False)[0])


def default_step(objective: Objective, *, safety: float = 0.5) -> float:
    """safety / λ_max(∇²F(θ_s)), θ_s the spectral estimate of the solution.

    Near a minimizer GD is stable for η < 2/λ_max; the spectral estimate puts θ_s at the scale
    of X♮, so this step is safe along the whole trajectory in practice, and `gradient_descent`
    reports `diverged` if it is not. Where no spectral estimate exists (a loss without an operator,
other parametrizations) a random unit-norm θ stands in.
    """
    from lowranklab.models.init import initialize

    model, loss = objective.model, objective.loss
    rng = np.random.default_rng(0)
    theta_s = None
    if isinstance(loss, LeastSquares) and isinstance(model, (SymmetricFactor, BalancedFactor)):
        try:
            theta_s = initialize(model, "spectral", rng, op=loss.op, b=loss.b)
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
