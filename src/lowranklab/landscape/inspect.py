"""`lowranklab inspect RESULT.npz --problem PROBLEM.npz`: the PointReport of a saved point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowranklab.landscape.classify import PointReport, classify_point, loss_scales
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective


def objective_and_theta(result: dict, problem) -> tuple[Objective, np.ndarray]:
    """Rebuild F and θ from a `load_result` dict ('U', optional 'V', 'S', 'model', 'mu').

    Every kind `lowranklab solve` writes:
    - "sym" (gd, glrl, merit solvers): F(U) = f(UUᵀ);
    - "asym": F(U, V) = f(UVᵀ) + μ/4‖UᵀU − VᵀV‖² with the stored μ;
    - "sdp": its factor U (X = UUᵀ) as a sym point;
    - "fixed-rank" (rgd): X = U diag(S) Vᵀ as the balanced factors (U√S, V√S) — the PSD
      manifold's as the sym point U√S — with μ = 1/2 in the asym case. Balanced factors of a
      critical point of f on M_r are critical points of the regularized factored objective
      (zhu2021 §III), and μ > 0 removes the GL(r) flatness of f(UVᵀ), so the report's
      kind is that of the factored landscape at the same X.
    """
    name = str(result.get("model", "asym" if "V" in result else "sym"))
    U = _real_factor(result, "U")
    if U.ndim != 2:
        raise ValueError(f"result U must be 2-D, got shape {U.shape}")
    mu = float(result.get("mu", 0.0))
    d1, d2 = problem.shape
    V = _real_factor(result, "V") if "V" in result else None
    if name == "fixed-rank":
        if "S" not in result or V is None:
            raise ValueError("a fixed-rank result needs 'U', 'S' and 'V'")
        S = _real_factor(result, "S").ravel()
        if S.shape != (U.shape[1],) or np.any(S < 0):
            raise ValueError(f"result S must be {U.shape[1]} non-negative singular values, "
                             f"got shape {S.shape}")
        root = np.sqrt(S)
        if problem.symmetric and V.shape == U.shape and np.allclose(U, V):
            name, U, V = "sym", U * root, None
        else:
            name, U, V, mu = "asym", U * root, V * root, 0.5
    elif name == "sdp":
        name = "sym"
    if name == "sym":
        if U.shape[0] != d1 or d1 != d2:
            raise ValueError(f"result U has {U.shape[0]} rows; the problem is {d1}×{d2}")
        model = SymmetricFactor(d1, U.shape[1])
        theta = model.pack(U)
    elif name == "asym":
        if V is None:
            raise ValueError("an asym result needs 'V'")
        if V.ndim != 2 or U.shape[0] != d1 or V.shape[0] != d2 or V.shape[1] != U.shape[1]:
            raise ValueError(f"result U {U.shape}, V {V.shape} do not fit the {d1}×{d2} problem")
        model = BalancedFactor(d1, d2, U.shape[1], mu=mu)
        theta = model.pack(U, V)
    else:
        raise ValueError(f"unknown model {name!r} in the result (expected sym, asym, "
                         "fixed-rank or sdp)")
    if not np.all(np.isfinite(theta)):
        raise ValueError("the result's factors contain non-finite values")
    return Objective(problem.loss(), model), theta


def _real_factor(result: dict, key: str) -> np.ndarray:
    a = np.asarray(result[key])
    if np.iscomplexobj(a) or a.dtype.kind not in "biuf":
        raise ValueError(f"result {key} must be a real numeric array, got dtype {a.dtype}")
    return a.astype(float, copy=False)


def planted_f_star(objective: Objective, truth) -> float | None:
    """0 when the planted truth fits the measurements exactly (then 0 = min of ½‖A(X) − b‖²);
    None otherwise (noisy data: the optimum is unknown)."""
    if truth is None:
        return None
    f0, _ = loss_scales(objective)
    return 0.0 if objective.loss.value(truth) <= 1e-20 * max(f0, 1e-300) else None


def inspect_files(result_path: str | Path, problem_path: str | Path, *,
                  f_star: float | None = None, **kwargs) -> PointReport:
    from lowranklab.io import load_result
    from lowranklab.problems import Problem

    problem = Problem.load(problem_path)
    result = load_result(result_path)
    obj, theta = objective_and_theta(result, problem)
    if f_star is None:
        f_star = planted_f_star(obj, problem.truth)
    return classify_point(obj, theta, f_star, **kwargs)
