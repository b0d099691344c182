"""Gradient descent with noise, for escaping strict saddles (cited by zhu2021 §II):

- noisy GD (Ge, Huang, Jin & Yuan 2015, Algorithm 1): θ ← θ − η(∇F(θ) + ε·ξ), ξ uniform on the
  unit sphere of R^dim, ε the noise radius (1 in their theory);
- perturbed GD (Jin, Ge, Netrapalli, Kakade & Jordan 2017, Algorithm 2): plain GD, plus a
  perturbation ξ ~ Unif(B(0, r)) whenever ‖∇F‖ ≤ g_thres and none happened in the last t_thres
  steps; t_thres steps after a perturbation, if F has not dropped by f_thres below its value at
  the pre-perturbation point θ̃, stop and return θ̃ (the stopping rule).

Both work for every `Objective` and return a `Result` like `gradient_descent`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from lowranklab.lowrank import Matrix
from lowranklab.objective import Objective
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.loop import IterationLoop
from lowranklab.solvers.result import Result, StopCode

Callback = Callable[[mon.State], bool | None]


def unit_sphere(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A point uniform on the unit sphere of R^dim."""
    while True:
        x = rng.standard_normal(dim)
        n = np.linalg.norm(x)
        if n > 1e-300:
            return x / n


def uniform_ball(dim: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A point uniform in the ball B(0, radius) of R^dim (Jin et al. 2017)."""
    return radius * rng.uniform() ** (1.0 / dim) * unit_sphere(dim, rng)


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
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> Result:
    """θ_{k+1} = θ_k − η(∇F(θ_k) + ε ξ_k), ξ_k uniform on the unit sphere (Ge et al. 2015,
    Algorithm 1, with the stochastic gradient replaced by the exact one).

    noise: the radius ε ≥ 0 (Ge et al. use 1). With constant noise the iterates hover in a
    ball of radius ≈ ε√(η/(2λ⁺)) around a minimum (seed002 spec §5.14); `noise_until` switches
    the noise off after that many iterations (plain GD afterwards), which removes the floor.
    Stop codes as `gradient_descent` (tol, gtol, diverged, budget, interrupted, max_iter).
    """
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    if noise_until is not None and (int(noise_until) != noise_until or noise_until < 0):
        raise ValueError(f"noise_until must be a non-negative integer, got {noise_until}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    L = IterationLoop(objective, theta0, step, truth, monitors, record_every, callbacks, progress,
              time_budget, blowup, "noisy-gd")
    stop, message, k = StopCode.MAX_ITER, "", 0
    try:
        for k in range(max_iter + 1):
            hit = L.checks(k, tol, gtol, max_iter)
            if hit:
                stop, message = hit
                break
            eps = noise if (noise_until is None or k < noise_until) else 0.0
            L.record(k, {"noise": eps})
            direction = L.e.grad + (eps * unit_sphere(L.theta.size, rng) if eps > 0 else 0.0)
            hit = L.move(L.theta - L.step * direction, k)
            if hit:
                stop, message = hit
                break
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"
    eps_end = noise if (noise_until is None or k < noise_until) else 0.0
    return L.result(k, stop, message, {"noise": eps_end},
                    {"solver": "noisy-gd", "noise": float(noise), "noise_until": noise_until})


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
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> Result:
    """Perturbed gradient descent (Jin et al. 2017, Algorithm 2):

        if ‖∇F(θ_t)‖ ≤ g_thres and t − t_noise > t_thres:
            θ̃ ← θ_t, t_noise ← t, θ_t ← θ̃ + ξ, ξ ~ Unif(B(0, radius))
        if t − t_noise = t_thres and F(θ_t) − F(θ̃) > −f_thres: return θ̃   (stopping rule)
        θ_{t+1} = θ_t − η∇F(θ_t)

    The stopping rule returns the pre-perturbation point with stop code `converged`: it is an
    ε-second-order stationary point (no perturbation found a decrease). With
    stopping_rule=False the perturbations repeat forever at a minimum, which caps the accuracy
    at about the radius (seed002 spec §3 E5(c)). Trace column `perturbations` counts them.
    """
    for name, v in (("radius", radius), ("g_thres", g_thres), ("f_thres", f_thres)):
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    if int(t_thres) != t_thres or t_thres < 1:
        raise ValueError(f"t_thres must be a positive integer, got {t_thres}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    L = IterationLoop(objective, theta0, step, truth, monitors, record_every, callbacks, progress,
              time_budget, blowup, "perturbed-gd")
    t_noise = -int(t_thres) - 1
    theta_tilde, e_tilde = None, None
    perturb_iters: list[int] = []
    stop, message, k = StopCode.MAX_ITER, "", 0
    try:
        for k in range(max_iter + 1):
            hit = L.checks(k, tol, None)
            if hit:
                stop, message = hit
                break
            if (stopping_rule and theta_tilde is not None and k - t_noise == t_thres
                    and L.e.value - e_tilde.value > -f_thres):
                L.theta, L.e = theta_tilde, e_tilde
                stop = StopCode.CONVERGED
                message = (f"PGD stopping rule: F did not drop by {f_thres:g} within "
                           f"{t_thres} steps of the perturbation at iteration {t_noise}; "
                           "returned the pre-perturbation point")
                break
            if k == max_iter:
                break
            if float(np.linalg.norm(L.e.grad)) <= g_thres and k - t_noise > t_thres:
                theta_tilde, e_tilde, t_noise = L.theta, L.e, k
                perturb_iters.append(k)
                hit = L.move(L.theta + uniform_ball(L.theta.size, radius, rng), k)
                if hit:
                    stop, message = hit
                    break
            L.record(k, {"perturbations": len(perturb_iters)})
            hit = L.move(L.theta - L.step * L.e.grad, k)
            if hit:
                stop, message = hit
                break
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"
    return L.result(k, stop, message, {"perturbations": len(perturb_iters)},
                    {"solver": "perturbed-gd", "radius": float(radius), "g_thres": g_thres,
                     "t_thres": int(t_thres), "f_thres": f_thres,
                     "perturbation_iters": perturb_iters})


def theta_from_result(path, model) -> np.ndarray:
    """θ for `model` from a RESULT.npz written by `lowranklab solve` (`--init-from`): U, and V
    for balanced models; the factor shapes must match the model's."""
    from lowranklab.io import load_result
    from lowranklab.models import BalancedFactor

    data = load_result(path)
    factors = [data["U"], data.get("V")] if isinstance(model, BalancedFactor) else [data["U"]]
    if any(f is None for f in factors):
        raise ValueError(f"{path}: has no 'V'; it was not written by an asymmetric model")
    try:
        return model.check(model.pack(*[np.asarray(f, dtype=float) for f in factors]),
                           "init-from factors")
    except ValueError as e:
        raise ValueError(f"--init-from {path}: factor shapes do not fit the model: {e}") from e


def solve_with(solver: str, objective: Objective, theta0: np.ndarray, *, noise: float | None,
               rng: np.random.Generator, step: float | None, max_iter: int, tol: float | None,
               gtol: float | None, truth, progress: bool) -> Result:
    """The CLI's entry for `--solver noisy-gd|perturbed-gd` (noise: ε or the ball radius)."""
    radius = 1e-3 if noise is None else float(noise)
    if solver == "noisy-gd":
        return noisy_gradient_descent(objective, theta0, noise=radius, rng=rng, step=step,
                                      max_iter=max_iter, tol=tol, gtol=gtol, truth=truth,
                                      progress=progress)
    if solver == "perturbed-gd":
        return perturbed_gradient_descent(objective, theta0, rng=rng, radius=radius,
                                          g_thres=1e-8 if gtol is None else gtol, step=step,
                                          max_iter=max_iter, tol=tol, truth=truth,
                                          progress=progress)
    raise ValueError(f"unknown solver {solver!r}")
