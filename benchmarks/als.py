"""Plain alternating least squares for matrix completion: the honest baseline of the peer suite.

    min_{U, V} ½ Σ_{(i,j) ∈ Ω} (⟨u_i, v_j⟩ − b_ij)² + (λ/2)(‖U‖²_F + ‖V‖²_F)

Each half-step solves the r×r normal equations of every row exactly (the objective is a
least-squares problem in U for fixed V and vice versa):

    u_i = (Σ_{j ∈ Ω_i} v_j v_jᵀ + λ I)⁻¹ Σ_{j ∈ Ω_i} b_ij v_j,

and the same for v_j over the column sets Ω^j (Jain, Netrapalli & Sanghavi, "Low-rank matrix
completion using alternating minimization", STOC 2013, Alg. 1 without the resampling). The
ridge λ (default 1e-12 relative to the mean Gram diagonal) only guards empty or
rank-deficient rows; on a noiseless planted instance its bias is far below 1e-6.

Vectorized NumPy: the per-row Gram matrices are formed as (block, r²) outer products and
summed over each row's segment with `np.add.reduceat`, in blocks of about `block` entries
(memory O(block·r²)), then solved as one batched `np.linalg.solve`. Cost per sweep:
O(|Ω| r²) flops for the Gram matrices and O((d1 + d2) r³) for the solves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BLOCK = 1 << 16


class _Side:
    """The observations grouped by one index (rows for the U-step, columns for the V-step)."""

    def __init__(self, own: np.ndarray, other: np.ndarray, b: np.ndarray, n: int) -> None:
        order = np.argsort(own, kind="stable")
        self.other = np.ascontiguousarray(other[order])
        self.b = np.ascontiguousarray(b[order])
        self.indptr = np.searchsorted(own[order], np.arange(n + 1))
        self.n = n


def _half_step(side: _Side, F: np.ndarray, lam: float, block: int) -> np.ndarray:
    """The exact minimizer over the factor of `side` with the other factor F fixed."""
    n, r = side.n, F.shape[1]
    out = np.zeros((n, r))
    counts = np.diff(side.indptr)
    per_row = max(1, int(block // max(1.0, counts.mean())))
    eye = np.eye(r)
    for s in range(0, n, per_row):
        e = min(n, s + per_row)
        nz = np.flatnonzero(counts[s:e]) + s  # rows with observations
        if nz.size == 0:
            continue
        lo, hi = side.indptr[s], side.indptr[e]
        W = F[side.other[lo:hi]]  # (k, r)
        starts = side.indptr[nz] - lo
        gram = np.add.reduceat((W[:, :, None] * W[:, None, :]).reshape(-1, r * r), starts)
        rhs = np.add.reduceat(W * side.b[lo:hi, None], starts)
        G = gram.reshape(-1, r, r) + lam * eye
        out[nz] = np.linalg.solve(G, rhs[:, :, None])[:, :, 0]
    return out


def als(rows: np.ndarray, cols: np.ndarray, b: np.ndarray, shape: tuple[int, int],
        V0: np.ndarray, *, max_sweeps: int = 1000, ridge: float = 1e-12,
        callback: Callable[[np.ndarray, np.ndarray], bool] | None = None,
        block: int = BLOCK) -> tuple[np.ndarray, np.ndarray, int]:
    """ALS from V0 (d2×r); returns (U, V, sweeps). `callback(U, V)` runs after each sweep
    (U-step then V-step) and stops the loop by returning True."""
    d1, d2 = (int(s) for s in shape)
    V = np.asarray(V0, dtype=float)
    if V.ndim != 2 or V.shape[0] != d2:
        raise ValueError(f"V0 must have shape ({d2}, r), got {V.shape}")
    if not (np.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge}")
    if int(max_sweeps) != max_sweeps or max_sweeps < 1:
        raise ValueError(f"max_sweeps must be a positive integer, got {max_sweeps}")
    rows, cols = np.asarray(rows), np.asarray(cols)
    b = np.asarray(b, dtype=float)
    by_row, by_col = _Side(rows, cols, b, d1), _Side(cols, rows, b, d2)
    # the ridge is relative to the scale of the Gram matrices: mean count × mean ‖v‖²/r
    scale = max(b.size / max(d1, d2) * float(np.mean(V * V)), 1e-300)
    lam = ridge * scale
    U = np.zeros((d1, V.shape[1]))
    sweeps = 0
    while sweeps < max_sweeps:
        U = _half_step(by_row, V, lam, block)
        V = _half_step(by_col, U, lam, block)
        sweeps += 1
        if callback is not None and callback(U, V):
            break
    return U, V, sweeps
