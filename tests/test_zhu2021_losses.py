"""zhu2021 test functions f with known restricted-convexity constants, the stacked-factor
geometry (Ŵ, balanced factors, Procrustes) and the noisy / perturbed GD solvers."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.lowrank import LowRank
from lowranklab.models import BalancedFactor
from lowranklab.objective import Objective
from lowranklab.problems.balanced_truth import (
    balanced_factors,
    dist,
    hat,
    imbalance,
    lift,
    planted_spectrum,
    procrustes,
    psd_objective,
)
from lowranklab.problems.smooth_losses import (
    LogCoshRSC,
    MatrixFactorizationLoss,
    QuadRSC,
    WeightedPCA,
    gaussian_sensing,
    mf_loss,
    synthetic_rip_sensing,
)
from lowranklab.solvers.noisy import (
    jin_parameters,
    noisy_gradient_descent,
    perturbed_gradient_descent,
    uniform_ball,
    unit_sphere,
)
from lowranklab.solvers.result import StopCode

N, M = 5, 4


def _truth(rng, sigma=(2.0, 1.0)):
    return planted_spectrum(N, M, sigma, rng)


def _losses(rng):
    t = _truth(rng)
    Om = rng.uniform(0.5, 2.0, size=(N, M))
    return {
        "mf": MatrixFactorizationLoss(t.Xstar),
        "mf_ls": mf_loss(t.Xstar),
        "quad": QuadRSC(t.Xstar, 0.3, rng),
        "logcosh": LogCoshRSC(t.Xstar, 0.4),
        "wpca": WeightedPCA(Om, t.Xstar),
        "rip": synthetic_rip_sensing(t.Xstar, 0.2, rng, p=2 * N * M),
        "gauss": gaussian_sensing(t.Xstar, 30, rng),
    }


@pytest.mark.parametrize("name", ["mf", "mf_ls", "quad", "logcosh", "wpca", "rip", "gauss"])
def test_loss_gradient_and_hvp_match_finite_differences(name, rng):
    """C19 (loss part): ∇f and ∇²f[D] against central differences, dense and LowRank inputs."""
    f = _losses(rng)[name]
    X = rng.standard_normal((N, M))
    D = rng.standard_normal((N, M))
    h = 1e-6
    fd = (f.value(X + h * D) - f.value(X - h * D)) / (2 * h)
    assert abs(np.sum(np.asarray(f.grad(X)) * D) - fd) <= 1e-6 * max(1.0, abs(fd))
    fd2 = (np.asarray(f.grad(X + 1e-5 * D)) - np.asarray(f.grad(X - 1e-5 * D))) / 2e-5
    assert np.linalg.norm(np.asarray(f.hvp(X, D)) - fd2) <= 1e-6 * max(1, np.linalg.norm(fd2))
    assert abs(f.value(f.Xstar if hasattr(f, "Xstar") else f.b.reshape(N, M))) < 1e-20
    L, R = rng.standard_normal((N, 2)), rng.standard_normal((M, 2))
    assert np.isclose(f.value(LowRank(L, R)), f.value(L @ R.T), rtol=1e-12)


@pytest.mark.parametrize("name", ["quad", "logcosh", "wpca", "rip"])
def test_objective_gradient_and_hvp_match_finite_differences(name, rng):
    """C19: ∇G and ∇²G[Δ] of G(W) = f(UVᵀ) + μ/4‖UᵀU − VᵀV‖² against central differences."""
    f = _losses(rng)[name]
    obj = Objective(f, BalancedFactor(N, M, 2, mu=0.5))
    th, d = rng.standard_normal(obj.dim), rng.standard_normal(obj.dim)
    fd = (obj.value(th + 1e-6 * d) - obj.value(th - 1e-6 * d)) / 2e-6
    assert abs(obj.grad(th) @ d - fd) <= 1e-6 * max(1.0, abs(fd))
    fd2 = (obj.grad(th + 1e-5 * d) - obj.grad(th - 1e-5 * d)) / 2e-5
    assert np.linalg.norm(obj.hvp(th, d) - fd2) <= 1e-6 * max(1.0, np.linalg.norm(fd2))


def test_known_constants(rng):
    """The eigenvalues of each quadratic loss's Hessian fill exactly [a, b]."""
    ls = _losses(rng)
    q = ls["quad"]
    assert np.isclose(q.a_rsc, 0.7) and np.isclose(q.b_rsc, 1.3) and np.isclose(q.c, 0.3)
    rip = ls["rip"]
    A = rip.op.A
    w = np.linalg.eigvalsh(A.T @ A)
    assert np.isclose(w[0], 0.8) and np.isclose(w[-1], 1.2) and np.isclose(rip.c, 0.2)
    wp = ls["wpca"]
    assert np.isclose(wp.b_rsc / wp.a_rsc, (wp.Omega.max() / wp.Omega.min()) ** 2)
    lc = ls["logcosh"]
    phi2 = np.array([lc.hvp(lc.Xstar + s, np.ones((N, M)))[0, 0]
                     for s in np.linspace(-5, 5, 1001)])  # φ''(s)
    assert phi2.min() >= lc.a_rsc - 1e-12 and phi2.max() <= lc.b_rsc + 1e-12
    assert np.isclose(phi2.min(), lc.a_rsc) and np.isclose(phi2.max(), lc.b_rsc, atol=1e-3)
    assert np.isclose(lc.mu_balanced(), 0.5)
    s, a2, b2 = wp.normalized()  # zhu2021 eq. (7): 2f/(a+b) has a' = 1 − c, b' = 1 + c
    assert np.isclose(a2, 1 - wp.c) and np.isclose(b2, 1 + wp.c) and np.isclose(s * wp.b_rsc, b2)


def test_losses_reject_bad_input(rng):
    t = _truth(rng)
    with pytest.raises(ValueError, match="c must be"):
        QuadRSC(t.Xstar, 1.5, rng)
    with pytest.raises(ValueError, match="Omega"):
        WeightedPCA(-np.ones((N, M)), t.Xstar)
    with pytest.raises(ValueError, match="p must be"):
        synthetic_rip_sensing(t.Xstar, 0.1, rng, p=3)
    with pytest.raises(ValueError, match="shape"):
        LogCoshRSC(t.Xstar, 0.1).value(np.zeros((2, 2)))


def test_balanced_factors_and_lift(rng):
    t = _truth(rng, (3.0, 2.0, 1.0))
    np.testing.assert_allclose(t.U.T @ t.U - t.V.T @ t.V, 0, atol=1e-12)
    np.testing.assert_allclose(t.W_hat.T @ t.W, 0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(t.W, compute_uv=False) ** 2, 2 * t.sigma)
    b = balanced_factors(t.Xstar)
    assert b.r == 3 and dist(b.W, t.W) < 1e-10
    Mlift = lift(t.Xstar)
    np.testing.assert_allclose(Mlift[:N, N:], t.Xstar, atol=1e-12)
    assert np.isclose(np.linalg.norm(Mlift), 2 * np.linalg.norm(t.Xstar))
    assert psd_objective(t.W, Mlift) < 1e-20
    W = rng.standard_normal((N + M, 3))
    np.testing.assert_allclose(hat(W, N).T @ W, imbalance(W, N))


def test_procrustes_orientation(rng):
    W1, W2 = rng.standard_normal((9, 3)), rng.standard_normal((9, 3))
    R = procrustes(W1, W2)
    S = W1.T @ W2 @ R
    np.testing.assert_allclose(S, S.T, atol=1e-12)
    assert np.linalg.eigvalsh(S).min() >= -1e-10


def test_sphere_and_ball_samplers(rng):
    assert np.isclose(np.linalg.norm(unit_sphere(7, rng)), 1.0)
    radii = [np.linalg.norm(uniform_ball(3, 2.0, rng)) for _ in range(2000)]
    assert max(radii) <= 2.0
    assert abs(np.mean(np.array(radii) <= 1.0) - 1 / 8) < 0.03  # P(‖ξ‖ ≤ r/2) = 2⁻³


def _saddle_problem(rng):
    t = planted_spectrum(8, 6, (3.0, 2.0, 1.0), rng)
    obj = Objective(MatrixFactorizationLoss(t.Xstar), BalancedFactor(8, 6, 3, mu=0.5))
    U, V = t.U.copy(), t.V.copy()
    U[:, 0] = V[:, 0] = 0.0  # λ₁ = 0: a strict saddle with λ_min = −σ₁
    return t, obj, obj.model.pack(U, V)


def test_plain_gd_stays_at_saddle_noisy_gd_escapes(rng):
    from lowranklab.solvers import gradient_descent

    t, obj, th0 = _saddle_problem(rng)
    gd = gradient_descent(obj, th0, step=0.05 / 3, max_iter=500, monitors=[])
    assert np.isclose(gd.trace["value"][-1], 4.5)
    res = noisy_gradient_descent(obj, th0, noise=1e-3, rng=rng, step=0.05 / 3, max_iter=1500,
                                 noise_until=1000, monitors=[], record_every=50)
    assert res.trace["value"][-1] < 1e-12
    assert res.stop is StopCode.MAX_ITER and res.trace["noise"][-1] == 0.0


def test_perturbed_gd_stopping_rule_returns_minimizer(rng):
    t, obj, th0 = _saddle_problem(rng)
    res = perturbed_gradient_descent(obj, th0, rng=rng, radius=1e-3, g_thres=1e-8, t_thres=300,
                                     f_thres=1e-10, step=0.05 / 3, max_iter=5000, monitors=[])
    assert res.stop is StopCode.CONVERGED and "stopping rule" in res.message
    assert len(res.info["perturbation_iters"]) >= 2 and res.info["perturbation_iters"][0] == 0
    U, V = obj.model.unpack(res.theta)
    assert np.linalg.norm(U @ V.T - t.Xstar) / np.linalg.norm(t.Xstar) < 1e-8


def test_solvers_validate_input(rng):
    _, obj, th0 = _saddle_problem(rng)
    with pytest.raises(ValueError, match="noise"):
        noisy_gradient_descent(obj, th0, noise=-1.0, rng=rng)
    with pytest.raises(ValueError, match="t_thres"):
        perturbed_gradient_descent(obj, th0, rng=rng, t_thres=0)
    with pytest.raises(TypeError, match="rng"):
        noisy_gradient_descent(obj, th0, rng=0)
    with pytest.raises(ValueError, match="theta0"):
        noisy_gradient_descent(obj, th0[:-1], rng=rng)
    p = jin_parameters(ell=10, rho=1, eps=1e-3, delta_f=5, dim=42)
    assert p["step"] == 0.1 and p["t_thres"] > 0 and p["radius"] < p["g_thres"]


def test_callbacks_stop_noisy_solvers(rng):
    _, obj, th0 = _saddle_problem(rng)
    res = noisy_gradient_descent(obj, th0, rng=rng, step=0.01, max_iter=100,
                                 callbacks=[lambda s: s.iteration >= 5], monitors=[])
    assert res.stop is StopCode.INTERRUPTED and res.iterations == 5


def test_noise_free_solvers_reduce_to_gradient_descent(rng):
    """noisy GD with ε = 0, and PGD whose gradient never falls below g_thres, are plain GD."""
    from lowranklab.solvers import gradient_descent

    t = planted_spectrum(6, 5, (2.0, 1.0), rng)
    obj = Objective(LogCoshRSC(t.Xstar, 0.2), BalancedFactor(6, 5, 2, mu=0.5))
    th0 = 0.3 * rng.standard_normal(obj.dim)
    ref = gradient_descent(obj, th0, step=0.05, max_iter=200, monitors=[])
    a = noisy_gradient_descent(obj, th0, noise=0.0, rng=rng, step=0.05, max_iter=200,
                               monitors=[])
    b = perturbed_gradient_descent(obj, th0, rng=rng, g_thres=0.0, step=0.05, max_iter=200,
                                   monitors=[])
    np.testing.assert_array_equal(a.theta, ref.theta)
    np.testing.assert_array_equal(b.theta, ref.theta)
    assert b.info["perturbation_iters"] == [] and a.iterations == b.iterations == 200
