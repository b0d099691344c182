"""Critical-point finder: minimize φ(θ) = ½‖∇F(θ)‖² (Manopt's `criticalpointfinder` idea).

∇φ(θ) = ∇²F(θ)·∇F(θ), one Hessian-vector product per evaluation, so every (loss,
parametrization) pair gets it for free. Minimizers of φ with φ = 0 are the critical points of F
of every kind (saddles included), which gradient descent on F cannot find. L-BFGS on φ stalls
at ‖∇F‖ ≈ √ε-level accuracy, so the result is polished by a Gauss–Newton/trust-region solve
of ∇F(θ) = 0: pseudo-inverse Newton steps θ ← θ − H⁺∇F on the dense Hessian for small problems
(quadratic convergence even though H is singular along the symmetry orbit), else
`scipy.optimize.least_squares` with the Hessian as a `LinearOperator` Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, minimize
from scipy.sparse.linalg import LinearOperator

from lowranklab.landscape.spectrum import DENSE_MAX_DIM, dense_hessian
from lowranklab.objective import Objective


@dataclass
class FinderResult:
    theta: np.ndarray
    grad_norm: float  # ‖∇F(θ)‖ at the returned point
    value: float  # F(θ)
    iterations: int  # L-BFGS iterations + polishing evaluations
    success: bool  # grad_norm ≤ gtol
    message: str


def find_critical_point(
    objective: Objective,
    theta0: np.ndarray,
    *,
    gtol: float = 1e-10,
    max_iter: int = 2000,
    polish: bool = True,
) -> FinderResult:
    """A critical point of F near θ₀: L-BFGS on ½‖∇F‖², then least-squares polishing."""
    theta = objective.model.check(theta0, "theta0").copy()
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta0 must be finite")
    if not gtol > 0:
        raise ValueError(f"gtol must be > 0, got {gtol}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter}")
    n = objective.dim

    def phi(t):
        e = objective.evaluate(t)
        g = e.grad
        return 0.5 * float(g @ g), objective.hvp(t, g, G=e.G)

    res = minimize(phi, theta, jac=True, method="L-BFGS-B",
                   options={"maxiter": int(max_iter), "gtol": 0.0, "ftol": 0.0,
                            "maxcor": 30})
    theta = res.x
    its = int(res.nit)
    msg = f"L-BFGS: {res.message}"
    gnorm = float(np.linalg.norm(objective.grad(theta)))
    if polish and gnorm > gtol:
        if n <= DENSE_MAX_DIM:
            x_new, nfev = _newton_polish(objective, theta, gtol)
        else:
            def jac(t):
                G = objective.loss.grad(objective.matrix(t))
                mv = lambda v: objective.hvp(t, np.ravel(v), G=G)  # noqa: E731
                return LinearOperator((n, n), matvec=mv, rmatvec=mv, dtype=float)

            ls = least_squares(objective.grad, theta, jac=jac, method="trf",
                               tr_solver="lsmr", xtol=1e-15, ftol=1e-15, gtol=1e-15,
                               max_nfev=200)
            x_new, nfev = ls.x, int(ls.nfev)
        g_new = float(np.linalg.norm(objective.grad(x_new)))
        if g_new < gnorm:
            theta, gnorm = x_new, g_new
        its += nfev
        msg += f"; polished to ‖∇F‖ = {gnorm:.2e}"
    return FinderResult(theta, gnorm, float(objective.value(theta)), its, gnorm <= gtol, msg)


def _newton_polish(objective: Objective, theta: np.ndarray, gtol: float, steps: int = 8):
    """θ ← θ − H⁺∇F(θ) (least-squares Newton), keeping the best point seen."""
    best, gbest = theta, float(np.linalg.norm(objective.grad(theta)))
    i = 0
    for i in range(steps):  # noqa: B007
        g = objective.grad(theta)
        H = dense_hessian(objective, theta)
        step = np.linalg.lstsq(H, g, rcond=1e-10)[0]
        theta = theta - step
        gn = float(np.linalg.norm(objective.grad(theta)))
        if not np.isfinite(gn):
            break
        if gn < gbest:
            best, gbest = theta, gn
        if gbest <= 1e-3 * gtol:
            break
    return best, i + 1
