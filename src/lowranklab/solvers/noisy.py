"""Gradient descent with noise, for escaping strict saddles (cited by zhu2021 §II):

- noisy GD (Ge, Huang, Jin & Yuan 2015, Algorithm 1): θ ← θ − η(∇F(θ) + ε·ξ), ξ uniform on the
  unit sphere of R^dim, ε the noise radius (1 in their theory): the `Noisy` rule;
- perturbed GD (Jin, Ge, Netrapalli, Kakade & Jordan 2017, Algorithm 2): plain GD plus the
  `Perturbation` hook and its stopping rule.

Both are the engine with a rule or a hook, for every `Objective`, and return a `Result`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lowranklab.lowrank import Matrix
from lowranklab.objective import Objective
from lowranklab.solvers import monitors as mon
from lowranklab.solvers import rules
from lowranklab.solvers.engine import Stop, run
from lowranklab.solvers.hooks import Perturbation, uniform_ball
from lowranklab.solvers.result import Result
from lowranklab.solvers.rules import unit_sphere

__all__ = ["noisy_gradient_descent", "perturbed_gradient_descent", "jin_parameters",
           "unit_sphere", "uniform_ball"]


def _constant(objective: Objective, step: float | None) -> rules.Constant:
    if step is None:
        from lowranklab.solvers.step import default_step

        step = default_step(objective)
    return rules.Constant(step)


def noisy_gradient_descent(
    objective: Objective,
    theta0: np.ndarray,
    *,
    noise: float = 1.0,
    rng: np.random.Generator,
    step: float | None = None,
    max_iter: int = 1000,
    noise_until: int | None = None,
    tol: float | None = None,
    gtol: float | None = None,
    blowup: float = 1e8,
    time_budget: float | None = None,
    truth: Matrix | None = None,
    monitors: Sequence[mon.Monitor] | None = None,
    record_every: int = 1,
    callbacks: Sequence[mon.Callback] = (),
    progress: bool = False,
) -> Result:
    """θ_{k+1} = θ_k − η(∇F(θ_k) + ε ξ_k), ξ_k uniform on the unit sphere (Ge et al. 2015,
    Algorithm 1, with the stochastic gradient replaced by the exact one).

    noise: the radius ε ≥ 0 (Ge et al. use 1). With constant noise the iterates hover in a
    ball of radius ≈ ε√(η/(2λ⁺)) around a minimum (seed002 spec §5.14); `noise_until` switches
    the noise off after that many iterations (plain GD afterwards), which removes the floor.
    Stop codes as `gradient_descent` (tol, gtol, diverged, budget, interrupted, max_iter); no
    stall test (the noise keeps F moving by design).
    """
    rule = rules.Noisy(_constant(objective, step), noise, rng, noise_until=noise_until)
    stop = Stop(max_iter=max_iter, tol=tol, gtol=gtol, ftol=None, time_budget=time_budget,
                blowup=blowup)
    return run(objective, theta0, rule, stop=stop, truth=truth, monitors=monitors,
               callbacks=callbacks, record_every=record_every, progress=progress,
               name="noisy-gd", info={"noise": float(noise), "noise_until": noise_until,
                                      "step": rule.base.eta})


def jin_parameters(*, ell: float, rho: float, eps: float, delta_f: float, dim: int,
                   c: float = 1.0, delta: float = 0.1) -> dict[str, float]:
    """The PGD parameters of Jin et al. 2017 (Algorithm 2): χ = 3 max{log(dℓΔ_f/(cε²δ)), 4},
    η = c/ℓ, r = √c/χ² · ε/ℓ, g_thres = √c/χ² · ε, f_thres = c/χ³ · √(ε³/ρ),
    t_thres = χ/c² · ℓ/√(ρε). ℓ: gradient Lipschitz constant, ρ: Hessian Lipschitz constant,
    ε: target gradient norm, Δ_f: F(θ₀) − inf F, δ: failure probability. (Recalled from the
    paper via seed002 spec §1.6; the experiments use hand-set thresholds.)"""
    for name, v in (("ell", ell), ("rho", rho), ("eps", eps), ("delta_f", delta_f),
                    ("c", c), ("delta", delta)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {v}")
    chi = 3 * max(math.log(dim * ell * delta_f / (c * eps**2 * delta)), 4.0)
    return {"step": c / ell, "radius": math.sqrt(c) / chi**2 * eps / ell,
            "g_thres": math.sqrt(c) / chi**2 * eps,
            "f_thres": c / chi**3 * math.sqrt(eps**3 / rho),
            "t_thres": int(math.ceil(chi / c**2 * ell / math.sqrt(rho * eps)))}


def perturbed_gradient_descent(
    objective: Objective,
    theta0: np.ndarray,
    *,
    rng: np.random.Generator,
    radius: float = 1e-3,
    g_thres: float = 1e-8,
    t_thres: int = 300,
    f_thres: float = 1e-10,
    stopping_rule: bool = True,
    step: float | None = None,
    max_iter: int = 10000,
    tol: float | None = None,
    blowup: float = 1e8,
    time_budget: float | None = None,
    truth: Matrix | None = None,
    monitors: Sequence[mon.Monitor] | None = None,
    record_every: int = 1,
    callbacks: Sequence[mon.Callback] = (),
    progress: bool = False,
) -> Result:
    """Perturbed gradient descent (Jin et al. 2017, Algorithm 2): GD with the `Perturbation`
    hook (see there). With stopping_rule=False the perturbations repeat forever at a minimum,
    which caps the accuracy at about the radius (seed002 spec §3 E5(c)). Trace column
    `perturbations` counts them; info["perturbation_iters"] lists when."""
    hook = Perturbation(rng, radius=radius, g_thres=g_thres, t_thres=t_thres, f_thres=f_thres,
                        stopping_rule=stopping_rule)
    rule = _constant(objective, step)
    stop = Stop(max_iter=max_iter, tol=tol, ftol=None, time_budget=time_budget, blowup=blowup)
    return run(objective, theta0, rule, stop=stop, truth=truth, monitors=monitors,
               callbacks=callbacks, hooks=[hook], record_every=record_every,
               progress=progress, name="perturbed-gd", info={"step": rule.eta})
