"""Critical points that the papers give in closed form, with their predicted curvature.

- All critical points of the regularized factorization problem (zhu2021 App. A, Lemma 5,
  Thms 2–4; seed002_spec §1.8)

      g(U, V) = ½‖UVᵀ − X★‖²_F + μ/4‖UᵀU − VᵀV‖²_F,     μ > 0,

  for exact (rank X★ = r), over- (rank X★ = r' < r) and under-parametrization (r' > r).
  As an `Objective` this is `LeastSquares(Identity(shape), vec X★)` with `BalancedFactor`.
- The 2^r − 1 spurious points Z#(η) = Σ ηᵢ dᵢ uᵢvᵢᵀ (η ∈ {0,1}^r, η ≠ 1) of the fixed-rank
  problem min ½‖Z − X‖²_F on the rank-r manifold (hou2021 Lemma 2.4; seed003_spec §2.6).
- The weighted-PCA counterexample h(u) = ½‖Ω ⊙ (uuᵀ − X★)‖²_F, Ω = [[w, 1], [1, w]],
  X★ = 11ᵀ, which has spurious local minima iff w² > 3 (zhu2021 Remark 4, Fig. 1;
  seed002_spec §1.9).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from lowranklab.lowrank import LowRank
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.operators import DenseSensing, Identity
from lowranklab.problems import LeastSquares


# --------------------------------------------------------------------------- factorization
@dataclass
class CriticalPoint:
    """One critical point of g with the paper's prediction for its curvature.

    `lambda_min_bound`: the theorem's upper bound on λ_min(∇²g) (full Hessian) at a saddle (−σ_k
    for exact/over, −(σ_r − σ_{r+1}) for under); 0 at a global minimizer (λ_min = 0 there, on
    the symmetry orbit, Thm 2). At saddles the symmetry orbit is orthogonal to the witness, so
    the restricted λ_min of `classify_point` equals the full one.
    `witness`: unit direction Δ (flat, θ-space) with Rayleigh quotient `witness_curvature`
    (None at global minimizers); `lambda_min_expected`: the value observed to be exact with
    distinct singular values (seed002_spec §1.8: equality −σ_k, resp. −(σ_i★ − λ_min(UᵀU))).
    """

    U: np.ndarray
    V: np.ndarray
    theta: np.ndarray
    label: str
    case: str  # "exact" | "over" | "under"
    kept: tuple[int, ...]  # 0-based indices of the singular triplets present in UVᵀ
    is_global: bool
    value: float
    lambda_min_bound: float
    lambda_min_expected: float
    witness: np.ndarray | None
    witness_curvature: float | None


def factorization_objective(X_star: np.ndarray, r: int, mu: float = 0.5) -> Objective:
    """g(U, V) = ½‖UVᵀ − X★‖²_F + μ/4‖UᵀU − VᵀV‖²_F as a lowranklab Objective."""
    X_star = _matrix(X_star, "X_star")
    op = Identity(X_star.shape)
    return Objective(LeastSquares(op, X_star.ravel()), BalancedFactor(*X_star.shape, r, mu=mu))


def _svd_rank(X_star: np.ndarray, rtol: float = 1e-10):
    P, s, Qt = np.linalg.svd(X_star, full_matrices=False)
    rank = int(np.sum(s > rtol * max(s[0], 1e-300)))
    return P[:, :rank], s[:rank], Qt[:rank].T


def _random_orthonormal_rows(ell: int, r: int, rng: np.random.Generator | None) -> np.ndarray:
    """R ∈ R^{ℓ×r} with R Rᵀ = I (identity rows when rng is None)."""
    if rng is None:
        return np.eye(ell, r)
    Q, Rq = np.linalg.qr(rng.standard_normal((r, r)))
    Q = Q * np.sign(np.diag(Rq))
    return Q[:ell]


def factorization_critical_points(
    X_star: np.ndarray,
    r: int,
    *,
    mu: float = 0.5,
    rng: np.random.Generator | None = None,
    rank_tol: float = 1e-10,
) -> list[CriticalPoint]:
    """Every critical orbit class of g (one representative each), with curvature predictions.

    With X★ = Φ Σ Ψᵀ (rank r', distinct σ's) and R random with R Rᵀ = I (identity if rng is None):
      exact  (r' = r): U = Φ Λ^½ R, V = Ψ Λ^½ R, λᵢ ∈ {0, σᵢ} — 2^r classes   (zhu2021 eq. (35))
      over   (r' < r): the same with R ∈ R^{r'×r} — 2^{r'} classes           (zhu2021 Thm 3)
      under  (r' > r): U = Φ_Ω Σ_Ω^½ R, V = Ψ_Ω Σ_Ω^½ R, |Ω| ≤ r                (zhu2021 Thm 4)
    Global minimizers: Λ = Σ (exact/over), Ω = {1..r} (under; needs σ_r > σ_{r+1}).
    """
    X_star = _matrix(X_star, "X_star")
    if int(r) != r or r < 1 or r > min(X_star.shape):
        raise ValueError(f"r must be an integer in [1, {min(X_star.shape)}], got {r!r}")
    if not (np.isfinite(mu) and mu >= 0):
        raise ValueError(f"mu must be a finite number >= 0, got {mu}")
    Phi, sig, Psi = _svd_rank(X_star, rank_tol)
    rp = sig.size
    if rp == 0:
        raise ValueError("X_star must be nonzero")
    if np.any(np.abs(np.diff(sig)) <= 1e-8 * sig[0]):
        raise ValueError("X_star must have distinct singular values (otherwise the critical "
                         "sets are continuous families, zhu2021 footnote 5)")
    model = BalancedFactor(*X_star.shape, r, mu=mu)
    case = "exact" if rp == r else ("over" if rp < r else "under")
    subsets: list[tuple[int, ...]] = []
    for ell in range(min(r, rp) + 1):
        subsets.extend(itertools.combinations(range(rp), ell))
    out = []
    for kept in subsets:
        ell = len(kept)
        R = _random_orthonormal_rows(ell, r, rng)
        root = np.sqrt(sig[list(kept)])
        U = (Phi[:, list(kept)] * root) @ R
        V = (Psi[:, list(kept)] * root) @ R
        missing = [i for i in range(rp) if i not in kept]
        value = 0.5 * float(np.sum(sig[missing] ** 2))
        is_global = set(kept) == set(range(min(r, rp)))
        label = "kept={" + ",".join(str(i + 1) for i in kept) + "}"
        if is_global:
            out.append(CriticalPoint(U, V, model.pack(U, V), label, case, kept, True, value,
                                     0.0, 0.0, None, None))
            continue
        k = missing[0]  # 0-based index of the largest missing singular value
        if case == "under":
            # zhu2021 Thm 4 / eq. (49): α = bottom eigenvector of UᵀU, i ∈ [r] \ Ω
            lam_u, A = np.linalg.eigh(U.T @ U)
            alpha = A[:, 0]
            lam_min_UtU = float(lam_u[0])
            expected = -(sig[k] - lam_min_UtU)
            bound = -(sig[r - 1] - sig[r])
        else:
            # zhu2021 Thm 2/3: α a unit vector with Wα = 0 (a missing direction of R)
            lam_w, A = np.linalg.eigh(U.T @ U + V.T @ V)
            alpha = A[:, 0]
            expected = -sig[k]
            bound = -sig[k]  # = −½‖WWᵀ − W★W★ᵀ‖ ≤ −σ_r (resp. −σ_{r'})
        dU = np.outer(Phi[:, k], alpha)
        dV = np.outer(Psi[:, k], alpha)
        witness = model.pack(dU, dV) / np.sqrt(2.0)  # ‖(Δ_U, Δ_V)‖²_F = 2
        out.append(CriticalPoint(U, V, model.pack(U, V), label, case, kept, False, value,
                                 float(bound), float(expected), witness, float(expected)))
    return out


# --------------------------------------------------------------------------- fixed rank
@dataclass
class SpuriousPoint:
    """Z#(η) = L Rᵀ on the boundary of the rank-r manifold, with a critical completion.

    `U_complete`, `V_complete` (n×r, m×r, orthonormal) contain col(Z#) and are orthogonal to the
    missing singular vectors, so P_T(Z# − X) = 0 for that tangent space (hou2021 §3.1); they are
    None when min(n, m) < rank X + r − s.
    """

    eta: tuple[int, ...]
    Z: LowRank
    value: float
    rank: int
    U_complete: np.ndarray | None
    V_complete: np.ndarray | None


def fixed_rank_spurious_points(X: np.ndarray, r: int) -> list[SpuriousPoint]:
    """The 2^r − 1 spurious critical points Z#(η) = Σᵢ ηᵢ dᵢ uᵢvᵢᵀ, η ∈ {0,1}^r \\ {1}, of
    ½‖Z − X‖²_F on M_r, for X of rank ≥ r with distinct top singular values
    (hou2021 Lemma 2.4 / Def. 2.5). f(Z#) = ½ Σ_{ηᵢ=0} dᵢ² (+ ½ Σ_{i>r} dᵢ² if rank X > r)."""
    X = _matrix(X, "X")
    P, d, Qt = np.linalg.svd(X, full_matrices=True)
    n, m = X.shape
    if int(r) != r or r < 1 or r > min(n, m):
        raise ValueError(f"r must be an integer in [1, {min(n, m)}], got {r!r}")
    if d[r - 1] <= 1e-12 * d[0]:
        raise ValueError(f"X must have rank >= r = {r}")
    if np.any(np.abs(np.diff(d[: r + 1])) <= 1e-8 * d[0]):
        raise ValueError("X must have distinct top-r singular values and σ_r > σ_{r+1} "
                         "(hou2021 Lemma 2.4)")
    rank_x = int(np.sum(d > 1e-12 * d[0]))
    tail = 0.5 * float(np.sum(d[r:rank_x] ** 2))  # beyond the top r (X of rank > r)
    out = []
    for eta in itertools.product((1, 0), repeat=r):
        if all(eta):
            continue
        kept = [i for i in range(r) if eta[i]]
        miss = [i for i in range(r) if not eta[i]]
        root = np.sqrt(d[kept])
        Z = LowRank(P[:, kept] * root, Qt[kept].T * root)
        s = len(kept)
        # completion: kept singular vectors + vectors of the null spaces of X and Xᵀ, which are
        # orthogonal to every missing singular vector (hou2021 §3.1: U_3 ⊥ U_2, V_3 ⊥ V_2)
        extra = list(range(rank_x, rank_x + (r - s)))
        Uc = Vc = None
        if rank_x + (r - s) <= min(n, m):
            Uc = P[:, kept + extra]
            Vc = Qt.T[:, kept + extra]
        value = 0.5 * float(np.sum(d[miss] ** 2)) + tail
        out.append(SpuriousPoint(tuple(eta), Z, value, s, Uc, Vc))
    return out


# --------------------------------------------------------------------------- weighted PCA
def weighted_pca_objective(w: float) -> Objective:
    """h(u) = ½‖Ω ⊙ (uuᵀ − X★)‖²_F with Ω = [[w, 1], [1, w]], X★ = 11ᵀ, u ∈ R² (r = 1):
    a `LeastSquares` on the diagonal sensing operator A(X) = vec(Ω ⊙ X) (zhu2021 eq. (21))."""
    if not (np.isfinite(w) and w > 0):
        raise ValueError(f"w must be a finite number > 0, got {w}")
    Omega = np.array([[w, 1.0], [1.0, w]])
    op = DenseSensing(np.diag(Omega.ravel()), (2, 2))
    b = (Omega * np.ones((2, 2))).ravel()
    return Objective(LeastSquares(op, b), SymmetricFactor(2, 1))


@dataclass
class WeightedPCAPoint:
    u: np.ndarray
    kind: str  # "global_minimizer" | "spurious_minimizer" | "saddle" | "strict_saddle"
    value: float
    hessian_eigenvalues: np.ndarray  # closed form, ascending


def weighted_pca_critical_points(w: float) -> list[WeightedPCAPoint]:
    """The closed-form critical points of h for w ≥ 1 (seed002_spec §1.9, derived there and
    re-derived here): ±(1, 1) (global, h = 0); ±x(1, −1) with x² = (w² − 1)/(w² + 1),
    h = 4w²/(w² + 1), Hessian eigenvalues 4w²(w² − 3)/(w² + 1) along (1, 1) and
    2w²(3x² − 1) + 6x² + 2 along (1, −1); and u = 0, a strict saddle.

    ∇²h(u)_kl = 2[δ_kl Σ_j Ω_kj² u_j² + Ω_kl²(2u_k u_l − 1)], so at u = 0 it is −2 Ω⊙Ω,
    eigenvalues −2(w² ± 1), and at ±(1, 1) its eigenvalues are 4w² and 4w² + 4.
    For w = 1 the pair ±x(1, −1) collapses onto u = 0 and is not listed.
    """
    if not (np.isfinite(w) and w >= 1):
        raise ValueError(f"w must be a finite number >= 1, got {w}")
    w2 = w * w
    pts = []
    glob_eigs = np.array([4 * w2, 4 * w2 + 4])
    for sgn in (1.0, -1.0):
        pts.append(WeightedPCAPoint(sgn * np.array([1.0, 1.0]), "global_minimizer", 0.0,
                                    glob_eigs))
    if w > 1:
        x = np.sqrt((w2 - 1) / (w2 + 1))
        e1 = 4 * w2 * (w2 - 3) / (w2 + 1)  # along (1, 1)
        e2 = 2 * w2 * (3 * x * x - 1) + 6 * x * x + 2  # along (1, −1)
        eigs = np.sort([e1, e2])
        kind = "spurious_minimizer" if w2 > 3 else ("strict_saddle" if w2 < 3 else "saddle")
        for sgn in (1.0, -1.0):
            pts.append(WeightedPCAPoint(sgn * x * np.array([1.0, -1.0]), kind,
                                        4 * w2 / (w2 + 1), eigs))
    pts.append(WeightedPCAPoint(np.zeros(2), "strict_saddle", 0.5 * (2 * w2 + 2),
                                np.sort([-2 * (w2 + 1), -2 * (w2 - 1)])))
    return pts


def weighted_pca_spurious_minima(w: float) -> list[np.ndarray]:
    """The spurious local minimizers ±x(1, −1) of h: nonempty iff w² > 3 (zhu2021 Remark 4)."""
    return [p.u for p in weighted_pca_critical_points(w) if p.kind == "spurious_minimizer"]


def _matrix(X, name: str) -> np.ndarray:
    if isinstance(X, LowRank):
        X = X.dense()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be a finite 2-D array, got shape {X.shape}")
    return X
