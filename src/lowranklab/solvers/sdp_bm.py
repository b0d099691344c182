"""Burer–Monteiro augmented-Lagrangian solver for the SDP (SDPLR's method):

    min ⟨C, X⟩   s.t.   A(X) = b,   X ⪰ 0,        X = UUᵀ,  U ∈ R^{d×p},

after Burer & Monteiro, "A nonlinear programming algorithm for solving semidefinite programs
via low-rank factorization", Math. Program. B 95 (2003), Sec. 4–5. With r(U) = A(UUᵀ) − b,
the augmented Lagrangian (their eq. (9), with the sign of the multiplier term as here) is

    L_σ(U, y) = ⟨C, UUᵀ⟩ − yᵀ r(U) + σ/2 ‖r(U)‖²,     ∇_U L_σ = 2 (C − A*(y − σ r(U))) U,

and the method alternates

1. an inner L-BFGS minimisation of L_σ(·, y) in U, with the *exact* line search of SDPLR
   (Sec. 5): along U + tD, A((U + tD)(U + tD)ᵀ) = r + t a₁ + t² a₂ + b with
   a₁ = A(UDᵀ + DUᵀ), a₂ = A(DDᵀ), so L_σ(U + tD, y) is a quartic in t, minimised in closed
   form. One iteration therefore reads A three times: a₁ and a₂ (two GEMVs), and
   A*(y − σ r) for the next gradient; the new residual is the polynomial r + ta₁ + t²a₂, no
   extra pass. (A backtracking search pays a forward and an adjoint pass per trial point.)
2. the multiplier update y ← y − σ r(U), and the penalty increase σ ← γσ when ‖r‖ did not
   fall below η times its value at the previous outer iteration (SDPLR's η = 1/4, γ = 10).

At an inner stationary point 2(C − A*(ŷ))U ≈ 0 with ŷ = y − σ r, so ŷ is the dual estimate and
S = C − A*(ŷ) the dual slack. The solver stops when the SDP dual certificate (eftekhari2021
eq. (4), `MinNormFactorization.certificate`, here with cost C) holds: λ_min(S) ≥ −tol,
|⟨C, X⟩ − bᵀŷ| ≤ tol·max(1, |⟨C, X⟩|) and ‖r‖ ≤ tol·max(1, |⟨C, X⟩|); by weak duality
X = UUᵀ is then the global optimum of the SDP to that tolerance.

The rank p defaults to the Pataki bound plus one, p = r_max(m) + 1 with r_max(r_max + 1)/2 ≤ m
(every feasible bounded SDP with m constraints has an optimum of rank ≤ r_max, and a
rank-deficient local minimiser of the factored problem is optimal, Burer & Monteiro 2005,
Math. Program. 103; the certificate checks optimality in any case), capped at d.

The symmetric A_i are stored by their upper triangles (m × d(d+1)/2, half the bytes of
(m, d²)), since the passes over A dominate the cost. Trace rows (no SVD) are written only every
`record_every` inner iterations and at the end of every outer iteration.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dtrtrs

from lowranklab.backend import require_numpy
from lowranklab.lowrank import LowRank
from lowranklab.objective import Evaluation
from lowranklab.problems.min_norm import MinNormFactorization, pataki_rank_bound
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result, StopCode, Trace

Callback = Callable[[mon.State], bool | None]

FEAS_REDUCTION = 0.25  # SDPLR's η: σ is kept when ‖r‖ fell below η·(previous ‖r‖)
PENALTY_GROWTH = 10.0  # SDPLR's γ: σ ← γσ otherwise
MEMORY = 10  # L-BFGS pairs
BLOWUP = 1e12  # ‖U‖²_F above BLOWUP·max(1, ‖U₀‖²_F): diverged (unbounded SDP?)
SIGMA_MAX = 1e10  # σ above SIGMA_MAX·σ₀ with ‖r‖ still stalling: stalled (infeasible SDP?)


class PackedSymmetricOperator:
    """A(X) = [⟨A_i, X⟩]_i and A*(z) = Σ z_i A_i for symmetric A_i, stored as the (m, T) upper
    triangles (T = d(d+1)/2): ⟨A_i, X⟩ = Σ_{j≤k} w_jk (A_i)_jk X_jk with w = 2 off the
    diagonal, 1 on it (X symmetric)."""

    def __init__(self, problem: MinNormFactorization) -> None:
        d = problem.d
        self.d, self.m = d, problem.m
        iu = np.triu_indices(d)
        self.iu = iu
        self.Ap = np.ascontiguousarray(problem.A3[:, iu[0], iu[1]])
        self.w = np.where(iu[0] == iu[1], 1.0, 2.0)
        self.flat_iu = iu[0] * d + iu[1]  # row-major positions of the upper triangle
        full = np.empty((d, d), dtype=np.intp)
        full[iu] = np.arange(iu[0].size)
        full[(iu[1], iu[0])] = np.arange(iu[0].size)
        self.full = full.ravel()  # packed index of every entry of a d×d matrix

    def pack(self, X: np.ndarray) -> np.ndarray:
        """w ∘ triu(X) (for symmetric X)."""
        return np.take(X.ravel(), self.flat_iu) * self.w

    def forward(self, X: np.ndarray) -> np.ndarray:
        """A(X) for symmetric X: one pass over A."""
        return self.Ap @ self.pack(X)

    def forward2(self, X1: np.ndarray, X2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A(X1), A(X2): two GEMVs. (A two-column GEMM would read A once, but OpenBLAS's
        n = 2 GEMM measured 2–20× slower than two GEMVs at m = 200, T = 5050.)"""
        return self.Ap @ self.pack(X1), self.Ap @ self.pack(X2)

    def adjoint(self, z: np.ndarray) -> np.ndarray:
        """A*(z) = Σ z_i A_i (symmetric d×d): one pass over A."""
        return (z @ self.Ap)[self.full].reshape(self.d, self.d)


@dataclass
class _Point:
    """U with r = A(UUᵀ) − b, the slack S = C − A*(y − σr), G = ∇_U L_σ = 2SU, ⟨C, UUᵀ⟩."""

    U: np.ndarray
    r: np.ndarray
    S: np.ndarray
    G: np.ndarray
    obj: float

    def value(self, y: np.ndarray, sigma: float) -> float:
        return self.obj - float(y @ self.r) + 0.5 * sigma * float(self.r @ self.r)


def augmented_lagrangian(problem: MinNormFactorization, U: np.ndarray, y: np.ndarray,
                         sigma: float, C: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """L_σ(U, y) = ⟨C, UUᵀ⟩ − yᵀ(A(UUᵀ) − b) + σ/2‖A(UUᵀ) − b‖² and its gradient
    2(C − A*(y − σ r))U (Burer & Monteiro 2003, eq. (9); C = I by default). Two passes over A."""
    U = problem.check_U(U)
    y = _check_y(problem, y)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma}")
    C = None if C is None else problem.check_cost(C)
    pt = _evaluate(PackedSymmetricOperator(problem), problem.b, C, U, None, y, sigma)
    return pt.value(y, sigma), pt.G


def _evaluate(op: PackedSymmetricOperator, b: np.ndarray, C: np.ndarray | None, U: np.ndarray,
              r: np.ndarray | None, y: np.ndarray, sigma: float) -> _Point:
    """The point U; r is recomputed (one pass) unless given (the line search's polynomial)."""
    if r is None:
        r = op.forward(U @ U.T) - b
    S = -op.adjoint(y - sigma * r)
    if C is None:
        S.flat[:: S.shape[0] + 1] += 1.0
        obj = float(np.vdot(U, U))
    else:
        S += C
        obj = float(np.vdot(C @ U, U))
    return _Point(U=U, r=r, S=S, G=2.0 * (S @ U), obj=obj)


def _quartic_step(coef) -> float:
    """argmin_{t > 0} of φ(t) = Σ_k coef[k] t^k (degree ≤ 4, φ'(0) < 0): the real positive
    critical point with the least φ (roots of the cubic φ' in closed form, Numerical Recipes
    §5.6, then two Newton steps); 0 when there is none (no descent)."""
    _, c1, c2, c3, c4 = (float(c) for c in coef)
    d1, d2, d3 = 2.0 * c2, 3.0 * c3, 4.0 * c4  # φ'(t) = c1 + d1 t + d2 t² + d3 t³
    scale = max(abs(c1), abs(d1), abs(d2), abs(d3))
    if scale == 0.0 or not math.isfinite(scale):
        return 0.0
    if abs(d3) > 1e-14 * scale:
        a, b, c = d2 / d3, d1 / d3, c1 / d3
        Q, R = (a * a - 3.0 * b) / 9.0, (2.0 * a**3 - 9.0 * a * b + 27.0 * c) / 54.0
        if R * R < Q**3:
            th = math.acos(max(-1.0, min(1.0, R / math.sqrt(Q**3))))
            sq = -2.0 * math.sqrt(Q)
            cands = [sq * math.cos((th + 2.0 * math.pi * j) / 3.0) - a / 3.0 for j in (0, 1, -1)]
        else:
            A = -math.copysign((abs(R) + math.sqrt(max(R * R - Q**3, 0.0))) ** (1.0 / 3.0), R)
            cands = [A + (Q / A if A != 0.0 else 0.0) - a / 3.0]
    elif abs(d2) > 1e-14 * scale:
        disc = d1 * d1 - 4.0 * d2 * c1
        if disc < 0:
            return 0.0
        sq = math.sqrt(disc)
        cands = [(-d1 + sq) / (2.0 * d2), (-d1 - sq) / (2.0 * d2)]
    elif d1 != 0.0:
        cands = [-c1 / d1]
    else:
        return 0.0
    best, best_val = 0.0, 0.0  # compare φ(t) − φ(0): c0 may swamp the decrease
    for t in cands:
        for _ in range(2):  # Newton polish on φ'
            dd = d1 + t * (2.0 * d2 + t * 3.0 * d3)
            if dd == 0.0:
                break
            t -= (c1 + t * (d1 + t * (d2 + t * d3))) / dd
        if t > 0 and math.isfinite(t):
            val = t * (c1 + t * (c2 + t * (c3 + t * c4)))
            if val < best_val:
                best, best_val = t, val
    return best


def sdp_bm(problem: MinNormFactorization, *, C: np.ndarray | None = None,
           rank: int | None = None, U0: np.ndarray | None = None, seed: int | None = 0,
           tol: float = 1e-7, max_iter: int = 100_000, max_outer: int = 200,
           sigma0: float | None = None, inner_rtol: float = 0.1, record_every: int = 100,
           callbacks: Sequence[Callback] = (), time_budget: float | None = None,
           progress: bool = False) -> Result:
    """Solve min ⟨C, X⟩ s.t. A(X) = b, X ⪰ 0 (C = I: eftekhari2021's (SDP), min tr X) by the
    Burer–Monteiro augmented Lagrangian with L-BFGS and exact quartic line search (module doc).

    problem: the constraints (A_i symmetric, b) as a `MinNormFactorization`; C: symmetric d×d
    cost (default I). rank: p (default Pataki r_max(m) + 1, at most d); U0: the start (default
    Gaussian from `seed`, scaled so that ‖A(U0U0ᵀ)‖ = ‖b‖). tol: the certificate tolerance
    (`Certificate.certifies(tol)`), checked at the end of every outer iteration. sigma0: the
    first penalty (default max(1, |⟨C, X₀⟩|)/max(1, ‖r₀‖)²·10). inner_rtol: the inner L-BFGS
    stops at ‖∇_U L_σ‖_F ≤ max(min(ρ s/σ, ρ σ‖r‖‖U‖_F), 0.1 tol·s/‖U‖_F) with ρ = inner_rtol,
    s = max(1, |⟨C, X⟩|): SDPLR's ρ_c/σ rule, tightened in proportion to the multiplier step
    σ‖r‖ as the iterates become feasible, down to what the certificate needs. max_iter counts
    inner iterations (each three GEMV passes over A).

    Stops: CONVERGED when certified; STALLED when σ passed SIGMA_MAX·σ₀ without ‖r‖ falling
    (infeasible constraints?); DIVERGED when ‖U‖²_F passed BLOWUP·max(1, ‖U₀‖²_F) (an SDP
    unbounded below?); MAX_ITER, BUDGET, INTERRUPTED.

    Returns `Result` with X = LowRank(U, U), and info: `U`,
    `multipliers` ŷ, `certificate` (the `Certificate`), `certified`, `sigma`, `rank`, `outer`.
    counts: iterations, outer, passes (GEMV passes over A), multiplier_updates,
    penalty_increases.
    """
    if not isinstance(problem, MinNormFactorization):
        raise TypeError(f"problem must be a MinNormFactorization, got {type(problem).__name__}")
    d, m = problem.d, problem.m
    C = None if C is None else problem.check_cost(C)
    for name, v, lo in (("max_iter", max_iter, 0), ("max_outer", max_outer, 1),
                        ("record_every", record_every, 1)):
        if isinstance(v, bool) or int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol}")
    if not (math.isfinite(inner_rtol) and inner_rtol > 0):
        raise ValueError(f"inner_rtol must be a finite number > 0, got {inner_rtol}")
    if sigma0 is not None and not (math.isfinite(sigma0) and sigma0 > 0):
        raise ValueError(f"sigma0 must be a finite number > 0, got {sigma0}")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"time_budget must be > 0, got {time_budget}")
    if U0 is None:
        p = default_rank(d, m) if rank is None else _check_rank(rank, d)
    else:
        require_numpy(U0, "sdp_bm")
        U0 = problem.check_U(U0, "U0")
        if not np.all(np.isfinite(U0)):
            raise ValueError("U0 must be finite")
        p = U0.shape[1]
        if rank is not None and _check_rank(rank, d) != p:
            raise ValueError(f"rank={rank} disagrees with U0 of {p} columns")
    t0 = time.perf_counter()
    op = PackedSymmetricOperator(problem)
    b = problem.b
    nb = max(1.0, float(np.linalg.norm(b)))
    if U0 is None:
        U0 = np.random.default_rng(seed).standard_normal((d, p))
        a0 = float(np.linalg.norm(op.forward(U0 @ U0.T)))
        U0 = U0 * math.sqrt(nb / a0) if a0 > 0 else U0
    y = np.zeros(m)
    pt = _evaluate(op, b, C, U0.copy(), None, y, 1.0)
    passes = 2
    if sigma0 is None:
        sigma0 = 10.0 * max(1.0, abs(pt.obj)) / max(1.0, float(np.linalg.norm(pt.r))) ** 2
    sigma = float(sigma0)
    if sigma != 1.0:
        pt = _evaluate(op, b, C, pt.U, pt.r, y, sigma)
        passes += 1
    trace = Trace()
    u_limit = BLOWUP * max(1.0, float(np.vdot(pt.U, pt.U)))
    k = outer = n_mult = n_pen = 0
    ref_feas = math.inf
    stop, message = StopCode.MAX_ITER, f"max_iter = {max_iter} inner iterations"
    cert = None
    last_report = t0

    def row(extra: dict | None = None) -> bool:
        now = time.perf_counter()
        rw = {"iter": k, "outer": outer, "objective": pt.obj,
              "feasibility": float(np.linalg.norm(pt.r)),
              "grad_norm": float(np.linalg.norm(pt.G)), "sigma": sigma, "time": now - t0}
        rw.update(extra or {})
        trace.append(rw)
        if callbacks:
            e = Evaluation(value=pt.value(y, sigma), loss_value=0.5 * float(pt.r @ pt.r),
                           grad=pt.G.ravel(), X=LowRank(pt.U, pt.U), G=None)
            st = mon.State(k, pt.U.ravel(), e, now - t0, float("nan"))
            return any(cb(st) for cb in callbacks)
        return False

    row()
    try:
        while True:
            # -- inner: L-BFGS on L_σ(·, y) with the exact quartic line search --------------
            scale = max(1.0, abs(pt.obj))
            nU = max(1.0, float(np.linalg.norm(pt.U)))
            gtol = max(min(inner_rtol * scale / sigma,
                           inner_rtol * sigma * float(np.linalg.norm(pt.r)) * nU),
                       0.1 * tol * scale / nU)
            mem = _LBFGS(pt.G.size, MEMORY)
            interrupted = diverged = False
            gtol_sq = gtol * gtol
            while float(np.vdot(pt.G, pt.G)) > gtol_sq and k < max_iter:
                D = mem.direction(pt.G)
                if not float(np.vdot(pt.G, D)) < 0:
                    mem.clear()
                    D = -pt.G
                U, r = pt.U, pt.r
                M = U @ D.T
                a1, a2 = op.forward2(M + M.T, D @ D.T)
                if C is None:
                    c1, c2 = 2.0 * float(np.vdot(U, D)), float(np.vdot(D, D))
                else:
                    CD = C @ D
                    c1, c2 = 2.0 * float(np.vdot(CD, U)), float(np.vdot(CD, D))
                w = y - sigma * r
                coef = (pt.value(y, sigma),
                        c1 - float(w @ a1),
                        c2 - float(w @ a2) + 0.5 * sigma * float(a1 @ a1),
                        sigma * float(a1 @ a2),
                        0.5 * sigma * float(a2 @ a2))
                t = _quartic_step(coef)
                k += 1
                if t == 0.0:
                    break  # no decrease along D in floating point: the inner solve is done
                s = t * D
                new = _evaluate(op, b, C, U + s, r + t * a1 + (t * t) * a2, y, sigma)
                passes += 3
                mem.push(s, new.G - pt.G)
                pt = new
                if not float(np.vdot(pt.U, pt.U)) <= u_limit:
                    diverged = True
                    break
                if k % record_every == 0:
                    if row():
                        interrupted = True
                        break
                    now = time.perf_counter()
                    if progress and now - last_report > 1.0:
                        last_report = now
                        print(f"  sdp-bm iter {k} outer {outer}  ⟨C,X⟩={pt.obj:.10g}  "
                              f"‖r‖={np.linalg.norm(pt.r):.2e}  σ={sigma:.3g}", file=sys.stderr)
                    if time_budget is not None and now - t0 > time_budget:
                        break
            outer += 1
            # -- certificate at ŷ = y − σ r, from the exact residual -------------------------
            pt = _evaluate(op, b, C, pt.U, None, y, sigma)
            passes += 4  # this exact evaluation, and the certificate's residual and A*(ŷ)
            yhat = y - sigma * pt.r
            cert = problem.certificate(pt.U, lam=yhat, C=C)
            certified = cert.certifies(tol)
            if row({"lambda_min": cert.lambda_min, "dual_gap": cert.dual_gap}) \
                    or interrupted:
                stop, message = StopCode.INTERRUPTED, "stopped by callback"
                break
            if certified:
                stop, message = StopCode.CONVERGED, (
                    f"certified: λ_min(C − A*(y)) = {cert.lambda_min:.2e} ≥ −{tol:g}, "
                    f"dual gap {cert.dual_gap:.2e}, ‖r‖ = {cert.feasibility:.2e}")
                break
            if diverged or not (np.all(np.isfinite(pt.U)) and math.isfinite(pt.obj)):
                stop, message = StopCode.DIVERGED, (
                    f"‖U‖²_F = {float(np.vdot(pt.U, pt.U)):.3g} passed {BLOWUP:g}·max(1, ‖U₀‖²_F)"
                    f" (or a non-finite iterate): the SDP may be unbounded below")
                break
            if sigma > SIGMA_MAX * sigma0:
                stop, message = StopCode.STALLED, (
                    f"the penalty σ grew {SIGMA_MAX:g}-fold and ‖A(UUᵀ) − b‖ = "
                    f"{np.linalg.norm(pt.r):.3g} still did not fall: the constraints may be "
                    f"infeasible")
                break
            if k >= max_iter:
                break
            if time_budget is not None and time.perf_counter() - t0 > time_budget:
                stop, message = StopCode.BUDGET, f"time budget {time_budget:g} s spent"
                break
            if outer >= max_outer:
                stop, message = StopCode.MAX_ITER, f"max_outer = {max_outer} outer iterations"
                break
            # -- multiplier and penalty update ----------------------------------------------
            # y ← ŷ after every inner solve (Hestenes–Powell); σ ← γσ when ‖r‖ did not fall
            # below η·(‖r‖ at the last penalty check). SDPLR updates y only when ‖r‖ fell and
            # raises σ otherwise; on the planted-certificate instances that took up to 2× the
            # iterations (measured), on the random ones it was the same.
            feas = float(np.linalg.norm(pt.r))
            y = yhat
            n_mult += 1
            if feas > FEAS_REDUCTION * ref_feas and feas > tol * scale:
                sigma *= PENALTY_GROWTH
                n_pen += 1
            ref_feas = feas
            pt = _evaluate(op, b, C, pt.U, pt.r, y, sigma)
            passes += 1
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"
    U = pt.U
    if cert is None:
        cert = problem.certificate(U, lam=y - sigma * pt.r, C=C)
    return Result(theta=U.ravel().copy(), X=LowRank(U, U), stop=stop, iterations=k,
                  trace=trace,
                  counts={"iterations": k, "outer": outer, "passes": passes,
                          "multiplier_updates": n_mult, "penalty_increases": n_pen},
                  wall_time=time.perf_counter() - t0, message=message,
                  info={"multipliers": cert.multipliers, "certificate": cert,
                        "certified": cert.certifies(tol), "sigma": sigma, "rank": p,
                        "outer": outer, "tol": tol, "method": "sdp-bm"}, factors=(U.copy(),))


class _LBFGS:
    """L-BFGS memory of the last `size` pairs (s_i, y_i) with sᵢᵀyᵢ > 0, and −H g by the
    two-loop recursion (Nocedal & Wright, Alg. 7.4; H₀ = γI, γ = sᵀy/yᵀy of the newest pair)
    written with the k×k matrix SYᵀ: each of the two scalar recursions is a triangular solve,
    and the n-vector work is four GEMVs, S g, Y q, Yᵀα and Sᵀ(α − β)."""

    def __init__(self, n: int, size: int) -> None:
        self.S = np.empty((size, n))
        self.Y = np.empty((size, n))
        self.size, self.k = size, 0
        self._lower = [np.tri(k, k, -1) for k in range(size + 1)]  # strictly lower masks

    def clear(self) -> None:
        self.k = 0

    def push(self, s: np.ndarray, y: np.ndarray) -> None:
        sy = float(np.vdot(s, y))
        if not sy > 1e-12 * float(np.vdot(y, y)):
            return  # curvature condition fails: keep the old pairs
        if self.k == self.size:
            self.S[:-1] = self.S[1:]
            self.Y[:-1] = self.Y[1:]
            self.k -= 1
        self.S[self.k] = s.ravel()
        self.Y[self.k] = y.ravel()
        self.k += 1

    def direction(self, G: np.ndarray) -> np.ndarray:
        k = self.k
        g = G.ravel()
        if k == 0:
            return -G
        S, Y = self.S[:k], self.Y[:k]
        SY = S @ Y.T  # SY[i, j] = s_iᵀ y_j; its diagonal is 1/ρ_i
        # first loop, α_i = ρ_i s_iᵀ(g − Σ_{j>i} α_j y_j):  triu(SY) α = S g
        alpha = dtrtrs(SY, S @ g, lower=0)[0]
        gamma = SY[k - 1, k - 1] / float(np.vdot(Y[-1], Y[-1]))
        q = gamma * (g - alpha @ Y)
        # second loop, β_i = ρ_i y_iᵀ(q + Σ_{j<i} (α_j − β_j) s_j):
        # tril(SYᵀ) β = Y q + tril(SYᵀ, −1) α
        L = SY.T
        beta = dtrtrs(L, Y @ q + (L * self._lower[k]) @ alpha, lower=1)[0]
        r = q + (alpha - beta) @ S
        return -r.reshape(G.shape)


def default_rank(d: int, m: int) -> int:
    """p = r_max(m) + 1 (Pataki: an optimum of rank r with r(r + 1)/2 ≤ m exists), ≤ d."""
    return min(d, pataki_rank_bound(m) + 1)


def _check_rank(rank, d: int) -> int:
    if isinstance(rank, bool) or int(rank) != rank or not 1 <= rank <= d:
        raise ValueError(f"rank must be an integer in [1, {d}], got {rank!r}")
    return int(rank)


def _check_y(problem: MinNormFactorization, y) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.shape != (problem.m,):
        raise ValueError(f"y must have shape ({problem.m},), got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite")
    return y
