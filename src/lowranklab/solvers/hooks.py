"""Hooks of the engine: callables `hook(ctx)` run at the start of every iteration that may
replace the iterate (`ctx.replace`) or end the run (`ctx.stop`)."""

from __future__ import annotations

import numpy as np

from lowranklab.backend import is_torch, to_like
from lowranklab.solvers.result import StopCode
from lowranklab.solvers.rules import unit_sphere


def uniform_ball(dim: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A point uniform in the ball B(0, radius) of R^dim (Jin et al. 2017)."""
    return radius * rng.uniform() ** (1.0 / dim) * unit_sphere(dim, rng)


class Perturbation:
    """Perturbed GD (Jin, Ge, Netrapalli, Kakade & Jordan 2017, Algorithm 2):

        if ‖∇F(θ_t)‖ ≤ g_thres and t − t_noise > t_thres:
            θ̃ ← θ_t, t_noise ← t, θ_t ← θ̃ + ξ, ξ ~ Unif(B(0, radius))
        if t − t_noise = t_thres and F(θ_t) − F(θ̃) > −f_thres: return θ̃   (stopping rule)

    The stopping rule returns the pre-perturbation point with `converged`: an ε-second-order
    stationary point (no perturbation found a decrease)."""

    def __init__(self, rng: np.random.Generator, *, radius: float, g_thres: float,
                 t_thres: int, f_thres: float, stopping_rule: bool = True) -> None:
        for name, v in (("radius", radius), ("g_thres", g_thres), ("f_thres", f_thres)):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        if int(t_thres) != t_thres or t_thres < 1:
            raise ValueError(f"t_thres must be a positive integer, got {t_thres}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        self.rng, self.radius, self.g_thres = rng, float(radius), float(g_thres)
        self.t_thres, self.f_thres, self.stopping_rule = int(t_thres), float(f_thres), stopping_rule
        self.t_noise = -self.t_thres - 1
        self.saved = None
        self.iters: list[int] = []

    def __call__(self, ctx) -> None:
        k = ctx.k
        if (self.stopping_rule and self.saved is not None and k - self.t_noise == self.t_thres
                and ctx.e.value - self.saved[1].value > -self.f_thres):
            ctx.replace(*self.saved, record=False)
            ctx.stop(StopCode.CONVERGED,
                     f"PGD stopping rule: F did not drop by {self.f_thres:g} within "
                     f"{self.t_thres} steps of the perturbation at iteration {self.t_noise}; "
                     "returned the pre-perturbation point")
            return
        if ctx.space.norm(ctx.x, ctx.e.grad) <= self.g_thres and k - self.t_noise > self.t_thres:
            self.saved, self.t_noise = (ctx.x, ctx.e), k
            self.iters.append(k)
            x = ctx.x
            n = int(x.numel()) if is_torch(x) else x.size
            xi = uniform_ball(n, self.radius, self.rng)
            ctx.replace(x + (to_like(xi, x) if is_torch(x) else xi), record=False)
        ctx.extra["perturbations"] = len(self.iters)

    def info(self) -> dict:
        return {"radius": self.radius, "g_thres": self.g_thres, "t_thres": self.t_thres,
                "f_thres": self.f_thres, "perturbation_iters": list(self.iters)}
