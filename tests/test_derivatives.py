"""Gradients and Hessian-vector products against central finite differences, for every
(parametrization, operator) pair, plus the ambient least-squares loss."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_operator, rel_err

from lowranklab.lowrank import LowRank, as_dense
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems import LeastSquares

H = 1e-5  # F is a quartic polynomial: central differences have O(h²) ≈ 1e-10 truncation error
TOL = 1e-6

SYM_OPS = ["symmetric_gaussian", "gaussian", "entries", "identity"]
RECT_OPS = ["gaussian", "entries", "identity"]


def noisy_loss(op, rng, scale=1.0) -> LeastSquares:
    """b = A(X♮) + noise with a rank-2 X♮, so the residual (and the curvature term) is
    nonzero at every point."""
    d1, d2 = op.shape_in
    Xs = rng.standard_normal((d1, 2)) @ rng.standard_normal((2, d2))
    return LeastSquares(op, op.forward(Xs) + 0.3 * rng.standard_normal(op.m), scale=scale)


def objective_cases():
    cases = []
    for kind in SYM_OPS:
        for p in (2, 4):  # d = 4: p < d and p = d (over-parametrized)
            cases.append(pytest.param("sym", kind, (4, 4), p, 0.0, id=f"UUt-p{p}-{kind}"))
    for kind in RECT_OPS:
        for mu in (0.0, 0.7):
            cases.append(pytest.param("bal", kind, (5, 3), 2, mu, id=f"UVt-mu{mu}-{kind}"))
    for mu in (0.0, 0.7):  # balanced on a square symmetric-Gaussian operator too
        cases.append(pytest.param("bal", "symmetric_gaussian", (4, 4), 3, mu,
                                  id=f"UVt-mu{mu}-symmetric_gaussian"))
    return cases


def build(param, kind, shape, k, mu, rng):
    op = make_operator(kind, *shape, rng)
    model = SymmetricFactor(shape[0], k) if param == "sym" else BalancedFactor(*shape, k, mu=mu)
    return Objective(noisy_loss(op, rng, scale=1.7), model)


def fd_grad(f, theta, h=H):
    g = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


@pytest.mark.parametrize("param, kind, shape, k, mu", objective_cases())
def test_objective_gradient_matches_finite_differences(param, kind, shape, k, mu, rng):
    obj = build(param, kind, shape, k, mu, rng)
    theta = rng.standard_normal(obj.dim)
    g = obj.grad(theta)
    assert np.linalg.norm(g) > 1e-3  # not a critical point: the check has teeth
    assert rel_err(g, fd_grad(obj.value, theta)) < TOL
    # evaluate() is consistent with value()/grad()
    e = obj.evaluate(theta)
    assert e.value == pytest.approx(obj.value(theta), rel=1e-12)
    assert e.value == pytest.approx(e.loss_value + obj.model.reg_value(theta), rel=1e-12)
    np.testing.assert_allclose(as_dense(e.X), as_dense(obj.matrix(theta)))


@pytest.mark.parametrize("param, kind, shape, k, mu", objective_cases())
def test_objective_hvp_matches_finite_differences(param, kind, shape, k, mu, rng):
    obj = build(param, kind, shape, k, mu, rng)
    theta = rng.standard_normal(obj.dim)
    for _ in range(3):
        v = rng.standard_normal(obj.dim)
        fd = (obj.grad(theta + H * v) - obj.grad(theta - H * v)) / (2 * H)
        Hv = obj.hvp(theta, v)
        assert rel_err(Hv, fd) < TOL
        G = obj.loss.grad(obj.matrix(theta))
        np.testing.assert_allclose(obj.hvp(theta, v, G=G), Hv, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("param, kind, shape, k, mu", objective_cases())
def test_hessian_is_symmetric(param, kind, shape, k, mu, rng):
    obj = build(param, kind, shape, k, mu, rng)
    theta = rng.standard_normal(obj.dim)
    v, w = rng.standard_normal((2, obj.dim))
    a, b = float(v @ obj.hvp(theta, w)), float(obj.hvp(theta, v) @ w)
    assert a == pytest.approx(b, rel=1e-10, abs=1e-10)
    # the full Hessian of this tiny problem is symmetric too
    Hm = np.stack([obj.hvp(theta, e) for e in np.eye(obj.dim)], axis=1)
    np.testing.assert_allclose(Hm, Hm.T, rtol=1e-10, atol=1e-10 * np.abs(Hm).max())


def test_hvp_is_linear_in_direction(rng):
    obj = build("bal", "entries", (5, 3), 2, 0.7, rng)
    theta, v, w = rng.standard_normal((3, obj.dim))
    np.testing.assert_allclose(obj.hvp(theta, 2 * v - 3 * w),
                               2 * obj.hvp(theta, v) - 3 * obj.hvp(theta, w), rtol=1e-10,
                               atol=1e-10)


def test_balanced_regularizer_derivatives(rng):
    model = BalancedFactor(5, 3, 2, mu=0.7)
    theta = rng.standard_normal(model.dim)
    g = model.reg_grad(theta)
    assert rel_err(g, fd_grad(model.reg_value, theta)) < TOL
    v = rng.standard_normal(model.dim)
    fd = (model.reg_grad(theta + H * v) - model.reg_grad(theta - H * v)) / (2 * H)
    assert rel_err(model.reg_hvp(theta, v), fd) < TOL
    # value matches the formula μ/4‖UᵀU − VᵀV‖²
    U, V = model.unpack(theta)
    assert model.reg_value(theta) == pytest.approx(0.25 * 0.7 * np.sum((U.T @ U - V.T @ V) ** 2))
    # μ = 0: no regularizer at all
    m0 = BalancedFactor(5, 3, 2, mu=0.0)
    assert m0.reg_value(theta) == 0.0
    assert not np.any(m0.reg_grad(theta)) and not np.any(m0.reg_hvp(theta, v))


# -- the ambient least-squares loss -----------------------------------------------------------


@pytest.mark.parametrize("kind, shape", [("symmetric_gaussian", (3, 3)), ("gaussian", (4, 3)),
                                         ("entries", (4, 3)), ("identity", (3, 4))])
def test_least_squares_ambient_derivatives(kind, shape, rng):
    op = make_operator(kind, *shape, rng)
    loss = noisy_loss(op, rng, scale=2.0)
    X = rng.standard_normal(shape)

    def f(x):
        return loss.value(x.reshape(shape))

    G = as_dense(loss.grad(X))
    assert rel_err(G.ravel(), fd_grad(f, X.ravel())) < TOL
    Xd = rng.standard_normal(shape)
    fd = (as_dense(loss.grad(X + H * Xd)) - as_dense(loss.grad(X - H * Xd))) / (2 * H)
    assert rel_err(as_dense(loss.hvp(X, Xd)), fd) < TOL
    # closed form: value = (scale/2)‖A(X) − b‖², train error unscaled
    r = op.forward(X) - loss.b
    assert loss.value(X) == pytest.approx(float(r @ r))
    assert loss.training_error(X) == pytest.approx(float(r @ r))
    v, g2 = loss.value_and_grad(X)
    assert v == pytest.approx(loss.value(X))
    np.testing.assert_allclose(as_dense(g2), G)


@pytest.mark.parametrize("kind, shape", [("symmetric_gaussian", (4, 4)), ("gaussian", (5, 3)),
                                         ("entries", (5, 3)), ("identity", (5, 3))])
def test_least_squares_lowrank_equals_dense(kind, shape, rng):
    op = make_operator(kind, *shape, rng)
    loss = noisy_loss(op, rng)
    L, R = rng.standard_normal((shape[0], 2)), rng.standard_normal((shape[1], 2))
    Ld, Rd = rng.standard_normal((shape[0], 3)), rng.standard_normal((shape[1], 3))
    X, Xd = LowRank(L, R), LowRank(Ld, Rd)
    assert loss.value(X) == pytest.approx(loss.value(X.dense()), rel=1e-12)
    np.testing.assert_allclose(as_dense(loss.grad(X)), as_dense(loss.grad(X.dense())),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(as_dense(loss.hvp(X, Xd)), as_dense(loss.hvp(X.dense(),
                                                                            Xd.dense())),
                               rtol=1e-12, atol=1e-12)


def test_least_squares_validation(rng):
    op = make_operator("gaussian", 3, 2, rng)
    with pytest.raises(ValueError, match="b must have shape"):
        LeastSquares(op, np.zeros(op.m + 1))
    with pytest.raises(ValueError, match="finite"):
        LeastSquares(op, np.full(op.m, np.nan))
    with pytest.raises(ValueError, match="scale"):
        LeastSquares(op, np.zeros(op.m), scale=0.0)
    with pytest.raises(ValueError):
        Objective(LeastSquares(op, np.zeros(op.m)), BalancedFactor(2, 3, 1))
