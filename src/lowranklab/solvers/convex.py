"""Convex baselines through cvxpy (optional extra `lowranklab[convex]`):

    min_trace_psd:     min tr(X)  s.t. A(X) = b, X ⪰ 0        (the SDP relaxation of min ‖U‖²_F
                                                             s.t. A(UUᵀ) = b; eftekhari2021 (SDP))
    min_nuclear_norm:  min ‖X‖_*  s.t. A(X) = b

Constraints are vectorised (`A @ vec(X) == b` for dense sensing, `X[rows, cols] == b` for
completion). Clarabel is the default solver with tight tolerances; SCS is an option. The dual
vector λ is returned with the sign of the Lagrangian tr(X) − λᵀ(A(X) − b), so that for the SDP
the dual certificate reads I − A*(λ) ⪰ 0 and tr(X) = bᵀλ at optimality (eftekhari2021 eq. (4)).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lowranklab.operators import DenseSensing, EntrySampling, Identity, MeasurementOperator

LARGE_D = 150


@dataclass
class ConvexResult:
    X: np.ndarray
    factor: np.ndarray  # U with U Uᵀ = X (PSD) or U diag(√σ) for the nuclear norm (X ≈ U Vᵀ)
    value: float  # optimal objective value
    dual: np.ndarray | None  # λ ∈ R^m
    status: str
    solver: str
    solve_time: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def optimal(self) -> bool:
        return self.status in ("optimal", "optimal_inaccurate")


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
                  eps: float = 1e-8) -> ConvexResult:
    """min tr(X) s.t. A(X) = b, X ⪰ 0; the factor is U = V diag(√λ₊) from X's eigenpairs."""
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
    return ConvexResult(X=Xv, factor=U, value=float(prob.value), dual=dual, status=status,
                        solver=solver.upper(), solve_time=elapsed,
                        info={"eigenvalues": lam})


def min_nuclear_norm(op: MeasurementOperator, b: np.ndarray, *, solver: str = "CLARABEL",
                     eps: float = 1e-8) -> ConvexResult:
    """min ‖X‖_* s.t. A(X) = b (general, not necessarily symmetric X)."""
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
    return ConvexResult(X=np.asarray(X.value), factor=P * np.sqrt(s), value=float(prob.value),
                        dual=dual, status=status, solver=solver.upper(), solve_time=elapsed,
                        info={"singular_values": s})
