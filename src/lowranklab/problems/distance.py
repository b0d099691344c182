"""f(Z) = ½‖Z − X‖²_F, the objective of Hou, Li & Zhang (2021) (matrix approximation with the
truth observed in full), with X kept in factored form."""

from __future__ import annotations

import numpy as np

from lowranklab.lowrank import LowRank, Matrix, as_dense, fro_dist_sq
from lowranklab.problems.loss import Loss


class MatrixDistance(Loss):
    """f(Z) = ½‖Z − X‖²_F;  ∇f(Z) = Z − X;  ∇²f(Z)[Ż] = Ż  (hou2021 §2.4).

    With Z and X both `LowRank`, the value comes from factors and the gradient is the
    rank-(k_Z + k_X) `LowRank` Z − X, so nothing of size m×n is formed.
    """

    def __init__(self, X: Matrix) -> None:
        if not isinstance(X, LowRank):
            X = np.asarray(as_dense(X), dtype=float)
            if X.ndim != 2 or not np.all(np.isfinite(X)):
                raise ValueError("X must be a finite 2-D matrix or a LowRank")
        self.X = X
        self.shape = X.shape

    def value(self, Z: Matrix) -> float:
        return 0.5 * fro_dist_sq(Z, self.X)

    def grad(self, Z: Matrix) -> Matrix:
        if isinstance(Z, LowRank) and isinstance(self.X, LowRank):
            return Z + self.X * -1.0
        return as_dense(Z) - as_dense(self.X)

    def hvp(self, Z: Matrix, Zdot: Matrix) -> Matrix:
        return Zdot
