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


class PolylineDistance:
    """x ↦ min over the segments [a_i, a_{i+1}] of a polyline P (n, D) of ‖x − seg_i‖, the
    same number as `flows.trajectory.polyline_distance(X, P)`, evaluated incrementally along
    a trajectory with an exact bracket.

    Each f_i(x) = ‖x − seg_i‖ is 1-Lipschitz, so with the per-segment distances d_i at an anchor
    x₀ and Δ = ‖x − x₀‖, f_i(x) ≥ d_i − Δ: once one segment attains `best`, every segment with
    d_i − Δ ≥ best is skipped without changing the minimum. When more than `refresh`·n segments
    remain candidates (the trajectory moved far), x becomes the new anchor (one full
    evaluation). `full_evaluations` and `segment_evaluations` count the work.
    """

    def __init__(self, P: np.ndarray, refresh: float = 0.25):
        P = np.asarray(P, dtype=float)
        if P.ndim != 2 or P.shape[0] < 1:
            raise ValueError(f"P must be a non-empty (n, D) array, got shape {P.shape}")
        if not 0 < refresh <= 1:
            raise ValueError(f"refresh must be in (0, 1], got {refresh}")
        self.P, self.refresh = P, refresh
        self.A, self.Dseg = P[:-1], P[1:] - P[:-1]
        self.dd = np.einsum("ij,ij->i", self.Dseg, self.Dseg)
        self.anchor: np.ndarray | None = None
        self.d0 = np.empty(0)
        self.full_evaluations = 0
        self.segment_evaluations = 0

    def segment_distances(self, x: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """‖x − seg_i‖ for the segments idx (all by default): t = clip(⟨x − a, b − a⟩/‖b − a‖²,
        0, 1), the foot a + t(b − a)."""
        A, D, dd = (self.A, self.Dseg, self.dd) if idx is None else (
            self.A[idx], self.Dseg[idx], self.dd[idx])
        self.segment_evaluations += len(dd)
        xa = x - A
        t = np.clip(np.einsum("ij,ij->i", xa, D) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
        diff = xa - t[:, None] * D
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))

    def __call__(self, X: np.ndarray) -> float:
        x = np.asarray(X, dtype=float).ravel()
        if x.size != self.P.shape[1]:
            raise ValueError(f"X must have {self.P.shape[1]} entries, got {x.size}")
        if self.P.shape[0] == 1:
            return float(np.linalg.norm(x - self.P[0]))
        if self.anchor is not None:
            delta = float(np.linalg.norm(x - self.anchor))
            i0 = int(np.argmin(self.d0))
            best = float(self.segment_distances(x, np.array([i0]))[0])
            cand = np.flatnonzero(self.d0 - delta < best)
            if cand.size <= self.refresh * self.d0.size:
                return min(best, float(self.segment_distances(x, cand).min()))
        self.anchor, self.d0 = x.copy(), self.segment_distances(x)
        self.full_evaluations += 1
        return float(self.d0.min())
