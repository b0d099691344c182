"""Parameter grids: the Cartesian product of config values × seeds, as hashable tasks."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    """One run of experiment `name` with `config` (a JSON-able dict that includes the seed)."""

    name: str
    config: dict[str, Any]
    quick: bool = False

    @property
    def key(self) -> str:
        """A stable identity: same experiment, size and config ⇒ same key (resumption)."""
        blob = json.dumps({"name": self.name, "quick": self.quick, "config": self.config},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def expand(name: str, grid: dict[str, list[Any]], seeds: list[int], *,
           quick: bool = False, fixed: dict[str, Any] | None = None) -> list[Task]:
    """Every combination of the grid values, each with every seed.

    expand("demo.recovery", {"r": [2, 3]}, [0, 1]) gives 4 tasks. Values in `fixed` are added
    to every config; a key may not be both fixed and swept.
    """
    fixed = dict(fixed or {})
    both = set(fixed) & set(grid)
    if both:
        raise ValueError(f"keys both fixed and swept: {sorted(both)}")
    for k, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"grid values for {k!r} must be a non-empty list, got {values!r}")
    if not seeds:
        raise ValueError("at least one seed is needed")
    keys = sorted(grid)
    tasks = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        for seed in seeds:
            cfg = {**fixed, **dict(zip(keys, combo, strict=True)), "seed": int(seed)}
            tasks.append(Task(name=name, config=cfg, quick=quick))
    return tasks


def parse_values(text: str) -> list[Any]:
    """'1,2,3' → [1, 2, 3]; '0:5' → [0, 1, 2, 3, 4]; JSON scalars where they parse."""
    if ":" in text and all(p.strip().lstrip("-").isdigit() for p in text.split(":")):
        parts = [int(p) for p in text.split(":")]
        return list(range(*parts))
    out = []
    for item in text.split(","):
        try:
            out.append(json.loads(item))
        except json.JSONDecodeError:
            out.append(item.strip())
    return out
