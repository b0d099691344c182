"""Sweep specs (TOML): a problem family, fixed parameters, a grid, seeds, the metrics to keep, a
success criterion and an optional phase-transition plot; validated before anything runs.

    name = "sensing_init_rank"
    family = "sensing"              # sensing | completion | min_norm | experiment
    # experiment = "demo.recovery"  # with family = "experiment"; quick = true for its quick size
    seeds = { start = 0, stop = 5 } # or [0, 1, 2] or "0:5" (stop excluded)
    metrics = ["rel_error", "iterations", "stop"]
    success = "rel_error <= 1e-3"   # METRIC OP VALUE, OP one of < <= > >= == !=

    [params]                        # fixed parameters of every task (the family's fields)
    d = 12
    r = 1
    init = "rank"

    [grid]                          # each axis a list or a range table
    oversampling = { start = 1.0, stop = 5.0, num = 9 }   # linspace, both ends included
    init_rank = [1, 2, 3, 6, 12]
    # step = { start = 1e-3, stop = 1e-1, num = 5, log = true }   # geomspace
    # r = { start = 1, stop = 5, step = 1 }                       # stop included

    [plot]                          # optional: drawn at the end of the sweep
    x = "oversampling"
    y = "init_rank"
    boundary = "dof"                # a theory boundary of the family (families.py)

A task is one grid point × one seed; its key is a hash of the family, the validated parameters
(defaults filled in) and the seed, so the same computation always has the same key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import operator
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from lowranklab.sweep.families import FAMILIES

MAX_TASKS = 1_000_000  # a spec that expands to more is refused before anything is allocated

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}
_TOP_KEYS = {"name", "description", "family", "experiment", "quick", "seeds", "metrics",
             "success", "params", "grid", "plot"}


class SpecError(ValueError):
    """A sweep spec (or a command-line override of it) is invalid."""


@dataclass(frozen=True)
class Criterion:
    """success ⇔ metrics[metric] OP value (a missing or NaN metric is not a success)."""

    metric: str
    op: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> Criterion:
        if not isinstance(text, str):
            raise SpecError(f"success must be a string like 'rel_error <= 1e-3', got {text!r}")
        m = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*", text)
        if not m:
            raise SpecError(f"success must read 'METRIC OP VALUE' (OP one of "
                            f"{' '.join(_OPS)}), got {text!r}")
        raw = m.group(3)
        if raw.lower() in ("true", "false"):
            value: Any = raw.lower() == "true"
        else:
            try:
                value = float(raw)
            except ValueError:
                value = raw.strip("'\"")
        return cls(m.group(1), m.group(2), value)

    def __call__(self, metrics: Mapping[str, Any]) -> bool:
        v = metrics.get(self.metric)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return False
        try:
            return bool(_OPS[self.op](v, self.value))
        except TypeError:
            return False

    def __str__(self) -> str:
        v = str(self.value).lower() if isinstance(self.value, bool) else self.value
        return f"{self.metric} {self.op} {v}"


@dataclass(frozen=True)
class PlotSpec:
    x: str
    y: str
    boundary: str | None = None
    file: str | None = None  # default phase_X_Y.png in the sweep directory


@dataclass(frozen=True)
class Task:
    """One grid point × one seed. `params` are the validated parameters (defaults filled in),
    `point` only the grid coordinates. Picklable, so executors can ship it to workers."""

    key: str
    index: int
    family: str
    experiment: str | None
    quick: bool
    params: dict[str, Any]
    point: dict[str, Any]
    seed: int

    def describe(self) -> str:
        return " ".join(f"{k}={_short(v)}" for k, v in self.point.items()) + f" seed={self.seed}"

    def shape_key(self) -> tuple:
        """Tasks with equal shape keys build instances of the same sizes: the unit a batched
        executor (several trials in one array program) would group."""
        sizes = {k: v for k, v in self.params.items()
                 if k in ("d", "r", "m", "oversampling", "n1", "n2", "p", "fraction", "max_iter")}
        return (self.family, self.experiment, json.dumps(sizes, sort_keys=True, default=str))


@dataclass
class SweepSpec:
    name: str
    family: str
    params: dict[str, Any]
    grid: dict[str, list[Any]]
    seeds: list[int]
    metrics: tuple[str, ...]
    success: Criterion
    experiment: str | None = None
    quick: bool = False
    plot: PlotSpec | None = None
    description: str = ""
    source: str = "<spec>"
    _tasks: list[Task] | None = field(default=None, repr=False)

    def canonical(self) -> dict[str, Any]:
        """The JSON identity of the sweep: two specs with the same canonical form are the same
        sweep (a store holds exactly one)."""
        return {"family": self.family, "experiment": self.experiment, "quick": self.quick,
                "params": self.params, "grid": self.grid, "seeds": self.seeds,
                "metrics": list(self.metrics), "success": str(self.success)}

    def identity(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        d = {"name": self.name, **self.canonical(), "description": self.description}
        if self.plot is not None:
            d["plot"] = {"x": self.plot.x, "y": self.plot.y, "boundary": self.plot.boundary,
                         "file": self.plot.file}
        return json.dumps(d, sort_keys=True, default=str)

    @property
    def n_tasks(self) -> int:
        return math.prod(len(v) for v in self.grid.values()) * len(self.seeds)

    def tasks(self) -> list[Task]:
        if self._tasks is None:
            self._tasks = _expand(self)
        return self._tasks


# -- loading -------------------------------------------------------------------------------------
def load_spec(path: str | Path, *, grid: Mapping[str, list[Any]] | None = None,
              seeds: list[int] | None = None, params: Mapping[str, Any] | None = None
              ) -> SweepSpec:
    """Read and validate a TOML spec; `grid`, `seeds`, `params` override its tables."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"sweep spec {p} does not exist (or is not a file)")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError(f"{p} is not valid TOML: {e}") from None
    raw.setdefault("name", p.stem)
    return spec_from_dict(raw, source=str(p), grid=grid, seeds=seeds, params=params)


def spec_from_dict(raw: Mapping[str, Any], *, source: str = "<spec>",
                   grid: Mapping[str, list[Any]] | None = None, seeds: list[int] | None = None,
                   params: Mapping[str, Any] | None = None) -> SweepSpec:
    """Validate a spec given as a dict (the parsed TOML); raises SpecError naming the field."""
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: a spec must be a table, got {type(raw).__name__}")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise SpecError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: "
                        f"{sorted(_TOP_KEYS)}")
    family = raw.get("family")
    if family not in FAMILIES:
        raise SpecError(f"{source}: family must be one of {sorted(FAMILIES)}, got {family!r}")
    fam = FAMILIES[family]
    experiment = raw.get("experiment")
    if family == "experiment":
        if not isinstance(experiment, str):
            raise SpecError(f"{source}: family 'experiment' needs experiment = \"PAPER.FIGURE\"")
        from lowranklab.experiments import get

        try:
            get(experiment)
        except ValueError as e:
            raise SpecError(f"{source}: {e}") from None
    elif experiment is not None:
        raise SpecError(f"{source}: 'experiment' is only for family = 'experiment'")
    quick = raw.get("quick", False)
    if not isinstance(quick, bool):
        raise SpecError(f"{source}: quick must be true or false, got {quick!r}")

    fixed = dict(_table(raw.get("params", {}), "params", source))
    fixed.update(params or {})
    axes: dict[str, list[Any]] = {}
    for k, v in _table(raw.get("grid", {}), "grid", source).items():
        axes[k] = grid_values(v, f"{source}: grid.{k}")
    for k, v in (grid or {}).items():
        if not isinstance(v, list) or not v:
            raise SpecError(f"--grid {k}: needs at least one value")
        axes[k] = list(v)
    for k in list(fixed):
        if k in axes:  # a command-line grid axis replaces a fixed value of the spec
            if params and k in params:
                raise SpecError(f"{source}: {k!r} is both fixed and swept")
            del fixed[k]
    if "seed" in fixed or "seed" in axes:
        raise SpecError(f"{source}: the seed is set by `seeds`, not params/grid")
    seed_list = seeds if seeds is not None else parse_seeds(raw.get("seeds", [0]),
                                                            f"{source}: seeds")
    n = math.prod(len(v) for v in axes.values()) * len(seed_list)
    if n > MAX_TASKS:
        raise SpecError(f"{source}: the sweep expands to {n} tasks; at most {MAX_TASKS}")

    metrics = raw.get("metrics")
    if metrics is None:
        metrics = list(fam.metrics)
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise SpecError(f"{source}: metrics must be a list of names, got {metrics!r}")
    if fam.metrics:
        bad = [m for m in metrics if m not in fam.metrics]
        if bad:
            raise SpecError(f"{source}: family {family} has no metric(s) {bad}; "
                            f"available: {list(fam.metrics)}")
    success = Criterion.parse(raw.get("success", fam.default_success))
    if fam.metrics and success.metric not in fam.metrics:
        raise SpecError(f"{source}: success names unknown metric {success.metric!r}; "
                        f"available: {list(fam.metrics)}")
    name = raw.get("name", "sweep")
    if not isinstance(name, str) or not re.fullmatch(r"[\w.\-]+", name):
        raise SpecError(f"{source}: name must be letters, digits, '_', '-', '.'; got {name!r}")

    spec = SweepSpec(name=name, family=family, params=fixed, grid=axes, seeds=seed_list,
                     metrics=tuple(dict.fromkeys(metrics)), success=success,
                     experiment=experiment, quick=quick, description=str(raw.get(
                         "description", "")), source=source)
    spec.tasks()  # validates every grid point before anything runs
    spec.grid = {k: [t for t in _validated_axis(spec, k)] for k in axes}
    if "plot" in raw:
        spec.plot = _plot_spec(raw["plot"], spec, source)
    return spec


def _table(v: Any, what: str, source: str) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise SpecError(f"{source}: [{what}] must be a table, got {v!r}")
    return dict(v)


def _plot_spec(v: Any, spec: SweepSpec, source: str) -> PlotSpec:
    t = _table(v, "plot", source)
    unknown = set(t) - {"x", "y", "boundary", "file"}
    if unknown:
        raise SpecError(f"{source}: [plot] has unknown key(s) {sorted(unknown)}")
    ps = PlotSpec(x=t.get("x"), y=t.get("y"), boundary=t.get("boundary"), file=t.get("file"))
    check_plot_axes(spec, ps.x, ps.y, ps.boundary, where=f"{source}: [plot]")
    if ps.file is not None and (not isinstance(ps.file, str) or "/" in ps.file
                                or not ps.file.endswith((".png", ".pdf", ".svg"))):
        raise SpecError(f"{source}: [plot] file must be a name ending .png/.pdf/.svg")
    return ps


def check_plot_axes(spec: SweepSpec, x: Any, y: Any, boundary: str | None, *, where: str
                    ) -> None:
    """x and y must be two different grid axes; the boundary must be one the family knows and
    must solve for x or y."""
    for ax, v in (("x", x), ("y", y)):
        if v not in spec.grid:
            raise SpecError(f"{where}: {ax} must be a grid axis {sorted(spec.grid)}, got {v!r}")
    if x == y:
        raise SpecError(f"{where}: x and y must differ, both are {x!r}")
    if boundary is not None:
        known = FAMILIES[spec.family].boundaries
        if boundary not in known:
            raise SpecError(f"{where}: family {spec.family} has no boundary {boundary!r}; "
                            f"known: {sorted(known) or 'none'}")
        if x not in known[boundary] and y not in known[boundary]:
            raise SpecError(f"{where}: boundary {boundary!r} is a value of "
                            f"{sorted(known[boundary])}; put one of them on x or y")


# -- grid values and seeds -----------------------------------------------------------------------
def grid_values(v: Any, where: str) -> list[Any]:
    """A grid axis: a non-empty list, or {start, stop, num[, log]} (linspace/geomspace with both
    ends) or {start, stop, step} (stop included when it is on the lattice)."""
    if isinstance(v, list):
        if not v:
            raise SpecError(f"{where}: needs at least one value")
        return list(v)
    if not isinstance(v, Mapping):
        raise SpecError(f"{where}: must be a list or a range table {{start, stop, num|step}}, "
                        f"got {v!r}")
    unknown = set(v) - {"start", "stop", "num", "step", "log"}
    if unknown:
        raise SpecError(f"{where}: unknown range key(s) {sorted(unknown)}")
    try:
        start, stop = v["start"], v["stop"]
    except KeyError as e:
        raise SpecError(f"{where}: a range needs start and stop (missing {e})") from None
    for name, x in (("start", start), ("stop", stop)):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise SpecError(f"{where}: {name} must be a finite number, got {x!r}")
    if ("num" in v) == ("step" in v):
        raise SpecError(f"{where}: give exactly one of num and step")
    log = v.get("log", False)
    if "num" in v:
        num = v["num"]
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_TASKS:
            raise SpecError(f"{where}: num must be an integer in [1, {MAX_TASKS}], got {num!r}")
        if log:
            if start <= 0 or stop <= 0:
                raise SpecError(f"{where}: a log range needs start, stop > 0")
            vals = np.geomspace(start, stop, num)
        else:
            vals = np.linspace(start, stop, num)
        out = [float(x) for x in vals]
        if all(isinstance(x, int) for x in (start, stop)) and all(x.is_integer() for x in out):
            return [int(x) for x in out]
        return [float(np.round(x, 12)) for x in out]
    if log:
        raise SpecError(f"{where}: log ranges take num, not step")
    step = v["step"]
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
        raise SpecError(f"{where}: step must be a number > 0, got {step!r}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count < 1:
        raise SpecError(f"{where}: empty range (stop < start)")
    if count > MAX_TASKS:
        raise SpecError(f"{where}: {count} values; at most {MAX_TASKS}")
    if all(isinstance(x, int) for x in (start, stop, step)):
        return [start + i * step for i in range(count)]
    return [float(np.round(start + i * step, 12)) for i in range(count)]


def parse_seeds(v: Any, where: str = "--seeds") -> list[int]:
    """Seeds: a list of integers, {start, stop} (stop excluded), or the text '0:10' / '1,5,7'.
    The count is checked before the list is built."""
    if isinstance(v, Mapping):
        unknown = set(v) - {"start", "stop"}
        if unknown or "stop" not in v:
            raise SpecError(f"{where}: a seed range is {{start, stop}}, got {dict(v)!r}")
        return _seed_range(v.get("start", 0), v["stop"], where)
    if isinstance(v, str):
        text = v.strip()
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 2:
                raise SpecError(f"{where}: a seed range is START:STOP, got {v!r}")
            return _seed_range(_seed_int(parts[0] or "0", where), _seed_int(parts[1], where),
                               where)
        items = [s for s in text.split(",")]
        return _unique_seeds([_seed_int(s, where) for s in items], where)
    if isinstance(v, list):
        return _unique_seeds([_seed_int(s, where) for s in v], where)
    if isinstance(v, int) and not isinstance(v, bool):
        return _unique_seeds([_seed_int(v, where)], where)
    raise SpecError(f"{where}: seeds must be a list of integers, {{start, stop}} or 'A:B', "
                    f"got {v!r}")


def _seed_int(s: Any, where: str) -> int:
    if isinstance(s, bool):
        raise SpecError(f"{where}: {s!r} is not an integer seed")
    if isinstance(s, int):
        out = s
    elif isinstance(s, str) and re.fullmatch(r"\s*\d+\s*", s):
        out = int(s)
    else:
        raise SpecError(f"{where}: {s!r} is not an integer seed (seeds are integers >= 0)")
    if not 0 <= out < 2**63:
        raise SpecError(f"{where}: seed {out} must be in [0, 2^63)")
    return out


def _seed_range(start: Any, stop: Any, where: str) -> list[int]:
    a, b = _seed_int(start, where), _seed_int(stop, where)
    if b <= a:
        raise SpecError(f"{where}: empty seed range {a}:{b} (stop is excluded)")
    if b - a > MAX_TASKS:
        raise SpecError(f"{where}: {b - a} seeds; at most {MAX_TASKS}")
    return list(range(a, b))


def _unique_seeds(seeds: list[int], where: str) -> list[int]:
    if not seeds:
        raise SpecError(f"{where}: at least one seed is needed")
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"{where}: repeated seeds {seeds}")
    return seeds


def parse_grid_option(item: str) -> tuple[str, list[Any]]:
    """'--grid r=1,2,3' or 'r=1:4' (integers, stop excluded) → ('r', [1, 2, 3]); values are
    JSON scalars where they parse, else strings (validated later against the family)."""
    if "=" not in item:
        raise SpecError(f"--grid expects key=v1,v2,...; got {item!r}")
    k, text = (s.strip() for s in item.split("=", 1))
    if not k or not text:
        raise SpecError(f"--grid expects key=v1,v2,...; got {item!r}")
    if re.fullmatch(r"-?\d+:-?\d+", text):
        a, b = (int(s) for s in text.split(":"))
        if b <= a or b - a > MAX_TASKS:
            raise SpecError(f"--grid {k}: range {text} must have 1..{MAX_TASKS} values")
        return k, list(range(a, b))
    out: list[Any] = []
    for s in text.split(","):
        try:
            out.append(json.loads(s))
        except json.JSONDecodeError:
            out.append(s.strip())
    return k, out


def parse_set_option(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise SpecError(f"--set expects key=value; got {item!r}")
    k, text = (s.strip() for s in item.split("=", 1))
    try:
        return k, json.loads(text)
    except json.JSONDecodeError:
        return k, text


# -- expansion -----------------------------------------------------------------------------------
def _validate_point(spec: SweepSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The validated full parameter dict of one grid point (defaults filled in)."""
    fam = FAMILIES[spec.family]
    try:
        if fam.params is not None:
            return fam.params(**values).model_dump(mode="json")
        from lowranklab.experiments import get

        exp = get(spec.experiment)
        cfg = exp.make_config(quick=spec.quick, seed=0, overrides=values)
        out = cfg.model_dump(mode="json")
        out.pop("seed", None)
        return out
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "params"
        where = "grid" if loc in spec.grid else "params"
        got = values.get(loc, "")
        at = ", ".join(f"{k}={_short(values[k])}" for k in spec.grid if k in values)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown parameter of family {spec.family}"
        raise SpecError(f"{spec.source}: {where} {loc}: {msg}" +
                        (f" (got {got!r})" if loc in values else "") +
                        (f" at {at}" if at and where != "grid" else "")) from None
    except (ValueError, TypeError) as e:
        raise SpecError(f"{spec.source}: {e}") from None


def _validated_axis(spec: SweepSpec, k: str) -> list[Any]:
    seen: dict[str, Any] = {}
    for t in spec.tasks():
        v = t.point[k]
        seen.setdefault(json.dumps(v, default=str), v)
    return list(seen.values())


def _expand(spec: SweepSpec) -> list[Task]:
    keys = list(spec.grid)
    tasks: list[Task] = []
    for combo in itertools.product(*(spec.grid[k] for k in keys)):
        raw = {**spec.params, **dict(zip(keys, combo, strict=True))}
        full = _validate_point(spec, raw)
        point = {k: full.get(k, raw[k]) for k in keys}
        for seed in spec.seeds:
            blob = json.dumps({"family": spec.family, "experiment": spec.experiment,
                               "quick": spec.quick, "params": full, "seed": seed},
                              sort_keys=True, default=str)
            key = hashlib.sha256(blob.encode()).hexdigest()[:20]
            tasks.append(Task(key=key, index=len(tasks), family=spec.family,
                              experiment=spec.experiment, quick=spec.quick, params=full,
                              point=point, seed=int(seed)))
    if len({t.key for t in tasks}) != len(tasks):
        raise SpecError(f"{spec.source}: the grid has repeated points (two values of an axis "
                        f"give the same parameters)")
    return tasks


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
