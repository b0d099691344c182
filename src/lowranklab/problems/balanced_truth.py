"""The stacked factor W = [U; V], its flip Ŵ = [U; −V], balanced ground-truth factors, the
PSD lift, and the rotation-invariant distance with Procrustes alignment (zhu2021 §II, §III).

    Ŵᵀ W = UᵀU − VᵀV (the imbalance D),  WᵀW = UᵀU + VᵀV
    U★ = Φ Σ^{1/2} R, V★ = Ψ Σ^{1/2} R (zhu2021 eq. (8)), so U★ᵀU★ = V★ᵀV★
    W★W★ᵀ = [[(X★X★ᵀ)^{1/2}, X★], [X★ᵀ, (X★ᵀX★)^{1/2}]]  (the PSD lift, independent of R)
    dist(W₁, W₂) = min_{R ∈ O_r} ‖W₁ − W₂R‖_F (eq. (12)); R = L Pᵀ from W₂ᵀW₁ = L S Pᵀ (Lemma 3)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def stack(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """W = [U; V]."""
    U, V = np.asarray(U, dtype=float), np.asarray(V, dtype=float)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"U and V must be 2-D with equal column counts, got {U.shape}, "
                         f"{V.shape}")
    return np.vstack([U, V])


def split(W: np.ndarray, d1: int) -> tuple[np.ndarray, np.ndarray]:
    """(U, V) from W = [U; V] with U the first d1 rows."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or not 0 < d1 < W.shape[0]:
        raise ValueError(f"d1 must be in (0, {W.shape[0] if W.ndim == 2 else '?'}), got {d1}")
    return W[:d1], W[d1:]


def hat(W: np.ndarray, d1: int) -> np.ndarray:
    """Ŵ = [U; −V]: flips the sign of the V block (zhu2021 §III)."""
    U, V = split(W, d1)
    return np.vstack([U, -V])


def imbalance(W: np.ndarray, d1: int) -> np.ndarray:
    """D = ŴᵀW = UᵀU − VᵀV."""
    U, V = split(W, d1)
    return U.T @ U - V.T @ V


class BalancedTruth(NamedTuple):
    """X★ = Φ diag(σ) Ψᵀ and its balanced factors U★ = ΦΣ^{1/2}R, V★ = ΨΣ^{1/2}R."""

    Xstar: np.ndarray
    U: np.ndarray
    V: np.ndarray
    W: np.ndarray
    Phi: np.ndarray
    sigma: np.ndarray
    Psi: np.ndarray

    @property
    def W_hat(self) -> np.ndarray:
        return np.vstack([self.U, -self.V])

    @property
    def r(self) -> int:
        return int(self.sigma.size)


def balanced_factors(Xstar: np.ndarray, r: int | None = None,
                     R: np.ndarray | None = None, *, rtol: float = 1e-12) -> BalancedTruth:
    """Balanced factors of X★ from its reduced SVD (zhu2021 eq. (8)); r defaults to the
    numerical rank. R ∈ O_r (default I) rotates both factors."""
    Xstar = np.asarray(Xstar, dtype=float)
    if Xstar.ndim != 2:
        raise ValueError(f"Xstar must be 2-D, got shape {Xstar.shape}")
    P, s, Qt = np.linalg.svd(Xstar, full_matrices=False)
    if r is None:
        r = int(np.sum(s > rtol * max(s[0], 1e-300)))
    if int(r) != r or not 1 <= r <= s.size:
        raise ValueError(f"r must be an integer in [1, {s.size}], got {r}")
    Phi, sig, Psi = P[:, :r], s[:r], Qt[:r].T
    U, V = Phi * np.sqrt(sig), Psi * np.sqrt(sig)
    if R is not None:
        R = np.asarray(R, dtype=float)
        if R.shape != (r, r) or not np.allclose(R.T @ R, np.eye(r), atol=1e-10):
            raise ValueError(f"R must be an orthogonal {r}×{r} matrix")
        U, V = U @ R, V @ R
    return BalancedTruth(Phi @ np.diag(sig) @ Psi.T, U, V, np.vstack([U, V]), Phi, sig, Psi)


def planted_spectrum(d1: int, d2: int, sigma, rng: np.random.Generator) -> BalancedTruth:
    """X★ = Φ diag(σ) Ψᵀ with Φ, Ψ Haar-orthonormal (seed002 spec §2 `make_instance`)."""
    sigma = np.asarray(sigma, dtype=float)
    r = sigma.size
    if sigma.ndim != 1 or r < 1 or np.any(sigma <= 0) or np.any(np.diff(sigma) > 0):
        raise ValueError(f"sigma must be a non-increasing vector of positive values, got {sigma}")
    if r > min(d1, d2):
        raise ValueError(f"len(sigma) = {r} exceeds min(d1, d2) = {min(d1, d2)}")
    Phi, _ = np.linalg.qr(rng.standard_normal((d1, r)))
    Psi, _ = np.linalg.qr(rng.standard_normal((d2, r)))
    U, V = Phi * np.sqrt(sigma), Psi * np.sqrt(sigma)
    return BalancedTruth(Phi @ np.diag(sigma) @ Psi.T, U, V, np.vstack([U, V]), Phi, sigma, Psi)


def lift(Xstar: np.ndarray) -> np.ndarray:
    """M = W★W★ᵀ = [[(X★X★ᵀ)^{1/2}, X★], [X★ᵀ, (X★ᵀX★)^{1/2}]] (seed002 spec §4)."""
    t = balanced_factors(Xstar)
    return t.W @ t.W.T


def psd_objective(W: np.ndarray, M: np.ndarray) -> float:
    """⅛‖WWᵀ − M‖²_F, the lifted PSD factorization (zhu2021 Lemma 4)."""
    return 0.125 * float(np.sum((W @ W.T - M) ** 2))


def procrustes(W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """R(W₁, W₂) = argmin_{R ∈ O_r} ‖W₁ − W₂R‖_F = L Pᵀ where W₂ᵀW₁ = L S Pᵀ (zhu2021 Lemma 3;
    the order matters: not P Lᵀ). Then W₁ᵀW₂R = P S Pᵀ ⪰ 0."""
    W1, W2 = np.asarray(W1, dtype=float), np.asarray(W2, dtype=float)
    if W1.shape != W2.shape or W1.ndim != 2:
        raise ValueError(f"W1 and W2 must be 2-D of equal shape, got {W1.shape}, {W2.shape}")
    L, _, Pt = np.linalg.svd(W2.T @ W1)
    return L @ Pt


def dist(W1: np.ndarray, W2: np.ndarray) -> float:
    """min_{R ∈ O_r} ‖W₁ − W₂R‖_F (zhu2021 eq. (12)), modulo O_r only (not GL(r))."""
    return float(np.linalg.norm(W1 - W2 @ procrustes(W1, W2)))


def aligned_residual(W: np.ndarray, Wstar: np.ndarray) -> np.ndarray:
    """W − W★R(W, W★), the residual in the regularity condition (zhu2021 eq. (40))."""
    return W - Wstar @ procrustes(W, Wstar)
