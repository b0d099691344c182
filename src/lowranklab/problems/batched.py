"""Batched least squares: B independent losses f_b(X) = (scale/2)‖A_b(X) − b_b‖² of one
shape, on a batched operator (`operators/batched.py`), for batched trials
(`solvers/batched.py`). Trial b is the unbatched `LeastSquares(op.trial(b), b[b], scale)`."""

from __future__ import annotations

import numpy as np

from lowranklab.backend import float_dtype, is_torch, to_like
from lowranklab.operators.batched import BatchedOperator
from lowranklab.problems.loss import LeastSquares


class BatchedLeastSquares:
    """f_b(X_b) = (scale/2)‖A_b(X_b) − b_b‖²₂, b: (B, m); ∇f_b = scale·A_b*(A_b(X_b) − b_b).

    The value and residual are computed here; the gradient through the factors is the model's
    (`models/batched.py`), one `pull` of the scaled residual."""

    def __init__(self, op: BatchedOperator, b, *, scale: float = 1.0) -> None:
        if not isinstance(op, BatchedOperator):
            raise TypeError(f"op must be a batched operator, got {type(op).__name__}")
        b = np.asarray(b)
        if b.dtype.kind not in "biuf":
            raise TypeError(f"b must be a real array, got dtype {b.dtype}")
        if tuple(b.shape) != (op.B, op.m):
            raise ValueError(f"b must have shape {(op.B, op.m)} to match the operator, "
                             f"got {tuple(b.shape)}")
        if not np.all(np.isfinite(b)):
            raise ValueError("b must have finite entries")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale}")
        self.op, self.scale = op, float(scale)
        self.b = np.ascontiguousarray(b, dtype=float_dtype(b))
        self.B, self.shape = op.B, op.shape_in
        self._b_on: dict[tuple, object] = {}

    @classmethod
    def stack(cls, losses, op: BatchedOperator | None = None) -> BatchedLeastSquares:
        """The batch of unbatched `LeastSquares` losses (one scale; operators stacked with the
        batched operator's `stack` unless `op` is given)."""
        from lowranklab.operators.batched import BatchedDenseSensing, BatchedEntrySampling
        from lowranklab.operators.dense import DenseSensing
        from lowranklab.operators.sampling import EntrySampling

        losses = list(losses)
        if not losses or not all(isinstance(f, LeastSquares) for f in losses):
            raise TypeError("losses must be a non-empty sequence of LeastSquares losses")
        if len({f.scale for f in losses}) != 1:
            raise ValueError("the losses differ in scale")
        if op is None:
            ops = [f.op for f in losses]
            if all(isinstance(o, DenseSensing) for o in ops):
                op = BatchedDenseSensing.stack(ops)
            elif all(isinstance(o, EntrySampling) for o in ops):
                op = BatchedEntrySampling.stack(ops)
            else:
                raise TypeError("batched losses need all-dense-sensing or all-entry-sampling "
                                f"operators, got {sorted({type(o).__name__ for o in ops})}")
        if any(is_torch(f.b) for f in losses):
            raise TypeError("stack losses with NumPy b; pass tensors as the solver's theta0")
        return cls(op, np.stack([np.asarray(f.b) for f in losses]), scale=losses[0].scale)

    def trial(self, b: int) -> LeastSquares:
        return LeastSquares(self.op.trial(b), self.b[b], scale=self.scale)

    def subset(self, idx) -> BatchedLeastSquares:
        idx = np.asarray(idx)
        return type(self)(self.op.subset(idx), self.b[idx], scale=self.scale)

    def b_like(self, r):
        """b on the backend, device and dtype of r."""
        if not is_torch(r):
            return self.b if self.b.dtype == r.dtype else self.b.astype(r.dtype)
        key = (str(r.device), r.dtype)
        b = self._b_on.get(key)
        if b is None:
            b = self._b_on[key] = to_like(self.b, r)
        return b

    def residual_of(self, y):
        """A(X) − b from the forward values y (in place)."""
        y -= self.b_like(y)
        return y

    def value_of(self, r):
        """(scale/2)‖r_b‖² per trial, from the residual."""
        sq = (r * r).sum(-1) if is_torch(r) else np.einsum("bm,bm->b", r, r)
        return 0.5 * self.scale * sq
