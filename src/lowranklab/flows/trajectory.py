"""Distances to trajectories (glrl2021 §1.11): a GLRL path stored as a polyline of points at
Frobenius spacing s, and the point-to-polyline distance (error O(s²κ), spec §1.11 [proposed],
cheaper than the paper's δ-cover)."""

from __future__ import annotations

import numpy as np


def polyline_distance(X: np.ndarray, P: np.ndarray) -> float:
    """min over segments [a, b] of consecutive rows of P (n, D) of ‖x − seg‖ for x = vec(X):
    t = clip(⟨x − a, b − a⟩/‖b − a‖², 0, 1)."""
    x = np.asarray(X, dtype=float).ravel()
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[1] != x.size:
        raise ValueError(f"P must be (n, {x.size}), got {P.shape}")
    if P.shape[0] == 1:
        return float(np.linalg.norm(x - P[0]))
    A, B = P[:-1], P[1:]
    D = B - A
    dd = np.einsum("ij,ij->i", D, D)
    t = np.where(dd > 0, np.einsum("ij,ij->i", x - A, D) / np.where(dd > 0, dd, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    diff = A + t[:, None] * D - x
    return float(np.sqrt(np.min(np.einsum("ij,ij->i", diff, diff))))


def distance_to_points(X: np.ndarray, points: list[np.ndarray]) -> tuple[float, int]:
    """(min_r ‖X − W̄_r‖_F, argmin r): the distance to the GLRL critical points (Fig. 2)."""
    d = [float(np.linalg.norm(X - W)) for W in points]
    r = int(np.argmin(d))
    return d[r], r
