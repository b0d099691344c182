"""Registered experiments, one module per paper (or per figure), discovered automatically:
every module in this package whose name does not start with '_' and is not `base`/`runner`
is imported and registers its experiments with `base.register`."""

from __future__ import annotations

import importlib
import pkgutil

from lowranklab.experiments.base import REGISTRY, Claim, Context, Experiment, ExperimentConfig

_INFRA = {"base", "runner"}
_loaded = False


def load_all() -> dict[str, Experiment]:
    """Import every experiment module once and return the registry."""
    global _loaded
    if not _loaded:
        for mod in sorted(pkgutil.walk_packages(__path__, prefix=f"{__name__}."),
                          key=lambda m: m.name):
            short = mod.name.rsplit(".", 1)[-1]
            if short.startswith("_") or short in _INFRA:
                continue
            importlib.import_module(mod.name)
        _loaded = True
    return REGISTRY


def get(name: str) -> Experiment:
    reg = load_all()
    if name not in reg:
        close = [n for n in reg if name.split(".")[0] in n]
        hint = f"; did you mean one of {close}" if close else ""
        raise ValueError(f"unknown experiment {name!r}{hint} (see `lowranklab experiments`)")
    return reg[name]


__all__ = ["Claim", "Context", "Experiment", "ExperimentConfig", "REGISTRY", "get", "load_all"]
