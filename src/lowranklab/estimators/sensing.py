"""`MatrixSensing`: recover a low-rank d1×d2 matrix from linear measurements y_i = ⟨A_i, X⟩.

The model is X̂ of rank r minimizing ½ Σ_i (⟨A_i, X⟩ − y_i)² over the rank-r matrices, by
Riemannian conjugate gradient on the fixed-rank manifold with the exact step (the same
solver function as `MatrixCompletion`); rank="auto" validates on held-out measurements along
the same rank path (see `lowranklab.estimators.completion`).
"""

from __future__ import annotations

import numpy as np

from lowranklab.estimators._base import BaseEstimator, check_fitted
from lowranklab.estimators._path import LowRankFitMixin
from lowranklab.operators.base import MeasurementOperator
from lowranklab.operators.dense import DenseSensing


class MatrixSensing(LowRankFitMixin, BaseEstimator):
    """Low-rank matrix sensing with scikit-learn's conventions.

    fit(A, y): A is an array (m, d1, d2) of sensing matrices, an array (m, d1·d2) of their
    row-major vectorizations together with `shape=(d1, d2)`, or a `MeasurementOperator`
    (rank="auto" and early stopping need the measurements split, so they need a dense A; an
    operator works with an integer rank and early_stopping=False). predict(A) returns the
    measurements ⟨A_i, X̂⟩ of new sensing matrices.

    Parameters as `MatrixCompletion` (rank, max_rank, early_stopping, validation_fraction,
    n_iter_no_change, rank_patience, max_iter, tol, refit, random_state, verbose) plus `shape`.

    Attributes: U_, V_ (balanced factors, X̂ = U_ V_ᵀ), singular_values_, rank_, n_iter_,
    stop_code_, stop_message_, result_, validation_rmse_, shape_, n_features_in_ (d1·d2).
    """

    def __init__(self, rank="auto", *, shape=None, max_rank=None, early_stopping=True,
                 validation_fraction=0.1, n_iter_no_change=10, rank_patience=2, max_iter=500,
                 tol=1e-10, refit=False, random_state=None, verbose=False):
        self.rank = rank
        self.shape = shape
        self.max_rank = max_rank
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.rank_patience = rank_patience
        self.max_iter = max_iter
        self.tol = tol
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, A, y):
        """Fit X̂ to the measurements y ≈ A(X̂)."""
        self._check_common_params()
        if isinstance(A, MeasurementOperator):
            op = A
            if self.rank == "auto" or self.early_stopping:
                raise ValueError("rank='auto' and early_stopping need a dense array A (the "
                                 "measurements are split); pass an integer rank and "
                                 "early_stopping=False for an operator")
            rows = None
        else:
            rows, shape = self._dense_rows(A)
            op = DenseSensing(rows, shape)
        y = np.asarray(y, dtype=float)
        if y.shape != (op.m,):
            raise ValueError(f"y must have shape ({op.m},) to match A, got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y must be finite")
        X, fit, n_iter, path = self._fit_operator(
            op, y, lambda idx: DenseSensing(rows[idx], op.shape_in))
        self._set_factors(X)
        self._set_fit_attributes(fit, n_iter, path)
        self.shape_ = op.shape_in
        self.n_features_in_ = op.shape_in[0] * op.shape_in[1]
        return self

    def _dense_rows(self, A) -> tuple[np.ndarray, tuple[int, int]]:
        if np.iscomplexobj(A):
            raise ValueError("Complex data not supported: A must be real")
        A = np.asarray(A, dtype=float)
        if A.ndim == 3:
            shape = (A.shape[1], A.shape[2])
            if self.shape is not None and tuple(self.shape) != shape:
                raise ValueError(f"shape={self.shape} does not match A's {shape}")
            return A.reshape(A.shape[0], -1), shape
        if A.ndim == 2:
            if self.shape is None:
                raise ValueError("A of shape (m, d1·d2) needs shape=(d1, d2)")
            d1, d2 = (int(s) for s in self.shape)
            if A.shape[1] != d1 * d2:
                raise ValueError(f"A has {A.shape[1]} columns, expected d1·d2 = {d1 * d2} "
                                 f"for shape {self.shape}")
            return A, (d1, d2)
        raise ValueError(f"A must be an array (m, d1, d2) or (m, d1·d2), got shape {A.shape}")

    @property
    def X_(self) -> np.ndarray:
        """The recovered matrix U_ V_ᵀ (dense d1 × d2)."""
        check_fitted(self, "U_")
        return self.U_ @ self.V_.T

    def predict(self, A) -> np.ndarray:
        """⟨A_i, X̂⟩ for new sensing matrices A (the shapes fit accepts, or an operator)."""
        check_fitted(self, "U_")
        if isinstance(A, MeasurementOperator):
            if A.shape_in != self.shape_:
                raise ValueError(f"operator acts on {A.shape_in}, the fit is {self.shape_}")
            return A.forward_lr(self.U_, self.V_)
        rows, shape = self._dense_rows(A) if np.ndim(A) == 3 else (np.asarray(A, float), None)
        if rows.ndim != 2 or rows.shape[1] != self.n_features_in_:
            raise ValueError(f"A must have {self.n_features_in_} = d1·d2 columns")
        return rows @ self.X_.ravel()
