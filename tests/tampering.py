"""Generic tampering of result tables: each reproduced claim must be falsifiable by its
tables (an altered table makes it false), or it is not evaluated from the run."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

Tables = dict[str, pd.DataFrame]


def _ops(s: pd.Series) -> Iterator[tuple[str, Callable[[pd.Series], pd.Series]]]:
    if pd.api.types.is_bool_dtype(s):
        yield "flip", lambda x: ~x
        yield "all-true", lambda x: x | True
        yield "all-false", lambda x: x & False
    elif pd.api.types.is_numeric_dtype(s):
        yield "x1e6", lambda x: x * 1e6
        yield "x1e-6", lambda x: x * 1e-6
        yield "negate", lambda x: -x
        yield "plus1", lambda x: x + 1
        yield "reverse", lambda x: pd.Series(x.to_numpy()[::-1], index=x.index)
        yield "first", lambda x: pd.Series(np.full(len(x), x.iloc[0]), index=x.index)
        yield "nan", lambda x: x.astype(float) * np.nan
    elif pd.api.types.is_string_dtype(s) and s.map(type).eq(str).all() and len(s) > 0:
        other = "diverged" if "diverged" not in set(s) else "converged"
        yield "relabel", lambda x: pd.Series([other] * len(x), index=x.index)


def tampered(tables: Tables) -> Iterator[tuple[str, Tables]]:
    """Every single-column alteration of the tables: (description, altered copy)."""
    for tname, df in tables.items():
        for col in df.columns:
            for op, f in _ops(df[col]):
                try:
                    new = f(df[col].copy())
                except Exception:  # an op that does not apply to this column
                    continue
                bad = dict(tables)
                d = df.copy()
                d[col] = new
                bad[tname] = d
                yield f"{tname}.{col}:{op}", bad


def unfalsifiable(claims_fn, tables: Tables, cfg) -> list[str]:
    """Ids of `reproduces` claims holding on `tables` that no single-column tamper makes false
    (a tamper that raises does not count)."""
    base = {c.id: c for c in claims_fn(tables, cfg)}
    todo = {i for i, c in base.items() if c.kind == "reproduces" and c.holds}
    for _, bad in tampered(tables):
        if not todo:
            break
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # altered tables make noisy fits
                got = {c.id: bool(c.holds) for c in claims_fn(bad, cfg)}
        except Exception:
            continue
        todo -= {i for i in todo if got.get(i, True) is False}
    return sorted(todo)
