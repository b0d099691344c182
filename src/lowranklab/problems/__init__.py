"""Planted instances and losses f(X) with gradient and Hessian-vector product."""

from lowranklab.problems.instance import Problem, completion_problem, sensing_problem
from lowranklab.problems.loss import LeastSquares, Loss
from lowranklab.problems.planted import planted_psd, planted_rect

__all__ = [
    "Loss",
    "LeastSquares",
    "Problem",
    "planted_psd",
    "planted_rect",
    "sensing_problem",
    "completion_problem",
]
