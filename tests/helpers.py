"""Small builders shared by the tests (plain functions, usable inside hypothesis tests)."""

from __future__ import annotations

import numpy as np

from lowranklab.operators import (
    EntrySampling,
    Identity,
    StreamedGaussian,
    gaussian,
    rank_one_gaussian,
    symmetric_gaussian,
)

KINDS = ("symmetric_gaussian", "gaussian", "entries", "identity", "streamed",
         "streamed_symmetric", "rank_one", "rank_one_symmetric")
SQUARE_KINDS = ("symmetric_gaussian", "streamed_symmetric", "rank_one_symmetric")


def make_operator(kind: str, d1: int, d2: int, rng: np.random.Generator):
    """A small operator of each kind; entry sampling always repeats one index pair; the
    streamed kinds hold two rows per block, so every pass crosses block boundaries."""
    if kind in SQUARE_KINDS and d1 != d2:
        raise ValueError(f"{kind} needs d1 == d2")
    if kind == "symmetric_gaussian":
        return symmetric_gaussian(d1, 3 * d1 * d2, rng)
    if kind in ("streamed", "streamed_symmetric"):
        return StreamedGaussian((d1, d2), 2 * d1 * d2 + 1, int(rng.integers(2**31)),
                                symmetric=kind == "streamed_symmetric",
                                block_bytes=2 * 8 * d1 * d2)
    if kind in ("rank_one", "rank_one_symmetric"):
        return rank_one_gaussian(d1, d2, 2 * d1 * d2 + 1, rng,
                                 symmetric=kind == "rank_one_symmetric")
    if kind == "gaussian":
        return gaussian(d1, d2, 2 * d1 * d2, rng)
    if kind == "entries":
        m = max(d1 * d2 // 2, 1)
        rows = rng.integers(0, d1, size=m)
        cols = rng.integers(0, d2, size=m)
        return EntrySampling(np.append(rows, rows[0]), np.append(cols, cols[0]), (d1, d2))
    if kind == "identity":
        return Identity((d1, d2))
    raise ValueError(kind)


def dense_matrix_of(op) -> np.ndarray:
    """The (m, d1·d2) matrix of op, columns = A(E_ij) in row-major order of (i, j)."""
    d1, d2 = op.shape_in
    cols = []
    for k in range(d1 * d2):
        E = np.zeros(d1 * d2)
        E[k] = 1.0
        cols.append(op.forward(E.reshape(d1, d2)))
    return np.stack(cols, axis=1)


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))
