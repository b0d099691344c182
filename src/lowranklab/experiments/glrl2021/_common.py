"""Shared pieces of the glrl2021 experiments."""

from __future__ import annotations

import numpy as np

from lowranklab.models.deep import balanced_symmetric_init

PAPER = "glrl2021"
TITLE = "Li, Luo & Lyu (ICLR 2021)"


def depth2_init(d: int, norm: float, rng: np.random.Generator) -> np.ndarray:
    """U = V₁D^{1/2}V₂ᵀ with ‖UUᵀ‖_F = norm (glrl2021 App. C.1; spec §2.1)."""
    return balanced_symmetric_init(d, 2, norm, rng)[0]


def relerr(A, B) -> float:
    return float(np.linalg.norm(A - B) / max(np.linalg.norm(B), 1e-300))


def psd_init(d: int, norm: float, rng: np.random.Generator, kind: str = "random") -> np.ndarray:
    """W(0) of the deep experiments: "random" = V₁DV₁ᵀ, the product of the balanced symmetric
    factors of spec §2.1 (D = |g|·norm/‖g‖); "identity" = αI with α = norm (theory, Thm 6.2)."""
    from lowranklab.problems.glrl_instances import haar_orthogonal

    if kind == "identity":
        return norm * np.eye(d)
    if kind != "random":
        raise ValueError(f"init kind must be 'random' or 'identity', got {kind!r}")
    V = haar_orthogonal(d, rng)
    g = np.abs(rng.standard_normal(d))
    return (V * (g * norm / np.linalg.norm(g))) @ V.T


def horizon(L: float, scale: float, mus, margin: float = 30.0) -> float:
    """Continuous-time horizon from the per-phase escape estimates (spec §4 gotcha 2)."""
    if L == 2:
        return float(sum(np.log(1 / scale) / (2 * m) for m in mus) + margin)
    return float(sum(scale ** (-(1 - 2 / L)) / (2 * m * (L / 2 - 1)) for m in mus) + margin)
