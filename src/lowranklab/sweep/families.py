"""Problem families a sweep can run: each is a validated parameter model (pydantic, unknown
keys are errors), a `run(params, seed)` that builds a planted instance, calls a solver through
its public entry point and returns the task's metrics and its per-iteration trace, and the
theory boundaries its phase-transition plot can draw.

    sensing     symmetric Gaussian sensing of a PSD rank-r X♮ (ez2021 §1.1–1.2), U Uᵀ with
                U ∈ R^{d×p}, GD from a small random U₀ (‖U₀‖_F = init_norm) or a rank-k U₀
                (ez2021: k = rank U₀ matters); `gradient_descent`.
    completion  uniform entries of a d1×d2 rank-r X♮: balanced U Vᵀ GD (zhu2021, μ/4‖UᵀU −
                VᵀV‖²_F) or Riemannian GD on M_r (hou2021); spectral initialization by default.
    min_norm    min ‖U‖²_F s.t. A(UUᵀ) = b with U ∈ R^{d×p} (eftekhari2021 (factor)), Gaussian
                A_i (Sec. XII generator), b planted (feasible) or Gaussian, the merit solvers of
                `solvers.merit`; success is the dual certificate (4): UUᵀ solves the SDP.
    experiment  any registered experiment (`lowranklab experiments`): its config fields are the
                parameters, its claims the metrics.

Every task's randomness comes from `numpy.random.default_rng(seed)`, so the same seed gives
the same instance at every grid point that shares the instance's sizes (paired comparisons).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from lowranklab.lowrank import as_dense, fro_dist_sq


class TaskInterrupted(Exception):
    """The task was cut short (Ctrl-C or a stop request): its result is not a finished run."""


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_stop(res) -> None:
    from lowranklab.solvers import StopCode

    if res.stop == StopCode.INTERRUPTED:
        raise TaskInterrupted(res.message or "interrupted")


def _rel_error(X, truth) -> float:
    """‖X − X♮‖_F / ‖X♮‖_F."""
    return float(math.sqrt(fro_dist_sq(X, truth)) / max(np.linalg.norm(as_dense(truth)), 1e-300))


def _numerical_rank(X, rtol: float = 1e-6) -> int:
    s = np.linalg.svd(as_dense(X), compute_uv=False)
    return int(np.sum(s > rtol * max(float(s[0]), 1e-300))) if s.size else 0


def _trace_frame(res, keep: tuple[str, ...]) -> pd.DataFrame:
    df = res.trace.to_frame()
    return df[[c for c in keep if c in df.columns]].reset_index(drop=True)


# -- sensing -----------------------------------------------------------------------------------
class SensingParams(_Params):
    d: int = 20
    r: int = 2
    m: int | None = None  # number of measurements; or give oversampling = m/(d r)
    oversampling: float | None = None
    p: int | None = None  # columns of U (default d: the over-parametrized model of ez2021)
    init: Literal["small", "rank", "identity", "spectral"] = "small"
    init_norm: float = 1e-3
    init_rank: int | None = None  # k = rank U₀ for init = "rank"
    solver: Literal["gd"] = "gd"
    step: float | None = None
    max_iter: int = 2000
    tol: float = 1e-20  # stop when the training error ‖A(UUᵀ) − b‖² ≤ tol
    stall: bool = True  # the engine's stall stop (F no longer changes); false: run max_iter
    noise: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> SensingParams:
        if self.d < 1 or not 1 <= self.r <= self.d:
            raise ValueError(f"need d >= 1 and 1 <= r <= d; got d={self.d}, r={self.r}")
        if (self.m is None) == (self.oversampling is None):
            raise ValueError("give exactly one of m and oversampling (= m/(d r))")
        if self.measurements < 1:
            raise ValueError(f"m must be >= 1, got {self.measurements}")
        width = self.d if self.p is None else self.p
        if not 1 <= width <= self.d:
            raise ValueError(f"p must be in [1, d={self.d}], got {self.p}")
        if self.init == "rank":
            if self.init_rank is None or not 1 <= self.init_rank <= width:
                raise ValueError(f"init = 'rank' needs init_rank in [1, p={width}], "
                                 f"got {self.init_rank}")
        if not (math.isfinite(self.init_norm) and self.init_norm > 0):
            raise ValueError(f"init_norm must be a finite number > 0, got {self.init_norm}")
        if self.step is not None and not self.step > 0:
            raise ValueError(f"step must be > 0, got {self.step}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")
        return self

    @property
    def measurements(self) -> int:
        if self.m is not None:
            return int(self.m)
        return max(int(round(float(self.oversampling) * self.d * self.r)), 1)


def run_sensing(p: SensingParams, seed: int) -> tuple[dict[str, Any], pd.DataFrame]:
    from lowranklab.models import SymmetricFactor
    from lowranklab.models.init import initialize
    from lowranklab.objective import Objective
    from lowranklab.problems import sensing_problem
    from lowranklab.solvers import gradient_descent

    rng = np.random.default_rng(seed)
    P = sensing_problem(p.d, p.r, p.measurements, rng, noise=p.noise)
    model = SymmetricFactor(p.d, p.d if p.p is None else p.p)
    theta0 = initialize(model, p.init, rng, norm=p.init_norm, rank=p.init_rank, op=P.op, b=P.b)
    stall = {} if p.stall else {"stall_tol": None}
    res = gradient_descent(Objective(P.loss(), model), theta0, step=p.step, max_iter=p.max_iter,
                           tol=p.tol, truth=P.truth, record_every=max(p.max_iter // 200, 1),
                           **stall)
    _check_stop(res)
    metrics = {"rel_error": _rel_error(res.X, P.truth),
               "train_error": float(np.sum((P.op.forward(as_dense(res.X)) - P.b) ** 2)),
               "iterations": int(res.iterations), "stop": res.stop.value,
               "rank": _numerical_rank(res.X), "m": p.measurements}
    return metrics, _trace_frame(res, ("iter", "value", "rel_error", "train_error", "grad_norm"))


# -- completion --------------------------------------------------------------------------------
class CompletionParams(_Params):
    n1: int = 60
    n2: int = 50
    r: int = 2
    fraction: float = 0.3  # observed fraction of entries
    solver: Literal["gd", "rgd"] = "gd"
    init: Literal["spectral", "small"] = "spectral"
    init_norm: float = 1e-3
    mu: float = 0.5  # balancing weight of the U Vᵀ model (zhu2021)
    step: float | None = None
    max_iter: int = 1000
    tol: float = 1e-20
    noise: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> CompletionParams:
        if min(self.n1, self.n2) < 1 or not 1 <= self.r <= min(self.n1, self.n2):
            raise ValueError(f"need 1 <= r <= min(n1, n2); got n1={self.n1}, n2={self.n2}, "
                             f"r={self.r}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.step is not None and not self.step > 0:
            raise ValueError(f"step must be > 0, got {self.step}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")
        return self


def run_completion(p: CompletionParams, seed: int) -> tuple[dict[str, Any], pd.DataFrame]:
    from lowranklab.problems import completion_problem

    rng = np.random.default_rng(seed)
    P = completion_problem(p.n1, p.n2, p.r, p.fraction, rng, noise=p.noise)
    every = max(p.max_iter // 200, 1)
    if p.solver == "gd":
        from lowranklab.models import BalancedFactor
        from lowranklab.models.init import initialize
        from lowranklab.objective import Objective
        from lowranklab.solvers import gradient_descent

        model = BalancedFactor(p.n1, p.n2, p.r, mu=p.mu)
        theta0 = initialize(model, p.init, rng, norm=p.init_norm, op=P.op, b=P.b)
        res = gradient_descent(Objective(P.loss(), model), theta0, step=p.step,
                               max_iter=p.max_iter, tol=p.tol, truth=P.truth, record_every=every)
        X = res.X
    else:
        from lowranklab.models.fixed_rank import manifold_for
        from lowranklab.models.init import initial_point
        from lowranklab.solvers.riemannian import riemannian_gradient_descent

        man = manifold_for(P.shape, p.r, symmetric=False)
        x0 = initial_point(man, p.init, rng, norm=p.init_norm, op=P.op, b=P.b)
        # no step: the exact step along the gradient (Wei, Cai, Chan & Leung 2016), as `solve`
        res = riemannian_gradient_descent(
            P.loss(), man, x0, step=1.0 if p.step is None else p.step,
            line_search="exact" if p.step is None else "constant", max_iter=p.max_iter,
            tol=p.tol, truth=P.truth, record_every=every)
        X = res.X.lowrank() if hasattr(res.X, "lowrank") else res.X
    _check_stop(res)
    metrics = {"rel_error": _rel_error(X, P.truth),
               "train_error": float(np.sum((P.op.forward(as_dense(X)) - P.b) ** 2)),
               "iterations": int(res.iterations), "stop": res.stop.value,
               "rank": _numerical_rank(X), "m": int(P.b.size)}
    return metrics, _trace_frame(res, ("iter", "value", "rel_error", "train_error", "grad_norm"))


# -- min-norm factorization --------------------------------------------------------------------
class MinNormParams(_Params):
    d: int = 8
    m: int = 12
    p: int = 4  # columns of U
    # b = A(W Wᵀ), W ∈ R^{d×⌈d/2⌉} Gaussian: always feasible; "gaussian" (the paper's Sec. XII
    # b ~ N(0, I)) makes the SDP infeasible for m near d(d+1)/2, which no solver can certify
    b: Literal["planted", "gaussian"] = "planted"
    solver: Literal["merit", "merit-euler", "merit-bfgs"] = "merit-bfgs"
    gamma: float | None = None  # merit weight (default the paper's γ = 100)
    step: float | None = None
    max_iter: int = 5000
    init_norm: float = 3.0  # eftekhari2021 Sec. XII: ‖U₀‖_F = 3
    cert_tol: float = 1e-5  # the certificate (4) to this relative tolerance counts as success

    @model_validator(mode="after")
    def _check(self) -> MinNormParams:
        if self.d < 1 or self.p < 1 or self.m < 1:
            raise ValueError(f"d, m, p must be >= 1; got d={self.d}, m={self.m}, p={self.p}")
        if 2 * self.m > self.d * (self.d + 1):
            raise ValueError(f"m must be <= d(d+1)/2 = {self.d * (self.d + 1) // 2} for "
                             f"independent symmetric A_i, got {self.m}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")
        return self


def run_min_norm(p: MinNormParams, seed: int) -> tuple[dict[str, Any], pd.DataFrame]:
    from lowranklab.problems.min_norm_instances import random_instance
    from lowranklab.solvers import merit

    rng = np.random.default_rng(seed)
    P = random_instance(p.d, p.m, rng, b=p.b)
    U0 = rng.standard_normal((p.d, p.p))
    U0 *= p.init_norm / np.linalg.norm(U0)
    gamma = merit.PAPER_GAMMA if p.gamma is None else p.gamma
    if p.solver == "merit-bfgs":
        res = merit.merit_bfgs(P, U0, gamma=gamma, method="L-BFGS-B", max_iter=p.max_iter)
    else:
        fn = merit.algorithm1 if p.solver == "merit" else merit.merit_euler
        res = fn(P, U0, gamma=gamma, step=p.step, max_iter=p.max_iter,
                 record_every=max(p.max_iter // 200, 1))
    _check_stop(res)
    U = res.factors[0]
    cert = P.certificate(U)
    scale = max(1.0, abs(cert.objective))
    metrics = {"objective": cert.objective, "feasibility": cert.feasibility,
               "dual_gap": cert.dual_gap, "lambda_min": cert.lambda_min,
               "certified": bool(cert.certifies(p.cert_tol)),
               "rel_dual_gap": abs(cert.dual_gap) / scale,
               "rank": _numerical_rank(U, 1e-8), "iterations": int(res.iterations),
               "stop": res.stop.value}
    return metrics, res.trace.to_frame().reset_index(drop=True)


# -- any registered experiment ------------------------------------------------------------------
def run_experiment_task(name: str, params: dict[str, Any], seed: int, quick: bool
                        ) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run registered experiment NAME (its `run` and `claims`, no figures). Metrics: each
    claim's `holds` as `<id>.holds`, its measured value as `<id>` where it is a number, and
    `claims_held`, `holds_all`. Trace: every result table, stacked with a `table` column."""
    from lowranklab.experiments import get
    from lowranklab.experiments.base import Context, interrupt_guard

    exp = get(name)
    cfg = exp.make_config(quick=quick, seed=seed, overrides=params)
    ctx = Context(name=name, rng=np.random.default_rng(cfg.seed), quick=quick, verbose=False)
    with interrupt_guard() as guard:
        tables = exp.run(cfg, ctx)
    if guard.fired:
        raise TaskInterrupted(f"{name} interrupted")
    claims = exp.claims(tables, cfg)
    metrics: dict[str, Any] = {}
    for c in claims:
        metrics[f"{c.id}.holds"] = bool(c.holds)
        if isinstance(c.measured, (int, float, np.number)) and not isinstance(c.measured, bool):
            metrics[c.id] = float(c.measured)
    metrics["claims_held"] = sum(bool(c.holds) for c in claims)
    metrics["holds_all"] = all(bool(c.holds) for c in claims)
    frames = []
    for tname, df in tables.items():
        if isinstance(df, pd.DataFrame):
            frames.append(df.assign(table=tname))
    trace = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return metrics, trace


# -- the registry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    name: str
    params: type[BaseModel] | None  # None: the experiment's own config
    run: Callable[[Any, int], tuple[dict[str, Any], pd.DataFrame]] | None
    metrics: tuple[str, ...]  # () : any (experiment claims are known only after a run)
    default_success: str
    # theory boundaries: name -> {axis: value of that axis on the boundary, given the params}
    boundaries: dict[str, dict[str, Callable[[dict[str, Any]], float]]] = field(
        default_factory=dict)


def _sensing_dof(q: dict[str, Any]) -> float:
    """Degrees of freedom of a d×d PSD rank-r matrix: d r − r(r − 1)/2 = r(2d − r + 1)/2."""
    d, r = q["d"], q["r"]
    return r * (2 * d - r + 1) / 2


def _completion_dof(q: dict[str, Any]) -> float:
    """Degrees of freedom of an n1×n2 rank-r matrix: r(n1 + n2 − r)."""
    return q["r"] * (q["n1"] + q["n2"] - q["r"])


def _completion_rank(q: dict[str, Any]) -> float:
    """The rank whose degrees of freedom equal the observed entries: r(n1 + n2 − r) = f n1 n2,
    r = ((n1 + n2) − √((n1 + n2)² − 4 f n1 n2)) / 2."""
    s, e = q["n1"] + q["n2"], q["fraction"] * q["n1"] * q["n2"]
    return (s - math.sqrt(max(s * s - 4 * e, 0.0))) / 2


FAMILIES: dict[str, Family] = {
    "sensing": Family(
        "sensing", SensingParams, run_sensing,
        ("rel_error", "train_error", "iterations", "stop", "rank", "m"), "rel_error <= 1e-3",
        {"dof": {"m": _sensing_dof,
                 "oversampling": lambda q: _sensing_dof(q) / (q["d"] * q["r"])}}),
    "completion": Family(
        "completion", CompletionParams, run_completion,
        ("rel_error", "train_error", "iterations", "stop", "rank", "m"), "rel_error <= 1e-3",
        {"dof": {"fraction": lambda q: _completion_dof(q) / (q["n1"] * q["n2"]),
                 "r": lambda q: _completion_rank(q)}}),
    "min_norm": Family(
        "min_norm", MinNormParams, run_min_norm,
        ("objective", "feasibility", "dual_gap", "lambda_min", "certified", "rel_dual_gap",
         "rank", "iterations", "stop"), "certified == true",
        # Pataki / Burer–Monteiro: p(p + 1)/2 > m ⇒ every SOSP is global (eftekhari2021 Sec. II)
        {"pataki": {"p": lambda q: (math.sqrt(8 * q["m"] + 1) - 1) / 2,
                    "m": lambda q: q["p"] * (q["p"] + 1) / 2}}),
    "experiment": Family("experiment", None, None, (), "holds_all == true"),
}
