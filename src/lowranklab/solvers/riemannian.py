"""Riemannian gradient descent on the fixed-rank manifold (Hou, Li & Zhang 2021, §4–5):

    Z_{k+1} = R(Z_k − α_k P_{T_{Z_k}} ∇f(Z_k)),

with the fixed step α_k ≡ α, the varying step α_k = α·σ_r(Z_k) (hou2021 eq. (2), Lemma 4.1),
or Armijo backtracking from either. Works for any `Loss` (the ambient gradient may be dense,
sparse or LowRank) on `FixedRank` or `FixedRankPSD`; returns the foundation's `Result`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from lowranklab.lowrank import LowRank, Matrix, fro_dist_sq, fro_norm, inner
from lowranklab.models.fixed_rank import FixedRank, FixedRankPoint, TangentVector, manifold_for
from lowranklab.objective import Evaluation
from lowranklab.problems.distance import MatrixDistance
from lowranklab.problems.loss import LeastSquares, Loss
from lowranklab.solvers.monitors import State
from lowranklab.solvers.result import Result, StopCode, Trace

Callback = Callable[[State], bool | None]
STEP_RULES = ("fixed", "sigma")
LINE_SEARCHES = ("constant", "armijo", "exact")


def default_riemannian_step(loss: Loss) -> float:
    """1 / (average curvature of f): d1·d2 / (scale·‖A‖²_F) for least squares — 1 for
    Gaussian sensing with N(0, 1/m) entries and full observation, 1/p for completion with a
    fraction p observed (the usual RGD step for completion); 1 for other losses."""
    if isinstance(loss, LeastSquares):
        op = loss.op
        d1, d2 = op.shape_in
        A = getattr(op, "A", None)
        fro_sq = float(np.sum(A * A)) if A is not None else float(op.m)
        return d1 * d2 / (loss.scale * max(fro_sq, 1e-300))
    return 1.0


def _curvature_along(loss: Loss, manifold: FixedRank, x: FixedRankPoint,
                     xi: TangentVector) -> float:
    """⟨ξ, ∇²f(Z)[ξ]⟩; for least squares scale·‖A(ξ)‖² from two rank-r forwards (a rank-2r
    forward of a completion operator would gather twice the memory)."""
    if isinstance(loss, LeastSquares):
        y = loss.op.forward_lr(x.U @ xi.M + xi.Up, x.V) + loss.op.forward_lr(x.U, xi.Vp)
        return loss.scale * float(y @ y)
    xi_lr = manifold.to_lowrank(x, xi)
    return inner(loss.hvp(x.lowrank(), xi_lr), xi_lr)


def _flat(xi: TangentVector) -> np.ndarray:
    return np.concatenate([xi.M.ravel(), xi.Up.ravel(), xi.Vp.ravel()])


def riemannian_gradient_descent(
    loss: Loss,
    manifold: FixedRank,
    x0: FixedRankPoint,
    *,
    step: float | None = None,
    step_rule: str = "fixed",
    line_search: str = "constant",
    max_iter: int = 1000,
    tol: float | None = None,
    gtol: float | None = None,
    rtol: float | None = None,
    truth: Matrix | None = None,
    rank_tol: float = 1e-14,
    blowup: float = 1e8,
    time_budget: float | None = None,
    record_every: int = 1,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    armijo_c: float = 1e-4,
    armijo_beta: float = 0.5,
) -> Result:
    """Riemannian GD from x0 on `manifold` for `loss`.

    step: α (default `default_riemannian_step`); step_rule "fixed" uses α_k = α, "sigma" uses
    α_k = α·σ_r(Z_k) (hou2021 eq. (2)); line_search="armijo" backtracks from α_k until
    f(R(Z − tξ)) ≤ f(Z) − c·t‖ξ‖²; line_search="exact" takes α_k times the minimizer of the
    quadratic model along the gradient, t* = ‖ξ‖² / ⟨ξ, ∇²f(Z)[ξ]⟩ (exact for least squares:
    ‖P_T G‖²/‖A(P_T G)‖², the step of Wei, Cai, Chan & Leung 2016 for sensing and completion;
    use step=1 with it).

    Stops with `converged` when the training error ‖A(X) − b‖² (f itself for other losses) is
    ≤ tol, ‖grad f‖ ≤ gtol, or ‖Z − X♮‖_F/‖X♮‖_F ≤ rtol (needs truth); `rank_drop` when
    σ_r(Z_{k+1}) ≤ rank_tol·σ_1 (the iterate left M_r — possible for α_k ≥ 1 in the PSD
    variant and in general for the non-symmetric one; the rank-deficient truncation is
    returned); `diverged` on a non-finite value or f > blowup·max(f₀, 1) (last finite iterate
    returned); `budget`, `interrupted` (callback returned True, or Ctrl-C), `max_iter`.

    Trace columns: iter, value, grad_norm, step, time, sigma_r, sigma_1 and, with a truth,
    dist = ‖Z − X♮‖_F, test_error = dist², rel_error; train_error for least squares.
    """
    if step_rule not in STEP_RULES:
        raise ValueError(f"step_rule must be one of {STEP_RULES}, got {step_rule!r}")
    if line_search not in LINE_SEARCHES:
        raise ValueError(f"line_search must be one of {LINE_SEARCHES}, got {line_search!r}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    if int(record_every) != record_every or record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every}")
    if tuple(loss.shape) != manifold.shape:
        raise ValueError(f"loss acts on {loss.shape} matrices but the manifold is "
                         f"{manifold.shape}")
    if not isinstance(x0, FixedRankPoint):
        raise TypeError(f"x0 must be a FixedRankPoint, got {type(x0).__name__}")
    x = manifold.point(x0.U, x0.S, x0.V)
    if step is None:
        step = 1.0 if line_search == "exact" else default_riemannian_step(loss)
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite number > 0, got {step}")
    if rtol is not None and truth is None:
        raise ValueError("rtol needs the truth")
    if x.sigma_r <= rank_tol * max(x.sigma_1, 1e-300):
        raise ValueError(f"x0 is not on the manifold: sigma_r = {x.sigma_r:.3g}")

    truth_norm = fro_norm(truth) if truth is not None else None
    is_ls = isinstance(loss, LeastSquares)
    op = getattr(loss, "op", None)
    counts0 = dict(op.counts) if op is not None else {}
    trace = Trace()
    t0 = time.perf_counter()
    f, xi, G = manifold.gradient(loss, x)
    n_evals = 1
    f_ref = max(abs(f), 1.0)
    stop, message, k, alpha_k = StopCode.MAX_ITER, "", 0, float(step)
    last_report = t0
    left = False

    def train_error(f: float) -> float:
        return 2.0 * f / loss.scale if is_ls else f

    def metrics(k: int, x: FixedRankPoint, f: float, gnorm: float) -> dict[str, float]:
        row = {"iter": k, "value": f, "grad_norm": gnorm, "time": time.perf_counter() - t0,
               "step": alpha_k, "sigma_r": x.sigma_r, "sigma_1": x.sigma_1}
        if is_ls:
            row["train_error"] = train_error(f)
        if truth is not None:
            if isinstance(loss, MatrixDistance) and loss.X is truth:
                d2 = 2.0 * f  # f = ½‖Z − X♮‖²: no second pass
            elif isinstance(truth, LowRank):
                d2 = fro_dist_sq(x.lowrank(), truth)
            else:
                d2 = fro_dist_sq(x.dense(), truth)
            d2 = max(d2, 0.0)
            row.update(dist=float(np.sqrt(d2)), test_error=d2,
                       rel_error=float(np.sqrt(d2) / truth_norm) if truth_norm else np.nan)
        return row

    def state(k, x, f, xi, G) -> State:
        e = Evaluation(f, f, _flat(xi), x.lowrank(), G)
        return State(k, x.flat(), e, time.perf_counter() - t0, alpha_k)

    try:
        if not np.isfinite(f):
            raise ValueError("f(x0) is not finite")
        for k in range(max_iter + 1):
            gnorm = manifold.norm(x, xi)
            row = metrics(k, x, f, gnorm) if (k % record_every == 0 or rtol is not None) else None
            if tol is not None and train_error(f) <= tol:
                stop, message = StopCode.CONVERGED, f"training error <= {tol:g}"
                break
            if gtol is not None and gnorm <= gtol:
                stop, message = StopCode.CONVERGED, f"gradient norm <= {gtol:g}"
                break
            if rtol is not None and row["rel_error"] <= rtol:
                stop, message = StopCode.CONVERGED, f"relative error <= {rtol:g}"
                break
            if k == max_iter:
                break
            if time_budget is not None and time.perf_counter() - t0 > time_budget:
                stop, message = StopCode.BUDGET, f"time budget {time_budget:g} s spent"
                break
            if callbacks:
                st = state(k, x, f, xi, G)
                if any(cb(st) for cb in callbacks):
                    stop, message = StopCode.INTERRUPTED, "stopped by callback"
                    break
            alpha_k = float(step) * (x.sigma_r if step_rule == "sigma" else 1.0)
            if row is not None and k % record_every == 0:
                row["step"] = alpha_k
                trace.append(row)
            if progress and time.perf_counter() - last_report > 1.0:
                last_report = time.perf_counter()
                print(f"  rgd iter {k}/{max_iter}  f={f:.3e}  |grad|={gnorm:.2e}  "
                      f"sigma_r={x.sigma_r:.2e}", file=sys.stderr)

            t = alpha_k
            if line_search == "exact":
                curv = _curvature_along(loss, manifold, x, xi)
                t = alpha_k * gnorm**2 / curv if curv > 0 else alpha_k
            while True:
                y = manifold.retract(x, xi, -t)
                f_new, xi_new, G_new = manifold.gradient(loss, y)
                n_evals += 1
                if line_search != "armijo" or (
                    np.isfinite(f_new) and f_new <= f - armijo_c * t * gnorm**2
                ) or t < 1e-300:
                    break
                t *= armijo_beta
            alpha_k = t

            if not np.isfinite(f_new) or f_new > blowup * f_ref or not np.all(
                np.isfinite(y.U)
            ):
                stop = StopCode.DIVERGED
                message = (f"f = {f_new:.3e} at iteration {k + 1} (f0 = {f_ref:.3e}); last "
                           f"finite iterate returned")
                break
            x, f, xi, G = y, f_new, xi_new, G_new
            if x.sigma_r <= rank_tol * max(x.sigma_1, 1e-300):
                k += 1
                left = True
                stop = StopCode.RANK_DROP
                message = (f"iterate left the rank-{manifold.r} manifold at iteration {k}: "
                           f"sigma_r = {x.sigma_r:.3g} <= {rank_tol:g} sigma_1")
                break
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"

    trace.append(metrics(k, x, f, manifold.norm(x, xi)))
    counts = {"grad_evals": n_evals}
    if op is not None:
        counts.update({key: v - counts0.get(key, 0) for key, v in op.counts.items()})
    return Result(theta=x.flat(), X=x.lowrank(), stop=stop, iterations=k, trace=trace,
                  counts=counts, wall_time=time.perf_counter() - t0, message=message,
                  info={"step": float(step), "step_rule": step_rule, "line_search": line_search,
                        "point": x, "left_manifold": left, "manifold": repr(manifold)})


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
    from lowranklab.models.init import spectral_matrix

    if kind == "spectral":
        if op is None or b is None:
            raise ValueError("spectral initialization needs the operator and measurements")
        L, R = spectral_matrix(op, b, manifold.r, symmetric=manifold.symmetric)
        x = manifold.from_lowrank(LowRank(L, R))
        if x.sigma_r <= 0:
            raise ValueError("spectral initialization has rank < r; use --init small")
        return x
    if kind in ("small", "random"):
        if not (np.isfinite(norm) and norm > 0):
            raise ValueError(f"init norm must be a finite number > 0, got {norm}")
        x = manifold.random_point(rng)
        return manifold.point(x.U, x.S * (norm / np.linalg.norm(x.S)), x.V)
    if kind == "identity":
        E = np.eye(manifold.m, manifold.r)
        F = np.eye(manifold.n, manifold.r)
        return manifold.point(E, np.full(manifold.r, float(norm)), F)
    raise ValueError(f"init for the fixed-rank model must be spectral, small, random or "
                     f"identity; got {kind!r}")


def solve_problem(
    problem,
    rank: int,
    *,
    step_rule: str = "fixed",
    init: str = "spectral",
    init_norm: float = 1e-3,
    step: float | None = None,
    line_search: str = "constant",
    max_iter: int = 1000,
    tol: float | None = None,
    gtol: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> tuple[Result, dict[str, np.ndarray]]:
    """The `lowranklab solve --model fixed-rank --solver rgd` path: RGD on the fixed-rank
    manifold (PSD when the problem is symmetric) for ½‖A(X) − b‖². Returns the result and
    the factors {"U", "S" (vector), "V"} to store in RESULT.npz. Without a step and with
    the constant rule it uses the exact step along the gradient (line_search="exact"): the
    constant 1/p step for completion is unstable near the sampling threshold."""
    if step is None and line_search == "constant":
        line_search = "exact"
    d1, d2 = problem.shape
    if int(rank) != rank or not 1 <= rank <= min(d1, d2):
        raise ValueError(f"--rank must be in [1, {min(d1, d2)}] for a {d1}×{d2} problem, "
                         f"got {rank}")
    man = manifold_for(problem.shape, int(rank), symmetric=bool(problem.symmetric))
    rng = np.random.default_rng(seed)
    x0 = initial_point(man, init, rng, norm=init_norm, op=problem.op, b=problem.b)
    res = riemannian_gradient_descent(problem.loss(), man, x0, step=step, step_rule=step_rule,
                                      line_search=line_search, max_iter=max_iter, tol=tol,
                                      gtol=gtol, truth=problem.truth, progress=progress)
    x = res.info["point"]
    return res, {"U": x.U, "S": x.S, "V": x.V}
