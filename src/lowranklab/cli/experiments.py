"""`lowranklab run / figure / reproduce`: config overrides, `--help-config`, and the checks
that run before an experiment starts (name, every config value through the experiment's
pydantic model with its bounds, the output directory)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_OPS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a comma that starts another `key=` assignment (not one inside a list value "[1,2]")
_NEXT_ASSIGNMENT = re.compile(r",\s*(?=[A-Za-z_][A-Za-z0-9_]*\s*=)")


def parse_sets(sets: list[str], option: str = "--set") -> dict[str, Any]:
    """`key=value` items (repeatable, or several in one item: `a=1,b=2`) → {key: value}; the
    value is JSON where it parses (numbers, true/false, null, lists), else the plain string.
    A key given twice is an error (which one was meant?)."""
    out: dict[str, Any] = {}
    for item in sets:
        depth = 0
        pieces, start = [], 0
        for i, ch in enumerate(item):  # split at top-level commas that start `key=`
            depth += ch in "[{"
            depth -= ch in "]}"
            if ch == "," and depth == 0 and _NEXT_ASSIGNMENT.match(item, i):
                pieces.append(item[start:i])
                start = i + 1
        pieces.append(item[start:])
        for piece in pieces:
            if "=" not in piece:
                raise ValueError(f"{option} expects key=value, got {piece!r}")
            k, v = (t.strip() for t in piece.split("=", 1))
            if not _KEY.fullmatch(k):
                raise ValueError(f"{option}: {k!r} is not a config key")
            if k in out:
                raise ValueError(f"{option}: {k} given twice")
            if v == "":
                raise ValueError(f"{option}: no value for {k}")
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError:
                out[k] = v
    return out


def format_validation_error(e) -> str:
    """A pydantic ValidationError as one line: `key: message; key: message`."""
    parts = []
    for x in e.errors():
        loc = ".".join(map(str, x["loc"]))
        msg = str(x["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid config: " + "; ".join(parts)


def check_config(name: str, *, quick: bool, seed: int | None, overrides: dict[str, Any]):
    """The validated config NAME would run with (ValueError for an unknown experiment or
    key, pydantic ValidationError for a value out of range)."""
    from lowranklab.experiments import get

    exp = get(name)
    unknown = set(overrides) - set(exp.config.model_fields)
    if unknown:
        raise ValueError(f"{name} has no config key(s) {sorted(unknown)}; valid keys: "
                         f"{', '.join(sorted(exp.config.model_fields))} "
                         f"(see `lowranklab run {name} --help-config`)")
    if seed is not None and seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    return exp.make_config(quick=quick, seed=seed, overrides=overrides)


def config_help(name: str) -> str:
    """The valid keys of NAME's config: type, default, quick value, range."""
    from lowranklab.experiments import get
    from lowranklab.experiments.base import _scalar_kind, describe_bound, field_bounds

    exp = get(name)
    bounds = field_bounds(exp.config)
    rows = []
    for key, info in exp.config.model_fields.items():
        kind = _scalar_kind(info.annotation)
        ann = getattr(info.annotation, "__name__", None) or str(info.annotation)
        ann = ann.replace("typing.", "")
        if key in bounds:
            rng = describe_bound(bounds[key], kind)
        else:
            rng = " ".join(f"{_OPS.get(k, k)} {v}" for m in info.metadata
                           for k, v in vars(m).items() if v is not None)
        quick = f"  (quick: {json.dumps(exp.quick[key])})" if key in exp.quick else ""
        rows.append((key, ann, json.dumps(info.default, default=str) + quick, rng))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{name} ({exp.paper}, {exp.figure}): {exp.summary}",
             "set with --set key=value (JSON values); keys:"]
    lines += [f"  {k:<{w[0]}}  {a:<{w[1]}}  default {d:<{w[2]}}  {r}".rstrip()
              for k, a, d, r in rows]
    return "\n".join(lines)


def check_out_dir(out: Path, *, must_exist: bool = False) -> Path:
    from lowranklab.cli import checks

    return checks.output_dir(out, must_exist=must_exist)
