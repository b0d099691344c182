"""The SDP augmented Lagrangian as a loss on X (problems/aug_lag.py) and the L-BFGS step rule
(solvers/rules.py `LBFGS`) that `sdp_bm` runs on the engine."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.lowrank import LowRank
from lowranklab.models.base import Parametrization
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.operators.dense import DenseSensing
from lowranklab.problems.aug_lag import AugmentedLagrangian
from lowranklab.problems.loss import LeastSquares
from lowranklab.problems.min_norm_instances import random_instance
from lowranklab.solvers import engine
from lowranklab.solvers.result import StopCode
from lowranklab.solvers.rules import LBFGS, Exact
from lowranklab.solvers.sdp_bm import augmented_lagrangian


def _sym(d, rng):
    M = rng.standard_normal((d, d))
    return M + M.T


def _loss(rng, d=6, m=9, with_cost=False, sigma=0.7):
    P = random_instance(d, m, rng)
    C = None
    if with_cost:
        G = rng.standard_normal((d, d))
        C = np.eye(d) + G @ G.T / d
    loss = AugmentedLagrangian(P.operator(), P.b, y=rng.standard_normal(m), sigma=sigma, C=C)
    return P, loss, C


@pytest.mark.parametrize("with_cost", [False, True])
def test_value_against_the_formula_on_the_full_operator(rng, with_cost):
    P, loss, C = _loss(rng, with_cost=with_cost)
    X = _sym(6, rng)
    r = P.forward(X) - P.b  # the (m, d²) product, not the half coordinates
    lin = np.trace(X) if C is None else np.sum(C * X)
    want = lin - loss.y @ r + 0.5 * loss.sigma * r @ r
    assert loss.value(X) == pytest.approx(want, rel=1e-12)
    U = rng.standard_normal((6, 3))
    assert loss.value(LowRank(U, U)) == pytest.approx(loss.value(U @ U.T), rel=1e-12)
    S = (np.eye(6) if C is None else C) - P.adjoint(loss.y - loss.sigma * r)
    np.testing.assert_allclose(loss.grad(X), S, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("with_cost", [False, True])
def test_grad_and_hvp_match_finite_differences(rng, with_cost):
    _, loss, _ = _loss(rng, with_cost=with_cost)
    X = _sym(6, rng)
    G = loss.grad(X)
    e = 1e-6
    for _ in range(3):
        V = _sym(6, rng)
        fd = (loss.value(X + e * V) - loss.value(X - e * V)) / (2 * e)
        assert abs(fd - np.sum(G * V)) <= 1e-6 * max(1.0, abs(fd))
        fd_g = (loss.grad(X + e * V) - loss.grad(X - e * V)) / (2 * e)
        np.testing.assert_allclose(loss.hvp(X, V), fd_g, rtol=1e-6, atol=1e-6)
    # the Hessian σA*A is self-adjoint and positive semidefinite
    V, W = _sym(6, rng), _sym(6, rng)
    assert np.sum(loss.hvp(X, V) * W) == pytest.approx(np.sum(V * loss.hvp(X, W)), rel=1e-10)
    assert np.sum(loss.hvp(X, V) * V) >= 0


@pytest.mark.parametrize("with_cost", [False, True])
def test_objective_with_symmetric_factor_is_the_factored_lagrangian(rng, with_cost):
    P, loss, C = _loss(rng, with_cost=with_cost)
    obj = Objective(loss, SymmetricFactor(6, 3))
    U = rng.standard_normal((6, 3))
    e = obj.evaluate(U.ravel())
    val, G = augmented_lagrangian(P, U, loss.y, loss.sigma, C)
    assert e.value == pytest.approx(val, rel=1e-12)
    np.testing.assert_allclose(e.grad.reshape(6, 3), G, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(e.grad.reshape(6, 3), 2 * loss.grad(U @ U.T) @ U, rtol=1e-11,
                               atol=1e-11)
    th, h = U.ravel(), 1e-6
    for _ in range(2):
        D = rng.standard_normal(th.size)
        fd = (obj.value(th + h * D) - obj.value(th - h * D)) / (2 * h)
        assert abs(fd - e.grad @ D) <= 1e-6 * max(1.0, abs(fd))
        fd_g = (obj.grad(th + h * D) - obj.grad(th - h * D)) / (2 * h)
        np.testing.assert_allclose(obj.hvp(th, D), fd_g, rtol=1e-5, atol=1e-6)


def test_line_polynomial_is_the_loss_along_the_line(rng):
    _, loss, _ = _loss(rng, with_cost=True)
    model = SymmetricFactor(6, 3)
    th, xi = rng.standard_normal(18), rng.standard_normal(18)
    c = loss.line_polynomial(model.line(th, xi))
    assert c.shape == (5,)
    for s in (-0.7, 0.0, 0.3, 1.9):
        loss.forget()
        direct = loss.value(model.to_matrix(th + s * xi))
        assert np.polynomial.polynomial.polyval(s, c) == pytest.approx(direct, rel=1e-10)


def test_memoised_residual_is_never_stale_and_the_line_point_is_exact(rng):
    P, loss, _ = _loss(rng)
    U = rng.standard_normal((6, 3))
    r = loss.residual(LowRank(U, U))
    np.testing.assert_allclose(r, P.residual(U), rtol=1e-12, atol=1e-12)
    V = U.copy()
    V[0, 0] += 1e-3  # other values: recomputed, not the memo
    np.testing.assert_allclose(loss.residual(LowRank(V, V)), P.residual(V), rtol=1e-12,
                               atol=1e-12)
    model = SymmetricFactor(6, 3)
    th, xi = U.ravel(), rng.standard_normal(18)
    loss.line_polynomial(model.line(th, xi))
    n = dict(loss.op.counts)
    loss.line_point(-0.4)
    U_new = (th + (-0.4) * xi).reshape(6, 3)  # the engine's move θ + (−t)ξ
    r_new = loss.residual(LowRank(U_new, U_new))
    assert dict(loss.op.counts) == n  # the polynomial residual: no pass over A
    np.testing.assert_allclose(r_new, P.residual(U_new), rtol=1e-10, atol=1e-10)


def test_bad_input_is_rejected(rng):
    P = random_instance(5, 7, rng)
    op = P.operator()
    with pytest.raises(TypeError, match="op must be a DenseSensing"):
        AugmentedLagrangian(P.Amat, P.b)
    with pytest.raises(ValueError, match="square"):
        AugmentedLagrangian(DenseSensing(rng.standard_normal((4, 12)), (3, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="symmetric A_i"):
        AugmentedLagrangian(DenseSensing(rng.standard_normal((4, 9)), (3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="b must have shape"):
        AugmentedLagrangian(op, np.zeros(3))
    with pytest.raises(ValueError, match="sigma"):
        AugmentedLagrangian(op, P.b, sigma=0.0)
    with pytest.raises(ValueError, match="y must have shape"):
        AugmentedLagrangian(op, P.b, y=np.zeros(2))
    with pytest.raises(ValueError, match="y must be finite"):
        AugmentedLagrangian(op, P.b, y=np.full(7, np.nan))
    with pytest.raises(ValueError, match="C must be symmetric"):
        AugmentedLagrangian(op, P.b, C=np.triu(np.ones((5, 5))))
    with pytest.raises(ValueError, match="C must have shape"):
        AugmentedLagrangian(op, P.b, C=np.eye(4))


# -- L-BFGS ---------------------------------------------------------------------------------

class _Linear(Parametrization):
    """X(θ) = reshape(θ) (test-only): least squares on it is a quadratic in θ."""

    def __init__(self, d1, d2):
        self.shape, self.dim, self._I = (d1, d2), d1 * d2, np.eye(d2)

    def unpack(self, theta):
        return (theta.reshape(self.shape),)

    def pack(self, X):
        return np.asarray(X, float).ravel().copy()

    def to_matrix(self, theta):
        return LowRank(theta.reshape(self.shape), self._I)

    def push(self, theta, theta_dot):
        return LowRank(theta_dot.reshape(self.shape), self._I)

    def pull(self, theta, G):
        return np.asarray(G.dense() if isinstance(G, LowRank) else G).ravel()

    def curvature(self, theta, theta_dot, G):
        return np.zeros(self.dim)

    def line(self, theta, xi):
        return [self.to_matrix(theta), self.push(theta, xi)]


def test_lbfgs_direction_matches_the_two_loop_recursion(rng):
    n, size = 30, 5
    H = rng.standard_normal((n, n))
    H = H @ H.T + np.eye(n)
    rule = LBFGS(Exact(), memory=size)
    rule._S, rule._Y = np.empty((size, n)), np.empty((size, n))
    pairs = []
    for _ in range(8):
        s = rng.standard_normal(n)
        assert rule.push(s, H @ s)
        pairs.append((s, H @ s))
    pairs = pairs[-size:]
    g = rng.standard_normal(n)
    q, alphas = g.copy(), []
    for s, y in reversed(pairs):  # Nocedal & Wright, Algorithm 7.4, written out
        alphas.append((s @ q) / (s @ y))
        q -= alphas[-1] * y
    q *= (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1])
    for (s, y), a in zip(pairs, reversed(alphas), strict=True):
        q += (a - (y @ q) / (s @ y)) * s
    np.testing.assert_allclose(rule.apply(g), q, rtol=1e-10, atol=1e-12)
    assert not rule.push(np.ones(n), -np.ones(n))  # negative curvature: not stored
    np.testing.assert_allclose(rule.apply(g), q, rtol=1e-10, atol=1e-12)
    rule.clear()
    np.testing.assert_array_equal(rule.apply(g), g)


def _quadratic(rng, n1=4, n2=3, m=30):
    A = rng.standard_normal((m, n1 * n2)) * np.linspace(1.0, 6.0, n1 * n2)  # κ ≈ 36
    op = DenseSensing(A, (n1, n2))
    obj = Objective(LeastSquares(op, rng.standard_normal(m)), _Linear(n1, n2))
    return obj, rng.standard_normal(n1 * n2)


@pytest.mark.parametrize("memory", [3, 12])
def test_lbfgs_with_exact_line_search_terminates_on_a_quadratic(rng, memory):
    """On a strongly convex quadratic in R^n with exact line searches, L-BFGS (H⁰ = γI, any
    memory) produces the conjugate-gradient iterates (Nocedal & Wright §7.2; Nocedal 1980), so
    it reaches the minimiser in n steps; gradient descent with the same line search does not."""
    obj, th0 = _quadratic(rng)
    n = th0.size
    g0 = float(np.linalg.norm(obj.grad(th0)))
    stop = engine.Stop(max_iter=5 * n, gtol=1e-9 * g0, ftol=None)
    res = engine.run(obj, th0, LBFGS(Exact(), memory=memory), stop=stop)
    assert res.stop is StopCode.CONVERGED, res.message
    assert res.iterations <= n + 1
    gd = engine.run(obj, th0, Exact(), stop=stop)
    assert gd.iterations > 2 * n


def test_lbfgs_rule_needs_the_flat_space_and_a_valid_memory():
    with pytest.raises(ValueError, match="memory"):
        LBFGS(Exact(), memory=0)
    with pytest.raises(TypeError, match="base"):
        LBFGS("exact")
