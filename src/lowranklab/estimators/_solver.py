"""The one place the estimators call a solver.

`fit_fixed_rank` minimizes ½‖A(X) − b‖² over the rank-r matrices by Riemannian conjugate
gradient (Polak–Ribière+) on the fixed-rank manifold with the exact step along the direction
(Wei, Cai, Chan & Leung 2016), the measured fastest of our completion solvers
(`benchmarks/peers.py`, docs/completion.md). Everything the estimators need from a solver goes
through this function, so that swapping the solver (after the solve-engine rewrite) is a
change of this file only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowranklab.lowrank import LowRank
from lowranklab.models.fixed_rank import manifold_for
from lowranklab.models.init import spectral_matrix
from lowranklab.operators.base import MeasurementOperator
from lowranklab.problems.loss import LeastSquares
from lowranklab.solvers.monitors import State
from lowranklab.solvers.result import Result, StopCode
from lowranklab.solvers.riemannian import riemannian_gradient_descent
from lowranklab.threads import blas_limited


@dataclass
class Fit:
    """What one fixed-rank solve returns to an estimator.

    X: the kept iterate (the best one on the validation data when validation was given);
    best_iter: its iteration; val_rmse: its validation RMSE (nan without validation);
    stop: why the run stopped; result: the solver's own `Result`."""

    X: LowRank
    best_iter: int
    val_rmse: float
    stop: StopCode
    reason: str
    result: Result


class _Watch:
    """Callback: relative-decrease stop and early stopping on validation measurements.

    Stops when f_{k−1} − f_k ≤ tol·f_{k−1} (no more progress on the training data), or when
    the validation RMSE √(‖A_val(X_k) − b_val‖²/m_val) has not improved on its best value by
    a factor (1 − 1e-4) for `patience` iterations; keeps the best validation iterate."""

    def __init__(self, tol: float, val_op=None, val_b=None, patience: int = 10) -> None:
        self.tol = tol
        self.val_op = val_op
        self.val_b = val_b
        self.patience = patience
        self.f_prev = np.inf
        self.best = (np.inf, None, 0)  # (rmse, X, iteration)
        self.since = 0
        self.reason = ""

    def score(self, X: LowRank, iteration: int) -> bool:
        """Record the validation RMSE of X; True when it is a new best."""
        r = self.val_op.forward_lr(X.L, X.R) - self.val_b
        rmse = float(np.sqrt(r @ r / r.size))
        if rmse < self.best[0] * (1.0 - 1e-4):
            self.best = (rmse, X, iteration)
            self.since = 0
            return True
        self.since += 1
        return False

    def __call__(self, s: State) -> bool:
        f = s.evaluation.value
        if self.val_op is not None:
            if not self.score(s.evaluation.X, s.iteration):
                if self.since >= self.patience:
                    self.reason = (f"validation RMSE did not improve for {self.patience} "
                                   f"iterations (early stopping)")
                    return True
        if np.isfinite(self.f_prev) and self.f_prev - f <= self.tol * self.f_prev:
            self.reason = f"relative decrease of the loss <= {self.tol:g}"
            return True
        self.f_prev = f
        return False


@blas_limited  # the spectral start's and the solve's narrow BLAS: one thread
def fit_fixed_rank(
    op: MeasurementOperator,
    b: np.ndarray,
    rank: int,
    *,
    x0: LowRank | None = None,
    max_iter: int = 500,
    tol: float = 1e-9,
    validation: tuple[MeasurementOperator, np.ndarray] | None = None,
    patience: int = 10,
    symmetric: bool = False,
    direction: str = "cg",
) -> Fit:
    """Rank-`rank` least-squares fit of b ≈ A(X) by Riemannian CG with the exact step.

    x0: the start (a LowRank of rank ≤ rank, padded on the manifold); default the spectral
    start, the best rank-r approximation of A*(b) rescaled by least squares. Stops on the
    relative decrease `tol`, after `max_iter` iterations, or by early stopping on
    `validation` = (A_val, b_val) with `patience` (the best validation iterate is kept).
    direction: "cg" (Riemannian CG, default) or "gradient" (RGD)."""
    man = manifold_for(op.shape_in, int(rank), symmetric=symmetric)
    if x0 is None:
        L, R = spectral_matrix(op, b, int(rank), symmetric=symmetric)
        x0 = LowRank(L, R)
        start = man.from_lowrank(x0)
    elif x0.L.shape[1] < rank:  # grow: add the top directions of the residual A*(b − A(x0))
        L, R = spectral_matrix(op, b - op.forward_lr(x0.L, x0.R), int(rank),
                               symmetric=symmetric)
        start = man.from_lowrank(LowRank(np.hstack([x0.L, L]), np.hstack([x0.R, R])))
    else:
        start = man.from_lowrank(x0)
    if start.sigma_r <= 1e-8 * max(start.sigma_1, 1e-300):
        # the data hold less than `rank` directions (an exact fit at a lower rank): add small
        # random ones, σ = 1e-6·σ₁, from a fixed seed so that the fit stays deterministic
        g = np.random.default_rng(0)
        c = 1e-6 * max(start.sigma_1, 1e-300)
        d1, d2 = op.shape_in
        La = g.standard_normal((d1, int(rank))) * np.sqrt(c / d1)
        Ra = La if symmetric else g.standard_normal((d2, int(rank))) * np.sqrt(c / d2)
        keep = start.S > 1e-8 * max(start.sigma_1, 1e-300)
        Lk, Rk = start.U[:, keep] * start.S[keep], start.V[:, keep]
        start = man.from_lowrank(LowRank(np.hstack([Lk, La]), np.hstack([Rk, Ra])))
    watch = _Watch(tol, *(validation or (None, None)), patience=patience)
    # the stop is the watch's (relative decrease, validation patience), not the engine's
    res = riemannian_gradient_descent(LeastSquares(op, b), man, start, line_search="exact",
                                      direction=direction,
                                      max_iter=max_iter, callbacks=[watch], tol=None,
                                      stall_tol=None)
    stop, reason = res.stop, res.message
    if res.stop is StopCode.INTERRUPTED and watch.reason:
        stop, reason = StopCode.CONVERGED, watch.reason
    if validation is not None:
        watch.score(res.X, res.iterations)  # the callback does not see the last iterate
        rmse, X, it = watch.best
        return Fit(X, it, rmse, stop, reason, res)
    return Fit(res.X, res.iterations, float("nan"), stop, reason, res)
