"""`lowranklab inspect RESULT.npz --problem PROBLEM.npz`: the PointReport of a saved point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowranklab.landscape.classify import PointReport, classify_point, loss_scales
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective


def objective_and_theta(result: dict, problem) -> tuple[Objective, np.ndarray]:
    """Rebuild F and θ from a `load_result` dict ('U', optional 'V', 'model', 'mu')."""
    U = np.asarray(result["U"], dtype=float)
    if U.ndim != 2:
        raise ValueError(f"result U must be 2-D, got shape {U.shape}")
    name = str(result.get("model", "asym" if "V" in result else "sym"))
    mu = float(result.get("mu", 0.0))
    d1, d2 = problem.shape
    if name == "sym":
        if U.shape[0] != d1 or d1 != d2:
            raise ValueError(f"result U has {U.shape[0]} rows; the problem is {d1}×{d2}")
        model = SymmetricFactor(d1, U.shape[1])
        theta = model.pack(U)
    elif name == "asym":
        if "V" not in result:
            raise ValueError("an asym result needs 'V'")
        V = np.asarray(result["V"], dtype=float)
        if V.ndim != 2 or U.shape[0] != d1 or V.shape[0] != d2 or V.shape[1] != U.shape[1]:
            raise ValueError(f"result U {U.shape}, V {V.shape} do not fit the {d1}×{d2} problem")
        model = BalancedFactor(d1, d2, U.shape[1], mu=mu)
        theta = model.pack(U, V)
    else:
        raise ValueError(f"unknown model {name!r} in the result (expected sym or asym)")
    if not np.all(np.isfinite(theta)):
        raise ValueError("the result's factors contain non-finite values")
    return Objective(problem.loss(), model), theta


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
