"""Same-shape sensing tasks of a sweep as one batched run (`solvers.batched.solve_batch`), and
planted sensing trials from seeds as one batch (`solve_sensing_batch`).

`run_sweep(..., batch=N)` (CLI `sweep --batch N`) claims N tasks at a time and hands each
group of equal `Task.shape_key()` to the family's registered batched runner. For the sensing
family this module builds every task's instance and start exactly as `families.run_sensing`
does (same seed, same draws, same order), stacks them, and runs GD on all of them at once, each
trial with its own stop code; the metrics are computed by the same formulas, so a batched sweep
stores the values a task-by-task sweep stores (to round-off: the batched products sum in another
order, ~1e-12). The per-task trace holds the first and the last iterate only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lowranklab.solvers.result import Result
from lowranklab.sweep.families import SensingParams, _numerical_rank, _rel_error


def run_sensing_group(jobs) -> list[dict[str, Any]]:
    """The outcomes (as `execute.execute_task` writes them) of a group of same-shape sensing
    jobs; a group whose set-up fails runs task by task, so every failure keeps its message."""
    from lowranklab.lowrank import as_dense
    from lowranklab.models import SymmetricFactor
    from lowranklab.models.init import initialize
    from lowranklab.objective import Objective
    from lowranklab.problems import sensing_problem
    from lowranklab.solvers.batched import solve_batch
    from lowranklab.sweep.execute import _plain, _records, execute_task

    t0 = time.perf_counter()
    try:
        params = [SensingParams(**j.task.params) for j in jobs]
        shared = {(p.step, p.max_iter, p.tol, p.stall) for p in params}
        if len(shared) != 1:  # one run needs one step rule and one stop
            return [execute_task(j) for j in jobs]
        objectives, thetas, problems = [], [], []
        for p, j in zip(params, jobs, strict=True):
            rng = np.random.default_rng(j.task.seed)  # as families.run_sensing
            P = sensing_problem(p.d, p.r, p.measurements, rng, noise=p.noise)
            model = SymmetricFactor(p.d, p.d if p.p is None else p.p)
            thetas.append(initialize(model, p.init, rng, norm=p.init_norm, rank=p.init_rank,
                                     op=P.op, b=P.b))
            objectives.append(Objective(P.loss(), model))
            problems.append(P)
        p = params[0]
        stall = {} if p.stall else {"stall_tol": None}
        results = solve_batch(objectives, thetas, step=p.step, max_iter=p.max_iter, tol=p.tol,
                              truths=[P.truth for P in problems], **stall)
    except Exception:  # noqa: BLE001 — the task-by-task path stores each failure
        return [execute_task(j) for j in jobs]
    per_task = (time.perf_counter() - t0) / len(jobs)
    outs = []
    for j, P, res in zip(jobs, problems, results, strict=True):
        metrics = {"rel_error": _rel_error(res.X, P.truth),
                   "train_error": float(np.sum((P.op.forward(as_dense(res.X)) - P.b) ** 2)),
                   "iterations": int(res.iterations), "stop": res.stop.value,
                   "rank": _numerical_rank(res.X), "m": P.op.m}
        keep = {k: _plain(metrics.get(k)) for k in j.keep} if j.keep else {
            k: _plain(v) for k, v in metrics.items()}
        trace = res.trace.to_frame()
        trace = trace[[c for c in ("iter", "value", "rel_error", "train_error", "grad_norm")
                       if c in trace.columns]].reset_index(drop=True)
        outs.append({"key": j.task.key, "status": "done", "metrics": keep,
                     "success": bool(j.success(metrics)), "trace": _records(trace),
                     "elapsed": per_task})
    return outs


SENSING_KEYS = {"d", "r", "m", "seed", "p", "init", "init_norm"}


def solve_sensing_batch(configs: Sequence[Mapping[str, Any]], *, backend: str = "numpy",
                        device: str = "cpu", dtype=None, **solver) -> list[Result]:
    """Planted symmetric sensing trials (the papers' symmetric Gaussian operator, PSD trace-1
    truth: `sensing_problem(d, r, m, default_rng(seed))`) solved as one batch by GD on UUᵀ.

    configs: one mapping per trial with d, r, m, seed and optionally p (the factor width,
    default r), init ("spectral", default, or "small") and init_norm (for "small", default
    1e-3); all trials share d, m and p. backend "numpy" or "torch" (on `device`); dtype
    float64 (default) or float32. The other keywords go to `solve_batch` (step, line_search,
    max_iter, tol, ...); the truths are passed, so the traces carry rel_error. The sweep
    executor's entry point for same-shape sensing tasks; returns one `Result` per config."""
    from lowranklab.backend import resolve_dtype
    from lowranklab.models import SymmetricFactor
    from lowranklab.models.init import initialize
    from lowranklab.objective import Objective
    from lowranklab.problems import sensing_problem
    from lowranklab.solvers.batched import solve_batch

    configs = list(configs)
    if not configs:
        raise ValueError("configs must not be empty")
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    dt = resolve_dtype(dtype) or np.dtype(np.float64)
    objectives, thetas, truths = [], [], []
    for i, c in enumerate(configs):
        if not isinstance(c, Mapping):
            raise TypeError(f"configs[{i}] must be a mapping, got {type(c).__name__}")
        unknown = set(c) - SENSING_KEYS
        missing = {"d", "r", "m", "seed"} - set(c)
        if unknown or missing:
            raise ValueError(f"configs[{i}]: unknown keys {sorted(unknown)}, missing keys "
                             f"{sorted(missing)}")
        rng = np.random.default_rng(c["seed"])
        P = sensing_problem(c["d"], c["r"], c["m"], rng, dtype=dt)
        model = SymmetricFactor(c["d"], c.get("p", c["r"]))
        init = c.get("init", "spectral")
        kw = {"op": P.op, "b": P.b} if init == "spectral" else {"norm": c.get("init_norm",
                                                                             1e-3)}
        thetas.append(initialize(model, init, rng, **kw).astype(dt))
        objectives.append(Objective(P.loss(), model))
        truths.append(P.truth)
    theta0 = np.stack(thetas)
    if backend == "torch":
        import torch

        theta0 = torch.as_tensor(theta0).to(device)
    return solve_batch(objectives, theta0, truths=truths, **solver)
