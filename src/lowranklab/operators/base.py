"""The measurement-operator interface A: R^{d1×d2} → R^m.

Every operator implements `forward` and `adjoint` and the factored fast paths the solvers use:

    forward_lr(U, V)        = A(U Vᵀ)
    forward_sym(U)          = A(U Uᵀ)
    adjoint_times(y, Z)     = A*(y) · Z
    adjoint_t_times(y, Z)   = A*(y)ᵀ · Z

`forward` accepts a dense array or a `LowRank` and returns a new array that the caller owns
(losses update it in place); `adjoint` returns the ambient matrix in the operator's natural form
(dense ndarray, scipy sparse array). Each instance counts its
applications in `counts`, which solvers copy into their `Result`.

Backends: operators keep their data (A, index arrays, measurement vectors) as NumPy arrays and
compute on whatever the caller passes. Given torch tensors they return torch tensors on the same
device and in the same float dtype: the data are copied onto that device/dtype once, on first
use, and cached (`_data`), so a solver loop on tensors never goes back to NumPy. dtype: the
data keep float32 when stored as float32 (or `dtype="float32"` at construction); float64 is
the default; nothing upcasts float32 input silently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter

import numpy as np

from lowranklab.backend import as_float_array, cached_like, is_torch, vdot
from lowranklab.lowrank import LowRank, Matrix, as_dense
from lowranklab.operators.kernels import t_times, times

_FAST_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _is_complex(x) -> bool:
    if isinstance(x, np.ndarray):
        return np.iscomplexobj(x)
    is_complex = getattr(x, "is_complex", None)  # torch tensors
    return bool(is_complex()) if callable(is_complex) else np.iscomplexobj(x)


def check_shape(shape, name: str = "shape") -> tuple[int, int]:
    """Two positive integers (integral floats such as 10.0 or 10.5 are refused: a shape read
    from a file as float is a sign of a wrong file)."""
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a pair of positive integers, got {shape!r}") from None
    if len(items) != 2 or not all(isinstance(s, int | np.integer) and not isinstance(s, bool)
                                  for s in items):
        raise TypeError(f"{name} must be a pair of positive integers, got {shape!r}")
    d1, d2 = (int(s) for s in items)
    if d1 < 1 or d2 < 1:
        raise ValueError(f"{name} must be positive, got {shape!r}")
    return d1, d2


class MeasurementOperator(ABC):
    """Linear map A from d1×d2 matrices to R^m."""

    shape_in: tuple[int, int]
    m: int

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._norm: float | None = None
        self._tensors: dict[tuple, object] = {}  # data copied to (device, dtype), see _data

    # -- to implement -------------------------------------------------------------------------
    @abstractmethod
    def _forward_dense(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """A(U Vᵀ) without forming U Vᵀ where the operator allows it."""

    @abstractmethod
    def adjoint(self, y: np.ndarray) -> Matrix:
        """A*(y) = Σ_i y_i A_i in the operator's natural form."""

    # -- generic ------------------------------------------------------------------------------
    @property
    def is_square(self) -> bool:
        return self.shape_in[0] == self.shape_in[1]

    def forward(self, X: Matrix) -> np.ndarray:
        """A(X) for a dense X or a factored `LowRank` X."""
        if isinstance(X, LowRank):
            return self.forward_lr(X.L, X.R)
        if not is_torch(X):
            X = np.asarray(X)
            if np.iscomplexobj(X):
                raise TypeError("X must be real, got complex")
        if tuple(X.shape) != self.shape_in:
            raise ValueError(f"X must have shape {self.shape_in}, got {X.shape}")
        self.counts["forward"] += 1
        return self._forward_dense(X)

    def forward_sym(self, U: np.ndarray) -> np.ndarray:
        """A(U Uᵀ)."""
        return self.forward_lr(U, U)

    def adjoint_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y) · Z (compiled for a sparse A*(y) where numba is installed)."""
        return times(self.adjoint(y), self._check_rows(Z, self.shape_in[1], "Z"))

    def adjoint_t_times(self, y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """A*(y)ᵀ · Z (compiled for a sparse A*(y) where numba is installed)."""
        return t_times(self.adjoint(y), self._check_rows(Z, self.shape_in[0], "Z"))

    def forward_gram(self, Xs: list, r0) -> np.ndarray:
        """The Gram matrix ⟨y_a, y_c⟩ of y₀ = r0 and y_j = A(X_j), j = 1..J, as a (J+1)×(J+1)
        float64 array (the exact line search's polynomial coefficients). Operators that can
        compute it in one pass without storing the y_j override this."""
        ys = [r0, *(self.forward(X) for X in Xs)]
        n = len(ys)
        out = np.zeros((n, n))
        for a in range(n):
            for c in range(a, n):
                out[a, c] = out[c, a] = vdot(ys[a], ys[c])
        return out

    def normal(self, X: Matrix) -> Matrix:
        """A*A(X), the Gauss–Newton curvature of ½‖A(X) − b‖²."""
        return self.adjoint(self.forward(X))

    def norm(self) -> float:
        """Operator norm ‖A‖ = max_{‖X‖_F = 1} ‖A(X)‖₂ (cached)."""
        if self._norm is None:
            self._norm = float(self._compute_norm())
        return self._norm

    def _compute_norm(self) -> float:
        from scipy.sparse.linalg import LinearOperator, svds

        d1, d2 = self.shape_in
        lin = LinearOperator(
            (self.m, d1 * d2),
            matvec=lambda x: self._forward_dense(np.asarray(x).reshape(d1, d2)),
            rmatvec=lambda y: as_dense(self.adjoint(np.asarray(y).ravel())).ravel(),
            dtype=float,
        )
        return svds(lin, k=1, return_singular_vectors=False, random_state=0)[0]

    def check_factors(self, U, V) -> tuple[np.ndarray, np.ndarray]:
        """The fast paths' O(1) guard: U is (d1, r), V is (d2, r), both real. (Compiled
        kernels index rows by the sampled positions and would read past a short factor.)"""
        d1, d2 = self.shape_in
        if (type(U) is np.ndarray and type(V) is np.ndarray and U.ndim == 2 and V.ndim == 2
                and U.shape[0] == d1 and V.shape[0] == d2 and U.shape[1] == V.shape[1]
                and U.dtype.kind == "f" and V.dtype.kind == "f"):
            return U, V  # the common case, checked without conversions
        U = U if hasattr(U, "shape") else np.asarray(U)
        V = V if hasattr(V, "shape") else np.asarray(V)
        if (len(U.shape) != 2 or len(V.shape) != 2 or U.shape[0] != d1 or V.shape[0] != d2
                or U.shape[1] != V.shape[1]):
            raise ValueError(f"factors must have shapes ({d1}, r) and ({d2}, r), got "
                             f"U {tuple(U.shape)}, V {tuple(V.shape)}")
        if _is_complex(U) or _is_complex(V):
            raise TypeError("factors must be real, got complex")
        return U, V

    def _check_rows(self, Z, rows: int, name: str):
        Z = Z if hasattr(Z, "shape") else np.asarray(Z)
        if len(Z.shape) not in (1, 2) or Z.shape[0] != rows:
            raise ValueError(f"{name} must have {rows} rows, got shape {tuple(Z.shape)}")
        return Z

    def check_y(self, y: np.ndarray) -> np.ndarray:
        """y as a real float vector of length m (float32 kept, integers to float64; tensors
        stay tensors)."""
        if type(y) is np.ndarray and y.dtype in _FAST_DTYPES and y.shape == (self.m,):
            return y  # the common case (a solver's own residual): nothing to convert
        if not is_torch(y):
            if np.iscomplexobj(y):
                raise TypeError("y must be real, got complex")
            y = as_float_array(y)
        if tuple(y.shape) != (self.m,):
            raise ValueError(f"y must have shape ({self.m},), got {tuple(y.shape)}")
        return y

    @property
    def dtype(self) -> np.dtype:
        """The float dtype the operator's data are stored in (float64 unless asked)."""
        return np.dtype(np.float64)

    def _data(self, name: str, like: object):
        """The stored array `self.<name>` on the backend of `like`: itself for NumPy input, a
        cached copy on like's device (floats in like's dtype, indices as int64) for tensors."""
        return cached_like(self._tensors, name, getattr(self, name), like)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape_in={self.shape_in}, m={self.m})"

