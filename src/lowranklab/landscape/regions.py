"""The robust strict saddle regions of zhu2021 Thms 1 and 5 (seed002_spec §2.1) and the
inequality that holds in each, evaluable at any W = [U; V] of a balanced-factor objective.

Quantities: s_r = σ_r(X★), s_1 = ‖X★‖, W★ = [ΦΣ^½; ΨΣ^½] (zhu2021 eq. (8)),
F★ = ‖W★W★ᵀ‖_F = 2‖X★‖_F, N★ = ‖W★‖ = √(2 s_1), σ_r(W) the r-th singular value of the
stacked (n+m)×r matrix, dist(W, W★) = min_{R∈O_r} ‖W − W★R‖_F (Procrustes, zhu2021 Lemma 3).

    R1    dist(W, W★) ≤ s_r^½
    R2    σ_r(W) ≤ √½ s_r^½  and  ‖WWᵀ‖_F ≤ τF★
    R3'   dist > s_r^½, ‖W‖ ≤ 20/19 N★, σ_r(W) > √½ s_r^½, ‖WWᵀ‖_F ≤ τF★
    R3''  ‖W‖ > 20/19 N★  and  ‖WWᵀ‖_F ≤ 10/9 F★
    R3''' ‖WWᵀ‖_F > 10/9 F★

The Frobenius cap τ: Thm 1 prints 20/19 in R2 and R3'; with it the five regions do not cover
the space (seed002_spec C16 counterexample), while τ = 10/9, the cap the proofs support, does.
Default τ = 10/9 (Frobenius-cap correction; the R2 bound still holds with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowranklab.landscape.spectrum import hessian_eigs
from lowranklab.models import BalancedFactor
from lowranklab.objective import Objective
from lowranklab.problems.balanced_truth import balanced_factors, dist, procrustes

__all__ = ["TAU", "REGIONS", "balanced_factors", "dist", "procrustes", "RegionGeometry",
           "region_geometry", "regions", "RegionInequality", "r2_witness",
           "region_inequalities"]

TAU = 10.0 / 9.0
REGIONS = ("R1", "R2", "R3p", "R3pp", "R3ppp")


@dataclass
class RegionGeometry:
    W: np.ndarray
    W_star: np.ndarray
    R: np.ndarray  # Procrustes rotation aligning W★ to W
    dist: float
    sigma_r_W: float
    norm_W: float
    WWt_fro: float
    s_r: float
    s_1: float
    F_star: float
    N_star: float


def region_geometry(U: np.ndarray, V: np.ndarray, X_star: np.ndarray) -> RegionGeometry:
    U, V = np.asarray(U, dtype=float), np.asarray(V, dtype=float)
    r = U.shape[1]
    t = balanced_factors(X_star, r)
    W, Ws = np.vstack([U, V]), t.W
    s = np.linalg.svd(np.asarray(X_star, dtype=float), compute_uv=False)
    if s[r - 1] <= 1e-12 * s[0]:
        raise ValueError(f"the regions need rank X★ = r = {r} (exact parametrization)")
    sw = np.linalg.svd(W, compute_uv=False)
    R = procrustes(W, Ws)
    return RegionGeometry(W=W, W_star=Ws, R=R, dist=float(np.linalg.norm(W - Ws @ R)),
                          sigma_r_W=float(sw[r - 1]), norm_W=float(sw[0]),
                          WWt_fro=float(np.linalg.norm(W.T @ W)),  # ‖WWᵀ‖_F = ‖WᵀW‖_F
                          s_r=float(s[r - 1]), s_1=float(s[0]),
                          F_star=2.0 * float(np.linalg.norm(s[:r])),
                          N_star=float(np.sqrt(2.0 * s[0])))


def regions(U: np.ndarray, V: np.ndarray, X_star: np.ndarray, *, tau: float = TAU
            ) -> dict[str, bool]:
    """Membership of W = [U; V] in R1, R2, R3p (R3'), R3pp (R3''), R3ppp (R3''')."""
    g = region_geometry(U, V, X_star)
    rad = np.sqrt(g.s_r)
    low_sigma = g.sigma_r_W <= np.sqrt(0.5) * rad
    return {
        "R1": g.dist <= rad,
        "R2": bool(low_sigma and g.WWt_fro <= tau * g.F_star),
        "R3p": bool(g.dist > rad and g.norm_W <= 20 / 19 * g.N_star and not low_sigma
                    and g.WWt_fro <= tau * g.F_star),
        "R3pp": bool(g.norm_W > 20 / 19 * g.N_star and g.WWt_fro <= 10 / 9 * g.F_star),
        "R3ppp": bool(g.WWt_fro > 10 / 9 * g.F_star),
    }


@dataclass
class RegionInequality:
    """One region's inequality at W: `ratio` ≥ 1 exactly when it holds."""

    region: str
    member: bool
    statement: str
    lhs: float
    rhs: float
    ratio: float

    @property
    def holds(self) -> bool:
        return self.ratio >= 1.0


def r2_witness(U: np.ndarray, V: np.ndarray, X_star: np.ndarray) -> np.ndarray:
    """Δ = q αᵀ (unit): q = Qv, Q = [Φ; Ψ]/√2, v the bottom eigenvector of QᵀWWᵀQ, α the bottom
    eigenvector of WᵀW (zhu2021 App. J-B); [∇²g](Δ, Δ) ≤ 3/2 σ_r(W)² − σ_r(X★)."""
    r = U.shape[1]
    P, _, Qt = np.linalg.svd(np.asarray(X_star, dtype=float), full_matrices=False)
    Q = np.vstack([P[:, :r], Qt[:r].T]) / np.sqrt(2.0)
    W = np.vstack([U, V])
    v = np.linalg.eigh(Q.T @ W @ W.T @ Q)[1][:, 0]
    alpha = np.linalg.eigh(W.T @ W)[1][:, 0]
    return np.outer(Q @ v, alpha).ravel()


def region_inequalities(
    objective: Objective,
    theta: np.ndarray,
    X_star: np.ndarray,
    *,
    constants: str = "thm5",
    tau: float = TAU,
    all_regions: bool = False,
) -> list[RegionInequality]:
    """The inequality of each region W belongs to (all five with all_regions=True).

    constants="thm5": zhu2021 Thm 5 for g (f = ½‖X − X★‖², μ = ½):
      R1 ⟨∇g, W − W★R⟩ ≥ σ_r/32·dist² + ‖∇g‖²/(48σ_1)   R2 λ_min(∇²g) ≤ −σ_r/4
      R3' ‖∇g‖ ≥ σ_r^{3/2}/11   R3'' ‖∇g‖ > 39/800‖W‖³   R3''' ⟨∇g, W⟩ > ‖WWᵀ‖²_F/20
    constants="thm1": zhu2021 Thm 1 for general f with c as in (14), μ = ½:
      R1 ≥ σ_r/16·dist² + ‖∇G‖²/(260σ_1)   R2 λ_min ≤ −σ_r/6   R3' ‖∇G‖ ≥ σ_r^{3/2}/50
      R3'' ‖∇G‖ ≥ ‖W‖³/50   R3''' ‖∇G‖ ≥ ‖WWᵀ‖_F^{3/2}/45
    λ_min is of the full Hessian (the paper's statement), by the dense or Lanczos solver.
    """
    if not isinstance(objective.model, BalancedFactor):
        raise TypeError("region_inequalities needs a BalancedFactor objective (W = [U; V])")
    if constants not in ("thm5", "thm1"):
        raise ValueError(f"constants must be 'thm5' or 'thm1', got {constants!r}")
    theta = objective.model.check(theta)
    U, V = objective.model.unpack(theta)
    g = region_geometry(U, V, X_star)
    member = regions(U, V, X_star, tau=tau)
    grad = objective.grad(theta).reshape(g.W.shape)
    gnorm = float(np.linalg.norm(grad))
    out = []
    t5 = constants == "thm5"
    for name in REGIONS:
        if not (member[name] or all_regions):
            continue
        if name == "R1":
            lhs = float(np.sum(grad * (g.W - g.W_star @ g.R)))
            a, b = (1 / 32, 1 / 48) if t5 else (1 / 16, 1 / 260)
            rhs = a * g.s_r * g.dist**2 + b * gnorm**2 / g.s_1
            st = f"<grad, W - W*R> >= s_r/{int(1 / a)} dist^2 + |grad|^2/({int(1 / b)} s_1)"
            ratio = lhs / rhs if rhs > 0 else (np.inf if lhs >= 0 else -np.inf)
        elif name == "R2":
            lam = hessian_eigs(objective, theta, 1, restrict=False).lambda_min
            c = 1 / 4 if t5 else 1 / 6
            lhs, rhs = lam, -c * g.s_r
            st = f"lambda_min(Hessian) <= -s_r/{int(1 / c)}"
            ratio = lhs / rhs
        elif name == "R3p":
            lhs, rhs = gnorm, (1 / 11 if t5 else 1 / 50) * g.s_r**1.5
            st = f"|grad| >= s_r^(3/2)/{11 if t5 else 50}"
            ratio = lhs / rhs
        elif name == "R3pp":
            lhs, rhs = gnorm, (39 / 800 if t5 else 1 / 50) * g.norm_W**3
            st = "|grad| > 39/800 |W|^3" if t5 else "|grad| >= |W|^3/50"
            ratio = lhs / rhs
        else:
            if t5:
                lhs, rhs = float(np.sum(grad * g.W)), g.WWt_fro**2 / 20
                st = "<grad, W> > |WW^T|_F^2/20"
            else:
                lhs, rhs = gnorm, g.WWt_fro**1.5 / 45
                st = "|grad| >= |WW^T|_F^(3/2)/45"
            ratio = lhs / rhs
        out.append(RegionInequality(name, bool(member[name]), st, float(lhs), float(rhs),
                                    float(ratio)))
    return out
