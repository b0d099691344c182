"""F(θ) = f(X(θ)) + ρ(θ): the generic gradient and Hessian-vector product of every
(loss, parametrization) pair (DESIGN.md, "the lift").

    ∇F(θ)      = DX(θ)*[∇f(X)] + ∇ρ(θ)
    ∇²F(θ)[θ̇]  = DX(θ)*[∇²f(X)[DX(θ)[θ̇]]] + (D²X(θ)[θ̇, ·])*[∇f(X)] + ∇²ρ(θ)[θ̇]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lowranklab.lowrank import LowRank
from lowranklab.models.base import Parametrization
from lowranklab.problems.loss import Loss


class Evaluation(NamedTuple):
    """Everything one gradient evaluation produces, so solvers and monitors share it."""

    value: float  # F(θ) = f(X) + ρ(θ)
    loss_value: float  # f(X)
    grad: np.ndarray  # ∇F(θ)
    X: LowRank  # X(θ)
    G: object  # ∇f(X), ambient


class Objective:
    def __init__(self, loss: Loss, model: Parametrization) -> None:
        if tuple(loss.shape) != tuple(model.shape):
            raise ValueError(f"loss acts on {loss.shape} matrices but the parametrization "
                             f"produces {model.shape}")
        self.loss = loss
        self.model = model
        # no regularizer: skip ρ's zero value and gradient in every evaluation
        self._regularized = type(model).reg_value_and_grad is not (
            Parametrization.reg_value_and_grad) or type(model).reg_value is not (
            Parametrization.reg_value)
        # UUᵀ pulls an exactly symmetric dense G by 2GU: bit for bit (G + Gᵀ)U, one add fewer
        sym = getattr(loss, "symmetric_gradient", False)
        self._pull_sym = getattr(model, "pull_symmetric", None) if sym else None

    @property
    def dim(self) -> int:
        return self.model.dim

    def matrix(self, theta: np.ndarray) -> LowRank:
        return self.model.to_matrix(theta)

    def value(self, theta: np.ndarray) -> float:
        return self.loss.value(self.model.to_matrix(theta)) + self.model.reg_value(theta)

    def grad(self, theta: np.ndarray) -> np.ndarray:
        return self.value_and_grad(theta)[1]

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        e = self.evaluate(theta)
        return e.value, e.grad

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        X = self.model.to_matrix(theta)
        f, G = self.loss.value_and_grad(X)
        if self._pull_sym is not None and type(G) is np.ndarray:
            grad = self._pull_sym(theta, G)
        else:
            grad = self.model.pull(theta, G)
        if self._regularized:
            reg, reg_grad = self.model.reg_value_and_grad(theta)
            return Evaluation(f + reg, f, grad + reg_grad, X, G)
        return Evaluation(f, f, grad, X, G)

    def hvp(self, theta: np.ndarray, theta_dot: np.ndarray, *, G=None) -> np.ndarray:
        """∇²F(θ)[θ̇]; pass G = ∇f(X(θ)) to reuse it across many products."""
        X = self.model.to_matrix(theta)
        if G is None:
            G = self.loss.grad(X)
        Xd = self.model.push(theta, theta_dot)
        out = self.model.pull(theta, self.loss.hvp(X, Xd))
        out = out + self.model.curvature(theta, theta_dot, G)
        return out + self.model.reg_hvp(theta, theta_dot)
