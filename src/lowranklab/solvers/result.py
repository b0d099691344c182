"""What every solver returns: final point, structured stop code, trace, counts, time."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from operator import itemgetter
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


class Trace:
    """Per-record metrics: trace["train_error"] is a float array aligned with trace["iter"].

    Rows are appended as dicts in O(1) and gathered into columns on first access (a column
    missing from a row is NaN there), so recording every iteration stays cheap."""

    def __init__(self, columns: dict[str, list[float]] | None = None) -> None:
        self._columns: dict[str, list[float]] = dict(columns or {})
        self._pending: list[dict[str, float]] = []

    @property
    def columns(self) -> dict[str, list[float]]:
        rows = self._pending
        if rows and all(r.keys() == rows[0].keys() for r in rows) and (
                not self._columns or self._columns.keys() == rows[0].keys()):
            # the usual case, every row with the same columns: one C-level pass per column
            for k in rows[0]:
                self._columns.setdefault(k, []).extend(map(float, map(itemgetter(k), rows)))
            self._pending = []
        if self._pending:
            n = len(next(iter(self._columns.values()))) if self._columns else 0
            for row in self._pending:
                for k, v in row.items():
                    col = self._columns.get(k)
                    if col is None:
                        col = self._columns[k] = [np.nan] * n
                    col.append(float(v))
                n += 1
                for col in self._columns.values():
                    if len(col) < n:
                        col.append(np.nan)
            self._pending = []
        return self._columns

    def append(self, row: dict[str, float]) -> None:
        self._pending.append(row)

    def __repr__(self) -> str:
        return f"Trace({len(self)} rows: {', '.join(self.columns)})"

    def __len__(self) -> int:
        cols = self.columns
        return len(next(iter(cols.values()))) if cols else 0

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
    """What every solver returns.

    theta: the final parameters, flat; factors: the same point as the model's factors — (U,)
    for UUᵀ, (U, V) for UVᵀ, (U₁, …, U_L) for deep products, (U, S, V) on the fixed-rank
    manifold (Z = U diag(S) Vᵀ); X: the final matrix, factored (`LowRank`; `X.dense()` forms
    it); stop: the structured `StopCode` and message; iterations; trace: per-record metrics
    (`trace.to_frame()`); counts: gradient evaluations and operator applications; wall_time
    in seconds; info: what is particular to the solver (its settings, phases, multipliers, …).
    """

    theta: np.ndarray
    X: Any  # LowRank (or the solver's natural representation)
    stop: StopCode
    iterations: int
    trace: Trace
    counts: dict[str, int]
    wall_time: float
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    factors: tuple = ()

    @property
    def converged(self) -> bool:
        return self.stop is StopCode.CONVERGED

    def __str__(self) -> str:
        last = {k: v[-1] for k, v in self.trace.columns.items() if v}
        shown = ", ".join(f"{k}={v:.3g}" for k, v in last.items() if k not in ("iter",))
        return (f"{self.stop.value} after {self.iterations} iterations "
                f"({self.wall_time:.2f} s): {shown}")
