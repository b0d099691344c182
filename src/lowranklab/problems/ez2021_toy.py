"""The toy M_b of ez2021 Figure 4: d = p = m = 2, A(UUᵀ) = [‖U[1,:]‖², ⟨A, UUᵀ⟩], rank-1 X♮.

With rows u₁, u₂ of U and A = [[a₁₁, a₁₂], [a₁₂, a₂₂]] the constraints A(UUᵀ) = b read
    ‖u₁‖² = b₁,     a₁₁b₁ + 2a₁₂⟨u₁, u₂⟩ + a₂₂‖u₂‖² = b₂,
so (for a₂₂ ≠ 0) u₁ = √b₁(cos θ, sin θ) and u₂ = −(a₁₂/a₂₂)u₁ + R(cos φ, sin φ) with
    R² = (b₂ − a₁₁b₁)/a₂₂ + (a₁₂/a₂₂)² b₁ ≥ 0      (U = [z 0] is feasible)
(spec §2.3, derived from ez2021 L143): a torus-like surface over (θ, φ) ∈ [0, 2π)².
"""

from __future__ import annotations

import numpy as np

from lowranklab.operators.dense import DenseSensing
from lowranklab.problems.ez2021 import SymmetricSensing


def toy_instance(rng: np.random.Generator, *, trace_one: bool = False) -> SymmetricSensing:
    """A₁ = e₁e₁ᵀ, A₂ = A symmetric Gaussian, X♮ = zzᵀ with z ~ N(0, I₂), b = A(X♮)."""
    A1 = np.array([[1.0, 0.0], [0.0, 0.0]])
    G = rng.standard_normal((2, 2))
    A2 = np.triu(G) + np.triu(G, 1).T
    z = rng.standard_normal(2)
    if trace_one:
        z /= np.linalg.norm(z)
    X = np.outer(z, z)
    op = DenseSensing(np.stack([A1.ravel(), A2.ravel()]), (2, 2))
    return SymmetricSensing(op, op.forward(X), X)


def mb_surface(inst: SymmetricSensing, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Points U(θ, φ) ∈ M_b (before the ξ clip), shape theta.shape + (2, 2)."""
    if inst.d != 2 or inst.m != 2 or not np.allclose(inst.A[0], [[1, 0], [0, 0]]):
        raise ValueError("mb_surface needs the Figure-4 toy instance (A₁ = e₁e₁ᵀ, d = m = 2)")
    (a11, a12), (_, a22) = inst.A[1]
    b1, b2 = inst.b
    if abs(a22) < 1e-12:
        raise ValueError("a₂₂ = 0: the second constraint is not a circle in u₂")
    R2 = (b2 - a11 * b1) / a22 + (a12 / a22) ** 2 * b1
    R = np.sqrt(max(R2, 0.0))
    theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
    u1 = np.sqrt(b1) * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    u2 = -(a12 / a22) * u1 + R * np.stack([np.cos(phi), np.sin(phi)], axis=-1)
    return np.stack([u1, u2], axis=-2)


def surface_radius_sq(inst: SymmetricSensing) -> float:
    """R² of the u₂-circle (≥ 0 always)."""
    (a11, a12), (_, a22) = inst.A[1]
    b1, b2 = inst.b
    return float((b2 - a11 * b1) / a22 + (a12 / a22) ** 2 * b1)
