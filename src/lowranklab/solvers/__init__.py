"""Solvers: each returns a `Result` with a structured `StopCode`."""

from lowranklab.solvers.gd import gradient_descent
from lowranklab.solvers.result import Result, StopCode, Trace
from lowranklab.solvers.step import default_step

__all__ = ["gradient_descent", "default_step", "Result", "StopCode", "Trace"]
