"""Full observation: A(X) = vec(X), so ½‖A(X) − b‖² is matrix factorization ½‖X − M‖²_F."""

from __future__ import annotations

import numpy as np

from lowranklab.backend import float_dtype, is_torch
from lowranklab.operators.base import MeasurementOperator, check_shape


class Identity(MeasurementOperator):
    def __init__(self, shape: tuple[int, int]) -> None:
        super().__init__()
        d1, d2 = check_shape(shape)
        self.shape_in = (d1, d2)
        self.m = d1 * d2

    def _forward_dense(self, X: np.ndarray) -> np.ndarray:
        if is_torch(X):
            return X.reshape(-1).clone()
        return X.ravel().astype(float_dtype(X), copy=True)

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        U, V = self.check_factors(U, V)
        self.counts["forward"] += 1
        return (U @ V.T).reshape(-1)

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        self.counts["adjoint"] += 1
        y = self.check_y(y).reshape(self.shape_in)
        return y.clone() if is_torch(y) else y.copy()

    def _compute_norm(self) -> float:
        return 1.0
