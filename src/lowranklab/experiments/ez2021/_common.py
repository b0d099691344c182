"""Shared pieces of the ez2021 experiments: group aggregation (mean ± ½ std, MATLAB ddof=1) and
the log-scale band plot of Figures 1–3 and 5."""

from __future__ import annotations

import numpy as np
import pandas as pd

TRAIN_LABEL = r"training error $\|\mathcal{A}(U_kU_k^\top)-b\|_2^2$"
TEST_LABEL = r"test error $\|U_kU_k^\top-X^\natural\|_F^2$"


def aggregate(trace: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per iteration: mean and std (ddof=1, as MATLAB `std`) of `column` over the trials, at
    the iterations every trial recorded (the group stops all its trials together)."""
    wide = trace.pivot_table(index="iter", columns="trial", values=column, aggfunc="first")
    wide = wide.dropna()
    n = wide.shape[1]
    mean = wide.mean(axis=1)
    std = wide.std(axis=1, ddof=1) if n > 1 else wide.mean(axis=1) * 0.0
    return pd.DataFrame({"iter": wide.index.to_numpy(), "mean": mean.to_numpy(),
                         "std": std.to_numpy()})


def band_plot(ax, agg: pd.DataFrame, color, label: str) -> None:
    """Solid mean, dotted mean ± ½ std; non-positive lower bands are dropped on the log axis."""
    it, mu, sd = agg["iter"].to_numpy(), agg["mean"].to_numpy(), agg["std"].to_numpy()
    marker = "o" if len(it) < 5 else None  # e.g. runs that diverged at once
    ax.plot(it, mu, "-", color=color, lw=1.6, label=label, marker=marker)
    hi, lo = mu + 0.5 * sd, mu - 0.5 * sd
    ax.plot(it, hi, ":", color=color, lw=1.2)
    ax.plot(it, np.where(lo > 0, lo, np.nan), ":", color=color, lw=1.2)


def finals(trace: pd.DataFrame, group_col: str = "group") -> pd.DataFrame:
    """Final mean/std of train and test error per group, at the group's last common iteration."""
    rows = []
    for g, sub in trace.groupby(group_col, sort=False):
        tr, te = aggregate(sub, "train_error"), aggregate(sub, "test_error")
        rows.append({group_col: g, "iter": int(tr["iter"].iloc[-1]),
                     "train": float(tr["mean"].iloc[-1]), "test": float(te["mean"].iloc[-1]),
                     "test_std": float(te["std"].iloc[-1])})
    return pd.DataFrame(rows).set_index(group_col)
