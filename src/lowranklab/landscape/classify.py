"""What is this point? Classification of θ for any (loss, parametrization) pair.

Decision rule (tolerances scaled to the problem, all reported):

    grad_tol  = gtol_rel · ‖∇f(0)‖_F · ‖θ‖    (the gradient size of F at the scale of θ)
    curv_tol  = ctol_rel · max|λ(H_⊥)|        (H_⊥: the Hessian on the symmetry complement)
    value_tol = ftol_rel · f(0)               (f(0): the loss at X = 0)

    ‖∇F(θ)‖ > grad_tol                         → not_stationary
    F(θ) ≤ f★ + value_tol                      → global_minimizer
    λ_min(H_⊥) < −curv_tol                     → strict_saddle
    f★ known, λ_min(H_⊥) > curv_tol            → spurious_second_order  (strict spurious min)
    f★ known, |λ_min(H_⊥)| ≤ curv_tol          → non_strict_saddle      (degenerate: a non-strict
                                                 saddle or a degenerate spurious minimizer; the
                                                 second-order test cannot tell)
    f★ unknown                                 → second_order_stationary (global status unknown)

f★ comes from the caller (known optimum, e.g. 0 for noiseless planted recovery, or a convex
baseline value), or else from a certificate when the loss is convex (`LeastSquares`): for
X = UUᵀ, ∇f(X) ⪰ 0 certifies that X minimizes f over the PSD cone; for X = UVᵀ, ∇f(X) = 0
certifies a minimizer over all matrices (then f★ = f(X)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lowranklab.landscape.certificates import certificate_psd
from lowranklab.landscape.spectrum import DENSE_MAX_DIM, hessian_eigs, hessian_spectrum
from lowranklab.lowrank import LowRank, fro_norm
from lowranklab.models import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems import LeastSquares

KINDS = ("global_minimizer", "strict_saddle", "spurious_second_order", "non_strict_saddle",
         "not_stationary", "second_order_stationary")


@dataclass
class PointReport:
    """Everything `classify_point` measured at θ (see the module docstring for the rule)."""

    kind: str
    value: float  # F(θ)
    loss_value: float  # f(X(θ))
    grad_norm: float  # ‖∇F(θ)‖₂
    lambda_min: float  # smallest Hessian eigenvalue on the symmetry complement
    lambda_max: float  # largest Hessian eigenvalue on the symmetry complement
    symmetry_dim: int  # dimension of the symmetry orbit removed
    dim: int  # number of parameters
    f_star: float | None  # optimum value used (None: unknown)
    f_star_source: str  # "given" | "certificate" | "unknown"
    grad_tol: float
    curv_tol: float
    value_tol: float
    method: str  # "dense" | "lanczos"
    certificate: float | None = None  # λ_min(sym ∇f) (PSD) or ‖∇f‖_F (UVᵀ), when computed
    n_negative: int | None = None  # eigenvalues < −curv_tol (complete spectrum only)
    direction: np.ndarray | None = field(default=None, repr=False)  # unit eigvec of λ_min

    def as_dict(self, *, direction: bool = False) -> dict:
        d = {k: getattr(self, k) for k in (
            "kind", "value", "loss_value", "grad_norm", "lambda_min", "lambda_max",
            "symmetry_dim", "dim", "f_star", "f_star_source", "grad_tol", "curv_tol",
            "value_tol", "method", "certificate", "n_negative")}
        for k, v in d.items():
            if isinstance(v, np.generic):
                d[k] = v.item()
        if direction:
            d["direction"] = None if self.direction is None else self.direction.tolist()
        return d

    def __str__(self) -> str:
        fs = "unknown" if self.f_star is None else f"{self.f_star:.6g} ({self.f_star_source})"
        lines = [
            f"point: {self.kind}",
            f"  F(θ)            {self.value:.6g}   (loss {self.loss_value:.6g}; f★ {fs}, "
            f"tol {self.value_tol:.2g})",
            f"  ‖∇F(θ)‖         {self.grad_norm:.3e}   (tol {self.grad_tol:.2e})",
            f"  λ_min(∇²F)      {self.lambda_min:.6g}   (on the symmetry complement; "
            f"tol {self.curv_tol:.2e})",
            f"  λ_max(∇²F)      {self.lambda_max:.6g}",
            f"  symmetry dim    {self.symmetry_dim} of {self.dim} parameters "
            f"({self.method} spectrum)",
        ]
        if self.n_negative is not None:
            lines.append(f"  negative eigs   {self.n_negative}")
        if self.certificate is not None:
            lines.append(f"  certificate     {self.certificate:.3e}")
        if self.kind == "strict_saddle":
            lines.append("  escape along the eigenvector of λ_min (report.direction)")
        return "\n".join(lines)


def loss_scales(objective: Objective) -> tuple[float, float]:
    """(f(0), ‖∇f(0)‖_F): the loss value and ambient gradient at X = 0, the problem's scales."""
    d1, d2 = objective.loss.shape
    Z = LowRank(np.zeros((d1, 1)), np.zeros((d2, 1)))
    f0, G0 = objective.loss.value_and_grad(Z)
    return float(f0), float(fro_norm(G0))


def classify_point(
    objective: Objective,
    theta: np.ndarray,
    f_star: float | None = None,
    *,
    gtol_rel: float = 1e-6,
    ctol_rel: float = 1e-6,
    ftol_rel: float = 1e-8,
    grad_tol: float | None = None,
    curv_tol: float | None = None,
    value_tol: float | None = None,
    use_certificate: bool = True,
    method: str = "auto",
) -> PointReport:
    """Classify θ as a critical point of F = f∘X + ρ (rule in the module docstring).

    f_star: the known optimal value of F (None: try a certificate). grad_tol / curv_tol /
    value_tol override the scaled tolerances. method: "dense" (complete spectrum), "lanczos"
    (extreme eigenpairs only) or "auto" (dense up to DENSE_MAX_DIM parameters).
    """
    theta = objective.model.check(theta)
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite")
    if f_star is not None and not np.isfinite(f_star):
        raise ValueError(f"f_star must be finite, got {f_star}")
    for name, v in (("gtol_rel", gtol_rel), ("ctol_rel", ctol_rel), ("ftol_rel", ftol_rel)):
        if not v >= 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    e = objective.evaluate(theta)
    grad_norm = float(np.linalg.norm(e.grad))
    f0, g0 = loss_scales(objective)
    theta_norm = float(np.linalg.norm(theta))
    gtol = grad_tol if grad_tol is not None else gtol_rel * g0 * (theta_norm or 1.0)
    ftol = value_tol if value_tol is not None else ftol_rel * max(f0, 1e-300)

    if method == "auto":
        method = "dense" if objective.dim <= DENSE_MAX_DIM else "lanczos"
    n_negative = None
    if method == "dense":
        spec = hessian_spectrum(objective, theta, restrict=True)
        lam_min, lam_max = spec.lambda_min, spec.lambda_max
        direction = spec.eigenvectors[:, 0] if spec.eigenvalues.size else None
        sym_dim = spec.symmetry_dim
    elif method == "lanczos":
        lo = hessian_eigs(objective, theta, 1, which="SA", method="lanczos", tol=1e-10)
        hi = hessian_eigs(objective, theta, 1, which="LA", method="lanczos", tol=1e-6)
        lam_min, lam_max = lo.lambda_min, hi.lambda_max
        direction, sym_dim = lo.eigenvectors[:, 0], lo.symmetry_dim
        spec = None
    else:
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    ctol = curv_tol if curv_tol is not None else (
        ctol_rel * max(abs(lam_min), abs(lam_max), 1e-300))
    if spec is not None:
        n_negative = int(np.sum(spec.eigenvalues < -ctol))

    source = "given" if f_star is not None else "unknown"
    cert = None
    if f_star is None and use_certificate and isinstance(objective.loss, LeastSquares):
        ctol_G = gtol_rel * g0
        if isinstance(objective.model, SymmetricFactor):
            cert = certificate_psd(e.G)
            if cert >= -ctol_G:
                f_star, source = e.loss_value, "certificate"
        elif objective.loss.shape[0] * objective.loss.shape[1] > 0:
            cert = float(fro_norm(e.G))
            if cert <= ctol_G:
                f_star, source = e.loss_value, "certificate"

    if grad_norm > gtol:
        kind = "not_stationary"
    elif f_star is not None and e.value <= f_star + ftol:
        kind = "global_minimizer"
    elif lam_min < -ctol:
        kind = "strict_saddle"
    elif f_star is None:
        kind = "second_order_stationary"
    elif lam_min > ctol:
        kind = "spurious_second_order"
    else:
        kind = "non_strict_saddle"
    return PointReport(kind=kind, value=float(e.value), loss_value=float(e.loss_value),
                       grad_norm=grad_norm, lambda_min=float(lam_min), lambda_max=float(lam_max),
                       symmetry_dim=int(sym_dim), dim=objective.dim,
                       f_star=None if f_star is None else float(f_star), f_star_source=source,
                       grad_tol=float(gtol), curv_tol=float(ctol), value_tol=float(ftol),
                       method=method, certificate=cert, n_negative=n_negative,
                       direction=direction)
