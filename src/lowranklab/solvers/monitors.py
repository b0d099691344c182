"""Monitors: functions of the solver state that add columns to the trace.

A monitor is a callable `(state) -> dict[str, float]`; `state` carries the iteration, θ, the
`Evaluation` (value, loss value, gradient, X, ∇f) and the elapsed time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from lowranklab.lowrank import DistanceTo, LowRank, Matrix, fro_dist_sq, fro_norm
from lowranklab.objective import Evaluation
from lowranklab.problems.loss import LeastSquares


class State(NamedTuple):
    """The solver state a monitor or callback sees (on record steps); a NamedTuple, like
    `Evaluation` (cheap to build: the engine makes one per trace row)."""

    iteration: int
    theta: np.ndarray | None  # the flat parameters (None in the engine's internal tests)
    evaluation: Evaluation
    elapsed: float
    step: float
    grad_norm: float = float("nan")  # ‖∇F‖ in the space's metric (Riemannian on M_r)
    point: Any = None  # the iterate in its own form (θ, or a FixedRankPoint)
    extra: dict | None = None  # columns a rule or hook keeps (e.g. the clock t = Σ η)


Monitor = Callable[[State], dict[str, float]]
Callback = Callable[[State], bool | None]  # called at every iteration; True stops the run



def training_error(loss) -> Monitor:
    """‖A(X) − b‖²₂ for a least-squares loss (read off the loss value, no extra pass)."""
    if not isinstance(loss, LeastSquares):
        return lambda s: {}
    return lambda s: {"train_error": 2.0 * s.evaluation.loss_value / loss.scale}


def test_error(truth: Matrix, *, relative: bool = True) -> Monitor:
    """‖X − X♮‖²_F, and the relative error ‖X − X♮‖_F / ‖X♮‖_F."""
    nt = fro_norm(truth)
    on_device: dict = {}  # the truth copied once onto the iterates' torch device

    def like(X):
        from lowranklab.backend import is_torch, to_like

        ref = X.L if isinstance(X, LowRank) else X
        if not is_torch(ref) or is_torch(truth.L if isinstance(truth, LowRank) else truth):
            return truth
        if "t" not in on_device:
            on_device["t"] = (LowRank(to_like(truth.L, ref), to_like(truth.R, ref))
                              if isinstance(truth, LowRank) else to_like(np.asarray(truth), ref))
        return on_device["t"]

    dense_truth = isinstance(truth, np.ndarray)
    lr_truth = isinstance(truth, LowRank) and type(truth.L) is np.ndarray
    if lr_truth:  # the truth's Gram matrices and orthonormal parts, kept
        distance = DistanceTo(truth)

    buf: list = []  # [X's dtype, X − X♮, its flat view] for a dense truth, reused

    rel = relative and nt > 0

    def monitor(s: State) -> dict[str, float]:
        X = s.evaluation.X
        numpy_factors = isinstance(X, LowRank) and type(X.L) is np.ndarray
        if numpy_factors and dense_truth:  # X formed once (cached), X − X♮ into the buffer
            Xd = X.dense()
            if not buf or buf[0] != Xd.dtype:  # (the buffer's own dtype may be wider)
                B = np.empty(truth.shape, dtype=np.result_type(Xd, truth))
                buf[:] = [Xd.dtype, B, B.reshape(-1)]
            np.subtract(Xd, truth, out=buf[1])
            d2 = float(buf[2].dot(buf[2]))
        elif numpy_factors and lr_truth:
            d2 = distance(X)
        else:
            d2 = max(fro_dist_sq(X, like(X)), 0.0)
        dist = math.sqrt(d2)
        if rel:
            return {"test_error": d2, "dist": dist, "rel_error": dist / nt}
        return {"test_error": d2, "dist": dist}

    return monitor


def manifold_sigmas(s: State) -> dict[str, float]:
    """σ_r and σ_1 of a fixed-rank iterate (free: its S is stored)."""
    x = s.point
    return {"sigma_r": x.sigma_r, "sigma_1": x.sigma_1} if hasattr(x, "sigma_r") else {}


def spectrum(k: int = 3, *, rtol: float = 1e-8) -> Monitor:
    """Numerical rank of X (singular values above rtol·σ₁) and its k smallest singular
    values among the first q, q the factor width: sigma_min = σ_q, sigma_min1 = σ_{q−1}, ..."""

    def monitor(s: State) -> dict[str, float]:
        X = s.evaluation.X
        sv = X.singular_values() if isinstance(X, LowRank) else np.linalg.svd(
            np.asarray(X), compute_uv=False)
        # a LowRank L Rᵀ with q columns has at most q nonzero singular values: report σ_q, ...
        q = min(X.L.shape[1], sv.size) if isinstance(X, LowRank) else sv.size
        out = {"rank": float(np.sum(sv > rtol * max(sv[0], 1e-300)))}
        tail = sv[:q][::-1][:k]
        for i, v in enumerate(tail):
            out[f"sigma_min{i}" if i else "sigma_min"] = float(v)
        return out

    return monitor
