"""The `lowranklab sweep`, `sweep-status` and `sweep-plot` commands (the typer wrappers in the
CLI only forward their options here). Every check on the input is done before any task runs;
a bad input raises `UsageError` (the CLI prints one `error:` line and exits 2)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lowranklab.sweep.execute import EXECUTORS, ProgressReport, run_sweep
from lowranklab.sweep.spec import (
    SpecError,
    SweepSpec,
    check_plot_axes,
    load_spec,
    parse_grid_option,
    parse_seeds,
    parse_set_option,
    spec_from_dict,
)
from lowranklab.sweep.store import StoreError, SweepStore, load


class UsageError(ValueError):
    """Bad command-line input: one line, exit status 2."""


def build_spec(target: str, *, grid: list[str] = (), seeds: str | None = None,
               sets: list[str] = (), quick: bool = False) -> SweepSpec:
    """A spec from a TOML file, or from a registered experiment's name with --grid/--seeds."""
    g = dict(parse_grid_option(item) for item in grid)
    s = None if seeds is None else parse_seeds(seeds, "--seeds")
    p = dict(parse_set_option(item) for item in sets)
    if target.endswith(".toml") or Path(target).is_file():
        if quick:
            raise SpecError("--quick is for an experiment name; set quick = true in the spec")
        return load_spec(target, grid=g, seeds=s, params=p)
    raw = {"name": target, "family": "experiment", "experiment": target, "quick": quick}
    return spec_from_dict(raw, source=target, grid=g, seeds=s, params=p)


def check_export(path: Path | None) -> None:
    if path is None:
        return
    if path.suffix != ".parquet":
        raise UsageError(f"--export must name a .parquet file, got {path}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--export {path}: directory {parent} does not exist")
    if path.exists() and path.is_dir():
        raise UsageError(f"--export {path} is a directory")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--export {path}: directory {parent} is not writable")


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """tcp://HOST:PORT must parse and accept a TCP connection within `timeout` seconds."""
    u = urlparse(address)
    if u.scheme != "tcp" or not u.hostname or u.port is None:
        raise UsageError(f"--scheduler must look like tcp://HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((u.hostname, u.port), timeout=timeout):
            pass
    except OSError as e:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: "
                         f"{e.strerror or e}") from None


def sweep_command(target: str, *, out: Path, executor: str = "local", workers: int | None = None,
                  scheduler: str | None = None, resume: bool = False, retry_failed: bool = False,
                  export: Path | None = None, grid: list[str] = (), seeds: str | None = None,
                  sets: list[str] = (), quick: bool = False, plot: bool = True,
                  batch: int = 1, echo=print) -> int:
    """Run (or resume) a sweep; returns the exit status (0 all done, 1 some task failed)."""
    try:
        if executor not in EXECUTORS:
            raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got "
                             f"{executor!r}")
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be >= 1, got {workers}")
        if isinstance(batch, bool) or int(batch) != batch or batch < 1:
            raise UsageError(f"--batch must be an integer >= 1, got {batch}")
        if scheduler is not None and executor != "dask":
            raise UsageError("--scheduler needs --executor dask")
        if executor == "dask":
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise UsageError("--executor dask needs `pip install 'lowranklab[dask]'`"
                                 ) from None
        check_export(export)
        spec = build_spec(target, grid=list(grid), seeds=seeds, sets=list(sets), quick=quick)
        if scheduler is not None:
            check_scheduler(scheduler)
        store = SweepStore(out, create=True)
        new = store.attach(spec)
        if not new:
            c = store.counts()
            if not resume and not retry_failed:
                raise UsageError(f"{out} already holds this sweep ({c['done']} done, "
                                 f"{c['failed']} failed, {c['pending'] + c['interrupted']} "
                                 f"to run); pass --resume to continue it")
        if retry_failed:
            store.retry_failed()
    except (SpecError, StoreError) as e:
        raise UsageError(str(e)) from None

    before = store.counts()
    echo(f"sweep {spec.name}: {spec.n_tasks} tasks ({spec.family}"
         f"{' ' + spec.experiment if spec.experiment else ''}; grid "
         f"{' × '.join(f'{k}[{len(v)}]' for k, v in spec.grid.items()) or '-'} × "
         f"{len(spec.seeds)} seeds), {before['done']} already done; executor {executor}; "
         f"store {store.path}")
    report = ProgressReport(spec.name, spec.n_tasks, before["done"] + before["failed"])
    try:
        counts = run_sweep(spec, store, executor=executor, workers=workers,
                           scheduler=scheduler, progress=report, batch=batch)
    except StoreError as e:
        raise UsageError(str(e)) from None
    finally:
        report.close()
    echo(f"{counts['ran']} run now, {counts['failed_now']} failed now; store: "
         f"{_status_line(counts)}")
    if counts["running"]:
        echo(f"{counts['running']} task(s) are running in another sweep on this store")
    for key, point, etype, msg in store.failures(limit=5):
        echo(f"  failed {key} {point}: {etype}: {msg}")
    if plot and spec.plot is not None and counts["done"]:
        from lowranklab.sweep.plot import draw_phase

        path = draw_phase(out, spec.plot.x, spec.plot.y, spec.plot.boundary,
                          out=Path(out) / spec.plot.file if spec.plot.file else None)
        echo(f"wrote {path}")
    if export is not None:
        load(out).to_parquet(export, index=False)
        echo(f"wrote {export} (one row per task; traces: lowranklab.sweep.load(DIR, "
             f"table='trace'))")
    return 1 if counts["failed"] else 0


def _status_line(c: dict[str, Any]) -> str:
    return (f"{c['done']} done, {c['failed']} failed, {c['interrupted']} interrupted, "
            f"{c['pending']} pending, {c['running']} running, of {c['total']}")


def status_command(directory: Path, echo=print) -> int:
    try:
        store = SweepStore(directory)
        c = store.counts()
        spec = store.spec_json() or {}
    except StoreError as e:
        raise UsageError(str(e)) from None
    echo(f"{spec.get('name', '?')} ({spec.get('family')}): {_status_line(c)}")
    for key, point, etype, msg in store.failures(limit=10):
        echo(f"  failed {key} {point}: {etype}: {msg}")
    return 0


def plot_command(directory: Path, x: str, y: str, boundary: str | None = None,
                 out: Path | None = None, echo=print) -> int:
    from lowranklab.sweep.plot import draw_phase

    try:
        store = SweepStore(directory)
        spec = store.spec_json() or {}
        if boundary is None and spec.get("plot"):
            boundary = spec["plot"].get("boundary")
            if spec["plot"].get("x") != x and spec["plot"].get("y") != x:
                boundary = None
        if out is not None and out.suffix not in (".png", ".pdf", ".svg"):
            raise UsageError(f"--out must end .png, .pdf or .svg, got {out}")
        if out is not None and not (out.parent if str(out.parent) else Path(".")).is_dir():
            raise UsageError(f"--out {out}: directory {out.parent} does not exist")
        shim = SweepSpec(name="", family=spec.get("family", "experiment"), params={},
                         grid=spec.get("grid", {}), seeds=[0], metrics=(), success=None)
        check_plot_axes(shim, x, y, boundary, where="sweep-plot")
        path = draw_phase(directory, x, y, boundary, out=out)
    except (StoreError, SpecError, ValueError) as e:
        raise UsageError(str(e)) from None
    echo(f"wrote {path}")
    return 0
