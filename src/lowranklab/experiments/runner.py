"""Running, storing and redrawing experiments.

Layout under OUT (default ./lowranklab-results):
    OUT/NAME/config.json        the validated config (with quick flag)
    OUT/NAME/TABLE.parquet      each tidy result table
    OUT/NAME/summary.json       {"experiment", "paper", "quick", "seed", "claims": [...]}
    OUT/figures/NAME[-SUFFIX].png
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lowranklab.experiments import get
from lowranklab.experiments.base import Context, Experiment, interrupt_guard

DEFAULT_OUT = Path("lowranklab-results")


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    out: str | Path = DEFAULT_OUT,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run NAME, store its tables, draw its figures, write and return its summary."""
    exp = get(name)
    cfg = exp.make_config(quick=quick, seed=seed, overrides=overrides)
    out = Path(out)
    ctx = Context(name=name, rng=np.random.default_rng(cfg.seed), quick=quick, verbose=verbose)
    ctx.log(f"running ({'quick' if quick else 'full'} size, seed {cfg.seed})")
    t0 = time.perf_counter()
    with interrupt_guard() as guard:
        tables = exp.run(cfg, ctx)
    if guard.fired:  # a solver returned `interrupted`: neither store nor judge the claims
        raise KeyboardInterrupt
    elapsed = time.perf_counter() - t0
    _store(exp, tables, cfg, quick, out)
    summary = _summarize(exp, tables, cfg, quick, elapsed)
    (out / name / "summary.json").write_text(json.dumps(summary, indent=2))
    summary["figures"] = [str(p) for p in draw_figures(name, out=out, tables=tables, cfg=cfg)]
    ctx.log(f"done in {elapsed:.1f} s; {sum(c['holds'] for c in summary['claims'])}/"
            f"{len(summary['claims'])} claims hold; results in {out / name}")
    return summary


def load_results(name: str, out: str | Path = DEFAULT_OUT):
    """The stored tables and config of NAME (raises ValueError if it has not been run)."""
    exp = get(name)
    d = Path(out) / name
    cfg_path = d / "config.json"
    if not cfg_path.exists():
        raise ValueError(f"no stored results for {name} under {out}; run `lowranklab run {name}`")
    raw = json.loads(cfg_path.read_text())
    cfg = exp.config(**raw["config"])
    tables = {p.stem: pd.read_parquet(p) for p in sorted(d.glob("*.parquet"))}
    return tables, cfg, bool(raw.get("quick", False))


def draw_figures(name: str, *, out: str | Path = DEFAULT_OUT, tables=None, cfg=None) -> list[Path]:
    """Draw NAME's figures from stored results (or the given tables) into OUT/figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exp = get(name)
    if tables is None:
        tables, cfg, _ = load_results(name, out)
    figdir = Path(out) / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, fig in exp.plot(tables, cfg).items():
        path = figdir / (f"{name}-{suffix}.png" if suffix else f"{name}.png")
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def _store(exp: Experiment, tables: dict[str, Any], cfg, quick: bool, out: Path) -> None:
    d = out / exp.name
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("*.parquet"):
        old.unlink()
    for key, df in tables.items():
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{exp.name}: result table {key!r} must be a pandas DataFrame")
        df.to_parquet(d / f"{key}.parquet", index=False)
    (d / "config.json").write_text(json.dumps({"experiment": exp.name, "quick": quick,
                                               "config": cfg.model_dump(mode="json")}, indent=2))


def _summarize(exp: Experiment, tables, cfg, quick: bool, elapsed: float) -> dict[str, Any]:
    claims = [c.as_dict() for c in exp.claims(tables, cfg)]
    return {"experiment": exp.name, "paper": exp.paper, "figure": exp.figure, "quick": quick,
            "seed": cfg.seed, "elapsed_s": round(elapsed, 3), "claims": claims}
