"""The logic of `lowranklab complete INPUT --rank R|auto [--holdout F] --out OUTPUT`.

Inputs: triplets (CSV with a header row naming row, col, value — `row,col,value`,
`row,column,value` or `i,j,value`, any case — or a Parquet file whose first three columns are
the triplets) or a dense CSV without header whose blank cells are missing. Outputs: OUTPUT.csv
(the completed matrix; with triplets a header of column labels and a first column of row
labels), OUTPUT.parquet (the same as a table), or with `factors` an .npz of U, V, mean and
the labels as strings (no pickle).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lowranklab.estimators.completion import MatrixCompletion
from lowranklab.estimators.data import Triplets

TRIPLET_HEADERS = ({"row", "col", "value"}, {"row", "column", "value"}, {"i", "j", "value"})


def read_input(path: Path, fmt: str = "auto", duplicates: str = "error"):
    """Triplets or a dense array with NaN, from CSV or Parquet (see the module docstring)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if fmt not in ("auto", "triplets", "dense"):
        raise ValueError(f"--format must be auto, triplets or dense, got {fmt!r}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        if fmt == "dense":
            raise ValueError("a Parquet input holds triplets; --format dense reads CSV only")
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises several types for a bad file
            raise ValueError(f"{path}: not a readable Parquet file ({e})") from None
        if df.shape[1] < 3:
            raise ValueError(f"{path}: a triplet table needs 3 columns, found {df.shape[1]}")
        return Triplets.from_frame(df.iloc[:, :3], duplicates=duplicates)
    if suffix != ".csv":
        raise ValueError(f"{path}: the input must be .csv or .parquet")
    with path.open(newline="") as fh:
        first = next(csv.reader(fh), None)
    if first is None:
        raise ValueError(f"{path}: the file is empty")
    header = {c.strip().lower() for c in first}
    is_triplets = fmt == "triplets" or (fmt == "auto" and len(first) == 3
                                        and header in TRIPLET_HEADERS)
    if is_triplets:
        df = pd.read_csv(path)
        if df.shape[1] != 3:
            raise ValueError(f"{path}: a triplet CSV needs 3 columns, found {df.shape[1]}")
        _check_numeric(path, df.iloc[:, 2], first_line=2)
        return Triplets.from_frame(df, duplicates=duplicates)
    return _read_dense(path)


def _check_numeric(path: Path, col, first_line: int) -> None:
    import pandas as pd

    num = pd.to_numeric(col, errors="coerce")
    bad = num.isna() & col.notna() & (col.astype(str).str.strip() != "")
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}:{k + first_line}: value {col.iloc[k]!r} is not a number")


def _read_dense(path: Path) -> np.ndarray:
    rows = []
    with path.open(newline="") as fh:
        for lineno, rec in enumerate(csv.reader(fh), start=1):
            if not rec:
                continue
            try:
                rows.append([float(c) if c.strip() != "" else np.nan for c in rec])
            except ValueError:
                bad = next(c for c in rec if c.strip() != "" and not _is_float(c))
                raise ValueError(f"{path}:{lineno}: cell {bad!r} is not a number (a dense "
                                 f"CSV holds numbers, blanks for missing entries)") from None
            if len(rows[-1]) != len(rows[0]):
                raise ValueError(f"{path}:{lineno}: {len(rows[-1])} cells, the first line "
                                 f"has {len(rows[0])}")
    if not rows:
        raise ValueError(f"{path}: the file is empty")
    return np.array(rows, dtype=float)


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def complete(input_path: Path, out: Path, *, rank: str = "auto", holdout: float | None = None,
             factors: bool = False, fmt: str = "auto", duplicates: str = "error",
             seed: int = 0, max_iter: int = 500, force: bool = False) -> dict:
    """Read, fit, write (atomically); return a summary {"rank", "n_observed", "shape",
    "holdout_rmse"}. Every argument and the output location are checked before any work."""
    from lowranklab.cli import checks

    out, input_path = Path(out), Path(input_path)
    checks.input_file(input_path, "INPUT")
    checks.output_file(out, inputs=(input_path,), force=force)
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    if factors and out.suffix.lower() != ".npz":
        raise ValueError("--factors writes an .npz file: give --out FILE.npz")
    if not factors and out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError("--out must be .csv or .parquet (or .npz with --factors)")
    r = _parse_rank(rank)
    if holdout is not None and not 0 < holdout < 1:
        raise ValueError(f"--holdout must be a fraction in (0, 1), got {holdout}")
    data = read_input(input_path, fmt, duplicates)
    est = MatrixCompletion(rank=r, random_state=seed, max_iter=max_iter)
    if isinstance(data, Triplets):
        obs = data.observed
    else:
        from lowranklab.estimators.data import observed_entries

        obs = observed_entries(data)
    rmse = None
    if holdout is not None:
        g = np.random.default_rng(seed)
        test = g.random(obs.values.size) < holdout
        if test.all() or not test.any():
            raise ValueError(f"--holdout {holdout} leaves no training or no held-out entry")
        train = ~test
        est.fit_entries(obs.rows[train], obs.cols[train], obs.values[train], obs.shape)
        pred = est.mean_ + np.einsum("ij,ij->i", est.U_[obs.rows[test]], est.V_[obs.cols[test]])
        rmse = float(np.sqrt(np.mean((pred - obs.values[test]) ** 2)))
    est.fit_entries(obs.rows, obs.cols, obs.values, obs.shape)
    _write(out, est, obs, factors)
    return {"rank": est.rank_, "n_observed": int(obs.values.size), "shape": list(obs.shape),
            "holdout_rmse": rmse}


def _parse_rank(rank: str):
    if str(rank) == "auto":
        return "auto"
    try:
        r = int(rank)
    except ValueError:
        raise ValueError(f"--rank must be a positive integer or auto, got {rank!r}") from None
    if r < 1:
        raise ValueError(f"--rank must be a positive integer or auto, got {rank!r}")
    return r


def _write(out: Path, est: MatrixCompletion, obs, factors: bool) -> None:
    """One atomic write (lowranklab.atomic): the old file survives a failed write."""
    import pandas as pd

    from lowranklab.atomic import atomic_write, write_npz, write_parquet

    rl = obs.row_labels if obs.row_labels is not None else np.arange(obs.shape[0])
    cl = obs.col_labels if obs.col_labels is not None else np.arange(obs.shape[1])
    if factors:
        write_npz(out, {"U": est.U_, "V": est.V_, "mean": np.float64(est.mean_),
                        "row_labels": np.array([str(v) for v in rl]),
                        "col_labels": np.array([str(v) for v in cl])})
        return
    F = est.completed(obs)
    if out.suffix.lower() == ".parquet":
        frame = pd.DataFrame(F, columns=[str(c) for c in cl])
        frame.insert(0, "row", [str(v) for v in rl])
        write_parquet(frame, out)
    elif obs.row_labels is not None:
        with atomic_write(out, "w") as fh:
            pd.DataFrame(F, index=[str(v) for v in rl], columns=[str(c) for c in cl]).to_csv(fh)
    else:
        with atomic_write(out, "w") as fh:
            np.savetxt(fh, F, delimiter=",", fmt="%.10g")
