"""Full observation: A(X) = vec(X), so ½‖A(X) − b‖² is matrix factorization ½‖X − M‖²_F."""

from __future__ import annotations

import numpy as np

from lowranklab.operators.base import MeasurementOperator, check_shape


class Identity(MeasurementOperator):
    def __init__(self, shape: tuple[int, int]) -> None:
        super().__init__()
        d1, d2 = check_shape(shape)
        self.shape_in = (d1, d2)
        self.m = d1 * d2

    def _forward_dense(self, X: np.ndarray) -> np.ndarray:
        return X.ravel().astype(float, copy=True)

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        U, V = self.check_factors(U, V)
        self.counts["forward"] += 1
        return (U @ V.T).ravel()

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        self.counts["adjoint"] += 1
        return self.check_y(y).reshape(self.shape_in).copy()

    def _compute_norm(self) -> float:
        return 1.0
