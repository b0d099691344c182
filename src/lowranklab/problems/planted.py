"""Planted ground truths X♮ for recovery experiments, returned in factored form."""

from __future__ import annotations

import numpy as np

from lowranklab.lowrank import LowRank


def planted_psd(
    d: int,
    r: int,
    rng: np.random.Generator,
    *,
    normalize: str = "trace",
    eigenvalues: np.ndarray | None = None,
) -> LowRank:
    """A d×d PSD matrix of rank exactly r, as LowRank(Z, Z) with X♮ = ZZᵀ.

    normalize="trace": Z i.i.d. N(0,1), X♮ = ZZᵀ / tr(ZZᵀ) (ez2021 Example 1.1, tr X♮ = 1).
    normalize="fro":   the same scaled to ‖X♮‖_F = 1.
    eigenvalues=λ (length r, positive): X♮ = Q diag(λ) Qᵀ with Q Haar-random orthonormal.
    """
    _check_rank(r, d, d)
    if eigenvalues is not None:
        lam = np.asarray(eigenvalues, dtype=float)
        if lam.shape != (r,) or np.any(lam <= 0) or not np.all(np.isfinite(lam)):
            raise ValueError(f"eigenvalues must be {r} positive finite numbers, got {eigenvalues}")
        Z = _orthonormal(d, r, rng) * np.sqrt(lam)
        return LowRank(Z, Z)
    Z = rng.standard_normal((d, r))
    if normalize == "trace":
        Z /= np.linalg.norm(Z)  # tr(ZZᵀ) = ‖Z‖²_F
    elif normalize == "fro":
        Z /= np.sqrt(np.linalg.norm(Z.T @ Z))  # ‖ZZᵀ‖_F = ‖ZᵀZ‖_F
    else:
        raise ValueError(f"normalize must be 'trace' or 'fro', got {normalize!r}")
    return LowRank(Z, Z)


def planted_rect(
    d1: int,
    d2: int,
    r: int,
    rng: np.random.Generator,
    *,
    singular_values: np.ndarray | None = None,
) -> LowRank:
    """A d1×d2 matrix of rank r with given singular values (default all 1), as the balanced
    factors X♮ = (P Σ^½)(Q Σ^½)ᵀ with P, Q Haar-random orthonormal."""
    _check_rank(r, d1, d2)
    s = np.ones(r) if singular_values is None else np.asarray(singular_values, dtype=float)
    if s.shape != (r,) or np.any(s <= 0) or not np.all(np.isfinite(s)):
        raise ValueError(f"singular_values must be {r} positive finite numbers, got {s}")
    root = np.sqrt(s)
    return LowRank(_orthonormal(d1, r, rng) * root, _orthonormal(d2, r, rng) * root)


def _orthonormal(n: int, r: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, r)))
    return Q * np.sign(np.diag(R))  # Haar measure


def _check_rank(r: int, d1: int, d2: int) -> None:
    for name, v in (("d1", d1), ("d2", d2), ("r", r)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if r > min(d1, d2):
        raise ValueError(f"rank r={r} exceeds the dimensions {d1}×{d2}")
