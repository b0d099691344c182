"""Initializations of the factors (small Gaussian, exact rank k, scaled identity, spectral) and
of a point on the fixed-rank manifold (`initial_point`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh, svds

from lowranklab.lowrank import LowRank, Matrix
from lowranklab.models.balanced import BalancedFactor
from lowranklab.models.base import Parametrization
from lowranklab.models.fixed_rank import FixedRank, FixedRankPoint
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.operators.base import MeasurementOperator


def gaussian_factor(shape: tuple[int, int], norm: float, rng: np.random.Generator) -> np.ndarray:
    """i.i.d. Gaussian matrix scaled to ‖U‖_F = norm."""
    _check_norm(norm)
    G = rng.standard_normal(shape)
    return G * (norm / np.linalg.norm(G))


def rank_k_factor(
    shape: tuple[int, int], k: int, norm: float, rng: np.random.Generator
) -> np.ndarray:
    """A Gaussian matrix of rank exactly k (product of Gaussian n×k and k×p), ‖U‖_F = norm."""
    _check_norm(norm)
    n, p = shape
    if int(k) != k or not 1 <= k <= min(n, p):
        raise ValueError(f"init rank k must be an integer in [1, {min(n, p)}], got {k}")
    U = rng.standard_normal((n, k)) @ rng.standard_normal((k, p))
    s = np.linalg.svd(U, compute_uv=False)
    if k < min(n, p) and s[k] > 1e-10 * s[0] or s[k - 1] <= 1e-10 * s[0]:
        raise RuntimeError("rank-k draw was numerically degenerate; use another seed")
    return U * (norm / np.linalg.norm(U))


def rank_k_init(shape: tuple[int, int], k: int, rho: float, rng: np.random.Generator, *,
                on_sphere: bool = True) -> np.ndarray:
    """A generic rank-k U₀ (Gaussian product G₁G₂) with ‖U₀‖_F = ρ (on_sphere) or, with
    on_sphere=False, uniformly inside ball(ρ) = {‖U‖_F ≤ ρ} in radius law ρ·u^{1/(dp)}
    (ez2021 Algorithm 1 "a rank-r₀ matrix inside ball(ρ₀)"; spec G16)."""
    if on_sphere:
        return rank_k_factor(shape, k, rho, rng)
    radius = rho * rng.uniform() ** (1.0 / (shape[0] * shape[1]))
    return rank_k_factor(shape, k, max(radius, np.finfo(float).tiny), rng)


def scaled_identity(shape: tuple[int, int], u0: float) -> np.ndarray:
    """u0 · I (the leading min(n, p) diagonal)."""
    _check_norm(u0)
    return u0 * np.eye(*shape)


def spectral_matrix(op: MeasurementOperator, b: np.ndarray, k: int, *, symmetric: bool,
                    power_iters: int | None = None):
    """The best rank-k approximation of A*(b), rescaled by the least-squares fit
    α = ⟨A(Y), b⟩/‖A(Y)‖² so that any operator normalization works. Returns factors (L, R)
    with α·Y = L Rᵀ (L = R for symmetric, PSD part only). power_iters: use a randomized
    range finder with that many power iterations (Halko, Martinsson & Tropp 2011, Alg. 4.4)
    instead of Lanczos — an estimate, for default steps."""
    M = op.adjoint(b)
    d1, d2 = op.shape_in
    k = min(k, d1, d2)
    if power_iters is not None:
        P, s, Qt = _randomized_svd(M, k, power_iters, symmetric=symmetric)
        if symmetric:
            L = R = P * np.sqrt(np.clip(s, 0.0, None))
        else:
            L, R = P * np.sqrt(s), Qt.T * np.sqrt(s)
    elif symmetric:
        lam, Q = _top_eigs(M, k)
        lam = np.clip(lam, 0.0, None)
        L = R = Q * np.sqrt(lam)
    else:
        P, s, Qt = _top_svd(M, k)
        L, R = P * np.sqrt(s), Qt.T * np.sqrt(s)
    y = op.forward_lr(L, R)
    yy = float(y @ y)
    alpha = float(y @ b) / yy if yy > 0 else 1.0
    alpha = max(alpha, 0.0) if symmetric else alpha
    if alpha == 0.0:
        raise ValueError("spectral initialization failed: A*(b) has no positive part")
    c = np.sqrt(abs(alpha))
    return L * c, R * (c * np.sign(alpha) if alpha < 0 else c)


def initialize(
    model: Parametrization,
    kind: str,
    rng: np.random.Generator,
    *,
    norm: float = 1e-3,
    rank: int | None = None,
    op: MeasurementOperator | None = None,
    b: np.ndarray | None = None,
    power_iters: int | None = None,
) -> np.ndarray:
    """θ₀ for `model`: kind ∈ {"small", "rank", "identity", "spectral"}.

    small: Gaussian with ‖U‖_F = norm (and ‖V‖_F = norm); rank: exact rank `rank` with that
    norm; identity: norm · I; spectral: from A*(b) (needs op and b).
    """
    if isinstance(model, SymmetricFactor):
        shapes = [(model.d, model.p)]
    elif isinstance(model, BalancedFactor):
        shapes = [(model.d1, model.r), (model.d2, model.r)]
    else:
        raise TypeError(f"no initializations for {type(model).__name__}")
    if kind == "small":
        return model.pack(*(gaussian_factor(s, norm, rng) for s in shapes))
    if kind == "rank":
        if rank is None:
            raise ValueError("init 'rank' needs rank=K")
        return model.pack(*(rank_k_factor(s, rank, norm, rng) for s in shapes))
    if kind == "identity":
        return model.pack(*(scaled_identity(s, norm) for s in shapes))
    if kind == "spectral":
        if op is None or b is None:
            raise ValueError("spectral initialization needs the operator and measurements")
        sym = isinstance(model, SymmetricFactor)
        p = shapes[0][1]
        L, R = spectral_matrix(op, b, p, symmetric=sym, power_iters=power_iters)
        pad = [np.hstack([F, np.zeros((F.shape[0], p - F.shape[1]))]) for F in (L, R)]
        return model.pack(pad[0]) if sym else model.pack(*pad)
    raise ValueError(f"init must be one of small, rank, identity, spectral; got {kind!r}")


def initial_point(
    manifold: FixedRank,
    kind: str,
    rng: np.random.Generator,
    *,
    norm: float = 1e-3,
    op=None,
    b: np.ndarray | None = None,
) -> FixedRankPoint:
    """x₀ on the manifold: "spectral" (best rank-r approximation of A*(b), rescaled by the
    least-squares fit; PSD part for the PSD manifold), "small"/"random" (a Gaussian A Bᵀ with
    ‖Z₀‖_F = norm), "identity" (norm · I_r in the leading block)."""
    if kind == "spectral":
        if op is None or b is None:
            raise ValueError("spectral initialization needs the operator and measurements")
        L, R = spectral_matrix(op, b, manifold.r, symmetric=manifold.symmetric)
        x = manifold.from_lowrank(LowRank(L, R))
        if x.sigma_r <= 0:
            raise ValueError("spectral initialization has rank < r; use --init small")
        return x
    if kind in ("small", "random"):
        _check_norm(norm)
        x = manifold.random_point(rng)
        return manifold.point(x.U, x.S * (norm / np.linalg.norm(x.S)), x.V)
    if kind == "identity":
        E = np.eye(manifold.m, manifold.r)
        F = np.eye(manifold.n, manifold.r)
        return manifold.point(E, np.full(manifold.r, float(norm)), F)
    raise ValueError(f"init for the fixed-rank model must be spectral, small, random or "
                     f"identity; got {kind!r}")


def _randomized_svd(M: Matrix, k: int, q: int, *, symmetric: bool):
    """Top-k (P, s, Qᵀ) of M by a randomized range finder with q power iterations (seed 0);
    for symmetric M, the top-k *eigen*pairs by value (s may be negative)."""
    n1, n2 = M.shape
    rng = np.random.default_rng(0)
    ell = min(k + 5, n1, n2)
    Y = M @ rng.standard_normal((n2, ell))
    for _ in range(q):
        Y, _ = np.linalg.qr(np.asarray(Y))
        Y = M @ np.asarray(M.T @ Y)
    Qb, _ = np.linalg.qr(np.asarray(Y))
    if symmetric:
        T = np.asarray(Qb.T @ np.asarray(M @ Qb))
        lam, W = np.linalg.eigh(0.5 * (T + T.T))
        order = np.argsort(lam)[::-1][:k]
        P = Qb @ W[:, order]
        return P, lam[order], P.T
    B = np.asarray(M.T @ Qb).T
    Pb, s, Qt = np.linalg.svd(B, full_matrices=False)
    return Qb @ Pb[:, :k], s[:k], Qt[:k]


def _top_eigs(M: Matrix, k: int):
    n = M.shape[0]
    if k >= n - 1 or n <= 400:
        S = M.toarray() if sp.issparse(M) else np.asarray(M)
        lam, Q = np.linalg.eigh(0.5 * (S + S.T))
        return lam[::-1][:k], Q[:, ::-1][:, :k]
    lin = LinearOperator((n, n), matvec=lambda x: 0.5 * (M @ x + M.T @ x), dtype=float)
    lam, Q = eigsh(lin, k=k, which="LA", v0=np.ones(n))
    order = np.argsort(lam)[::-1]
    return lam[order], Q[:, order]


def _top_svd(M: Matrix, k: int):
    if k >= min(M.shape) - 1 or max(M.shape) <= 400:
        S = M.toarray() if sp.issparse(M) else np.asarray(M)
        P, s, Qt = np.linalg.svd(S, full_matrices=False)
        return P[:, :k], s[:k], Qt[:k]
    P, s, Qt = svds(M, k=k, v0=np.ones(min(M.shape)))
    order = np.argsort(s)[::-1]
    return P[:, order], s[order], Qt[order]


def _check_norm(norm: float) -> None:
    if not (np.isfinite(norm) and norm > 0):
        raise ValueError(f"init norm must be a finite number > 0, got {norm}")
