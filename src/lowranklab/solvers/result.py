"""What every solver returns: final point, structured stop code, trace, counts, time."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class StopCode(str, enum.Enum):
    CONVERGED = "converged"  # a tolerance was met (training error, gradient norm, ...)
    MAX_ITER = "max_iter"
    DIVERGED = "diverged"  # NaN/inf or blow-up: the last finite iterate is returned
    STALLED = "stalled"  # no progress over the stall window
    BUDGET = "budget"  # time budget spent
    INTERRUPTED = "interrupted"  # a callback asked to stop, or Ctrl-C
    RANK_DROP = "rank_drop"  # a fixed-rank iterate left the manifold (σ_r fell to ~0)


@dataclass
class Trace:
    """Per-record metrics: trace["train_error"] is a float array aligned with trace["iter"]."""

    columns: dict[str, list[float]] = field(default_factory=dict)

    def append(self, row: dict[str, float]) -> None:
        n = len(self)
        for k, v in row.items():
            col = self.columns.setdefault(k, [np.nan] * n)
            col.append(float(v))
        for col in self.columns.values():
            if len(col) < n + 1:
                col.append(np.nan)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, key: str) -> np.ndarray:
        return np.asarray(self.columns[key], dtype=float)

    def __contains__(self, key: str) -> bool:
        return key in self.columns

    def keys(self):
        return self.columns.keys()

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: self[k] for k in self.columns}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.arrays())


@dataclass
class Result:
    theta: np.ndarray
    X: Any  # LowRank (or the solver's natural representation)
    stop: StopCode
    iterations: int
    trace: Trace
    counts: dict[str, int]
    wall_time: float
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.stop is StopCode.CONVERGED

    def __str__(self) -> str:
        last = {k: v[-1] for k, v in self.trace.columns.items() if v}
        shown = ", ".join(f"{k}={v:.3g}" for k, v in last.items() if k not in ("iter",))
        return (f"{self.stop.value} after {self.iterations} iterations "
                f"({self.wall_time:.2f} s): {shown}")
