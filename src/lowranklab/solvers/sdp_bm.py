"""Burer–Monteiro augmented-Lagrangian solver for the SDP (SDPLR's method):

    min ⟨C, X⟩   s.t.   A(X) = b,   X ⪰ 0,        X = UUᵀ,  U ∈ R^{d×p},

after Burer & Monteiro, "A nonlinear programming algorithm for solving semidefinite programs
via low-rank factorization", Math. Program. B 95 (2003), Sec. 4–5. With r(U) = A(UUᵀ) − b,
the augmented Lagrangian (their eq. (9), with the sign of the multiplier term as here) is

    L_σ(U, y) = ⟨C, UUᵀ⟩ − yᵀ r(U) + σ/2 ‖r(U)‖²,     ∇_U L_σ = 2 (C − A*(y − σ r(U))) U,

and the method alternates

1. an inner L-BFGS minimisation of L_σ(·, y) in U, with the *exact* line search of SDPLR
   (Sec. 5): along U + tD, A((U + tD)(U + tD)ᵀ) = r + t a₁ + t² a₂ + b with
   a₁ = A(UDᵀ + DUᵀ), a₂ = A(DDᵀ), so L_σ(U + tD, y) is a quartic in t, minimised exactly.
   This is the one engine: `engine.run(Objective(AugmentedLagrangian, SymmetricFactor(d, p)),
   U, LBFGS(Exact()), stop=Stop(gtol=...))` (`problems/aug_lag.py`, `rules.LBFGS`,
   `rules.Exact`). One iteration reads A three times: a₁ and a₂ (two GEMVs in the half
   coordinates of `DenseSensing`), and A*(y − σ r) for the next gradient; the new residual is
   the polynomial r + ta₁ + t²a₂ that the loss keeps, no extra pass. (A backtracking search
   pays a forward and an adjoint pass per trial point.)
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

The symmetric A_i are applied through their upper triangles (`DenseSensing`'s half
coordinates, m × d(d+1)/2: half the bytes of (m, d²)), since the passes over A dominate the
cost. Trace rows (no SVD) are written only every `record_every` inner iterations and at the end
of every outer iteration; callbacks see every inner iteration (numbered across inner solves).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence

import numpy as np

from lowranklab.backend import require_numpy
from lowranklab.lowrank import LowRank
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems.aug_lag import AugmentedLagrangian
from lowranklab.problems.min_norm import MinNormFactorization, pataki_rank_bound
from lowranklab.solvers import engine
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result, StopCode, Trace
from lowranklab.solvers.rules import LBFGS, Exact

FEAS_REDUCTION = 0.25  # SDPLR's η: σ is kept when ‖r‖ fell below η·(previous ‖r‖)
PENALTY_GROWTH = 10.0  # SDPLR's γ: σ ← γσ otherwise
MEMORY = 10  # L-BFGS pairs
BLOWUP = 1e12  # ‖U‖²_F above BLOWUP·max(1, ‖U₀‖²_F): diverged (unbounded SDP?)
SIGMA_MAX = 1e10  # σ above SIGMA_MAX·σ₀ with ‖r‖ still stalling: stalled (infeasible SDP?)


def augmented_lagrangian(problem: MinNormFactorization, U: np.ndarray, y: np.ndarray,
                         sigma: float, C: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """L_σ(U, y) = ⟨C, UUᵀ⟩ − yᵀ(A(UUᵀ) − b) + σ/2‖A(UUᵀ) − b‖² and its gradient
    2(C − A*(y − σ r))U (Burer & Monteiro 2003, eq. (9); C = I by default). Two passes over A."""
    U = problem.check_U(U)
    C = None if C is None else problem.check_cost(C)
    loss = AugmentedLagrangian(problem.operator(), problem.b, y=y, sigma=sigma, C=C)
    obj = Objective(loss, SymmetricFactor(problem.d, U.shape[1]))
    e = obj.evaluate(U.ravel())
    return e.value, e.grad.reshape(U.shape)


class _Blowup:
    """Hook: ‖U‖²_F above the limit ends the run `diverged` (an SDP unbounded below?)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, ctx) -> None:
        if not float(np.vdot(ctx.x, ctx.x)) <= self.limit:
            ctx.stop(StopCode.DIVERGED, "‖U‖²_F passed the blow-up limit")


def sdp_bm(problem: MinNormFactorization, *, C: np.ndarray | None = None,
           rank: int | None = None, U0: np.ndarray | None = None, seed: int | None = 0,
           tol: float = 1e-7, max_iter: int = 100_000, max_outer: int = 200,
           sigma0: float | None = None, inner_rtol: float = 0.1, record_every: int = 100,
           callbacks: Sequence[mon.Callback] = (), time_budget: float | None = None,
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
    inner iterations (each three GEMV passes over A). callbacks: called with the engine's
    `State` at every inner iteration (iteration numbered across the inner solves); True stops
    the run (`interrupted`, with the certificate of the current iterate).

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
    callbacks = list(callbacks)
    t0 = time.perf_counter()
    op = problem.operator()
    loss = AugmentedLagrangian(op, problem.b, C=C)
    model = SymmetricFactor(d, p)
    objective = Objective(loss, model)
    nb = max(1.0, float(np.linalg.norm(problem.b)))
    if U0 is None:
        U0 = np.random.default_rng(seed).standard_normal((d, p))
        a0 = float(np.linalg.norm(loss.residual(LowRank(U0, U0)) + problem.b))
        loss.forget()
        U0 = U0 * math.sqrt(nb / a0) if a0 > 0 else U0
    theta = model.pack(U0)

    def point(th: np.ndarray):
        X = model.to_matrix(th)
        return X, loss.residual(X), loss.objective(X)

    X, r, obj = point(theta)
    if sigma0 is None:
        sigma0 = 10.0 * max(1.0, abs(obj)) / max(1.0, float(np.linalg.norm(r))) ** 2
    sigma = float(sigma0)
    y = np.zeros(m)
    loss.set(y=y, sigma=sigma)
    trace = Trace()
    u_limit = BLOWUP * max(1.0, float(np.vdot(theta, theta)))
    k = outer = n_mult = n_pen = extra_passes = 0
    ref_feas = math.inf
    stop, message = StopCode.MAX_ITER, f"max_iter = {max_iter} inner iterations"
    cert = None
    last_report = [t0]
    rule = LBFGS(Exact(), memory=MEMORY)
    hooks = [_Blowup(u_limit)]

    def row(k_row: int, X, grad_norm: float, extra: dict | None = None) -> None:
        now = time.perf_counter()
        rw = {"iter": k_row, "outer": outer, "objective": loss.objective(X),
              "feasibility": float(np.linalg.norm(loss.residual(X))),
              "grad_norm": grad_norm, "sigma": sigma, "time": now - t0}
        rw.update(extra or {})
        trace.append(rw)
        if progress and now - last_report[0] > 1.0:
            last_report[0] = now
            print(f"  sdp-bm iter {k_row} outer {outer}  ⟨C,X⟩={rw['objective']:.10g}  "
                  f"‖r‖={rw['feasibility']:.2e}  σ={sigma:.3g}", file=sys.stderr)

    def inner_callbacks(offset: int) -> list:
        """The recorder (a trace row every record_every iterations) and the user's callbacks,
        with the iteration numbered across the inner solves."""
        def recorder(st: mon.State) -> bool:
            kk = offset + st.iteration
            if st.iteration and kk % record_every == 0:
                row(kk, st.evaluation.X, st.grad_norm)
            if not callbacks:
                return False
            st = st._replace(iteration=kk)
            return any(cb(st) for cb in callbacks)
        return [recorder]

    row(0, X, float(np.linalg.norm(objective.evaluate(theta).grad)))
    with engine.catch_interrupt() as ctrl_c:
        while True:
            # -- inner: L-BFGS on L_σ(·, y) with the exact quartic line search --------------
            scale = max(1.0, abs(obj))
            nU = max(1.0, float(np.linalg.norm(theta)))
            gtol = max(min(inner_rtol * scale / sigma,
                           inner_rtol * sigma * float(np.linalg.norm(r)) * nU),
                       0.1 * tol * scale / nU)
            left = None if time_budget is None else time_budget - (time.perf_counter() - t0)
            if left is not None and left <= 0:
                stop, message = StopCode.BUDGET, f"time budget {time_budget:g} s spent"
                break
            res = engine.run(objective, theta, rule,
                             stop=engine.Stop(max_iter=max_iter - k, gtol=gtol,
                                              time_budget=left),
                             monitors=[], callbacks=inner_callbacks(k), hooks=hooks,
                             record_every=max_iter + 1, name="sdp-bm inner")
            k += res.iterations
            theta = res.theta
            outer += 1
            # -- certificate at ŷ = y − σ r, from the exact residual -------------------------
            loss.forget()
            X, r, obj = point(theta)
            extra_passes += 2  # the certificate's residual and A*(ŷ)
            yhat = y - sigma * r
            cert = problem.certificate(X.L, lam=yhat, C=C)
            certified = cert.certifies(tol)
            gnorm = float(np.linalg.norm(res.trace["grad_norm"][-1]))
            row(k, X, gnorm, {"lambda_min": cert.lambda_min, "dual_gap": cert.dual_gap})
            if res.stop is StopCode.INTERRUPTED:
                stop, message = StopCode.INTERRUPTED, res.message
                break
            if certified:
                stop, message = StopCode.CONVERGED, (
                    f"certified: λ_min(C − A*(y)) = {cert.lambda_min:.2e} ≥ −{tol:g}, "
                    f"dual gap {cert.dual_gap:.2e}, ‖r‖ = {cert.feasibility:.2e}")
                break
            if res.stop is StopCode.DIVERGED or not (np.all(np.isfinite(theta))
                                                     and math.isfinite(obj)):
                stop, message = StopCode.DIVERGED, (
                    f"‖U‖²_F = {float(np.vdot(theta, theta)):.3g} passed {BLOWUP:g}·max(1, "
                    f"‖U₀‖²_F) (or a non-finite iterate): the SDP may be unbounded below")
                break
            if sigma > SIGMA_MAX * sigma0:
                stop, message = StopCode.STALLED, (
                    f"the penalty σ grew {SIGMA_MAX:g}-fold and ‖A(UUᵀ) − b‖ = "
                    f"{np.linalg.norm(r):.3g} still did not fall: the constraints may be "
                    f"infeasible")
                break
            if k >= max_iter:
                break
            if res.stop is StopCode.BUDGET or (
                    time_budget is not None and time.perf_counter() - t0 > time_budget):
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
            feas = float(np.linalg.norm(r))
            y = yhat
            n_mult += 1
            if feas > FEAS_REDUCTION * ref_feas and feas > tol * scale:
                sigma *= PENALTY_GROWTH
                n_pen += 1
            ref_feas = feas
            loss.set(y=y, sigma=sigma)  # the memoised exact residual r stays valid
    if ctrl_c.fired:
        stop, message = StopCode.INTERRUPTED, engine.INTERRUPTED
    U = model.unpack(theta)[0].copy()
    if cert is None:
        loss.forget()
        cert = problem.certificate(U, lam=y - sigma * loss.residual(LowRank(U, U)), C=C)
        extra_passes += 3
    passes = op.counts["forward"] + op.counts["adjoint"] + extra_passes
    return Result(theta=U.ravel().copy(), X=LowRank(U, U), stop=stop, iterations=k,
                  trace=trace,
                  counts={"iterations": k, "outer": outer, "passes": passes,
                          "multiplier_updates": n_mult, "penalty_increases": n_pen},
                  wall_time=time.perf_counter() - t0, message=message,
                  info={"multipliers": cert.multipliers, "certificate": cert,
                        "certified": cert.certifies(tol), "sigma": sigma, "rank": p,
                        "outer": outer, "tol": tol, "method": "sdp-bm"}, factors=(U.copy(),))


def default_rank(d: int, m: int) -> int:
    """p = r_max(m) + 1 (Pataki: an optimum of rank r with r(r + 1)/2 ≤ m exists), ≤ d."""
    return min(d, pataki_rank_bound(m) + 1)


def _check_rank(rank, d: int) -> int:
    if isinstance(rank, bool) or int(rank) != rank or not 1 <= rank <= d:
        raise ValueError(f"rank must be an integer in [1, {d}], got {rank!r}")
    return int(rank)

