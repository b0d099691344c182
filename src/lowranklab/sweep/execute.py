"""Run sweep tasks serially, on local processes, or on a Dask cluster, storing each as it ends."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from lowranklab.sweep.grid import Task
from lowranklab.sweep.store import ResultStore


def run_task(task: Task) -> tuple[Task, dict, list[dict[str, Any]], float]:
    """Run one task in this process: its experiment's `run` and `claims`, no figures."""
    from lowranklab.experiments import get
    from lowranklab.experiments.base import Context

    exp = get(task.name)
    cfg = exp.make_config(quick=task.quick, overrides=task.config)
    ctx = Context(name=task.name, rng=np.random.default_rng(cfg.seed), quick=task.quick,
                  verbose=False)
    t0 = time.perf_counter()
    tables = exp.run(cfg, ctx)
    elapsed = time.perf_counter() - t0
    claims = [c.as_dict() for c in exp.claims(tables, cfg)]
    return task, tables, claims, elapsed


def run_sweep(
    tasks: Iterable[Task],
    store: ResultStore,
    *,
    executor: str = "serial",
    workers: int = 2,
    scheduler: str | None = None,
    on_done: Callable[[Task, int, int], None] | None = None,
) -> dict[str, int]:
    """Run every task whose key is not yet in `store`; returns counts of run/skipped/failed.

    executor: "serial", "processes" (`workers` local processes) or "dask" (a
    `distributed.Client` on `scheduler`, e.g. "tcp://host:8786", or a local cluster when
    scheduler is None). Each finished task is written to the store immediately.
    """
    tasks = list(tasks)
    done = store.done_keys()
    todo = [t for t in tasks if t.key not in done]
    counts = {"total": len(tasks), "skipped": len(tasks) - len(todo), "run": 0, "failed": 0}
    report = on_done or _print_progress

    def finish(result) -> None:
        task, tables, claims, elapsed = result
        store.put(task, tables, claims, elapsed)
        counts["run"] += 1
        report(task, counts["run"] + counts["failed"], len(todo))

    def failed(task: Task, err: BaseException) -> None:
        counts["failed"] += 1
        print(f"[sweep] task {task.key} ({task.config}) failed: {type(err).__name__}: {err}",
              file=sys.stderr)

    if executor == "serial":
        for t in todo:
            try:
                finish(run_task(t))
            except Exception as e:  # one failing task must not lose the others
                failed(t, e)
    elif executor == "processes":
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(run_task, t): t for t in todo}
            for f in as_completed(futs):
                if f.exception() is not None:
                    failed(futs[f], f.exception())
                else:
                    finish(f.result())
    elif executor == "dask":
        try:
            from distributed import Client, LocalCluster
            from distributed import as_completed as dask_completed
        except ImportError as e:
            raise ImportError("the Dask executor needs `pip install 'lowranklab[dask]'`") from e
        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                      processes=True)
        with Client(scheduler or cluster) as client:
            futs = {client.submit(run_task, t, pure=False): t for t in todo}
            for f in dask_completed(futs):
                if f.status == "error":
                    failed(futs[f], f.exception())
                else:
                    finish(f.result())
        if cluster is not None:
            cluster.close()
    else:
        raise ValueError(f"executor must be serial, processes or dask; got {executor!r}")
    return counts


def _print_progress(task: Task, i: int, n: int) -> None:
    print(f"[sweep] {task.name} task {i}/{n} done ({task.key})", file=sys.stderr, flush=True)
