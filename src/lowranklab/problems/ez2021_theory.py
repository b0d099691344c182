"""The set M_b, distances to it, and the constants of ez2021 Assumption 3.1 / Theorem 3.2.

    M_b = {U ∈ R^{d×p} : A(UUᵀ) = b, ‖U‖ ≤ ξ}                      (ez2021 (manifold), L127)
    dist(U, M_b) = min_{U' ∈ M_b} ‖U − U'‖_F                          (ez2021 eq. (14))
    σ_m(M_b) = min_{U∈M_b} σ_m(Dg(U)),  σ_min(M_b) = inf_{U∈M_b} σ_min(U)
    ρ₀ = σ_m(M_b) / (2‖A‖)                                           (ez2021 eq. (16))
    (6a) ‖A(U₀U₀ᵀ) − b‖₂ < σ_m σ_min α / (4‖A‖)
    (6b) ‖U₀U₀ᵀ − X♮‖_F  < σ_m σ_min α / (4‖A‖²)
    (6c) dist(U₀, M_b)   < σ_m/(4‖A‖) · min(1, σ_min α / (4ξ‖A‖))

dist has no closed form in general: `project_to_Mb` (Gauss–Newton) gives an upper bound; it is
exact (Procrustes, Lemma F.1) when A is injective on symmetric matrices, M_b = U♮O_p.
The sample-based σ_m(M_b), σ_min(M_b) and the local-search RIP constant are *upper bounds* of
the true minima (spec §1.6, G8, G10). In Example 1.1 all these constants are 0: σ_m(J(U)) = 0
whenever m > kd − k(k−1)/2 for k = rank U (spec §3.4, erratum §7.2).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
from scipy.optimize import minimize

from lowranklab.problems.ez2021 import MACHINE_EPS, SymmetricSensing


def procrustes_dist(U: np.ndarray, V: np.ndarray) -> float:
    """dist(U, V O_p) = min_R ‖U − VR‖_F = √(‖U‖²_F + ‖V‖²_F − 2‖UᵀV‖_*) (ez2021 Lemma F.1,
    eq. (53)), evaluated as ‖U − VR*‖_F with the optimal rotation: the closed form cancels
    catastrophically (absolute floor ≈ √eps·‖U‖_F) near the orbit."""
    return float(np.linalg.norm(U - V @ procrustes_rotation(U, V)))


def procrustes_rotation(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """R* = argmin_{R ∈ O_p} ‖U − VR‖_F = PQᵀ from the SVD VᵀU = PΣQᵀ."""
    P, _, Qt = np.linalg.svd(V.T @ U)
    return P @ Qt


def project_to_Mb(inst: SymmetricSensing, U: np.ndarray, *, tol: float = 1e-14,
                  max_iter: int = 50) -> tuple[np.ndarray, bool]:
    """A point U' with A(U'U'ᵀ) = b near U by minimum-norm Gauss–Newton,
    U ← U − mat(J(U)⁺ g(U)), until ‖g(U)‖₂ ≤ tol·max(1, ‖b‖). Returns (U', success).
    The caller checks ‖U'‖ ≤ ξ; ‖U − U'‖_F is then an upper bound of dist(U, M_b)."""
    V = np.array(U, dtype=float)
    scale = max(1.0, float(np.linalg.norm(inst.b)))
    for _ in range(max_iter):
        gv = inst.g(V)
        if np.linalg.norm(gv) <= tol * scale:
            return V, True
        # g(V + Δ) = g(V) + J Δ + ½A(ΔΔᵀ): the Newton step solves J Δ = −g
        step = np.linalg.lstsq(inst.jacobian(V), -gv, rcond=None)[0]
        V = V + step.reshape(V.shape)
        if not np.all(np.isfinite(V)):
            return V, False
    return V, bool(np.linalg.norm(inst.g(V)) <= tol * scale)


def dist_to_Mb(inst: SymmetricSensing, U: np.ndarray, xi: float) -> tuple[float, bool]:
    """(distance, exact): the Procrustes distance to U♮O_p when A is injective on symmetric
    matrices (exact), else ‖U − P_GN(U)‖_F, an upper bound (inf if the projection fails or
    leaves the ball ‖U'‖ ≤ ξ)."""
    from lowranklab.problems.ez2021 import planted_factor

    if inst.truth is not None and injective_on_symmetric(inst):
        Un = planted_factor(inst.truth, U.shape[1])
        if np.linalg.norm(Un, 2) <= xi:
            return procrustes_dist(U, Un), True
    V, ok = project_to_Mb(inst, U)
    if not ok or np.linalg.norm(V, 2) > xi:
        return float("inf"), False
    return float(np.linalg.norm(U - V)), False


def injective_on_symmetric(inst: SymmetricSensing, rtol: float = 1e-10) -> bool:
    """True when m ≥ d(d+1)/2 and σ_min(M) > rtol·σ₁(M) for the svec matrix M."""
    N = inst.d * (inst.d + 1) // 2
    if inst.m < N:
        return False
    s = np.linalg.svd(inst.svec_matrix(), compute_uv=False)
    return bool(s[N - 1] > rtol * s[0])


def generic_jacobian_rank(d: int, k: int, m: int) -> int:
    """rank J(U) = min(m, kd − k(k−1)/2) for generic A and rank-k U (spec §1.5, T4)."""
    return min(m, k * d - k * (k - 1) // 2)


def sample_Mb(inst: SymmetricSensing, p: int, xi: float, n: int, rng: np.random.Generator,
              ) -> list[np.ndarray]:
    """Points of M_b: random Gaussian U (scaled to ‖U‖ = ξ/2 and around U♮ when known),
    projected by Gauss–Newton and kept if ‖U'‖ ≤ ξ."""
    from lowranklab.problems.ez2021 import planted_factor

    pts = []
    base = None if inst.truth is None else planted_factor(inst.truth, p)
    for i in range(n):
        G = rng.standard_normal((inst.d, p))
        if base is not None and i % 2 == 0:
            U = base @ _random_orthogonal(p, rng) + 0.1 * xi * G / np.linalg.norm(G, 2)
        else:
            U = 0.5 * xi * G / np.linalg.norm(G, 2)
        V, ok = project_to_Mb(inst, U)
        if ok and np.linalg.norm(V, 2) <= xi:
            pts.append(V)
    return pts


def estimate_sigma_m_Mb(inst: SymmetricSensing, p: int, xi: float, *, n: int = 20,
                        rng: np.random.Generator) -> float:
    """Estimate (an upper bound) of σ_m(M_b) = min_{U∈M_b} σ_m(J(U)): the minimum over sampled
    points, always including U♮ when the truth is known. Warns and returns 0 when
    m > rd − r(r−1)/2 for r = rank X♮: then σ_m(J(U♮)) = 0 (spec §3.4, G7)."""
    from lowranklab.problems.ez2021 import numerical_rank, planted_factor

    vals = [inst.sigma_m_Dg(U) for U in sample_Mb(inst, p, xi, n, rng)]
    if inst.truth is not None:
        Un = planted_factor(inst.truth, p)
        r = numerical_rank(Un, 1e-10)
        dim = r * inst.d - r * (r - 1) // 2  # dimension of the rank-r PSD manifold
        if inst.m > dim:
            warnings.warn(f"sigma_m(M_b) = 0: m = {inst.m} exceeds the dimension {dim} of the "
                          f"rank-{r} PSD manifold, so LICQ (Assumption 3.1(ii)) fails",
                          stacklevel=2)
            return 0.0
        vals.append(inst.sigma_m_Dg(Un))
    return float(min(vals)) if vals else float("nan")


def estimate_sigma_min_Mb(inst: SymmetricSensing, p: int, xi: float, *, n: int = 20,
                          rng: np.random.Generator, tol: float = 1e-10) -> float:
    """Estimate (an upper bound) of σ_min(M_b) = inf_{U∈M_b} σ_min(U), the smallest *nonzero*
    singular value (tolerance tol·σ₁; spec G9)."""
    from lowranklab.problems.ez2021 import planted_factor

    pts = sample_Mb(inst, p, xi, n, rng)
    if inst.truth is not None:
        pts.append(planted_factor(inst.truth, p))
    vals = []
    for U in pts:
        s = np.linalg.svd(U, compute_uv=False)
        s = s[s > tol * s[0]]
        vals.append(s[-1])
    return float(min(vals)) if vals else float("nan")


def rip_alpha(inst: SymmetricSensing, s: int, *, rng: np.random.Generator,
              starts: int = 20) -> tuple[float, bool]:
    """α_s = min{‖A(X)‖₂ : ‖X‖_F = 1, X symmetric, rank X ≤ s} (Assumption 3.1(iii), over
    *symmetric* X: antisymmetric X are annihilated; erratum §7.4). Returns (value, exact):
    exact σ_min(M) (or 0 when m < N) for s ≥ d; otherwise an upper bound by local minimization of
    ‖A(YDYᵀ)‖²/‖YDYᵀ‖²_F over Y ∈ R^{d×s} for every sign pattern D (L-BFGS, `starts` starts)."""
    d = inst.d
    if s >= d:
        N = d * (d + 1) // 2
        if inst.m < N:
            return 0.0, True
        return float(np.linalg.svd(inst.svec_matrix(), compute_uv=False)[N - 1]), True
    best = np.inf
    for signs in itertools.product((1.0, -1.0), repeat=s):
        if signs[0] < 0:  # D and −D give the same ratio
            continue
        D = np.array(signs)

        def ratio(y, D=D):
            Y = y.reshape(d, s)
            X = (Y * D) @ Y.T
            nx = float(np.sum(X * X))
            return float(np.sum(inst.forward(X) ** 2)) / max(nx, 1e-300)

        for _ in range(starts):
            res = minimize(ratio, rng.standard_normal(d * s), method="L-BFGS-B")
            best = min(best, float(res.fun))
    return float(np.sqrt(best)), False


def capture_radii(sigma_m: float, sigma_min: float, alpha: float, opnorm: float,
                  xi: float) -> dict[str, float]:
    """The right-hand sides of ez2021 (6a), (6b), (6c) and ρ₀ of eq. (16)."""
    rho0 = sigma_m / (2.0 * opnorm)
    return {
        "6a": sigma_m * sigma_min * alpha / (4.0 * opnorm),  # on ‖A(U₀U₀ᵀ) − b‖₂
        "6b": sigma_m * sigma_min * alpha / (4.0 * opnorm**2),  # on ‖U₀U₀ᵀ − X♮‖_F
        "6c": sigma_m / (4.0 * opnorm) * min(1.0, sigma_min * alpha / (4.0 * xi * opnorm)),
        "rho0": rho0,
    }


def capture_conditions(inst: SymmetricSensing, U0: np.ndarray, radii: dict[str, float],
                       xi: float) -> dict[str, bool]:
    """Which of (6a), (6b), (6c) the start U₀ satisfies (non-squared norms), and ‖U₀‖ ≤ ξ."""
    res = float(np.linalg.norm(inst.residual(U0)))
    out = {"6a": res < radii["6a"], "norm_ok": bool(np.linalg.norm(U0, 2) <= xi)}
    if inst.truth is not None:
        out["6b"] = bool(np.linalg.norm(U0 @ U0.T - inst.truth) < radii["6b"])
    dist, _ = dist_to_Mb(inst, U0, xi)
    out["6c"] = bool(dist < radii["6c"])
    return out


def in_tube(inst: SymmetricSensing, U: np.ndarray, rho: float) -> bool:
    """U in the capture tube {‖A(UUᵀ) − b‖₂ ≤ ρ} (ez2021 L102, Remark 3.8)."""
    return bool(np.linalg.norm(inst.residual(U)) <= rho)


def default_xi(truth: np.ndarray) -> float:
    """ξ = √(2‖X♮‖), so that ‖X♮‖ < ξ² (spec §1.1, proposed)."""
    return float(np.sqrt(2.0 * np.linalg.norm(truth, 2)))


def _random_orthogonal(p: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((p, p)))
    return Q * np.sign(np.diag(R))


__all__ = ["procrustes_dist", "procrustes_rotation", "project_to_Mb", "dist_to_Mb",
           "injective_on_symmetric", "generic_jacobian_rank", "sample_Mb",
           "estimate_sigma_m_Mb", "estimate_sigma_min_Mb", "rip_alpha", "capture_radii",
           "capture_conditions", "in_tube", "default_xi", "MACHINE_EPS"]
