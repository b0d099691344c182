"""The parametrization interface X = X(θ), θ a flat float vector.

    to_matrix(θ)          X(θ) as a `LowRank`
    push(θ, θ̇)            DX(θ)[θ̇], as a `LowRank`
    pull(θ, G)            DX(θ)*[G], the chain rule for the gradient
    curvature(θ, θ̇, G)    (D²X(θ)[θ̇, ·])*[G], the second-order chain-rule term
    reg_value / reg_grad / reg_hvp   the parametrization's own regularizer (default none)
    symmetry_tangents(θ)  a basis (columns) of the tangent space of the orbit of θ under the
                          group that leaves X(θ) and the regularizer unchanged

G may be dense, sparse or `LowRank`: only `G @ Z` and `G.T @ Z` are used.

Backends and dtype: θ may be a NumPy array or a torch tensor (CPU or CUDA); every method
returns results on θ's backend, device and dtype. A parametrization built with `dtype=`
("float32" / "float64") casts θ and packed factors to it; without, float32 input stays
float32 and anything else becomes float64.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from lowranklab.backend import float_dtype, is_torch, torch_float_dtype, zeros
from lowranklab.lowrank import LowRank, Matrix


class Parametrization(ABC):
    shape: tuple[int, int]
    dim: int
    dtype: np.dtype | None = None  # None: keep the input's float32/float64

    @abstractmethod
    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, ...]: ...

    @abstractmethod
    def pack(self, *factors: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def to_matrix(self, theta: np.ndarray) -> LowRank: ...

    @abstractmethod
    def push(self, theta: np.ndarray, theta_dot: np.ndarray) -> LowRank: ...

    @abstractmethod
    def pull(self, theta: np.ndarray, G: Matrix) -> np.ndarray: ...

    @abstractmethod
    def curvature(self, theta: np.ndarray, theta_dot: np.ndarray, G: Matrix) -> np.ndarray: ...

    def reg_value(self, theta: np.ndarray) -> float:
        return 0.0

    def reg_grad(self, theta: np.ndarray) -> np.ndarray:
        return zeros(theta.shape, like=theta)

    def reg_hvp(self, theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
        return zeros(theta.shape, like=theta)

    def reg_value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(ρ(θ), ∇ρ(θ)) in one pass; override when the two share work."""
        return self.reg_value(theta), self.reg_grad(theta)

    def symmetry_tangents(self, theta: np.ndarray) -> np.ndarray:
        return np.zeros((self.dim, 0))

    def reg_line(self, theta: np.ndarray, xi: np.ndarray) -> np.ndarray | None:
        """Coefficients c of ρ(θ + sξ) = Σ_k c_k s^k where ρ is polynomial (None: ρ = 0)."""
        return None

    def check(self, theta: np.ndarray, name: str = "theta") -> np.ndarray:
        theta = self.as_float(theta)
        if tuple(theta.shape) != (self.dim,):
            raise ValueError(f"{name} must be a flat vector of length {self.dim}, "
                             f"got shape {tuple(theta.shape)}")
        return theta

    def as_float(self, x):
        """x in the parametrization's float dtype (see the module docstring); tensors stay
        tensors, NumPy input becomes an ndarray (no copy when nothing changes)."""
        if is_torch(x):
            if self.dtype is not None:
                return x.to(torch_float_dtype(self.dtype))
            return x if x.is_floating_point() else x.double()
        x = np.asarray(x)
        return x.astype(float_dtype(x, self.dtype), copy=False)


def skew_basis(r: int) -> list[np.ndarray]:
    """The r(r−1)/2 matrices E_ij − E_ji (i < j), a basis of the skew-symmetric r×r matrices."""
    out = []
    for i in range(r):
        for j in range(i + 1, r):
            E = np.zeros((r, r))
            E[i, j], E[j, i] = 1.0, -1.0
            out.append(E)
    return out


def sym_basis(r: int) -> list[np.ndarray]:
    """An orthonormal basis of the symmetric r×r matrices (off-diagonal pairs scaled 1/√2)."""
    out = []
    for i in range(r):
        for j in range(i, r):
            E = np.zeros((r, r))
            if i == j:
                E[i, i] = 1.0
            else:
                E[i, j] = E[j, i] = 1.0 / np.sqrt(2.0)
            out.append(E)
    return out
