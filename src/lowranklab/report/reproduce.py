"""`lowranklab reproduce`: every registered experiment, serially or on N worker processes,
resumable (a finished run is reused; `force` recomputes), then the HTML report.

Each experiment is one task; a worker runs it through `runner.run_experiment`, which stores
the run under its configuration key and writes its summary last, so a killed `reproduce`
loses only the runs in progress and the next call resumes with the rest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from lowranklab.experiments import load_all
from lowranklab.experiments.runner import run_experiment
from lowranklab.report.html import write_report


def select(only: list[str] | None) -> list[str]:
    """Registered names, or those named in `only` (experiment or paper names)."""
    names = sorted(load_all())
    if only:
        names = [n for n in names if n in only or n.split(".")[0] in only]
        if not names:
            raise ValueError(f"--only {only} matches no experiment")
    return names


def _one(name: str, quick: bool, seed: int | None, out: str, force: bool,
         threads: int | None) -> dict[str, Any]:
    if threads is not None:  # keep N workers × BLAS threads within the cores
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)
        except ImportError:
            pass
    return run_experiment(name, quick=quick, seed=seed, out=out, force=force)


def reproduce(names: list[str], *, quick: bool, out: str | Path, seed: int | None = None,
              workers: int = 1, force: bool = False,
              on_done: Callable[[str, dict[str, Any] | None, BaseException | None], None]
              | None = None) -> tuple[Path, list[str]]:
    """Run `names` (reusing finished runs unless `force`) on `workers` processes, write
    OUT/report.html from the runs made (or reused), and return (report path, names that
    raised)."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    out = str(out)
    failures: list[str] = []
    keys: dict[str, str] = {}

    def done(name, summary, err):
        if err is not None:
            failures.append(name)
        else:
            keys[name] = summary["key"]
        if on_done is not None:
            on_done(name, summary, err)

    if workers == 1:
        for name in names:
            try:
                done(name, _one(name, quick, seed, out, force, None), None)
            except Exception as e:  # one broken experiment must not hide the others
                done(name, None, e)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(_one, n, quick, seed, out, force, threads): n for n in names}
            for f in as_completed(futs):
                try:
                    done(futs[f], f.result(), None)
                except Exception as e:
                    done(futs[f], None, e)
    print(f"writing the report for {len(names)} experiment(s)", file=sys.stderr)
    return write_report(out, keys=keys), failures
