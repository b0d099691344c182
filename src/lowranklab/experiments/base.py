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
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class ExperimentConfig(BaseModel):
    """Base of every experiment config: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    seed: int = 0


@dataclass
class Claim:
    """One statement of the paper about a figure, evaluated from the run."""

    id: str
    statement: str
    paper_value: Any
    measured: Any
    holds: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "statement": self.statement,
                "paper_value": _jsonable(self.paper_value), "measured": _jsonable(self.measured),
                "holds": bool(self.holds)}


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
