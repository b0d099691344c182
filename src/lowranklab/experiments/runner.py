"""Running, storing and redrawing experiments.

Runs are stored by their configuration, so a `--set` or `--seed` run never overwrites the
default one. Layout under OUT (default ./lowranklab-results):

    OUT/NAME/KEY/config.json      the validated config (with the quick flag)
    OUT/NAME/KEY/TABLE.parquet    each tidy result table
    OUT/NAME/KEY/summary.json     {"experiment", "paper", "quick", "seed", "key", "claims",
                                   "elapsed_s", "provenance", ...}; written last, atomically
    OUT/NAME/KEY/figures/NAME[-SUFFIX].png

KEY is `quick` or `full` for the registered default config of that size and
`quick-<hash>` / `full-<hash>` (10 hex digits of the SHA-256 of the config's JSON) for any
other. A run whose summary.json exists with the same config is complete: `run_experiment`
reuses it (re-evaluating the claims from the stored tables, which is cheap) unless
`force=True`. A run killed before its summary was written is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lowranklab.atomic import save_figure, write_parquet, write_text
from lowranklab.experiments import get
from lowranklab.experiments.base import (
    Context,
    Experiment,
    ExperimentConfig,
    interrupt_guard,
)

DEFAULT_OUT = Path("lowranklab-results")


def run_key(exp: Experiment, cfg: ExperimentConfig, quick: bool) -> str:
    """`quick`/`full` for the default config of that size, else `SIZE-<hash of the config>`."""
    size = "quick" if quick else "full"
    if cfg == exp.make_config(quick=quick):
        return size
    blob = json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()
    return f"{size}-{hashlib.sha256(blob).hexdigest()[:10]}"


def run_dir(name: str, key: str, out: str | Path = DEFAULT_OUT) -> Path:
    return Path(out) / name / key


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    out: str | Path = DEFAULT_OUT,
    verbose: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Run NAME (or reuse its stored run of the same config unless `force`), store its tables,
    draw its figures, write and return its summary."""
    exp = get(name)
    cfg = exp.make_config(quick=quick, seed=seed, overrides=overrides)
    key = run_key(exp, cfg, quick)
    d = run_dir(name, key, out)
    ctx = Context(name=name, rng=np.random.default_rng(cfg.seed), quick=quick, verbose=verbose)
    if not force and _complete(d, cfg):
        tables, _, _ = _load(exp, d)
        old = json.loads((d / "summary.json").read_text())
        summary = _summarize(exp, tables, cfg, quick, float(old.get("elapsed_s", 0.0)), key)
        summary["provenance"] = old.get("provenance", {})
        summary["reused"] = True
        _write_json(d / "summary.json", summary)
        summary["figures"] = [str(p) for p in sorted((d / "figures").glob("*.png"))]
        if not summary["figures"]:
            summary["figures"] = [str(p) for p in _draw(exp, tables, cfg, d)]
        ctx.log(f"reusing the stored run {d} (--force recomputes)")
        return summary
    ctx.log(f"running ({'quick' if quick else 'full'} size, seed {cfg.seed}) -> {d}")
    t0 = time.perf_counter()
    with interrupt_guard() as guard:
        tables = exp.run(cfg, ctx)
    if guard.fired:  # a solver returned `interrupted`: neither store nor judge the claims
        raise KeyboardInterrupt
    elapsed = time.perf_counter() - t0
    _store(exp, tables, cfg, quick, d)
    summary = _summarize(exp, tables, cfg, quick, elapsed, key)
    summary["provenance"] = provenance()
    summary["reused"] = False
    figures = _draw(exp, tables, cfg, d)
    _write_json(d / "summary.json", summary)
    summary["figures"] = [str(p) for p in figures]
    n_rep = [c for c in summary["claims"] if c["kind"] == "reproduces"]
    ctx.log(f"done in {elapsed:.1f} s; {sum(c['holds'] for c in n_rep)}/{len(n_rep)} "
            f"reproduced claims hold; results in {d}")
    return summary


def stored_runs(out: str | Path = DEFAULT_OUT) -> list[dict[str, Any]]:
    """Every complete stored run under OUT: its summary (with `dir`, relative to OUT)."""
    out = Path(out)
    runs = []
    for p in sorted(out.glob("*/*/summary.json")):
        s = json.loads(p.read_text())
        s["dir"] = str(p.parent.relative_to(out))
        runs.append(s)
    return runs


def load_results(name: str, out: str | Path = DEFAULT_OUT, key: str | None = None):
    """The stored tables, config and quick flag of NAME's run KEY (default: its most recently
    finished run). Raises ValueError if there is none."""
    exp = get(name)
    d = _find(name, out, key)
    return _load(exp, d)


def draw_figures(name: str, *, out: str | Path = DEFAULT_OUT, key: str | None = None,
                 tables=None, cfg=None) -> list[Path]:
    """Draw NAME's figures from its stored run KEY (or the given tables) into KEY/figures."""
    exp = get(name)
    d = _find(name, out, key)
    if tables is None:
        tables, cfg, _ = _load(exp, d)
    return _draw(exp, tables, cfg, d)


def provenance() -> dict[str, Any]:
    """Where and with what a run was made: library version and git commit, machine, Python,
    NumPy/SciPy versions, CPU count, UTC time."""
    import scipy

    import lowranklab

    return {"lowranklab": lowranklab.__version__, "git_commit": git_commit(),
            "machine": f"{platform.node()} ({platform.platform()}, {platform.machine()}, "
                       f"{os.cpu_count()} CPUs)",
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__,
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def git_commit() -> str:
    """The commit of the lowranklab source tree (with '+dirty' if modified), or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


# -- internals --------------------------------------------------------------------------------
def _find(name: str, out: str | Path, key: str | None) -> Path:
    base = Path(out) / name
    if key is not None:
        d = base / key
        if not (d / "config.json").exists():
            raise ValueError(f"no stored run {key!r} of {name} under {out}")
        return d
    done = sorted(base.glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    if not done:
        raise ValueError(f"no stored results for {name} under {out}; run `lowranklab run {name}`")
    return done[-1].parent


def _complete(d: Path, cfg: ExperimentConfig) -> bool:
    if not (d / "summary.json").exists() or not (d / "config.json").exists():
        return False
    raw = json.loads((d / "config.json").read_text())
    return raw.get("config") == cfg.model_dump(mode="json")


def _load(exp: Experiment, d: Path):
    raw = json.loads((d / "config.json").read_text())
    cfg = exp.config(**raw["config"])
    tables = {p.stem: pd.read_parquet(p) for p in sorted(d.glob("*.parquet"))}
    return tables, cfg, bool(raw.get("quick", False))


def _draw(exp: Experiment, tables, cfg, d: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figdir = d / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    for old in figdir.glob("*.png"):
        old.unlink()
    paths = []
    for suffix, fig in exp.plot(tables, cfg).items():
        path = figdir / (f"{exp.name}-{suffix}.png" if suffix else f"{exp.name}.png")
        save_figure(fig, path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def _store(exp: Experiment, tables: dict[str, Any], cfg, quick: bool, d: Path) -> None:
    for key, df in tables.items():
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{exp.name}: result table {key!r} must be a pandas DataFrame")
    d.mkdir(parents=True, exist_ok=True)
    (d / "summary.json").unlink(missing_ok=True)  # incomplete until the new summary lands
    for key, df in tables.items():  # each replaced atomically; stale tables removed after
        write_parquet(df, d / f"{key}.parquet")
    for old in d.glob("*.parquet"):
        if old.stem not in tables:
            old.unlink()
    _write_json(d / "config.json", {"experiment": exp.name, "quick": quick,
                                    "config": cfg.model_dump(mode="json")})


def _write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2))  # atomic (lowranklab.atomic)


def _summarize(exp: Experiment, tables, cfg, quick: bool, elapsed: float,
               key: str) -> dict[str, Any]:
    default_standard = "quick size, paper-size test" if quick else "paper size"
    claims = []
    for c in exp.claims(tables, cfg):
        row = c.as_dict()
        if row["standard"] is None:
            row["standard"] = default_standard
        claims.append(row)
    return {"experiment": exp.name, "paper": exp.paper, "figure": exp.figure,
            "summary": exp.summary, "quick": quick, "seed": cfg.seed, "key": key,
            "config": cfg.model_dump(mode="json"), "elapsed_s": round(elapsed, 3),
            "claims": claims}
