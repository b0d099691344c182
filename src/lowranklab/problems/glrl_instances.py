"""The instances of glrl2021: the canonical 20×20 pair-observation instance (spec §2.1), the
counter-example of Example 5.9 / Prop. B.2 (spec §1.9) and the warm-up closed forms (§4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowranklab.problems.glrl_losses import PairObservation

CANONICAL_SEED = 3759
PAPER_EIGENVALUES = (17.41, 8.85, 4.31)  # λ(W*) of App. C.1, rescaled so ‖W*‖_F = d


@dataclass
class GLRLInstance:
    """Ground truth W* (d×d, PSD, rank r), ordered-pair mask N and the loss of spec §2.1."""

    Wstar: np.ndarray
    N: np.ndarray
    loss: PairObservation
    seed: int | None
    p: float

    @property
    def d(self) -> int:
        return self.Wstar.shape[0]

    def test_loss(self, W: np.ndarray) -> float:
        """‖W − W*‖²_F / d² (= 1 at W = 0 since ‖W*‖_F = d), spec §1.2."""
        return float(np.sum((np.asarray(W) - self.Wstar) ** 2)) / self.d**2


def haar_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random orthogonal matrix: QR of a Gaussian with the sign fix."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def canonical_instance(seed: int = CANONICAL_SEED, p: float = 0.3, *, d: int = 20,
                       eigenvalues=PAPER_EIGENVALUES, generic: bool = False,
                       mask_mode: str = "ordered") -> GLRLInstance:
    """The exact recipe of spec §2.1 (glrl2021 App. C.1): W* = Q diag(λ) Qᵀ with ‖W*‖_F = d,
    then each ordered pair observed with probability p (same generator, drawn after Q);
    mask_mode="pair" keeps the literal unordered-pair reading (upper triangle mirrored).
    generic=True draws λ = |g|, g ~ N(0, I_r) instead of the paper's eigenvalues."""
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if mask_mode not in ("ordered", "pair"):
        raise ValueError(f"mask_mode must be 'ordered' or 'pair', got {mask_mode!r}")
    rng = np.random.default_rng(seed)
    Q = haar_orthogonal(d, rng)
    lam = np.abs(rng.standard_normal(len(eigenvalues))) if generic else np.array(
        eigenvalues, dtype=float)
    lam = lam * (d / np.linalg.norm(lam))  # ‖W*‖_F = d (erratum E11)
    r = lam.size
    Wstar = Q[:, :r] @ np.diag(lam) @ Q[:, :r].T
    Wstar = 0.5 * (Wstar + Wstar.T)
    N = (rng.random((d, d)) < p).astype(float)
    if mask_mode == "pair":
        N = np.triu(N)
        N = N + np.triu(N, 1).T
    return GLRLInstance(Wstar=Wstar, N=N, loss=PairObservation.from_mask(N, Wstar), seed=seed,
                        p=p)


# -- Example 5.9 / Prop. B.2 ----------------------------------------------------------------------
COUNTEREXAMPLE_OMEGA = ((0, 2), (0, 3), (1, 2), (2, 0), (2, 1), (3, 0))


@dataclass
class CounterExample:
    R: float
    loss: PairObservation
    M: np.ndarray  # observed targets (zero off Ω)
    M_norm: np.ndarray  # the unique PSD minimum-nuclear-norm interpolant, ‖·‖_* = 4R
    M_rank: np.ndarray  # the rank-1 interpolant ww^T, w = (1, R, 1, R), ‖·‖_* = 2R² + 2

    @property
    def mu(self) -> tuple[float, float]:
        """(μ₁, μ₂) of −∇f(0): (1 ± √(1 + 4R²))/2 up to sign (erratum E4), gap exactly 1."""
        s = np.sqrt(1 + 4 * self.R**2)
        return (1 + s) / 2, (s - 1) / 2

    @property
    def u1(self) -> np.ndarray:
        """Top eigenvector of −∇f(0) = [[0, A], [A, 0]], A = [[1, R], [R, 0]]: [v₁; v₁]/√2."""
        A = np.array([[1.0, self.R], [self.R, 0.0]])
        v = np.linalg.eigh(A)[1][:, -1]
        v = v * np.sign(v[0])
        return np.concatenate([v, v]) / np.sqrt(2)


def counterexample(R: float) -> CounterExample:
    """glrl2021 Example 5.9: d = 4, Ω = {(1,3),(1,4),(2,3)} and transposes (1-based),
    M₁₃ = 1, M₁₄ = M₂₃ = R; f(W) = ½ Σ_Ω (W_ij − M_ij)², so ∇f(W) = P_Ω(W − M)."""
    if not R > 1:
        raise ValueError(f"R must be > 1, got {R}")
    R = float(R)
    M = np.zeros((4, 4))
    M[0, 2] = M[2, 0] = 1.0
    M[0, 3] = M[3, 0] = R
    M[1, 2] = M[2, 1] = R
    rows = np.array([i for i, _ in COUNTEREXAMPLE_OMEGA])
    cols = np.array([j for _, j in COUNTEREXAMPLE_OMEGA])
    loss = PairObservation(rows, cols, np.ones(rows.size), M[rows, cols], 4)
    M_norm = np.array([[R, 1, 1, R], [1, R, R, 1], [1, R, R, 1], [R, 1, 1, R]], dtype=float)
    w = np.array([1.0, R, 1.0, R])
    return CounterExample(R=R, loss=loss, M=M, M_norm=M_norm, M_rank=np.outer(w, w))


def counterexample_reduced_rhs(x: float, y: float, R: float) -> tuple[float, float]:
    """Rank-1 dynamics u = (x, y, x, y) of GF on ½f(uuᵀ) (Prop. B.2, corrected eq. (18),
    erratum E6): ẋ = (1 − x²)x − (xy − R)y, ẏ = −(xy − R)x."""
    return (1 - x * x) * x - (x * y - R) * y, -(x * y - R) * x


# -- warm-ups (§4) --------------------------------------------------------------------------------
def full_observation_sigma(t, alpha: float, mu: np.ndarray) -> np.ndarray:
    """Warm-up 2: with U(0) = √α I and W* = V diag(μ) Vᵀ, W(t) = V diag(σ(t)) Vᵀ and
    σ_i(t) = α μ_i / (α + (μ_i − α) e^{−2 μ_i t}) (glrl2021 §4)."""
    t = np.asarray(t, dtype=float)[..., None]
    mu = np.asarray(mu, dtype=float)
    return alpha * mu / (alpha + (mu - alpha) * np.exp(-2 * mu * t))


def linear_flow(U0: np.ndarray, Q: np.ndarray, t: float) -> np.ndarray:
    """Warm-up 1: for f(W) = −⟨W, Q⟩, GF on ½f(UUᵀ) is U̇ = QU, so U(t) = e^{tQ}U(0)."""
    lam, V = np.linalg.eigh(0.5 * (Q + Q.T))
    return (V * np.exp(t * lam)) @ (V.T @ U0)
