"""Dense sensing: A stored as an (m, d1·d2) matrix whose rows are row-major vec(A_i)."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from lowranklab.backend import float_dtype, is_torch
from lowranklab.lowrank import LowRank
from lowranklab.operators.base import MeasurementOperator, check_shape


class DenseSensing(MeasurementOperator):
    """A(X)_i = ⟨A_i, X⟩ with the A_i stored as the rows of `A` (row-major vec).

    The adjoint A*(y) = Σ_i y_i A_i is a dense d1×d2 array. The factored forward forms
    U Vᵀ (d1·d2·r flops, small beside the m·d1·d2 of one pass over A) and applies one GEMV,
    so a gradient step costs two passes over A: the hardware floor for dense sensing.

    `dtype` ("float32" or "float64") is the storage dtype of A; by default float32 input stays
    float32 and anything else is stored as float64. On torch input A is used from a cached
    copy on the input's device and dtype.
    """

    def __init__(self, A: np.ndarray, shape: tuple[int, int], *, dtype=None) -> None:
        super().__init__()
        A = np.asarray(A)
        d1, d2 = check_shape(shape)
        if A.ndim != 2 or A.shape[1] != d1 * d2:
            raise ValueError(f"A must have shape (m, {d1 * d2}) for shape {shape}, got {A.shape}")
        if np.iscomplexobj(A):
            raise TypeError("A must be real, got complex entries")
        if A.dtype.kind not in "biuf":
            raise TypeError(f"A must be a real numeric array, got dtype {A.dtype}")
        if not np.all(np.isfinite(A)):
            raise ValueError("A must have finite entries")
        self.A = np.ascontiguousarray(A, dtype=float_dtype(A, dtype))
        self.shape_in = (d1, d2)
        self.m = A.shape[0]
        self._half = None

    @property
    def dtype(self) -> np.dtype:
        return self.A.dtype

    @property
    def symmetric(self) -> bool:
        """True when every A_i is symmetric (then A*(y) is symmetric)."""
        d1, d2 = self.shape_in
        if d1 != d2:
            return False
        T = self.A.reshape(self.m, d1, d2)
        return bool(np.allclose(T, T.transpose(0, 2, 1)))

    @cached_property
    def exactly_symmetric(self) -> bool:
        """Every A_i equal to its transpose bit for bit (checked once, then an attribute; A is
        not to be modified after construction): then the half-coordinate products are exact."""
        d1, d2 = self.shape_in
        T = self.A.reshape(self.m, d1, d2)
        return d1 == d2 and bool(np.array_equal(T, T.transpose(0, 2, 1)))

    def _half_coordinates(self):
        """A on symmetric matrices in the N = d(d+1)/2 upper-triangle coordinates x_ij (i ≤ j):
        A(X) = M x with M = A_i[i, j]·w_ij (w = 1 on the diagonal, 2 off it), and the upper
        entries of A*(y) are (yᵀM)/w = Σ_i y_i A_i[i, j] (exact: w is a power of two). Half
        the flops of the (m, d²) products, and the forward and the adjoint read the same
        (m, N) matrix: half the memory of keeping a transposed copy for the adjoint (at the
        ez2021 size a GD (3) step takes the same time either way, within the development
        machine's noise). Built on the first
        symmetric use (ez2021's GD (3) and the sdp-bm augmented Lagrangian run on it);
        returns (M, 1/w, flat, half_of) with flat the row-major positions of the x_ij and
        half_of the (d, d) map from each entry (i, j) to its coordinate (min, max), so the
        symmetric matrix of half coordinates s is s[half_of] (one gather)."""
        if self._half is None:
            d = self.shape_in[0]
            iu, ju = np.triu_indices(d)
            w = np.where(iu == ju, 1.0, 2.0).astype(self.A.dtype)
            M = np.ascontiguousarray(self.A.reshape(self.m, d, d)[:, iu, ju] * w)
            half_of = np.empty((d, d), dtype=np.intp)
            half_of[iu, ju] = half_of[ju, iu] = np.arange(iu.size)
            self._half = (M, (1.0 / w).astype(self.A.dtype), iu * d + ju, half_of)
        return self._half

    def _forward_dense(self, X: np.ndarray) -> np.ndarray:
        return self._data("A", X) @ X.reshape(-1)

    def forward_lr(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        U, V = self.check_factors(U, V)
        self.counts["forward"] += 1
        if U is V and not is_torch(U) and self.exactly_symmetric:
            return self.forward_sym_half(U @ U.T)
        return self._data("A", U) @ (U @ V.T).reshape(-1)

    def forward(self, X) -> np.ndarray:
        """A(X); a factored X is formed once (cached on the `LowRank`: U Uᵀ costs d²p,
        small beside the m·d² of the pass over A, and monitors of the same iterate reuse it)."""
        if isinstance(X, LowRank) and type(X.L) is np.ndarray:
            self.check_factors(X.L, X.R)
            self.counts["forward"] += 1
            D = X.dense()
            if X.L is X.R and self.exactly_symmetric:
                return self.forward_sym_half(D)
            return self.A @ D.ravel()
        return super().forward(X)

    def forward_sym_half(self, X: np.ndarray) -> np.ndarray:
        """A(X) for a symmetric X through the half coordinates (no count: callers count)."""
        M, _, flat, _ = self._half or self._half_coordinates()
        return M @ X.ravel()[flat]

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        self.counts["adjoint"] += 1
        y = self.check_y(y)
        if type(y) is np.ndarray and self.exactly_symmetric:
            M, inv_w, _, half_of = self._half or self._half_coordinates()
            s = y @ M
            s *= inv_w
            return s.take(half_of)
        return (y @ self._data("A", y)).reshape(self.shape_in)

    def _compute_norm(self) -> float:
        if self.A.size <= 4_000_000:
            return float(np.linalg.norm(self.A.astype(np.float64, copy=False), 2))
        return super()._compute_norm()


def symmetric_gaussian(d: int, m: int, rng: np.random.Generator, *,
                       dtype=None) -> DenseSensing:
    """The papers' symmetric Gaussian sensing operator (ez2021 §1.2, eftekhari2021).

    Each A_i has its upper triangle *including the diagonal* i.i.d. N(0, 1), mirrored below;
    no 1/√m scaling. So E[A*A(X)] = m (2X − diag X) for symmetric X. Drawn in float64 and
    stored in `dtype` (float32: the same numbers rounded). For a seed-defined operator that
    can also be streamed at large d, see `seeded_gaussian`.
    """
    _check_dims(m=m, d=d)
    G = rng.standard_normal((m, d, d))
    iu = np.triu(np.ones((d, d), dtype=bool))
    A = np.where(iu, G, G.transpose(0, 2, 1))
    return DenseSensing(A.reshape(m, d * d), (d, d), dtype=dtype)


def gaussian(
    d1: int, d2: int, m: int, rng: np.random.Generator, *, scale: float | None = None,
    dtype=None,
) -> DenseSensing:
    """General Gaussian sensing: entries of every A_i i.i.d. N(0, scale²).

    The default scale 1/√m makes E[A*A] = I (restricted isometry with high probability once
    m ≳ r(d1 + d2)). Drawn in float64, stored in `dtype`.
    """
    _check_dims(m=m, d1=d1, d2=d2)
    s = 1.0 / np.sqrt(m) if scale is None else float(scale)
    if not s > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return DenseSensing(rng.standard_normal((m, d1 * d2)) * s, (d1, d2), dtype=dtype)


def _check_dims(**dims: int) -> None:
    for name, v in dims.items():
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
