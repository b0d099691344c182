"""The experiment contract (DESIGN.md): every figure of every paper is a registered experiment
`PAPER.FIGURE` with a validated config, a `--quick` size, tidy results, a figure drawn from the
stored results only, and the paper's claims evaluated from the run.

An experiment module defines a pydantic config (subclass of `ExperimentConfig`) and three
functions, then calls `register`:

    run(cfg, ctx)      -> dict[str, pandas.DataFrame]   the tidy results (computes)
    claims(tables, cfg) -> list[Claim]                   the paper's statements, evaluated
    plot(tables, cfg)   -> dict[str, Figure]             suffix -> matplotlib figure

`plot` and `claims` never recompute: `lowranklab figure NAME` redraws from the stored tables.
"""

from __future__ import annotations

import math
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

T = TypeVar("T")


# Range rules by field-name convention, checked for every experiment config before it runs
# (fields that declare their own bounds with Field(ge=..., ...) keep those instead). Counts,
# sizes, ranks and iteration budgets are integers >= 1; seeds and a few counters >= 0;
# probabilities and sampling fractions in (0, 1]; weights, noise levels and thresholds that may
# vanish >= 0; every other float (steps, scales, tolerances, horizons) a finite number > 0.
_INT_GE0 = re.compile(r"^(seed|.*_seed|drop|restarts|max_redraws|max_restarts)$")
_FLOAT_UNIT = re.compile(r"^(fraction|p)$")
_FLOAT_GE0 = re.compile(r"^(mu|noise|delta|pgd_.*_thres|pgd_radius)$")
_FLOAT_FREE = re.compile(r"^(theta_.*|quad_c|log10_.*)$")


def conventional_bound(name: str, kind: type) -> tuple[float | None, bool, float | None] | None:
    """(low, low_open, high) for field `name` of scalar type `kind` (int or float); None when
    no rule applies. The high bound, when given, is inclusive."""
    if kind is int:
        return (0, False, None) if _INT_GE0.match(name) else (1, False, None)
    if kind is float:
        if _FLOAT_UNIT.match(name):
            return (0.0, True, 1.0)
        if _FLOAT_GE0.match(name):
            return (0.0, False, None)
        if _FLOAT_FREE.match(name):
            return (None, False, None)
        return (0.0, True, None)
    return None


def _scalar_kind(annotation) -> type | None:
    """int or float for `int`, `float`, `int | None`, `float | None`; None otherwise."""
    if annotation in (int, float):
        return annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    if len(args) == 1 and args[0] in (int, float) and type(None) in get_args(annotation):
        return args[0]
    return None


def field_bounds(config: type[BaseModel]) -> dict[str, tuple[float | None, bool, float | None]]:
    """The conventional bound of every scalar field without a declared bound."""
    out = {}
    for name, info in config.model_fields.items():
        kind = _scalar_kind(info.annotation)
        if kind is None or info.metadata:
            continue
        bound = conventional_bound(name, kind)
        if bound is not None:
            out[name] = bound
    return out


def describe_bound(bound: tuple[float | None, bool, float | None], kind: type) -> str:
    low, low_open, high = bound
    parts = [] if kind is int else ["finite"]
    if low is not None and high is not None:
        return " ".join([*parts, f"in {'(' if low_open else '['}{low:g}, {high:g}]"])
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"<= {high:g}")
    return " ".join(parts) or "any"


class ExperimentConfig(BaseModel):
    """Base of every experiment config: unknown keys are errors, values are validated —
    declared bounds (Field(ge=...)) and, for the other scalar fields, the conventional ranges
    of `conventional_bound` (so `--set r=0` or `fraction=2` fails before any work)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    seed: int = 0

    @model_validator(mode="after")
    def _check_conventional_ranges(self):
        cls = type(self)
        for name, bound in field_bounds(cls).items():
            v = getattr(self, name)
            if v is None:
                continue
            kind = _scalar_kind(cls.model_fields[name].annotation)
            low, low_open, high = bound
            bad = (isinstance(v, float) and not math.isfinite(v)) \
                or (low is not None and (v <= low if low_open else v < low)) \
                or (high is not None and v > high)
            if bad:
                raise ValueError(f"{name} must be {describe_bound(bound, kind)}, got {v}")
        fields = cls.model_fields
        if "r" in fields and isinstance(self.r, int):  # a rank cannot exceed the dimensions
            for dims in (("d",), ("n",), ("n1", "n2")):
                vals = [getattr(self, k) for k in dims if k in fields]
                if len(vals) == len(dims) and all(isinstance(v, int) for v in vals) \
                        and self.r > min(vals):
                    raise ValueError(f"r must be <= {' and '.join(dims)} (the rank cannot "
                                     f"exceed the dimensions), got r = {self.r} > "
                                     f"{min(vals)}")
        return self


#: What a claim row is (issue 18): only `reproduces` rows count as reproduced claims.
#:  reproduces   a statement of the paper, evaluated from the run; altered tables make it false
#:  consistency  a check of a construction or identity (closed forms, algebra, the instance
#:               built as specified): kept as a test, shown apart, not counted as reproduced
#:  observation  a finding beyond the paper (or where the paper's statement does not hold as
#:               written), shown with its evidence, not counted as reproduced
CLAIM_KINDS = ("reproduces", "consistency", "observation")

#: `paper_value` of a claim whose number comes from the spec's pilot runs, not the paper.
SPEC_PILOT = "spec pilot"


@dataclass
class Claim:
    """One statement of the paper about a figure, evaluated from the run.

    `kind` is one of `CLAIM_KINDS`; `standard` names the test the row is held to where it is
    not the paper-size one (see `tolerance_standard`); the runner fills the default.
    """

    id: str
    statement: str
    paper_value: Any
    measured: Any
    holds: bool
    kind: str = "reproduces"
    standard: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"claim {self.id!r}: kind must be one of {CLAIM_KINDS}, "
                             f"got {self.kind!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "statement": self.statement, "kind": self.kind,
                "paper_value": _jsonable(self.paper_value), "measured": _jsonable(self.measured),
                "holds": bool(self.holds), "standard": self.standard}


def tolerance_standard(cfg: ExperimentConfig, *fields: str) -> str:
    """The standard a claim tested with the config tolerances `fields` is held to: 'paper
    tolerance' when every field has its paper-size default, else 'loosened: f = v (paper: d)'.
    """
    defaults = type(cfg).model_fields
    loose = []
    for f in fields:
        if f not in defaults:
            raise ValueError(f"tolerance_standard: {type(cfg).__name__} has no field {f!r}")
        v, d = getattr(cfg, f), defaults[f].default
        if v != d:
            loose.append(f"{f} = {v:g} (paper size: {d:g})")
    if not loose:
        return "paper tolerance: " + ", ".join(f"{f} = {getattr(cfg, f):g}" for f in fields)
    return "loosened: " + "; ".join(loose)


@dataclass
class Context:
    """What a running experiment gets: its seeded generator and a progress reporter."""

    name: str
    rng: np.random.Generator
    quick: bool
    verbose: bool = True
    _last: float = field(default=0.0, repr=False)

    def progress(self, items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
        """Yield from `items`, printing '[name] desc i/total' to stderr at most once a second
        (and for the first and last item)."""
        total = total if total is not None else (len(items) if hasattr(items, "__len__")
                                                 else None)
        for i, item in enumerate(items):
            if _SIGINT.fired:  # a solver swallowed Ctrl-C: stop before the next item
                raise KeyboardInterrupt
            now = time.monotonic()
            if self.verbose and (i == 0 or now - self._last > 1.0 or
                                 (total is not None and i == total - 1)):
                self._last = now
                of = f"/{total}" if total is not None else ""
                print(f"[{self.name}] {desc} {i + 1}{of}", file=sys.stderr, flush=True)
            yield item

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"[{self.name}] {message}", file=sys.stderr, flush=True)


class interrupt_guard:  # noqa: N801 (used as a context manager, like contextlib's)
    """Record Ctrl-C during an experiment, so a run that a solver cut short (the solvers catch
    KeyboardInterrupt and return `interrupted`) is never taken for a finished one.

        with interrupt_guard() as g:
            tables = exp.run(cfg, ctx)
        if g.fired: ...  # do not store, do not evaluate claims

    While active, SIGINT sets `fired` and raises KeyboardInterrupt as usual, and
    `Context.progress` raises again at the next item. Off the main thread (e.g. a Dask
    worker thread) signals cannot be caught; the guard then only reports `fired = False`.
    """

    def __init__(self) -> None:
        self.fired = False
        self._previous = None
        self._installed = False

    def __enter__(self) -> interrupt_guard:
        self.fired = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
            if _SIGINT.depth == 0:
                _SIGINT.fired = False
            _SIGINT.depth += 1
        return self

    def _handle(self, signum, frame) -> None:
        self.fired = True
        _SIGINT.fired = True
        raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            self._installed = False
            _SIGINT.depth -= 1
            self.fired = self.fired or _SIGINT.fired  # nested guards all see it
            if _SIGINT.depth == 0:
                _SIGINT.fired = False


class _SigintState:
    fired = False
    depth = 0  # guards active on the main thread


_SIGINT = _SigintState()


@dataclass
class Experiment:
    name: str  # "PAPER.FIGURE"
    paper: str
    figure: str
    summary: str  # one line
    config: type[ExperimentConfig]
    run: Callable[[Any, Context], dict[str, Any]]
    claims: Callable[[dict[str, Any], Any], list[Claim]]
    plot: Callable[[dict[str, Any], Any], dict[str, Any]]
    quick: dict[str, Any] = field(default_factory=dict)
    slow: bool = False  # the full size takes long (hours): `reproduce` still runs it

    def make_config(self, *, quick: bool, seed: int | None = None,
                    overrides: dict[str, Any] | None = None) -> ExperimentConfig:
        values: dict[str, Any] = dict(self.quick) if quick else {}
        if seed is not None:
            values["seed"] = seed
        values.update(overrides or {})
        return self.config(**values)


REGISTRY: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    if exp.name in REGISTRY:
        raise ValueError(f"experiment {exp.name!r} registered twice")
    if exp.name.split(".")[0] != exp.paper:
        raise ValueError(f"experiment name {exp.name!r} must start with its paper {exp.paper!r}")
    unknown = set(exp.quick) - set(exp.config.model_fields)
    if unknown:
        raise ValueError(f"{exp.name}: quick overrides name unknown fields {sorted(unknown)}")
    REGISTRY[exp.name] = exp
    return exp


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v
