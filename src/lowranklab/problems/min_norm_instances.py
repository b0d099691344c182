"""Instances of (factor) (eftekhari2021 spec §3.1, §3.2, §4.0): the paper's random generator,
planted-certificate instances with a known optimum, and the explicit Figure 1 toy instance."""

from __future__ import annotations

import math

import numpy as np

from lowranklab.operators import symmetric_gaussian
from lowranklab.problems.min_norm import MinNormFactorization


def symmetric_stack(d: int, m: int, rng: np.random.Generator, *,
                    sym_mode: str = "mirror") -> np.ndarray:
    """(m, d, d) symmetric A_i: upper triangle incl. diagonal i.i.d. N(0, 1).

    mirror: mirrored below (diagonal variance 1; = `symmetric_gaussian`, same draws);
    double: triu(T) + triu(T)ᵀ (diagonal doubled)."""
    if sym_mode == "mirror":
        return symmetric_gaussian(d, m, rng).A.reshape(m, d, d)
    if sym_mode == "double":
        T = np.triu(rng.standard_normal((m, d, d)))
        return T + T.transpose(0, 2, 1)
    raise ValueError(f"sym_mode must be 'mirror' or 'double', got {sym_mode!r}")


def random_instance(d: int, m: int, rng: np.random.Generator, *, b: str = "gaussian",
                    sym_mode: str = "mirror") -> MinNormFactorization:
    """Sec. XII generator: A_i as in `symmetric_stack`, then b ~ N(0, I_m) ('gaussian', may
    make (SDP) infeasible for small d) or b = A(WWᵀ) with W ∈ R^{d×⌈d/2⌉} Gaussian
    ('planted', always feasible). Draw order: A_1..A_m, then b (or W)."""
    A = symmetric_stack(d, m, rng, sym_mode=sym_mode)
    if b == "gaussian":
        bv = rng.standard_normal(m)
    elif b == "planted":
        W = rng.standard_normal((d, math.ceil(d / 2)))
        bv = A.reshape(m, d * d) @ (W @ W.T).ravel()
    else:
        raise ValueError(f"b must be 'gaussian' or 'planted', got {b!r}")
    return MinNormFactorization(A, bv)


def planted_certificate_instance(d: int, m: int, r: int, rng: np.random.Generator, *,
                                 normalize: bool = True):
    """An instance with a known global optimum (spec §4.0): returns (problem, W, λ̄) with
    X̄ = WWᵀ, I − A*(λ̄) = Z ⪰ 0, ZW = 0, so (X̄, λ̄) satisfies (4) and opt = ‖W‖²_F = bᵀλ̄.

    Z = Q(SSᵀ/(d − r) + ½I)Q^T on range(W)^⊥; A_i = A'_i + λ̄_i C with
    C = (I − Z − Σλ̄_iA'_i)/‖λ̄‖², so that A*(λ̄) = I − Z."""
    if not (1 <= r < d):
        raise ValueError(f"r must be in [1, d), got r={r}, d={d}")
    W = rng.standard_normal((d, r))
    if normalize:
        W *= math.sqrt(r) / np.linalg.norm(W)
    Qfull, _ = np.linalg.qr(W, mode="complete")
    Q = Qfull[:, r:]
    S = rng.standard_normal((d - r, d - r))
    Z = Q @ (S @ S.T / (d - r) + 0.5 * np.eye(d - r)) @ Q.T
    Ap = symmetric_stack(d, m, rng)
    lam = rng.standard_normal(m)
    C = (np.eye(d) - Z - np.einsum("i,ijk->jk", lam, Ap)) / float(lam @ lam)
    C = 0.5 * (C + C.T)
    A = Ap + lam[:, None, None] * C[None]
    b = A.reshape(m, d * d) @ (W @ W.T).ravel()
    return MinNormFactorization(A, b), W, lam


# spec §3.2: reference generator seed 13988, chosen to match the paper's 0.24 vs 4.22
FIG1_A = np.array([
    [[0.6412813273688258, 1.5107038251266793], [1.5107038251266793, -0.47914674278781044]],
    [[0.21152359469635787, 0.5366806502218369], [0.5366806502218369, 1.3202055698492368]],
])
FIG1_B = np.array([-0.33178413668418133, 0.14847877537391896])


def toy_fig1_instance() -> MinNormFactorization:
    """The explicit d = m = 2 instance of the Figure 1 reproduction (spec §3.2): two ± pairs
    of p = 1 feasible points, ‖w‖² = 0.2256775 (= SDP optimum) and ‖u*‖² = 4.5045835."""
    return MinNormFactorization(FIG1_A, FIG1_B)


def p1_feasible_points_2x2(problem: MinNormFactorization) -> list[np.ndarray]:
    """All p = 1 solutions of uᵀA_1u = b_1, uᵀA_2u = b_2 for d = m = 2, one per ± pair,
    sorted by ‖u‖ (spec §3.2): u lies on uᵀCu = 0 with C = b_2A_1 − b_1A_2."""
    if (problem.d, problem.m) != (2, 2):
        raise ValueError(f"needs d = m = 2, got d={problem.d}, m={problem.m}")
    A1, A2 = problem.A3
    b1, b2 = problem.b
    C = b2 * A1 - b1 * A2
    c, Q = np.linalg.eigh(C)
    if c[0] * c[1] > 0:
        return []
    out = []
    for sgn in (1.0, -1.0):
        v = Q @ np.array([math.sqrt(max(c[1], 0.0)), sgn * math.sqrt(max(-c[0], 0.0))])
        nv = np.linalg.norm(v)
        if nv == 0:
            continue
        v /= nv
        # use the better-conditioned equation to fix the scale
        i = int(np.argmax([abs(v @ A1 @ v), abs(v @ A2 @ v)]))
        q = v @ problem.A3[i] @ v
        t = problem.b[i] / q if q != 0 else -1.0
        if t > 0:
            u = math.sqrt(t) * v
            if np.linalg.norm(problem.residual(u[:, None])) <= 1e-8 * max(1, np.abs(
                    problem.b).max()):
                out.append(u)
    out.sort(key=lambda u: float(u @ u))
    return out
