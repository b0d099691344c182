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
