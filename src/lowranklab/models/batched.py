"""Batched factor models and objectives: B independent problems F_b(θ_b) = f_b(X(θ_b)) + ρ(θ_b)
of one shape with θ: (B, n) (batched trials, `solvers/batched.py`).

- `BatchedSymmetric(d, p)`: X = UUᵀ, U: (B, d, p); ∇_U f = (G + Gᵀ)U, G = ∇f(X) (as
  `SymmetricFactor`).
- `BatchedBalanced(d1, d2, r, mu)`: X = UVᵀ with ρ = μ/4‖UᵀU − VᵀV‖²_F (zhu2021 eq. (3), as
  `BalancedFactor`); ∇ = (GV + μUD, GᵀU − μVD), D = UᵀU − VᵀV.

`BatchedObjective(loss, model).evaluate(θ)` returns per-trial values, gradients and training
errors; `line(θ, ξ, r₀)` the quartic F_b(θ_b − tξ_b) = Σ_k q_{b,k} t^k of the exact line
search. Trial b equals `Objective(loss.trial(b), model.trial())` up to round-off.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lowranklab.backend import concat, is_torch
from lowranklab.models.balanced import BalancedFactor
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems.batched import BatchedLeastSquares


def _rowdot(a, b):
    """⟨a_b, b_b⟩ per trial over all axes but the first."""
    return (a * b).reshape(a.shape[0], -1).sum(-1)


class BatchedEvaluation(NamedTuple):
    value: object  # (B,) F_b(θ_b)
    loss_value: object  # (B,) f_b(X_b)
    grad: object  # (B, n)
    residual: object  # (B, m) A_b(X_b) − b_b
    train_error: object  # (B,) ‖A_b(X_b) − b_b‖²


class BatchedSymmetric:
    """X_b = U_b U_bᵀ, θ_b = vec(U_b) (row-major, as `SymmetricFactor`)."""

    def __init__(self, d: int, p: int) -> None:
        self.unbatched = SymmetricFactor(d, p)
        self.d, self.p, self.dim = self.unbatched.d, self.unbatched.p, self.unbatched.dim
        self.shape = (self.d, self.d)

    def trial(self) -> SymmetricFactor:
        return SymmetricFactor(self.d, self.p)

    def factors(self, theta) -> tuple:
        return (theta.reshape(theta.shape[0], self.d, self.p),)

    def loss_grad(self, loss: BatchedLeastSquares, theta):
        (U,) = self.factors(theta)
        fused = getattr(loss.op, "residual_adjoint_sym", None)
        out = None if fused is None else fused(U, loss.b_like(U))
        if out is not None:  # residual and adjoint in one pass over A (compiled)
            r, G = out
            if loss.scale != 1.0:
                G = G * loss.scale
            return loss.value_of(r), ((G + G.mT) @ U).reshape(theta.shape), r
        r = loss.residual_of(loss.op.forward_lr(U, U, symmetric=True))
        f = loss.value_of(r)
        y = r * loss.scale if loss.scale != 1.0 else r
        return f, loss.op.pull_sym(y, U).reshape(theta.shape), r

    def reg(self, theta):
        return None

    def line(self, loss, theta, xi):
        """The residual's coefficients in s along θ + sξ: [A(UΞᵀ + ΞUᵀ), A(ΞΞᵀ)]."""
        (U,), (D,) = self.factors(theta), self.factors(xi)
        op = loss.op
        return [op.forward_lr(concat([U, D], axis=2), concat([D, U], axis=2), symmetric=True),
                op.forward_lr(D, D, symmetric=True)], None


class BatchedBalanced:
    """X_b = U_b V_bᵀ, θ_b = vec([U_b; V_b]), regularizer μ/4‖U_bᵀU_b − V_bᵀV_b‖²_F."""

    def __init__(self, d1: int, d2: int, r: int, mu: float = 0.0) -> None:
        self.unbatched = BalancedFactor(d1, d2, r, mu)
        self.d1, self.d2, self.r = self.unbatched.d1, self.unbatched.d2, self.unbatched.r
        self.mu, self.dim, self.shape = self.unbatched.mu, self.unbatched.dim, (d1, d2)

    def trial(self) -> BalancedFactor:
        return BalancedFactor(self.d1, self.d2, self.r, self.mu)

    def factors(self, theta) -> tuple:
        W = theta.reshape(theta.shape[0], self.d1 + self.d2, self.r)
        return W[:, : self.d1], W[:, self.d1 :]

    def loss_grad(self, loss: BatchedLeastSquares, theta):
        U, V = self.factors(theta)
        r = loss.residual_of(loss.op.forward_lr(U, V))
        f = loss.value_of(r)
        y = r * loss.scale if loss.scale != 1.0 else r
        gU, gV = loss.op.pull(y, U, V)
        return f, concat([gU, gV], axis=1).reshape(theta.shape), r

    def reg(self, theta):
        """(ρ_b, ∇ρ_b) per trial, or None when μ = 0."""
        if self.mu == 0:
            return None
        U, V = self.factors(theta)
        D = U.mT @ U - V.mT @ V
        W = theta.reshape(theta.shape[0], self.d1 + self.d2, self.r)
        g = W @ (self.mu * D)
        g[:, self.d1 :] *= -1.0
        return 0.25 * self.mu * _rowdot(D, D), g.reshape(theta.shape)

    def line(self, loss, theta, xi):
        """[A(UΞ_Vᵀ + Ξ_UVᵀ), A(Ξ_UΞ_Vᵀ)] and ρ's quartic in s (as `BalancedFactor.reg_line`)."""
        (U, V), (DU, DV) = self.factors(theta), self.factors(xi)
        op = loss.op
        rs = [op.forward_lr(concat([U, DU], axis=2), concat([DV, V], axis=2)),
              op.forward_lr(DU, DV)]
        if self.mu == 0:
            return rs, None
        D = [U.mT @ U - V.mT @ V, U.mT @ DU + DU.mT @ U - V.mT @ DV - DV.mT @ V,
             DU.mT @ DU - DV.mT @ DV]
        c = [0.0] * 5
        for i in range(3):
            for j in range(3):
                c[i + j] = c[i + j] + _rowdot(D[i], D[j])
        return rs, [0.25 * self.mu * ck for ck in c]


class BatchedObjective:
    """F_b(θ_b) = f_b(X(θ_b)) + ρ(θ_b) for a `BatchedLeastSquares` loss and a batched model."""

    def __init__(self, loss: BatchedLeastSquares, model) -> None:
        if not isinstance(loss, BatchedLeastSquares):
            raise TypeError(f"loss must be a BatchedLeastSquares, got {type(loss).__name__}")
        if not isinstance(model, (BatchedSymmetric, BatchedBalanced)):
            raise TypeError(f"model must be BatchedSymmetric or BatchedBalanced, got "
                            f"{type(model).__name__}")
        if tuple(loss.shape) != tuple(model.shape):
            raise ValueError(f"loss acts on {loss.shape} matrices but the model produces "
                             f"{model.shape}")
        self.loss, self.model, self.B, self.dim = loss, model, loss.B, model.dim

    @classmethod
    def stack(cls, objectives) -> BatchedObjective:
        """The batch of unbatched objectives: least squares on `SymmetricFactor` or
        `BalancedFactor` models of one shape (one μ), dense sensing or entry sampling."""
        objectives = list(objectives)
        if not objectives or not all(isinstance(o, Objective) for o in objectives):
            raise TypeError("objectives must be a non-empty sequence of Objectives")
        models = [o.model for o in objectives]
        m0 = models[0]
        if isinstance(m0, SymmetricFactor) and all(
                type(m) is SymmetricFactor and (m.d, m.p) == (m0.d, m0.p) for m in models):
            model = BatchedSymmetric(m0.d, m0.p)
        elif isinstance(m0, BalancedFactor) and all(
                type(m) is BalancedFactor and (m.d1, m.d2, m.r, m.mu) == (m0.d1, m0.d2, m0.r,
                                                                            m0.mu)
                for m in models):
            model = BatchedBalanced(m0.d1, m0.d2, m0.r, m0.mu)
        else:
            raise ValueError("batched trials need one model: all SymmetricFactor(d, p) or all "
                             "BalancedFactor(d1, d2, r, mu) with the same sizes")
        return cls(BatchedLeastSquares.stack([o.loss for o in objectives]), model)

    def trial(self, b: int) -> Objective:
        return Objective(self.loss.trial(b), self.model.trial())

    def subset(self, idx) -> BatchedObjective:
        return type(self)(self.loss.subset(idx), self.model)

    def check(self, theta, name: str = "theta0"):
        """θ: (B, n), float32/float64, on NumPy or torch."""
        if is_torch(theta):
            import torch

            if theta.dtype not in (torch.float32, torch.float64):
                raise TypeError(f"{name} must be float32 or float64, got {theta.dtype}")
        else:
            if not isinstance(theta, np.ndarray):
                raise TypeError(f"{name} must be a NumPy array or a torch tensor, got "
                                f"{type(theta).__name__}")
            if theta.dtype not in (np.float32, np.float64):
                raise TypeError(f"{name} must be float32 or float64, got {theta.dtype}")
        if tuple(theta.shape) != (self.B, self.dim):
            raise ValueError(f"{name} must have shape {(self.B, self.dim)} (trials × "
                             f"parameters), got {tuple(theta.shape)}")
        return theta

    def evaluate(self, theta) -> BatchedEvaluation:
        f, grad, r = self.model.loss_grad(self.loss, theta)
        train = (2.0 / self.loss.scale) * f
        reg = self.model.reg(theta)
        if reg is None:
            return BatchedEvaluation(f, f, grad, r, train)
        rv, rg = reg
        return BatchedEvaluation(f + rv, f, grad + rg, r, train)

    def line(self, theta, xi, r0):
        """Coefficients q (B, 5) of F_b(θ_b − tξ_b) = Σ_k q_{b,k} t^k, in float64.

        With the residual r(s) = r₀ + s r₁ + s² r₂ along θ + sξ, f = (scale/2)‖r(s)‖² has
        c_{i+j} = (scale/2) Σ ⟨r_i, r_j⟩ (as `rules.line_minimizer`); ρ adds its own quartic;
        s = −t gives q_k = (−1)^k c_k."""
        (r1, r2), reg = self.model.line(self.loss, theta, xi)
        rs = [r0, r1, r2]
        c = [0.0] * 5
        for i in range(3):
            for j in range(i, 3):
                v = _rowdot(rs[i], rs[j])
                c[i + j] = c[i + j] + (v if i == j else 2.0 * v)
        c = [0.5 * self.loss.scale * ck for ck in c]
        if reg is not None:
            c = [ck + rk for ck, rk in zip(c, reg, strict=True)]
        if is_torch(theta):
            import torch

            q = torch.stack([ck.to(torch.float64) for ck in c], dim=1)
            return q * q.new_tensor([1.0, -1.0, 1.0, -1.0, 1.0])
        q = np.stack([np.asarray(ck, dtype=np.float64) for ck in c], axis=1)
        return q * np.array([1.0, -1.0, 1.0, -1.0, 1.0])
