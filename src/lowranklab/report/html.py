"""The static HTML report (a Jinja2 template; works from file://): a summary table per paper,
contents, one section per paper (title, authors, what it shows), each experiment's figures
full width with a caption, its claims table (paper value beside the measured value, formatted
for a reader; reproduced claims apart from consistency checks and observations), the errata
found in the papers and specs, and the provenance of every run.

Only `reproduces` rows count as reproduced claims (see `experiments.base.CLAIM_KINDS`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from lowranklab.atomic import write_text
from lowranklab.report.errata import ERRATA
from lowranklab.report.papers import PAPERS


def fmt_value(v: Any, digits: int = 4) -> str:
    """A reader's rendering of a claim value: numbers to `digits` significant digits, dicts as
    'name = value' pairs joined by '; ', lists in brackets, text as is."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v == 0:
            return "0"
        if 1e-3 <= abs(v) < 1e5:
            s = f"{v:.{digits}g}"
            return s
        m, e = f"{v:.{digits - 1}e}".split("e")
        m = m.rstrip("0").rstrip(".")
        return f"{m}e{int(e)}"
    if isinstance(v, dict):
        return "; ".join(f"{k} = {fmt_value(x, digits)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt_value(x, digits) for x in v) + "]"
    if v is None:
        return "—"
    return str(v)


def fmt_fields(v: Any, digits: int = 4) -> list[tuple[str, str]]:
    """A measured value as named fields: [(name, formatted value)]; one unnamed field for a
    scalar."""
    if isinstance(v, dict):
        return [(str(k), fmt_value(x, digits)) for k, x in v.items()]
    return [("", fmt_value(v, digits))]


def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("lowranklab.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt_value
    env.filters["fields"] = fmt_fields
    env.filters["seconds"] = _seconds
    return env


def _seconds(s: float) -> str:
    s = float(s)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _pick(runs: list[dict], size: str | None) -> dict[str, dict]:
    """One run per experiment: the default run of `size` ('quick'/'full'); with size None the
    full default if there is one, else the quick default, else the latest other run."""
    by_name: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in runs:
        by_name[r["experiment"]][r.get("key", "quick" if r.get("quick") else "full")] = r
    chosen = {}
    for name, keys in by_name.items():
        if size is not None:
            if size in keys:
                chosen[name] = keys[size]
        elif "full" in keys or "quick" in keys:
            chosen[name] = keys.get("full", keys.get("quick"))
        else:
            chosen[name] = max(keys.values(),
                               key=lambda r: r.get("provenance", {}).get("utc", ""))
    return chosen


def _caption(exp: dict, paper: dict) -> str:
    size = "quick size" if exp["quick"] else "the paper's size"
    rep = [c for c in exp["claims"] if c["kind"] == "reproduces"]
    ok = sum(c["holds"] for c in rep)
    held = (f"{ok} of {len(rep)} reproduced claims hold" if rep else
            "its rows are consistency checks, not reproduced claims")
    return (f"{paper['short']} {exp['figure']}: {exp.get('summary', '')}. "
            f"Ours: computed at {size}, seed {exp['seed']}; {held}.")


def build_context(out: str | Path, size: str | None = None, names: list[str] | None = None,
                  keys: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything the template needs, from the stored runs under OUT: the run `keys[name]` of
    each experiment when given (what one `reproduce` made), else the default run of `size`."""
    from lowranklab.experiments.runner import provenance, stored_runs

    out = Path(out)
    runs = stored_runs(out)
    if keys is not None:
        chosen = {r["experiment"]: r for r in runs if keys.get(r["experiment"]) == r["key"]}
    else:
        chosen = _pick(runs, size)
    if names is not None:
        chosen = {n: r for n, r in chosen.items() if n in names}
    by_paper: dict[str, list[dict]] = defaultdict(list)
    for name in sorted(chosen):
        r = chosen[name]
        figdir = out / r["dir"] / "figures"
        r["figure_files"] = [f"{r['dir']}/figures/{p.name}" for p in sorted(figdir.glob("*.png"))]
        r["anchor"] = name.replace(".", "-")
        for kind in ("reproduces", "consistency", "observation"):
            r[kind] = [c for c in r["claims"] if c.get("kind", "reproduces") == kind]
        by_paper[r["paper"]].append(r)
    order = [k for k in PAPERS if k in by_paper] + sorted(set(by_paper) - set(PAPERS))
    papers = []
    for key in order:
        meta = PAPERS.get(key, {"title": key, "authors": "", "short": key, "shows": "",
                                "venue": ""})
        exps = by_paper[key]
        for e in exps:
            e["caption"] = _caption(e, meta)
        rep = [c for e in exps for c in e["reproduces"]]
        sizes = sorted({"quick" if e["quick"] else "full" for e in exps})
        papers.append({"key": key, **meta, "experiments": exps,
                       "n_reproduces": len(rep), "n_hold": sum(c["holds"] for c in rep),
                       "n_consistency": sum(len(e["consistency"]) for e in exps),
                       "n_consistency_hold": sum(c["holds"] for e in exps
                                                 for c in e["consistency"]),
                       "n_observation": sum(len(e["observation"]) for e in exps),
                       "size": "/".join(sizes), "elapsed_s": sum(e["elapsed_s"] for e in exps)})
    total = {k: sum(p[k] for p in papers) for k in ("n_reproduces", "n_hold", "n_consistency",
                                                     "n_consistency_hold", "n_observation")}
    commits = sorted({e.get("provenance", {}).get("git_commit", "unknown")
                      for p in papers for e in p["experiments"]})
    n_quick = sum(e["quick"] for p in papers for e in p["experiments"])
    n_full = sum(not e["quick"] for p in papers for e in p["experiments"])
    scope = " and ".join(f"{n} {what}-size run{'s' if n != 1 else ''}"
                         for n, what in ((n_full, "paper"), (n_quick, "quick")) if n)
    return {"papers": papers, "total": total, "scope": scope or "no runs", "now": provenance(),
            "commits": commits, "errata": [(PAPERS.get(k, {"short": k})["short"], rows)
                                           for k, rows in ERRATA.items()
                                           if not by_paper or k in by_paper]}


def write_report(out: str | Path, size: str | None = None, names: list[str] | None = None,
                 keys: dict[str, str] | None = None) -> Path:
    """Render OUT/report.html from the stored runs (see `build_context`) and return its
    path."""
    out = Path(out)
    html = _env().get_template("report.html.j2").render(**build_context(out, size, names, keys))
    path = out / "report.html"
    write_text(path, html)  # atomic
    return path
