"""Helpers shared by the zhu2021 experiments: the MF objective g, factor metrics, λ_min."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.models import BalancedFactor
from lowranklab.objective import Objective
from lowranklab.problems.balanced_truth import BalancedTruth, dist
from lowranklab.problems.loss import Loss
from lowranklab.problems.smooth_losses import (  # noqa: F401 (c_max re-exported)
    MatrixFactorizationLoss,
    c_max_theorem1,
)

PAPER = "Zhu, Li, Tang & Wakin (2021)"


def mf_objective(t: BalancedTruth, r: int, mu: float) -> Objective:
    """g(W) = ½‖UVᵀ − X★‖²_F + μ/4‖UᵀU − VᵀV‖²_F (zhu2021 eq. (29))."""
    n, m = t.Xstar.shape
    return Objective(MatrixFactorizationLoss(t.Xstar), BalancedFactor(n, m, r, mu=mu))


def objective_for(loss: Loss, r: int, mu: float) -> Objective:
    """G(W) = f(UVᵀ) + μ/4‖UᵀU − VᵀV‖²_F (zhu2021 eq. (9))."""
    # the text after (9) cites "(29)" for this objective; (9) is meant
    n, m = loss.shape
    return Objective(loss, BalancedFactor(n, m, r, mu=mu))


def dense_hessian(obj: Objective, theta: np.ndarray) -> np.ndarray:
    """The symmetrized dense Hessian (lowranklab.landscape.spectrum.dense_hessian)."""
    from lowranklab.landscape.spectrum import dense_hessian as dh

    return dh(obj, theta)


def hessian_eigenvalues(obj: Objective, theta: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(dense_hessian(obj, theta))


def lambda_min(obj: Objective, theta: np.ndarray) -> float:
    return float(hessian_eigenvalues(obj, theta)[0])


def factor_metrics(model: BalancedFactor, t: BalancedTruth, target: np.ndarray | None = None,
                   *, obj: Objective | None = None, lam_every: int = 0):
    """Monitor: relative error ‖UVᵀ − T‖_F/‖T‖_F (T = X★ or `target`), imbalance
    ‖UᵀU − VᵀV‖_F, dist(W, W★) when the ranks agree, and λ_min every `lam_every` iterations."""
    T = t.Xstar if target is None else target
    nT = np.linalg.norm(T)

    def monitor(state) -> dict[str, float]:
        U, V = model.unpack(state.theta)
        out = {"rel_error": float(np.linalg.norm(U @ V.T - T) / nT),
               "imbalance": float(np.linalg.norm(U.T @ U - V.T @ V))}
        if U.shape[1] == t.r:
            out["dist"] = dist(np.vstack([U, V]), t.W)
        if obj is not None and lam_every and state.iteration % lam_every == 0:
            out["lambda_min"] = lambda_min(obj, state.theta)
        return out

    return monitor


def gaussian_init(model: BalancedFactor, scale: float, rng: np.random.Generator) -> np.ndarray:
    """W₀ with i.i.d. N(0, scale²) entries."""
    return scale * rng.standard_normal(model.dim)


def log_table(ctx, title: str, df: pd.DataFrame) -> None:
    with pd.option_context("display.width", 160, "display.max_columns", 30,
                           "display.float_format", "{:.4g}".format):
        ctx.log(f"{title}\n{df.to_string(index=False)}")


def draw_table(ax, df: pd.DataFrame, *, fontsize: float = 7.0) -> None:
    """Render a small table on an axis (the atlas table in the figure output)."""
    ax.axis("off")
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
             for row in df.itertuples(index=False)]
    tab = ax.table(cellText=cells, colLabels=list(df.columns), loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(fontsize)
    tab.scale(1.0, 1.15)


def weighted_pca_objective(w: float) -> Objective:
    """h(u) = ½‖Ω ⊙ (uuᵀ − 11ᵀ)‖²_F, Ω = [[w, 1], [1, w]], u ∈ R² (zhu2021 eq. (21))."""
    from lowranklab.models import SymmetricFactor
    from lowranklab.problems.smooth_losses import WeightedPCA

    return Objective(WeightedPCA(np.array([[w, 1.0], [1.0, w]]), np.ones((2, 2))),
                     SymmetricFactor(2, 1))


MAX_BFGS_RESTARTS = 3


def weighted_pca_multistart(w: float, starts: np.ndarray, *, gtol: float = 1e-10) -> pd.DataFrame:
    """BFGS from each start; each limit with its value, gradient norm, Hessian eigenvalues and
    kind: global (h ≈ 0), spurious_min (λ_min > 0, h > 0), saddle, or not_converged."""
    from scipy.optimize import minimize

    obj = weighted_pca_objective(w)
    rows = []
    for u0 in starts:
        res = minimize(obj.value_and_grad, u0, jac=True, method="BFGS",
                       options={"gtol": gtol, "maxiter": 2000})
        restarts = 0
        # a line search that gives up ("precision loss", seen with SciPy 1.17 after 5
        # iterations at ‖∇h‖ = 7) is a failure of the inverse-Hessian model, not a limit:
        # BFGS restarted from its last point (identity model) goes on
        while not res.success and restarts < MAX_BFGS_RESTARTS:
            restarts += 1
            res = minimize(obj.value_and_grad, res.x, jac=True, method="BFGS",
                           options={"gtol": gtol, "maxiter": 2000})
        u = res.x
        gn = float(np.linalg.norm(obj.grad(u)))
        lam = hessian_eigenvalues(obj, u)
        h = obj.value(u)
        if gn > 1e-6:
            kind = "not_converged"
        elif h < 1e-10:
            kind = "global"
        elif lam[0] > 1e-8:
            kind = "spurious_min"
        else:
            kind = "saddle"
        rows.append({"w": w, "u1_0": u0[0], "u2_0": u0[1], "u1": u[0], "u2": u[1], "h": h,
                     "grad_norm": gn, "lam1": lam[0], "lam2": lam[1], "kind": kind,
                     "bfgs_restarts": restarts})
    return pd.DataFrame(rows)

