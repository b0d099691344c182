"""Parameter sweeps: grids of configs × seeds, executors (serial, processes, Dask), and a
durable embedded results store that resumes where a killed sweep stopped."""

from lowranklab.sweep.execute import run_sweep, run_task
from lowranklab.sweep.grid import Task, expand, parse_values
from lowranklab.sweep.store import ResultStore

__all__ = ["Task", "expand", "parse_values", "ResultStore", "run_sweep", "run_task"]
