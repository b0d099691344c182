"""Helpers shared by the zhu2021 experiments: the MF objective g, factor metrics, λ_min."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.models import BalancedFactor
from lowranklab.objective import Objective
from lowranklab.problems.balanced_truth import BalancedTruth, dist
from lowranklab.problems.loss import Loss
from lowranklab.problems.smooth_losses import MatrixFactorizationLoss

PAPER = "Zhu, Li, Tang & Wakin (2021)"


def mf_objective(t: BalancedTruth, r: int, mu: float) -> Objective:
    """g(W) = ½‖UVᵀ − X★‖²_F + μ/4‖UᵀU − VᵀV‖²_F (zhu2021 eq. (29))."""
    n, m = t.Xstar.shape
    return Objective(MatrixFactorizationLoss(t.Xstar), BalancedFactor(n, m, r, mu=mu))


def objective_for(loss: Loss, r: int, mu: float) -> Objective:
    """G(W) = f(UVᵀ) + μ/4‖UᵀU − VᵀV‖²_F (zhu2021 eq. (9))."""
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
