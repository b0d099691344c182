"""Run a sweep's tasks serially, on a local process pool, or on a Dask cluster.

The process that runs `run_sweep` is the only one that touches the store: it claims tasks
(a lease per task, renewed by a heartbeat thread), ships them to its executor, and writes each
outcome as it arrives. Workers only compute, so a killed worker or a killed sweep can never
leave a half-written row; an unfinished claim goes back to pending (dead owner or expired
lease) and the next `--resume` reruns it.

Ctrl-C: the tasks in flight are stored as `interrupted` (never as done), the workers are
stopped, and KeyboardInterrupt propagates (the CLI exits 130). A solver that swallowed the
Ctrl-C and returned `interrupted` is caught too (`families.TaskInterrupted`,
`experiments.base.interrupt_guard`).

Batched execution. Tasks with the same `Task.shape_key()` build instances of the same sizes and
could run as one array program (many trials at once, e.g. on a GPU). `register_batched(family,
fn)` installs `fn(jobs) -> outcomes` for a family; executors then claim `batch` tasks at a time,
group them by shape and hand each group to `fn` (`execute_group`). The sensing family has one
(`sweep/batched.py`: GD on all the group's trials at once, `solvers.batched`); other families
run each group task by task.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lowranklab.sweep.families import FAMILIES, TaskInterrupted
from lowranklab.sweep.spec import Criterion, SweepSpec, Task
from lowranklab.sweep.store import SweepStore, new_owner

EXECUTORS = ("serial", "local", "dask")
LEASE_S = 120.0  # a claim not renewed for this long is free for another sweep


@dataclass(frozen=True)
class Job:
    """What a worker needs: the task, the metrics to keep and the success criterion."""

    task: Task
    keep: tuple[str, ...]
    success: Criterion


# -- in the worker -----------------------------------------------------------------------------
_IN_POOL_WORKER = False


def _pool_initializer() -> None:
    """Pool workers leave Ctrl-C to the sweep process (which stops them)."""
    global _IN_POOL_WORKER
    _IN_POOL_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_task(task: Task) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run one task in this process: its family's run (or the registered experiment)."""
    fam = FAMILIES[task.family]
    if fam.params is None:
        from lowranklab.sweep.families import run_experiment_task

        return run_experiment_task(task.experiment, task.params, task.seed, task.quick)
    return fam.run(fam.params(**task.params), task.seed)


def execute_task(job: Job) -> dict[str, Any]:
    """The outcome of one job: status done (metrics, success, trace records), failed (error
    type and message) or interrupted. Never raises for a task's own error."""
    from lowranklab.experiments.base import interrupt_guard

    t0 = time.perf_counter()
    out: dict[str, Any] = {"key": job.task.key}
    try:
        if _IN_POOL_WORKER or threading.current_thread() is not threading.main_thread():
            metrics, trace = run_task(job.task)
        else:
            with interrupt_guard() as guard:
                metrics, trace = run_task(job.task)
            if guard.fired:
                raise TaskInterrupted("interrupted (Ctrl-C)")
    except (TaskInterrupted, KeyboardInterrupt) as e:
        out.update(status="interrupted", error_type="Interrupted",
                   error_message=str(e) or "interrupted (Ctrl-C)")
    except Exception as e:  # noqa: BLE001 — a failing task is data: stored with its message
        tb = traceback.extract_tb(e.__traceback__)
        where = f" [{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}]" if tb else ""
        out.update(status="failed", error_type=type(e).__name__,
                   error_message=(str(e) or repr(e))[:4000] + where)
    else:
        keep = {k: _plain(metrics.get(k)) for k in job.keep} if job.keep else {
            k: _plain(v) for k, v in metrics.items()}
        out.update(status="done", metrics=keep, success=bool(job.success(metrics)),
                   trace=_records(trace))
    out["elapsed"] = time.perf_counter() - t0
    return out


def execute_group(jobs: list[Job]) -> list[dict[str, Any]]:
    """Outcomes of a group of same-shape jobs: the family's batched runner when one is
    registered (and the group has more than one job), else job by job."""
    fn = BATCHED.get(jobs[0].task.family) if len(jobs) > 1 else None
    if fn is None:
        return [execute_task(j) for j in jobs]
    outs = fn(jobs)
    if sorted(o["key"] for o in outs) != sorted(j.task.key for j in jobs):
        raise RuntimeError(f"batched runner for {jobs[0].task.family} returned outcomes for "
                           f"other tasks than it was given")
    return outs


BATCHED: dict[str, Callable[[list[Job]], list[dict[str, Any]]]] = {}


def register_batched(family: str, fn: Callable[[list[Job]], list[dict[str, Any]]]) -> None:
    """Install a batched runner for `family` (see the module docstring)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {sorted(FAMILIES)}")
    BATCHED[family] = fn


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and not isinstance(v, (list, dict)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def _records(trace: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """Trace rows as plain Python records (floats kept exactly: JSON round-trips repr)."""
    if trace is None or trace.empty:
        return None
    return [{k: _plain(v) if not isinstance(v, float) else v for k, v in row.items()}
            for row in trace.to_dict(orient="records")]


# -- in the sweep process ------------------------------------------------------------------------
class _Heartbeat:
    def __init__(self, store: SweepStore, owner: str, lease: float) -> None:
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._beat, args=(store, owner, lease), daemon=True)

    def _beat(self, store, owner, lease) -> None:
        while not self._stop.wait(lease / 4):
            try:
                store.heartbeat(owner, lease=lease)
            except Exception:  # noqa: BLE001 — a missed beat only shortens the lease
                pass

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join(timeout=5)


def run_sweep(spec: SweepSpec, store: SweepStore, *, executor: str = "local",
              workers: int | None = None, scheduler: str | None = None,
              progress: Callable[[Task, dict[str, Any]], None] | None = None,
              batch: int = 1, lease: float = LEASE_S) -> dict[str, int]:
    """Run every runnable task of `spec` in `store` (attached already) and return the counts
    of this run (`ran`, `failed_now`) and of the store (done, failed, pending, …)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    jobs = {t.key: Job(t, spec.metrics, spec.success) for t in spec.tasks()}
    owner = new_owner()
    state = {"ran": 0, "failed_now": 0, "interrupted_now": 0}

    def finish(outcome: dict[str, Any]) -> None:
        if store.finish(owner, outcome):
            state["ran"] += outcome["status"] == "done"
            state["failed_now"] += outcome["status"] == "failed"
            state["interrupted_now"] += outcome["status"] == "interrupted"
            if progress is not None:
                progress(jobs[outcome["key"]].task, outcome)

    store.release_dead()
    try:
        with _Heartbeat(store, owner, lease):
            if executor == "serial":
                _serial(store, owner, jobs, finish, batch, lease)
            elif executor == "local":
                _local(store, owner, jobs, finish, workers or _cpu_count(), batch, lease)
            else:
                _dask(store, owner, jobs, finish, workers or 2, scheduler, lease)
    except KeyboardInterrupt:  # wherever it landed: nothing of ours stays `running`
        store.release_owner(owner, status="interrupted")
        raise
    return {**store.counts(), **state}


def _cpu_count() -> int:
    import os

    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return max(os.cpu_count() or 1, 1)


def _claim_groups(store, owner, jobs, n, lease) -> list[list[Job]]:
    keys = store.claim(owner, n, lease=lease)
    groups: dict[tuple, list[Job]] = {}
    for k in keys:
        if k not in jobs:  # cannot happen for an attached store; never run a stranger's row
            store.release(owner, [k])
            continue
        j = jobs[k]
        groups.setdefault(j.task.shape_key(), []).append(j)
    return list(groups.values())


def _serial(store, owner, jobs, finish, batch, lease) -> None:
    """Claim `batch` tasks, run them here, repeat. An interrupted task ends the sweep (its
    KeyboardInterrupt was swallowed by a solver): `run_sweep` gives the rest of the claim back."""
    while True:
        groups = _claim_groups(store, owner, jobs, batch, lease)
        if not groups:
            return
        for group in groups:
            for outcome in execute_group(group):
                finish(outcome)
                if outcome["status"] == "interrupted":
                    raise KeyboardInterrupt


def _local(store, owner, jobs, finish, workers, batch, lease) -> None:
    import multiprocessing as mp

    # never fork this process (it holds SQLite handles and a heartbeat thread): a fork server
    # (clean, with the library imported once) on Linux, else spawn
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["lowranklab.sweep.execute"])
    else:
        ctx = mp.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                  initializer=_pool_initializer)
    inflight: dict[cf.Future, list[str]] = {}
    try:
        while True:
            while len(inflight) < 2 * workers:
                groups = _claim_groups(store, owner, jobs, batch, lease)
                if not groups:
                    break
                for g in groups:
                    inflight[pool.submit(execute_group, g)] = [j.task.key for j in g]
            if not inflight:
                return
            done, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
            for f in done:
                keys = inflight.pop(f)
                try:
                    outcomes = f.result()
                except cf.process.BrokenProcessPool:
                    outcomes = [{"key": k, "status": "failed", "error_type": "WorkerDied",
                                 "error_message": "the worker process died (killed or out "
                                 "of memory)", "elapsed": None} for k in keys]
                    for ff, kk in inflight.items():  # every other task in flight is lost too
                        store.release(owner, kk)
                        ff.cancel()
                    inflight.clear()
                    _stop_pool(pool)
                    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                  initializer=_pool_initializer)
                for o in outcomes:
                    finish(o)
    except KeyboardInterrupt:  # run_sweep gives the tasks in flight back as interrupted
        _stop_pool(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


STOP_JOIN_S = 30.0  # how long _stop_pool waits for the pool's manager thread to end


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Terminate the pool's workers now (their tasks are already given back), then wait for
    the pool's manager thread to end.

    The wait matters at exit: `shutdown(wait=False)` forgets the manager thread without joining
    it (a later `shutdown(wait=True)` joins nothing), and the interpreter's exit hook
    `concurrent.futures.process._python_exit` then writes to that thread's wakeup pipe while
    the thread may be closing it: "OSError: [Errno 9] Bad file descriptor" with a traceback on
    stderr after Ctrl-C (seen on CPython 3.11.7, whose `_ThreadWakeup` checks `_closed` and
    writes without a lock; cpython gh-125451 later put its close and write under one lock).
    With the workers gone the manager thread sees a broken pool and ends at once."""
    thread = getattr(pool, "_executor_manager_thread", None)
    procs = getattr(pool, "_processes", None) or {}
    for p in list(procs.values()):
        try:
            p.terminate()
        except Exception:  # noqa: BLE001 — already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    if thread is not None:
        thread.join(STOP_JOIN_S)


def _dask(store, owner, jobs, finish, workers, scheduler, lease) -> None:
    try:
        from distributed import Client, LocalCluster, wait
    except ImportError:
        raise ImportError("the Dask executor needs `pip install 'lowranklab[dask]'`") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    client = Client(cluster if cluster is not None else scheduler, timeout=10)
    inflight: dict[Any, list[str]] = {}
    try:
        slots = max(2 * sum(client.nthreads().values()), 2)
        while True:
            while len(inflight) < slots:
                groups = _claim_groups(store, owner, jobs, 1, lease)
                if not groups:
                    break
                for g in groups:
                    inflight[client.submit(execute_group, g, pure=False)] = [
                        j.task.key for j in g]
            if not inflight:
                return
            res = wait(list(inflight), return_when="FIRST_COMPLETED")
            for f in res.done:
                keys = inflight.pop(f)
                if f.status == "error":
                    e = f.exception()
                    outcomes = [{"key": k, "status": "failed", "error_type": type(e).__name__,
                                 "error_message": str(e)[:4000], "elapsed": None}
                                for k in keys]
                elif f.status == "cancelled":
                    store.release(owner, keys)
                    continue
                else:
                    outcomes = f.result()
                for o in outcomes:
                    finish(o)
    finally:
        for f in inflight:
            f.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


# -- progress ------------------------------------------------------------------------------------
class ProgressReport:
    """Tasks done / failed / total, rate, ETA and the config of the task just finished: a rich
    progress bar on a terminal, else one line at most every `every` seconds (failures always)."""

    def __init__(self, name: str, total: int, already: int, *, stream=None,
                 every: float = 1.0) -> None:
        self.name, self.total, self.already = name, total, already
        self.stream = stream or sys.stderr
        self.every = every
        self.done = self.failed = 0
        self.t0 = time.monotonic()
        self._last = 0.0
        self._bar = None
        if getattr(self.stream, "isatty", lambda: False)():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn(f"[bold]{name}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                                 console=Console(file=self.stream))
            self._id = self._bar.add_task(name, total=total, completed=already, rate="",
                                          last="")
            self._bar.start()

    def __call__(self, task: Task, outcome: dict[str, Any]) -> None:
        status = outcome["status"]
        self.done += status == "done"
        self.failed += status == "failed"
        n = self.done + self.failed
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = n / elapsed
        left = self.total - self.already - n
        eta = left / rate if rate > 0 else float("inf")
        what = ("success" if outcome.get("success") else "no success") if status == "done" \
            else f"{status}: {outcome.get('error_type')}: {outcome.get('error_message')}"
        last = f"{task.describe()} → {what}"
        if self._bar is not None:
            self._bar.update(self._id, advance=1, rate=f"{rate:.2f} tasks/s", last=last)
            if status == "failed":
                self._bar.console.print(f"[red]failed[/red] {last}")
            return
        now = time.monotonic()
        if status != "done" or now - self._last >= self.every or left <= 0:
            self._last = now
            print(f"[sweep {self.name}] {self.already + self.done}/{self.total} done, "
                  f"{self.failed} failed · {rate:.2f} tasks/s · ETA {_hms(eta)} · {last}",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _register_builtin() -> None:
    from lowranklab.sweep.batched import run_sensing_group

    register_batched("sensing", run_sensing_group)


_register_builtin()
