"""A faithful SoftImpute baseline for the examples (not part of the library).

Mazumder, Hastie & Tibshirani (2010), "Spectral regularization algorithms for learning large
incomplete matrices", Algorithm 1: Z ← S_λ(P_Ω(X) + P_Ω⊥(Z)), with S_λ the singular-value
soft-thresholding W diag((σ − λ)₊) Qᵀ. The defaults are fancyimpute's `SoftImpute()`: zero
initial fill, λ = σ_max(P_Ω(X))/50, at most 100 iterations, stop when
‖Z_old − Z‖ / ‖Z_old‖ < 0.001 on the missing entries (their `_converged`). When
fancyimpute is installed, the examples can use it instead (--peer fancyimpute).
"""

from __future__ import annotations

import numpy as np


def soft_impute(X: np.ndarray, *, shrinkage: float | None = None, max_iters: int = 100,
                threshold: float = 0.001) -> np.ndarray:
    """X with NaN for missing entries → the SoftImpute completion (observed entries kept)."""
    X = np.asarray(X, dtype=float)
    missing = np.isnan(X)
    Z = np.where(missing, 0.0, X)
    if shrinkage is None:
        shrinkage = np.linalg.norm(Z, 2) / 50.0  # fancyimpute: max singular value / 50
    for _ in range(max_iters):
        W, s, Qt = np.linalg.svd(Z, full_matrices=False)
        s = np.maximum(s - shrinkage, 0.0)
        k = int(np.count_nonzero(s))
        R = (W[:, :k] * s[:k]) @ Qt[:k]
        old = Z
        Z = np.where(missing, R, X)
        old_missing = old[missing]
        ssd = np.sum((old_missing - R[missing]) ** 2)
        norm = np.sqrt(np.sum(old_missing ** 2))
        if norm > 0 and np.sqrt(ssd) / norm < threshold:  # fancyimpute's _converged
            break
    return Z


def peer(name: str):
    """The SoftImpute to compare with: "fancyimpute" (needs the package) or "faithful"."""
    if name == "fancyimpute":
        from fancyimpute import SoftImpute

        return lambda X: SoftImpute(verbose=False).fit_transform(X)
    if name == "faithful":
        return soft_impute
    raise ValueError(f"--peer must be faithful or fancyimpute, got {name!r}")
