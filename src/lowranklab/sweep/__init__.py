"""Sweeps: TOML specs over problem families and solvers (spec.py, families.py), executors
(serial, local processes, Dask; execute.py), a store that never lies (store.py), tidy results
(`load`) and phase-transition plots (plot.py)."""

from lowranklab.sweep.execute import register_batched, run_sweep
from lowranklab.sweep.spec import SpecError, SweepSpec, Task, load_spec, spec_from_dict
from lowranklab.sweep.store import StoreError, SweepStore, load

__all__ = ["SpecError", "StoreError", "SweepSpec", "SweepStore", "Task", "load", "load_spec",
           "register_batched", "run_sweep", "spec_from_dict"]
