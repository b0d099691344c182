"""The loss interface: a smooth f on the ambient matrix X.

    value(X)          f(X)
    grad(X)           ∇f(X), ambient, in the form natural to the loss (dense, sparse, LowRank)
    hvp(X, Xdot)      ∇²f(X)[Ẋ]

X and Ẋ may be dense arrays or `LowRank` factors; losses built on a measurement operator
never densify them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from lowranklab.lowrank import Matrix
from lowranklab.operators.base import MeasurementOperator


class Loss(ABC):
    shape: tuple[int, int]

    @abstractmethod
    def value(self, X: Matrix) -> float: ...

    @abstractmethod
    def grad(self, X: Matrix) -> Matrix: ...

    @abstractmethod
    def hvp(self, X: Matrix, Xdot: Matrix) -> Matrix: ...

    def value_and_grad(self, X: Matrix) -> tuple[float, Matrix]:
        return self.value(X), self.grad(X)


class LeastSquares(Loss):
    """f(X) = (scale/2)·‖A(X) − b‖²₂.

    ∇f(X) = scale·A*(A(X) − b) and ∇²f(X)[Ẋ] = scale·A*A(Ẋ). The default scale 1 gives the
    ½‖·‖² of most papers; ez2021 and eftekhari2021 plot the unscaled ‖A(UUᵀ) − b‖² (scale 2).
    """

    def __init__(self, op: MeasurementOperator, b: np.ndarray, *, scale: float = 1.0) -> None:
        if np.iscomplexobj(b):
            raise TypeError("b must be real, got complex values")
        b = np.asarray(b, dtype=float)
        if b.shape != (op.m,):
            raise ValueError(f"b must have shape ({op.m},) to match the operator, got {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError("b must have finite entries")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.op = op
        self.b = b
        self.scale = float(scale)
        self.shape = op.shape_in

    def residual(self, X: Matrix) -> np.ndarray:
        """A(X) − b (in place: `forward` returns a new array)."""
        r = np.asarray(self.op.forward(X), dtype=float)  # no copy unless X was not float
        r -= self.b
        return r

    def value(self, X: Matrix) -> float:
        r = self.residual(X)
        return 0.5 * self.scale * float(r @ r)

    def grad(self, X: Matrix) -> Matrix:
        return self.op.adjoint(self.scale * self.residual(X))

    def value_and_grad(self, X: Matrix) -> tuple[float, Matrix]:
        r = self.residual(X)
        value = 0.5 * self.scale * float(r @ r)
        if self.scale != 1.0:
            r *= self.scale
        return value, self.op.adjoint(r)

    def hvp(self, X: Matrix, Xdot: Matrix) -> Matrix:
        return self.op.adjoint(self.scale * self.op.forward(Xdot))

    def training_error(self, X: Matrix) -> float:
        """‖A(X) − b‖²₂, the papers' plotted training error (unscaled, squared)."""
        r = self.residual(X)
        return float(r @ r)
