"""Step rules of the engine (`solvers/engine.py`): x_{k+1} = R_x(−t_k ξ_k).

A rule has `start(ctx) -> step` (the step it reports before the first move), `step(ctx) ->
(x_new, e_new, t)` and `describe() -> dict`. The direction is the gradient ξ = ∇F unless a
preconditioner (`ScaledGD`) or noise (`Noisy`) changes it; every rule works on both spaces.

- `Constant(η)`: t = η (GD with a fixed step; hou2021 RGD "fixed").
- `SigmaScaled(α)`: t = α·σ_r(Z_k) on the fixed-rank manifold (hou2021 eq. (2)).
- `Armijo(η₀)`: backtracking from `grow`·t_{k−1} (so the step can grow again) until
  F(R(−tξ)) ≤ F − c·t·⟨∇F, ξ⟩.
- `Exact()`: the minimizer of F along the direction. On the manifold, the minimizer of the
  quadratic model t* = ⟨∇F, ξ⟩/⟨ξ, ∇²f ξ⟩ (Wei, Cai, Chan & Leung 2016 for least squares).
  For least squares on a factor model the loss along θ − tξ is a polynomial in t (degree 4
  for UUᵀ and UVᵀ, plus the polynomial regularizer), minimized exactly by its roots.
- `RMSprop(η, ε, a)`: the scalar "group RMSprop" of glrl2021 App. C,
  v ← a v + (1 − a)‖∇F‖², t = η/(√(v/(1 − a^{k+1})) + ε).
- `Noisy(base, noise, rng)`: ξ = ∇F + ε·u, u uniform on the unit sphere (Ge et al. 2015).
- `ScaledGD(base)`: ξ_U = ∇_U F (VᵀV)⁻¹, ξ_V = ∇_V F (UᵀU)⁻¹ (Tong, Ma & Chi 2021; UUᵀ:
  ξ = ∇_U F (UᵀU)⁻¹), with any of the step rules above choosing t along ξ.
- `LBFGS(base, memory=m)`: ξ = H∇F by the L-BFGS two-loop recursion (Nocedal & Wright,
  Algorithm 7.4), t chosen by `base` (`Exact()`: SDPLR's inner solve, `solvers/sdp_bm.py`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.lapack import dtrtrs

from lowranklab.backend import is_torch, to_like, vdot
from lowranklab.problems.loss import LeastSquares
from lowranklab.solvers.result import StopCode


def _positive(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not (
            math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


class Rule:
    """Base: a step t along the (negative) gradient; subclasses choose t or the direction."""

    name = "rule"
    last_direction = None  # ξ of the last move (for the engine's xtol test)

    def start(self, ctx) -> float:
        return 0.0

    def info(self) -> dict:
        """What the rule adds to `Result.info` at the end (e.g. multipliers)."""
        return {}

    def direction(self, ctx):
        """ξ_k: the move is R_x(−t ξ_k)."""
        return ctx.e.grad

    def slope(self, ctx, xi) -> float:
        """⟨∇F, ξ⟩, the decrease rate along −ξ."""
        return ctx.space.inner(ctx.x, ctx.e.grad, xi)

    def step(self, ctx):
        raise NotImplementedError

    def describe(self) -> dict:
        return {"rule": self.name}

    def _move(self, ctx, xi, t):
        self.last_direction = xi
        x_new = ctx.space.move(ctx.x, xi, -t)
        return x_new, ctx.evaluate(x_new), t


class Constant(Rule):
    name = "constant"

    def __init__(self, step: float) -> None:
        self.eta = _positive("step", step)

    def start(self, ctx) -> float:
        return self.eta

    def step(self, ctx):
        return self._move(ctx, self.direction(ctx), self.eta)

    def describe(self) -> dict:
        return {"rule": self.name, "step": self.eta}


class SigmaScaled(Constant):
    """t_k = α·σ_r(Z_k) (hou2021 eq. (2), Lemma 4.1): needs the fixed-rank space."""

    name = "sigma"

    def start(self, ctx) -> float:
        if not getattr(ctx.space, "manifold", False):
            raise ValueError("the sigma step rule needs the fixed-rank manifold")
        return self.eta * ctx.x.sigma_r

    def step(self, ctx):
        return self._move(ctx, self.direction(ctx), self.eta * ctx.x.sigma_r)


class Armijo(Rule):
    """Backtracking: start from min(grow·t_{k−1}, max_step) (t₀ = step), halve (×beta)
    until F(R(−tξ)) ≤ F − c·t·⟨∇F, ξ⟩. Below a decrease that F cannot resolve (c·t·⟨∇F, ξ⟩
    under 1e-13·|F|) the last step is taken as it is, so round-off cannot shrink t to 0."""

    name = "armijo"

    def __init__(self, step: float, *, c: float = 1e-4, beta: float = 0.5, grow: float = 2.0,
                 max_step: float | None = None, sigma: bool = False) -> None:
        self.step0 = _positive("step", step)
        self.c = _positive("armijo_c", c)
        if not 0 < beta < 1:
            raise ValueError(f"armijo_beta must lie in (0, 1), got {beta}")
        if not (math.isfinite(grow) and grow >= 1):
            raise ValueError(f"grow must be a finite number >= 1, got {grow}")
        self.beta, self.grow = float(beta), float(grow)
        self.max_step = None if max_step is None else _positive("max_step", max_step)
        self.sigma = bool(sigma)  # start each search from step0·σ_r (hou2021 eq. (2))
        self.t = self.step0

    def _start_t(self, ctx) -> float:
        if self.sigma:
            return self.step0 * ctx.x.sigma_r
        return self.step0

    def start(self, ctx) -> float:
        self.t = self._start_t(ctx)
        return self.t

    def step(self, ctx):
        xi = self.direction(ctx)
        slope = self.slope(ctx, xi)
        f = ctx.e.value
        if self.sigma:
            t = self._start_t(ctx)
        else:
            t = self.grow * self.t if ctx.k else self.t
        if self.max_step is not None:
            t = min(t, self.max_step)
        if self.c * t * slope < 1e-13 * max(abs(f), 1.0):
            out = self._move(ctx, xi, self.t)
            return out
        while True:
            x_new, e_new, _ = self._move(ctx, xi, t)
            if (np.isfinite(e_new.value) and e_new.value <= f - self.c * t * slope) or t < 1e-300:
                break
            t *= self.beta
        self.t = t
        return x_new, e_new, t

    def describe(self) -> dict:
        return {"rule": self.name, "step": self.step0, "grow": self.grow,
                "max_step": self.max_step}


class Exact(Rule):
    """Exact line search along −ξ (see the module docstring); `scale` multiplies t*."""

    name = "exact"

    def __init__(self, scale: float = 1.0, *, fallback: float | None = None) -> None:
        self.scale = _positive("step", scale)
        self.fallback = fallback
        self.t = 0.0

    def start(self, ctx) -> float:
        space = ctx.space
        if not getattr(space, "manifold", False):
            if not (isinstance(space.loss, LeastSquares)
                    or hasattr(space.loss, "line_polynomial")):
                raise ValueError("the exact line search needs a least-squares loss (or one "
                                 "with a line_polynomial) on a factor model (or the fixed-rank "
                                 "manifold)")
            if not hasattr(space.model, "line"):
                raise ValueError(f"the exact line search is not available for "
                                 f"{type(space.model).__name__}")
        return self.scale

    def step(self, ctx):
        xi = self.direction(ctx)
        space = ctx.space
        if getattr(space, "manifold", False):
            curv = space.curvature_along(ctx.x, xi)
            slope = self.slope(ctx, xi)
            t = self.scale * slope / curv if curv > 0 else self.scale
        else:
            t = self.scale * line_minimizer(space.objective, ctx.x, xi, ctx.e)
            note = getattr(space.loss, "line_point", None)
            if note is not None:  # the loss keeps its polynomial residual at the new point
                note(-t)
        self.t = t
        return self._move(ctx, xi, t)

    def describe(self) -> dict:
        return {"rule": self.name, "scale": self.scale}


def line_minimizer(objective, theta: np.ndarray, xi: np.ndarray, e) -> float:
    """argmin_{t ≥ 0} F(θ − tξ) for least squares on a polynomial parametrization.

    With X(θ − tξ) = Σ_j (−t)^j X_j (the model's `line`), the residual is the polynomial
    r(t) = (A(X₀) − b) + Σ_{j≥1} (−t)^j A(X_j) and f = (scale/2)‖r(t)‖² has coefficients
    c_{i+j} = Σ ⟨r_i, r_j⟩; the regularizer's own polynomial (`reg_line`) is added. The
    minimizer is the best real non-negative root of p'(t) (p of degree ≤ 8 here).

    A loss with `line_polynomial(Xs)` gives its own coefficients in s (e.g. the augmented
    Lagrangian of `problems/aug_lag.py`: the residual polynomial plus the linear term
    ⟨C, X(s)⟩).
    """
    loss, model = objective.loss, objective.model
    Xs = model.line(theta, xi)  # X(θ + sξ) = Σ_j s^j X_j, s = −t
    own = getattr(loss, "line_polynomial", None)
    if own is not None:
        c = np.asarray(own(Xs), dtype=float)
    else:
        c = _least_squares_line(loss, Xs, e.X)
    reg = model.reg_line(theta, xi)
    if reg is not None:
        m = max(c.size, reg.size)
        c = np.pad(c, (0, m - c.size)) + np.pad(reg, (0, m - reg.size))
    # p(s) = Σ c_k s^k with s = −t: q(t) = Σ c_k (−t)^k
    q = c * (-1.0) ** np.arange(c.size)
    dq = np.arange(1, q.size) * q[1:]  # q'(t)
    roots = _poly_roots(dq) if np.any(dq[1:]) else np.array([])
    roots = np.atleast_1d(roots)
    x = roots.real[(np.abs(roots.imag) <= 1e-8 * np.maximum(np.abs(roots), 1.0))
                   & (roots.real > 0)]
    if not x.size:
        return 0.0
    # compare q(t) − q(0): a large F(θ) would swamp the decrease in the last digits
    vals = q[-1] + 0.0 * x  # Horner
    for a in q[-2:0:-1]:
        vals = a + vals * x
    vals = vals * x
    return float(x[int(np.argmin(vals))])


def _poly_roots(c: np.ndarray) -> np.ndarray:
    """The roots of Σ_k c_k t^k: `numpy.polynomial.polynomial.polyroots` (the eigenvalues of
    the companion matrix, sorted) without its series handling, which cost 4× the eigenvalue
    solve of the 3×3 companion matrix in every exact line search."""
    n = c.size
    while n > 1 and c[n - 1] == 0:
        n -= 1
    c = c[:n]
    if n < 2:
        return np.array([], dtype=c.dtype)
    if n == 2:
        return np.array([-c[0] / c[1]])
    k = n - 1
    mat = np.zeros((k, k), dtype=c.dtype)
    mat.reshape(-1)[k::k + 1] = 1.0
    mat[:, -1] -= c[:-1] / c[-1]
    r = np.linalg.eigvals(mat)
    r.sort()
    return r


def _least_squares_line(loss, Xs, X0=None) -> np.ndarray:
    """Coefficients of (scale/2)‖r(s)‖², r(s) = (A(X₀) − b) + Σ_{j≥1} s^j A(X_j); X0: the
    current point's matrix as the last evaluation holds it (its residual is reused)."""
    r0 = loss.residual_of(X0) if X0 is not None and hasattr(loss, "residual_of") else (
        loss.residual(Xs[0]))
    gram = loss.op.forward_gram(Xs[1:], r0)  # ⟨r_i, r_j⟩, one pass where the operator can
    n = len(Xs)
    c = np.zeros(2 * n - 1)
    for i in range(n):
        for j in range(n):
            c[i + j] += gram[i, j]
    c *= 0.5 * loss.scale
    return c


class RMSprop(Rule):
    """Scalar group RMSprop (glrl2021 App. C): v_{k+1} = a v_k + (1 − a)‖∇F‖²,
    t_k = η/(√(v_{k+1}/(1 − a^{k+1})) + ε). The clock Σ t_k is kept in `clock`."""

    name = "rmsprop"

    def __init__(self, eta: float, eps: float, a: float = 0.99) -> None:
        self.eta = _positive("eta", eta)
        self.eps = _positive("eps", eps)
        if not 0 <= a < 1:
            raise ValueError(f"a must lie in [0, 1), got {a}")
        self.a, self.v, self.clock = float(a), 0.0, 0.0

    def start(self, ctx) -> float:
        self.v, self.clock = 0.0, 0.0
        return self.eta

    def step(self, ctx):
        g = ctx.e.grad
        gn2 = vdot(g, g)
        self.v = self.a * self.v + (1 - self.a) * gn2
        t = self.eta / (math.sqrt(self.v / (1 - self.a ** (ctx.k + 1))) + self.eps)
        self.clock += t
        return self._move(ctx, g, t)

    def describe(self) -> dict:
        return {"rule": self.name, "eta": self.eta, "eps": self.eps, "a": self.a}


class _Wrapped(Rule):
    """A rule whose direction is changed but whose step choice is `base`'s."""

    def __init__(self, base: Rule) -> None:
        if not isinstance(base, Rule):
            raise TypeError(f"base must be a step rule, got {type(base).__name__}")
        self.base = base
        base.direction = self.direction  # the base chooses t along our direction

    def start(self, ctx) -> float:
        return self.base.start(ctx)

    def step(self, ctx):
        out = self.base.step(ctx)
        self.last_direction = self.base.last_direction
        return out

    def info(self) -> dict:
        return self.base.info()

    def describe(self) -> dict:
        return {**self.base.describe(), "direction": self.name}


class Noisy(_Wrapped):
    """ξ_k = ∇F(θ_k) + ε u_k, u_k uniform on the unit sphere (Ge, Huang, Jin & Yuan 2015,
    Algorithm 1 with the exact gradient); ε = 0 from iteration `noise_until` on."""

    name = "noisy"

    def __init__(self, base: Rule, noise: float, rng: np.random.Generator, *,
                 noise_until: int | None = None) -> None:
        super().__init__(base)
        if not (math.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be a finite number >= 0, got {noise}")
        if noise_until is not None and (int(noise_until) != noise_until or noise_until < 0):
            raise ValueError(f"noise_until must be a non-negative integer, got {noise_until}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        self.noise, self.rng, self.noise_until = float(noise), rng, noise_until

    def current(self, k: int) -> float:
        return self.noise if (self.noise_until is None or k < self.noise_until) else 0.0

    def direction(self, ctx):
        eps = self.current(ctx.k)
        ctx.extra["noise"] = eps
        if eps == 0:
            return ctx.e.grad
        g = ctx.e.grad
        u = unit_sphere(int(g.numel()) if is_torch(g) else g.size, self.rng)
        return g + eps * (to_like(u, g) if is_torch(g) else u)

    def describe(self) -> dict:
        return {**super().describe(), "noise": self.noise, "noise_until": self.noise_until}


class ScaledGD(_Wrapped):
    """Preconditioned factor directions (Tong, Ma & Chi 2021, eq. (6)):
    ξ_U = ∇_U F (VᵀV + λI)⁻¹, ξ_V = ∇_V F (UᵀU + λI)⁻¹; for X = UUᵀ, ξ = ∇_U F (UᵀU + λI)⁻¹.
    λ = damping·‖·‖₂ guards rank-deficient factors (0 gives the paper's rule)."""

    name = "scaled"

    def __init__(self, base: Rule, *, damping: float = 1e-12) -> None:
        super().__init__(base)
        if not (math.isfinite(damping) and damping >= 0):
            raise ValueError(f"damping must be a finite number >= 0, got {damping}")
        self.damping = float(damping)

    def start(self, ctx) -> float:
        model = getattr(ctx.space, "model", None)
        if getattr(ctx.space, "manifold", False) or not hasattr(model, "scaled_direction"):
            raise ValueError("ScaledGD needs a UUᵀ or UVᵀ factor model")
        return self.base.start(ctx)

    def direction(self, ctx):
        return ctx.space.model.scaled_direction(ctx.x, ctx.e.grad, damping=self.damping)


class ConjugateGradient(_Wrapped):
    """Nonlinear conjugate gradient: ξ_k = ∇F_k + β_k T(ξ_{k−1}) with the Polak–Ribière+
    coefficient β_k = max(0, ⟨∇F_k, ∇F_k − T∇F_{k−1}⟩/‖∇F_{k−1}‖²) and T the space's
    vector transport (the identity on a flat space, the tangent projection on M_r: Riemannian
    CG as in Wei, Cai, Chan & Leung 2016 for completion). A direction that is not a descent
    direction (⟨∇F_k, ξ_k⟩ ≤ 0) restarts at ξ_k = ∇F_k. The step is the base rule's along ξ
    (the exact line search: t* = ⟨∇F, ξ⟩/⟨ξ, ∇²f ξ⟩ on M_r, the polynomial minimizer on
    factors)."""

    name = "cg"

    def __init__(self, base: Rule) -> None:
        super().__init__(base)
        self.prev = None  # (x, ∇F, ξ, ‖∇F‖²) of the last move

    def start(self, ctx) -> float:
        self.prev = None
        return self.base.start(ctx)

    def direction(self, ctx):
        space, g = ctx.space, ctx.e.grad
        gg = space.inner(ctx.x, g, g)
        if self.prev is None:
            xi = g
        else:
            x0, g0, xi0, gg0 = self.prev  # ‖∇F_{k−1}‖² kept from the last call
            g0t = space.transport(x0, ctx.x, g0)
            xi0t = space.transport(x0, ctx.x, xi0)
            beta = max(0.0, (gg - space.inner(ctx.x, g, g0t)) / gg0) if gg0 > 0 else 0.0
            xi = g + xi0t * beta if beta > 0 else g
            if space.inner(ctx.x, g, xi) <= 0:
                xi = g
        self.prev = (ctx.x, g, xi, gg)
        return xi

class LBFGS(_Wrapped):
    """Limited-memory BFGS directions ξ_k = H_k ∇F(θ_k) on the flat space, the step t along
    −ξ_k chosen by `base` (e.g. `Exact()`, SDPLR's exact line search; Burer & Monteiro 2003,
    Sec. 5). H_k is the two-loop recursion (Nocedal & Wright, Algorithm 7.4) over the last
    `memory` pairs s_i = θ_{i+1} − θ_i, y_i = ∇F(θ_{i+1}) − ∇F(θ_i) with s_iᵀy_i > 0 (others
    are skipped), H⁰ = γI with γ = sᵀy/yᵀy of the newest pair (Nocedal & Wright eq. (7.20)).
    The recursion is written with the k×k matrix SYᵀ (SY[i, j] = s_iᵀy_j): each scalar loop
    is a triangular solve and the n-vector work is four GEMVs, Sg, Yq, Yᵀα and Sᵀ(α − β).

    When ξ is not a descent direction (⟨∇F, ξ⟩ ≤ 0), or the base takes no step along it
    (t = 0), the memory is cleared and the next direction is the gradient; t = 0 along the
    gradient itself ends the run (`stalled`: no decrease in floating point). Memory starts
    empty at every run. NumPy only."""

    name = "lbfgs"

    def __init__(self, base: Rule, *, memory: int = 10) -> None:
        super().__init__(base)
        if isinstance(memory, bool) or int(memory) != memory or memory < 1:
            raise ValueError(f"memory must be a positive integer, got {memory!r}")
        self.memory = int(memory)
        self._S = self._Y = None
        self.k = 0
        self._lower = [np.tri(j, j, -1) for j in range(self.memory + 1)]

    def clear(self) -> None:
        self.k = 0

    def start(self, ctx) -> float:
        if getattr(ctx.space, "manifold", False):
            raise ValueError("L-BFGS runs on the flat space (an Objective)")
        x = ctx.space.flat(ctx.x)
        if is_torch(x):
            raise TypeError("the L-BFGS rule runs on NumPy arrays only")
        n = x.size
        self._S, self._Y = np.empty((self.memory, n)), np.empty((self.memory, n))
        self.clear()
        return self.base.start(ctx)

    def push(self, s: np.ndarray, y: np.ndarray) -> bool:
        """Store the pair (s, y) when sᵀy > 1e-12·yᵀy (the curvature condition); the oldest
        pair drops out of a full memory. Returns whether it was stored."""
        sy = float(np.vdot(s, y))
        if not sy > 1e-12 * float(np.vdot(y, y)):
            return False
        if self.k == self.memory:
            self._S[:-1] = self._S[1:]
            self._Y[:-1] = self._Y[1:]
            self.k -= 1
        self._S[self.k] = s.ravel()
        self._Y[self.k] = y.ravel()
        self.k += 1
        return True

    def apply(self, g: np.ndarray) -> np.ndarray:
        """H g (two-loop recursion; g itself with an empty memory)."""
        k = self.k
        if k == 0:
            return g
        S, Y = self._S[:k], self._Y[:k]
        SY = S @ Y.T  # its diagonal is 1/ρ_i
        # first loop, α_i = ρ_i s_iᵀ(g − Σ_{j>i} α_j y_j):  triu(SY) α = S g
        alpha = dtrtrs(SY, S @ g, lower=0)[0]
        gamma = SY[k - 1, k - 1] / float(np.vdot(Y[-1], Y[-1]))
        q = gamma * (g - alpha @ Y)
        # second loop, β_i = ρ_i y_iᵀ(q + Σ_{j<i} (α_j − β_j) s_j):
        # tril(SYᵀ) β = Y q + tril(SYᵀ, −1) α
        L = SY.T
        beta = dtrtrs(L, Y @ q + (L * self._lower[k]) @ alpha, lower=1)[0]
        return q + (alpha - beta) @ S

    def direction(self, ctx):
        g = ctx.e.grad
        xi = self.apply(g)
        if self.k and not vdot(g, xi) > 0:
            self.clear()
            return g
        return xi

    def step(self, ctx):
        x0, g0, had_memory = ctx.x, ctx.e.grad, self.k > 0
        x_new, e_new, t = self.base.step(ctx)
        self.last_direction = self.base.last_direction
        if t == 0.0:
            if not had_memory or self.k == 0:
                from lowranklab.solvers.engine import StopRun  # the engine imports the rules

                raise StopRun(StopCode.STALLED, "no decrease along the gradient in floating "
                                                "point (the line search returned t = 0)")
            self.clear()
            return x_new, e_new, t
        space = ctx.space
        self.push(space.flat(x_new) - space.flat(x0), e_new.grad - g0)
        return x_new, e_new, t

    def describe(self) -> dict:
        return {**super().describe(), "memory": self.memory}


def unit_sphere(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A point uniform on the unit sphere of R^dim."""
    while True:
        x = rng.standard_normal(dim)
        n = np.linalg.norm(x)
        if n > 1e-300:
            return x / n
