"""Convex baselines through cvxpy (optional extra `lowranklab[convex]`):

    min_trace_psd:     min tr(X)  s.t. A(X) = b, X ⪰ 0        (the SDP relaxation of min ‖U‖²_F
                                                             s.t. A(UUᵀ) = b; eftekhari2021 (SDP))
    min_nuclear_norm:  min ‖X‖_*  s.t. A(X) = b

Both return the one `Result` (X dense, info["value"] the optimum, info["multipliers"] the dual
λ). Constraints are vectorised (`A @ vec(X) == b` for dense sensing, `X[rows, cols] == b` for
completion). Clarabel is the default solver with tight tolerances; SCS is an option. The dual
vector λ is returned with the sign of the Lagrangian tr(X) − λᵀ(A(X) − b), so that for the SDP
the dual certificate reads I − A*(λ) ⪰ 0 and tr(X) = bᵀλ at optimality (eftekhari2021 eq. (4)).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from lowranklab.operators import DenseSensing, EntrySampling, Identity, MeasurementOperator
from lowranklab.solvers.result import Result, StopCode, Trace

LARGE_D = 150


OPTIMAL = ("optimal", "optimal_inaccurate")


def _result(problem, status: str, X: np.ndarray, U: np.ndarray, dual, solver: str,
            elapsed: float, info: dict) -> Result:
    """The solver's answer as the one `Result`: X (dense), factors (U,), theta = vec(U),
    stop `converged` for an optimal (or optimal_inaccurate) status and `max_iter` for a
    solver limit reached with an iterate; info["value"] is the optimal objective value and
    info["multipliers"] the dual λ (as sdp-bm names it), info["status"] cvxpy's status."""
    stats = getattr(problem, "solver_stats", None)
    iters = int(getattr(stats, "num_iters", None) or 0)
    value = float(problem.value)
    trace = Trace()
    trace.append({"iter": iters, "value": value})
    return Result(theta=U.ravel().copy(), X=X, iterations=iters, trace=trace,
                  stop=StopCode.CONVERGED if status in OPTIMAL else StopCode.MAX_ITER,
                  counts={}, wall_time=elapsed, message=f"{solver.upper()}: {status}",
                  info={"value": value, "multipliers": dual, "status": status,
                        "solver": solver.upper(), **info}, factors=(U,))


def _cvxpy():
    try:
        import cvxpy as cp
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the convex baselines need cvxpy: pip install 'lowranklab[convex]'"
                          ) from e
    return cp


def _constraint(cp, op: MeasurementOperator, X, b: np.ndarray):
    if isinstance(op, DenseSensing):
        return op.A @ cp.vec(X, order="C") == b
    if isinstance(op, EntrySampling):
        return X[op.rows, op.cols] == b
    if isinstance(op, Identity):
        return cp.vec(X, order="C") == b
    raise TypeError(f"no convex formulation for a {type(op).__name__} operator")


def _solve(cp, problem, solver: str, eps: float) -> str:
    solver = solver.upper()
    if solver == "CLARABEL":
        problem.solve(solver="CLARABEL", tol_gap_abs=eps, tol_gap_rel=eps, tol_feas=eps)
    elif solver == "SCS":
        problem.solve(solver="SCS", eps=eps, max_iters=200_000)
    else:
        problem.solve(solver=solver)
    return str(problem.status)


def _check(op: MeasurementOperator, b: np.ndarray, eps: float) -> np.ndarray:
    b = op.check_y(b)
    if not np.all(np.isfinite(b)):
        raise ValueError("b must be finite")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if max(op.shape_in) > LARGE_D:
        warnings.warn(f"convex baseline on a {op.shape_in} problem: interior-point cost grows "
                      f"like d^6; expect minutes and GBs above d ≈ {LARGE_D}", stacklevel=3)
    return b


def min_trace_psd(op: MeasurementOperator, b: np.ndarray, *, solver: str = "CLARABEL",
                  eps: float = 1e-8) -> Result:
    """min tr(X) s.t. A(X) = b, X ⪰ 0; the factor is U = V diag(√λ₊) from X's eigenpairs
    (`Result.factors[0]`), info["eigenvalues"] those of X, decreasing."""
    cp = _cvxpy()
    b = _check(op, b, eps)
    d1, d2 = op.shape_in
    if d1 != d2:
        raise ValueError(f"the PSD baseline needs a square problem, got {d1}×{d2}")
    X = cp.Variable((d1, d1), PSD=True)
    con = _constraint(cp, op, X, b)
    prob = cp.Problem(cp.Minimize(cp.trace(X)), [con])
    t0 = time.perf_counter()
    status = _solve(cp, prob, solver, eps)
    elapsed = time.perf_counter() - t0
    if X.value is None:
        raise RuntimeError(f"SDP solver {solver} returned status {status!r} with no solution")
    Xv = 0.5 * (X.value + X.value.T)
    lam, Q = np.linalg.eigh(Xv)
    lam, Q = lam[::-1], Q[:, ::-1]
    U = Q * np.sqrt(np.clip(lam, 0.0, None))
    # cvxpy's dual for `expr == b` belongs to the Lagrangian term +νᵀ(A(X) − b): λ = −ν.
    dual = None if con.dual_value is None else -np.asarray(con.dual_value, dtype=float).ravel()
    return _result(prob, status, Xv, U, dual, solver, elapsed, {"eigenvalues": lam})


def min_nuclear_norm(op: MeasurementOperator, b: np.ndarray, *, solver: str = "CLARABEL",
                     eps: float = 1e-8) -> Result:
    """min ‖X‖_* s.t. A(X) = b (general, not necessarily symmetric X); the factor is
    P diag(√σ) from X = P diag(σ) Qᵀ, info["singular_values"] σ."""
    cp = _cvxpy()
    b = _check(op, b, eps)
    X = cp.Variable(op.shape_in)
    con = _constraint(cp, op, X, b)
    prob = cp.Problem(cp.Minimize(cp.normNuc(X)), [con])
    t0 = time.perf_counter()
    status = _solve(cp, prob, solver, eps)
    elapsed = time.perf_counter() - t0
    if X.value is None:
        raise RuntimeError(f"solver {solver} returned status {status!r} with no solution")
    P, s, _ = np.linalg.svd(X.value, full_matrices=False)
    dual = None if con.dual_value is None else -np.asarray(con.dual_value, dtype=float).ravel()
    return _result(prob, status, np.asarray(X.value), P * np.sqrt(s), dual, solver, elapsed,
                   {"singular_values": s})
