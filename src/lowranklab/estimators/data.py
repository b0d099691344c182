"""Observed entries from what a user has: an array with NaN for the missing entries, a SciPy
sparse matrix with an explicit mask, or (row, column, value) triplets with labels of any type.

Everything becomes `Observed`: integer index arrays, the values and the matrix shape (plus the
row and column labels for triplets). No dense d1×d2 array is built for triplets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

DUPLICATES = ("error", "mean")


@dataclass(frozen=True)
class Observed:
    """The observed entries M[rows[k], cols[k]] = values[k] of a matrix of shape `shape`."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]
    row_labels: np.ndarray | None = None
    col_labels: np.ndarray | None = None


@dataclass(frozen=True)
class Triplets:
    """(row, column, value) triplets read from a table, rows and columns given by labels.

    Build it with `Triplets.from_frame(df, row=..., col=..., value=..., duplicates=...)`;
    pass it to `MatrixCompletion.fit`. Labels may be of any hashable type; they are sorted
    when sortable (kept in order of first appearance otherwise)."""

    observed: Observed

    @classmethod
    def from_frame(cls, df, row: str | None = None, col: str | None = None,
                   value: str | None = None, *, duplicates: str = "error") -> Triplets:
        """Triplets from a pandas DataFrame.

        row, col, value: column names (default: the frame's three columns in order; a frame
        with another number of columns needs them named). duplicates: what a repeated
        (row, col) pair does — "error" (the default) raises a ValueError naming the first
        repeated pair, "mean" averages its values. Never silent."""
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        if duplicates not in DUPLICATES:
            raise ValueError(f"duplicates must be one of {DUPLICATES}, got {duplicates!r}")
        names = [row, col, value]
        if any(n is None for n in names):
            if df.shape[1] != 3:
                raise ValueError(f"the frame has {df.shape[1]} columns "
                                 f"{list(df.columns)}; name the row, col and value columns")
            names = [n if n is not None else df.columns[i] for i, n in enumerate(names)]
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise ValueError(f"columns {missing} not in the frame (it has {list(df.columns)})")
        if len(df) == 0:
            raise ValueError("the frame has no rows: at least one observed entry is needed")
        r, c, v = (df[n] for n in names)
        if r.isna().any() or c.isna().any():
            raise ValueError(f"row and column labels must not be missing (columns "
                             f"{names[0]!r}, {names[1]!r})")
        try:
            vals = pd.to_numeric(v, errors="raise").to_numpy(dtype=float)
        except (ValueError, TypeError) as e:
            raise ValueError(f"value column {names[2]!r} must be numeric: {e}") from None
        keep = np.isfinite(vals)  # a blank value is a missing entry
        ri, row_labels = _codes(r.to_numpy()[keep])
        ci, col_labels = _codes(c.to_numpy()[keep])
        obs = combine_duplicates(ri, ci, vals[keep], (row_labels.size, col_labels.size),
                                 duplicates=duplicates, row_labels=row_labels,
                                 col_labels=col_labels)
        return cls(obs)


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        codes, uniques = pd.factorize(labels, sort=True)
    except TypeError:  # labels of mixed, unsortable types
        codes, uniques = pd.factorize(labels, sort=False)
    out = np.empty(len(uniques), dtype=object)
    for k, u in enumerate(uniques):
        out[k] = u
    return codes.astype(np.int64), out


def combine_duplicates(rows, cols, values, shape, *, duplicates: str = "error",
                       row_labels=None, col_labels=None) -> Observed:
    """Observed entries with each (row, col) once: "error" rejects repeats, "mean" averages."""
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, got {duplicates!r}")
    if values.size == 0:
        raise ValueError("no observed entry: at least one finite value is needed")
    flat = rows * shape[1] + cols
    uniq, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    if uniq.size < flat.size:
        if duplicates == "error":
            k = int(np.flatnonzero(counts > 1)[0])
            i, j = divmod(int(uniq[k]), shape[1])
            li = row_labels[i] if row_labels is not None else i
            lj = col_labels[j] if col_labels is not None else j
            raise ValueError(f"{int((counts > 1).sum())} (row, col) pairs appear more than "
                             f"once, first ({li!r}, {lj!r}) {int(counts[k])} times; pass "
                             f"duplicates='mean' to average them")
        values = np.bincount(inverse, weights=values) / counts
    else:
        values = values[np.argsort(flat, kind="stable")]
    rows, cols = np.divmod(uniq, shape[1])
    return Observed(rows.astype(np.int64), cols.astype(np.int64), values.astype(float),
                    (int(shape[0]), int(shape[1])), row_labels, col_labels)


def observed_entries(X, mask=None) -> Observed:
    """The observed entries of X.

    - a dense array (or anything `np.asarray` takes, e.g. a DataFrame of numbers): NaN marks a
      missing entry, unless `mask` (boolean, same shape, True = observed) is given;
    - a SciPy sparse matrix or array: only with `mask`, because zeros are data otherwise
      (an unstored entry of a sparse matrix is a zero, not a missing value);
    - `Triplets`: its entries (mask must be None).
    ±inf is rejected; NaN inside the mask is rejected."""
    if isinstance(X, Triplets):
        if mask is not None:
            raise ValueError("mask= does not apply to Triplets")
        return X.observed
    if sp.issparse(X):
        if mask is None:
            raise TypeError("sparse input needs an explicit mask= of the observed entries: the "
                            "zeros of a sparse matrix are data, not missing values")
        shape = X.shape
        M = _mask(mask, shape)
        rows, cols = M
        vals = np.asarray(sp.csr_array(X)[rows, cols], dtype=float).ravel()
    else:
        A = dense_array(X)
        shape = A.shape
        if mask is None:
            finite = ~np.isnan(A)
            rows, cols = np.nonzero(finite)
        else:
            rows, cols = _mask(mask, shape)
        vals = A[rows, cols]
    if np.isnan(vals).any():
        raise ValueError("X has NaN at entries that mask= marks as observed")
    if not np.all(np.isfinite(vals)):
        raise ValueError("X has infinite entries; only NaN may mark a missing entry")
    if vals.size == 0:
        raise ValueError("X has no observed entry (all NaN): at least one is needed")
    return Observed(rows.astype(np.int64), cols.astype(np.int64), vals.astype(float),
                    (int(shape[0]), int(shape[1])))


def dense_array(X) -> np.ndarray:
    """X as a 2-D float array (NaN kept), with the errors scikit-learn's checks expect."""
    if hasattr(X, "dtypes") and hasattr(X, "to_numpy"):  # a DataFrame: numbers only
        try:
            X = X.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as e:
            raise ValueError(f"X must hold numbers (NaN for missing): {e}") from None
    try:
        A = np.asarray(X)
        if np.iscomplexobj(A):
            raise ValueError("Complex data not supported: X must hold real numbers")
        A = A.astype(float, copy=False)
    except (TypeError, ValueError) as e:
        raise type(e)(f"X must be a 2-D array of numbers with NaN for missing entries: {e}"
                      ) from None
    if A.ndim != 2:
        raise ValueError(f"X must be 2-D (rows × columns), got an array of shape {A.shape}. "
                         f"Reshape your data: a single row is X.reshape(1, -1)")
    if A.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={A.shape}) while a minimum of 1 "
                         f"is required: X must have at least one row")
    if A.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={A.shape}) while a minimum of "
                         f"1 is required: X must have at least one column")
    return A


def _mask(mask, shape) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the True entries of a dense or sparse boolean mask, row-major."""
    M = mask if sp.issparse(mask) else np.asarray(mask)
    if M.shape != tuple(shape):
        raise ValueError(f"mask must have the shape of X {tuple(shape)}, got {M.shape}")
    if M.dtype != bool:
        raise TypeError(f"mask must be boolean (True = observed), got dtype {M.dtype}")
    if not sp.issparse(M):
        return np.nonzero(M)
    C = sp.csr_array(M)
    C.eliminate_zeros()
    C.sort_indices()
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    return rows, C.indices.astype(np.int64)
