"""Shared pieces of the hou2021 experiments: the ground truth of spec §3.0, an RGD run
recorded per iteration, first-crossing helpers and the median / min–max band plot."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.lowrank import LowRank
from lowranklab.models.fixed_rank import FixedRank, FixedRankPoint, FixedRankPSD
from lowranklab.problems.distance import MatrixDistance
from lowranklab.solvers.riemannian import riemannian_gradient_descent

PAPER = "hou2021"
CITE = "Hou, Li & Zhang (2021)"
D_DEFAULT = [1.0, 0.8, 0.6, 0.4, 0.2]
FLOOR = 1e-16


def make_truth(n: int, d: list[float], variant: str, seed: int = 0):
    """X = U_x diag(d) V_xᵀ (V_x = U_x for "psd"), U_x the first r columns of the Q of an n×n
    Gaussian (spec §3.0; the same X in every experiment). Returns (manifold, loss, X, Ux, Vx)."""
    if variant not in ("psd", "general"):
        raise ValueError(f"variant must be 'psd' or 'general', got {variant!r}")
    rng = np.random.default_rng(seed)
    d = np.asarray(d, dtype=float)
    r = d.size
    Ux = np.linalg.qr(rng.standard_normal((n, n)))[0][:, :r]
    Vx = Ux if variant == "psd" else np.linalg.qr(rng.standard_normal((n, n)))[0][:, :r]
    man = FixedRankPSD(n, r) if variant == "psd" else FixedRank(n, n, r)
    X = LowRank(Ux * d, Vx)
    return man, MatrixDistance(X), X, Ux, (None if variant == "psd" else Vx)


def rgd_run(loss, man, x0: FixedRankPoint, X, *, alpha: float, rule: str, K: int,
            **kw) -> pd.DataFrame:
    """K RGD iterations recorded every step: k, dist = ‖Z_k − X‖_F, sigma_r, step, stop."""
    res = riemannian_gradient_descent(loss, man, x0, step=alpha, step_rule=rule, max_iter=K,
                                      truth=X, **kw, tol=None, stall_tol=None)
    t = res.trace
    df = pd.DataFrame({"k": t["iter"].astype(int), "dist": t["dist"], "sigma_r": t["sigma_r"],
                       "step": t["step"]})
    df["stop"] = res.stop.value
    return df


def pad(df: pd.DataFrame, K: int) -> pd.DataFrame:
    """Pad a run that stopped early with its last value up to k = K (spec Gotcha 14)."""
    if df.k.iloc[-1] >= K:
        return df
    last = df.iloc[[-1]]
    extra = pd.concat([last] * (K - int(df.k.iloc[-1])), ignore_index=True)
    extra["k"] = np.arange(int(df.k.iloc[-1]) + 1, K + 1)
    return pd.concat([df, extra], ignore_index=True)


def first_below(values: np.ndarray, threshold: float) -> float:
    """The first index where values < threshold (NaN if never)."""
    idx = np.flatnonzero(np.asarray(values) < threshold)
    return float(idx[0]) if idx.size else float("nan")


def per_run(df: pd.DataFrame, keys: list[str], fn) -> pd.DataFrame:
    """Apply fn(group) -> dict to each (keys, run) group."""
    rows = []
    for key, g in df.groupby([*keys, "run"], sort=True):
        rows.append({**dict(zip([*keys, "run"], key, strict=True)), **fn(g.sort_values("k"))})
    return pd.DataFrame(rows)


def band(ax, g: pd.DataFrame, column: str, *, color, label: str, log: bool = True) -> None:
    """Median line and min–max band over runs, per iteration (the paper's figure style)."""
    v = g[column].clip(lower=FLOOR) if log else g[column]
    v = np.log10(v) if log else v
    s = pd.DataFrame({"k": g.k, "v": v}).groupby("k").v
    k = np.asarray(list(s.groups))
    ax.fill_between(k, s.min().to_numpy(), s.max().to_numpy(), color=color, alpha=0.25,
                    linewidth=0)
    ax.plot(k, s.median().to_numpy(), color=color, label=label)


def slope(g: pd.DataFrame, lo: int, hi: int) -> float:
    """Least-squares slope of the median log10 distance over lo ≤ k ≤ hi."""
    med = g.groupby("k").dist.median()
    med = med[(med.index >= lo) & (med.index <= hi)]
    return float(np.polyfit(med.index.to_numpy(), np.log10(med.to_numpy()), 1)[0])
