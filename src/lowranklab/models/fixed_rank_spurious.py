"""Spurious critical points of f(Z) = ½‖Z − X‖²_F on the closure of M_r (Hou, Li & Zhang
2021, Lemma 2.4 / Def. 2.5) and their singular local geometry (spec §2.6, §2.11).

With X = Σ_i d_i u_i v_iᵀ (d₁ > … > d_r > 0), the spurious points are the 2^r − 1 partial
SVDs Z_#(η) = Σ_i η_i d_i u_i v_iᵀ, η ∈ {0,1}^r, η ≠ 1. They lie on the boundary
(rank s < r), where the tangent projection depends on an r-column completion (U₁, U₃):
P_T(Z_# − X) = 0 iff U₃ ⟂ U_x and V₃ ⟂ V_x. Indices in docstrings are 1-based as in the
paper; arrays are 0-based.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from lowranklab.lowrank import LowRank
from lowranklab.models.fixed_rank import FixedRank, FixedRankPoint, TangentVector
from lowranklab.problems.loss import Loss


@dataclass(frozen=True)
class SpuriousPoint:
    """Z_#(η) = U_x diag(η∘d) V_xᵀ; `keep` = η (tuple of bools), `missing` the dropped
    0-based indices."""

    keep: tuple[bool, ...]
    Ux: np.ndarray
    d: np.ndarray
    Vx: np.ndarray

    @property
    def rank(self) -> int:
        return int(sum(self.keep))

    @property
    def missing(self) -> tuple[int, ...]:
        return tuple(i for i, k in enumerate(self.keep) if not k)

    @property
    def kept(self) -> tuple[int, ...]:
        return tuple(i for i, k in enumerate(self.keep) if k)

    @property
    def distance(self) -> float:
        """‖Z_# − X‖_F = (Σ_missing d_i²)^½."""
        return float(np.sqrt(np.sum(self.d[list(self.missing)] ** 2)))

    @property
    def value(self) -> float:
        """f(Z_#) = ½ Σ_missing d_i²."""
        return 0.5 * self.distance**2

    def lowrank(self) -> LowRank:
        k = list(self.kept)
        return LowRank(self.Ux[:, k] * self.d[k], self.Vx[:, k])

    def dense(self) -> np.ndarray:
        return self.lowrank().dense()


def _check_truth(Ux: np.ndarray, d: np.ndarray, Vx: np.ndarray | None):
    Ux = np.asarray(Ux, dtype=float)
    d = np.asarray(d, dtype=float).ravel()
    Vx = Ux if Vx is None else np.asarray(Vx, dtype=float)
    r = d.size
    if Ux.ndim != 2 or Ux.shape[1] != r or Vx.shape[1] != r:
        raise ValueError(f"Ux, Vx need {r} columns to match d; got {Ux.shape}, {Vx.shape}")
    if np.any(d <= 0) or np.any(np.diff(d) >= 0):
        raise ValueError("d must be positive and strictly decreasing (with repeated values "
                         "the spurious set is a continuum and is not enumerated)")
    return Ux, d, Vx


def spurious_points(Ux: np.ndarray, d: np.ndarray, Vx: np.ndarray | None = None
                    ) -> list[SpuriousPoint]:
    """All 2^r − 1 partial SVDs of X = U_x diag(d) V_xᵀ (PSD: Vx=None), highest rank first
    (hou2021 Lemma 2.4)."""
    Ux, d, Vx = _check_truth(Ux, d, Vx)
    r = d.size
    out = [SpuriousPoint(tuple(bool(e) for e in eta), Ux, d, Vx)
           for eta in itertools.product((1, 0), repeat=r) if not all(eta)]
    return sorted(out, key=lambda p: -p.rank)


def by_rank(points: list[SpuriousPoint]) -> dict[int, list[SpuriousPoint]]:
    """{s: the points of S_s} (|S_s| = C(r, s))."""
    out: dict[int, list[SpuriousPoint]] = {}
    for p in points:
        out.setdefault(p.rank, []).append(p)
    return out


def orthonormal_complement_sample(A: np.ndarray, k: int, rng: np.random.Generator
                                  ) -> np.ndarray:
    """k random orthonormal columns orthogonal to the orthonormal columns of A."""
    G = rng.standard_normal((A.shape[0], k))
    G -= A @ (A.T @ G)
    Q, _ = np.linalg.qr(G)
    Q -= A @ (A.T @ Q)
    Q, _ = np.linalg.qr(Q)
    return Q


def critical_completion(p: SpuriousPoint, rng: np.random.Generator, *,
                        symmetric: bool = True) -> FixedRankPoint:
    """(U_#, S_#, V_#) = ((U₁, U₃), (D₁, 0), (V₁, V₃)) with U₃ ⟂ U_x, V₃ ⟂ V_x random
    (hou2021 §3.1): the completion under which P_T(Z_# − X) = 0. Needs n ≥ 2r − s."""
    r, s = p.d.size, p.rank
    m, n = p.Ux.shape[0], p.Vx.shape[0]
    if min(m, n) < 2 * r - s:
        raise ValueError(f"a critical completion needs min(m, n) >= 2r - s = {2 * r - s}")
    k = list(p.kept)
    U3 = orthonormal_complement_sample(p.Ux, r - s, rng)
    V3 = U3 if symmetric else orthonormal_complement_sample(p.Vx, r - s, rng)
    U = np.hstack([p.Ux[:, k], U3])
    V = U if symmetric else np.hstack([p.Vx[:, k], V3])
    return FixedRankPoint(U, np.concatenate([p.d[k], np.zeros(r - s)]), V)


def perturbation(p: SpuriousPoint, rng: np.random.Generator, *, symmetric: bool = True,
                 orthogonal: bool = False) -> LowRank:
    """A random rank-(r − s) direction E with ‖E‖_F = 1: W Wᵀ (PSD) or A Bᵀ (general), W, A, B
    Gaussian of width r − s (spec E2); with orthogonal=True the columns are ⟂ U_x, V_x (the
    measure-zero stable family of spec §2.6)."""
    r, s = p.d.size, p.rank
    W = rng.standard_normal((p.Ux.shape[0], r - s))
    B = W if symmetric else rng.standard_normal((p.Vx.shape[0], r - s))
    if orthogonal:
        W = W - p.Ux @ (p.Ux.T @ W)
        B = W if symmetric else B - p.Vx @ (p.Vx.T @ B)
    E = LowRank(W, B)
    return E * (1.0 / np.sqrt(E.fro_sq()))


def sample_near(p: SpuriousPoint, delta: float, rng: np.random.Generator,
                manifold: FixedRank, *, orthogonal: bool = False) -> FixedRankPoint:
    """Z₀ = Z_# + δ E/‖E‖_F on M_r (spec E2), kept in factored form."""
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    E = perturbation(p, rng, symmetric=manifold.symmetric, orthogonal=orthogonal)
    return manifold.from_lowrank(p.lowrank() + E * delta)


def gradient_norm_closed_form(rho: np.ndarray, c: np.ndarray, d_k: float) -> np.ndarray:
    """‖grad f(Z_# + ρ wwᵀ)‖_F = ((ρ − d_k c²)² + 2 d_k² c² (1 − c²))^½ for a unit w ⟂ U₁
    with c = wᵀu_k (PSD, one missing component k; spec §2.6, Fig. 1). Its limit as ρ → 0,
    d_k|c|(2 − c²)^½, depends on the direction: grad f is discontinuous at Z_#."""
    rho, c = np.asarray(rho, dtype=float), np.asarray(c, dtype=float)
    return np.sqrt((rho - d_k * c**2) ** 2 + 2 * d_k**2 * c**2 * (1 - c**2))


def reduced_map(sigma: float, theta: float, a: float, d_k: float) -> tuple[float, float]:
    """One RGD step of size a in the plane span{w₀, u_k} (PSD, one missing component):
    Z = Z_# + σ wwᵀ, w = cos θ w₀ + sin θ u_k (spec §2.6, exact reduced 2-D map)."""
    s, c = np.sin(theta), np.cos(theta)
    A = (1 - a) * sigma + a * d_k * s * s
    B = a * d_k * s * c
    sigma_new = 0.5 * (A + np.sqrt(A * A + 4 * B * B))
    return float(sigma_new), float(theta + np.arctan(B / sigma_new))


def gd_map(manifold: FixedRank, loss: Loss, x: FixedRankPoint, alpha: float,
           rule: str = "fixed") -> FixedRankPoint:
    """φ(Z) = R(Z − α_k grad f(Z)), α_k = α (fixed) or α σ_r(Z) (sigma; hou2021 eq. (2))."""
    _, g, _ = manifold.gradient(loss, x)
    a = alpha * (x.sigma_r if rule == "sigma" else 1.0)
    return manifold.retract(x, g, -a)


def gd_map_jacobian(manifold: FixedRank, loss: Loss, x: FixedRankPoint, alpha: float,
                    rule: str = "sigma", h: float | None = None,
                    basis: list[TangentVector] | None = None) -> np.ndarray:
    """Central-difference Jacobian of φ∘R on an orthonormal basis of T_x, projected back on
    the same basis (spec Gotcha 13: valid where φ(x) has the column space of x, as on the
    stable family). Choose h ≪ σ_r(x): the curvature scales like 1/σ_r. Small n only."""
    basis = manifold.tangent_basis(x) if basis is None else basis
    h = 1e-3 * x.sigma_r if h is None else h
    Z = x.lowrank()
    D = [manifold.to_dense(x, b) for b in basis]
    J = np.empty((len(basis), len(basis)))
    for j, b in enumerate(basis):
        bj = manifold.to_lowrank(x, b)
        yp = gd_map(manifold, loss, manifold.from_lowrank(Z + bj * h), alpha, rule).dense()
        ym = gd_map(manifold, loss, manifold.from_lowrank(Z + bj * -h), alpha, rule).dense()
        col = (yp - ym) / (2 * h)
        J[:, j] = [float(np.vdot(Di, col)) for Di in D]
    return J
