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

from lowranklab.backend import float_dtype, is_torch, to_like
from lowranklab.lowrank import LowRank, Matrix
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

    @property
    def symmetric_gradient(self) -> bool:
        """True when a dense NumPy ∇f(X) is symmetric bit for bit (so (G + Gᵀ)U = 2GU
        exactly); False unless a loss knows it."""
        return False


class LeastSquares(Loss):
    """f(X) = (scale/2)·‖A(X) − b‖²₂.

    ∇f(X) = scale·A*(A(X) − b) and ∇²f(X)[Ẋ] = scale·A*A(Ẋ). The default scale 1 gives the
    ½‖·‖² of most papers; ez2021 and eftekhari2021 plot the unscaled ‖A(UUᵀ) − b‖² (scale 2).

    Backends and dtype: X may hold NumPy arrays or torch tensors; the residual, value and
    gradient come back on X's backend (b is copied to the tensors' device and dtype once and
    cached). b keeps float32 when given as float32 or with `dtype="float32"`, float64
    otherwise; a float32 X on a float32 operator gives float32 residuals and gradients.
    """

    def __init__(self, op: MeasurementOperator, b: np.ndarray, *, scale: float = 1.0,
                 dtype=None) -> None:
        if is_torch(b):
            if dtype is not None:
                raise TypeError("dtype= applies to NumPy b; give a tensor b in its dtype")
            finite = bool(b.isfinite().all())
        else:
            if np.iscomplexobj(b):
                raise TypeError("b must be real, got complex values")
            b = np.asarray(b)
            b = b.astype(float_dtype(b, dtype), copy=False)
            finite = bool(np.all(np.isfinite(b)))
        if tuple(b.shape) != (op.m,):
            raise ValueError(f"b must have shape ({op.m},) to match the operator, "
                             f"got {tuple(b.shape)}")
        if not finite:
            raise ValueError("b must have finite entries")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.op = op
        self.b = b
        self.scale = float(scale)
        self.shape = op.shape_in
        self._b_on: dict[tuple, object] = {}  # b on other devices/dtypes, see _b_like
        # operators that stream A compute the residual and the adjoint in one pass
        self._fused = getattr(op, "residual_adjoint", None)

    @property
    def symmetric_gradient(self) -> bool:
        """A*(y) is exactly symmetric when every A_i is (symmetric dense sensing: the
        half-coordinate adjoint writes each pair (i, j), (j, i) from one number)."""
        return bool(getattr(self.op, "exactly_symmetric", False))

    def _b_like(self, r):
        """b on the backend, device and dtype of the residual r."""
        if not is_torch(r):
            if is_torch(self.b):
                raise TypeError("b is a torch tensor but X holds NumPy arrays; pass tensors")
            return self.b
        if is_torch(self.b) and self.b.device == r.device and self.b.dtype == r.dtype:
            return self.b
        key = (str(r.device), r.dtype)
        b = self._b_on.get(key)
        if b is None:
            b = self._b_on[key] = (self.b.to(device=r.device, dtype=r.dtype) if is_torch(self.b)
                                   else to_like(self.b, r))
        return b

    def residual(self, X: Matrix) -> np.ndarray:
        """A(X) − b (in place: `forward` returns a new array)."""
        r = self.op.forward(X)
        if type(r) is np.ndarray and r.dtype.kind == "f" and type(self.b) is np.ndarray:
            r -= self.b  # the NumPy case, without the backend dispatch
            return r
        if not is_torch(r) and r.dtype.kind != "f":
            r = r.astype(np.float64)
        r -= self._b_like(r)
        return r

    def value(self, X: Matrix) -> float:
        r = self.residual(X)
        return 0.5 * self.scale * float(r @ r)

    def grad(self, X: Matrix) -> Matrix:
        if hasattr(self.op, "residual_adjoint"):
            return self.value_and_grad(X)[1]
        return self.op.adjoint(self.scale * self.residual(X))

    def value_and_grad(self, X: Matrix) -> tuple[float, Matrix]:
        fused = self._fused
        if fused is not None:  # operators that stream A: residual and adjoint in one pass
            r, G = fused(X, self._b_like(X.L if isinstance(X, LowRank) else X), self.scale)
            return 0.5 * self.scale * float(r @ r), G
        r = self.residual(X)
        value = 0.5 * self.scale * float(r @ r)
        if self.scale != 1.0:
            r *= self.scale
        self._last = (X, r)  # A(X) − b (times scale) of this X, for `residual_of`
        return value, self.op.adjoint(r)

    def residual_of(self, X: Matrix):
        """A(X) − b, reusing the last `value_and_grad` when X is that same object (the exact
        line search needs the current point's residual, which the gradient just computed);
        do not modify the result."""
        last = getattr(self, "_last", None)
        if last is not None and last[0] is X:
            return last[1] if self.scale == 1.0 else last[1] / self.scale
        return self.residual(X)

    def hvp(self, X: Matrix, Xdot: Matrix) -> Matrix:
        return self.op.adjoint(self.scale * self.op.forward(Xdot))

    def training_error(self, X: Matrix) -> float:
        """‖A(X) − b‖²₂, the papers' plotted training error (unscaled, squared)."""
        r = self.residual(X)
        return float(r @ r)
