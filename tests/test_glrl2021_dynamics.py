"""glrl2021 dynamics: warm-ups, spectra, counter-example, deep flows — spec §3 T1, T2, T5, T6,
T8, T9, T10, T11, T14, T16, T18 and finite-difference checks of the deep parametrization."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from lowranklab.flows.glrl import (
    K_matrix,
    deep_rhs_11,
    deep_rhs_19,
    deep_rhs_31,
    dense_grad,
    e2e_jacobian_matrix,
    factor_gf,
    factor_jacobian_matrix,
    m_flow_rhs,
    psd_power,
    psd_power_derivative,
)
from lowranklab.lowrank import as_dense
from lowranklab.models.deep import DeepFactor, balanced_symmetric_init
from lowranklab.objective import Objective
from lowranklab.problems.glrl_instances import (
    canonical_instance,
    counterexample,
    counterexample_reduced_rhs,
    full_observation_sigma,
    haar_orthogonal,
    linear_flow,
)
from lowranklab.problems.glrl_losses import FullObservation, LinearLoss
from lowranklab.solvers.deep import deep_gd, deep_glrl
from lowranklab.solvers.greedy import descend, glrl


@pytest.fixture(scope="module")
def inst():
    return canonical_instance(3759, 0.3)


@pytest.fixture(scope="module")
def glrl_pts(inst):
    return glrl(inst.loss, epsilon=1e-7, step=1e-2).info["critical_points"]


def test_T1_linear_warmup(rng):
    d = 6
    Q = haar_orthogonal(d, rng)
    mu = np.array([3.0, 2.0, 1.5, 1.0, 0.5, -1.0])
    Qm = (Q * mu) @ Q.T
    loss = LinearLoss(Qm)
    U0 = 0.1 * rng.standard_normal((d, d))
    sol = factor_gf(loss, U0, 10.0, method="DOP853", rtol=1e-12, atol=1e-14, jac=False)
    U = sol.y[:, -1].reshape(d, d)
    exact = expm(10.0 * Qm) @ U0
    assert np.linalg.norm(U - exact) / np.linalg.norm(exact) <= 1e-8
    assert np.allclose(linear_flow(U0, Qm, 10.0), exact, rtol=1e-10)
    v1 = Q[:, 0]
    W = exact @ exact.T
    lim = (v1 @ U0 @ U0.T @ v1) * np.outer(v1, v1)
    assert np.linalg.norm(np.exp(-2 * mu[0] * 10) * W - lim) / np.linalg.norm(lim) < 1e-3


def test_T2_full_observation_warmup(rng):
    V = haar_orthogonal(3, rng)
    mu = np.array([5.0, 3.0, 1.0])
    Ws = (V * mu) @ V.T
    loss = FullObservation(Ws)
    alpha = 1e-6
    ts = np.array([0.5, 2.0, 5.0])
    sol = factor_gf(loss, np.sqrt(alpha) * np.eye(3), 5.0, t_eval=ts, method="DOP853",
                    rtol=1e-12, atol=1e-20, jac=False)
    sig = full_observation_sigma(ts, alpha, mu)
    for k in range(ts.size):
        U = sol.y[:, k].reshape(3, 3)
        pred = (V * sig[k]) @ V.T
        assert np.linalg.norm(U @ U.T - pred) / np.linalg.norm(pred) <= 1e-8
    # sharp transitions: at t = q log(1/α), 1/(2μ₁) < q < 1/(2μ₂), W ≈ μ₁ v₁v₁ᵀ
    a = 1e-12
    t = 0.13 * np.log(1 / a)
    s = full_observation_sigma(t, a, mu)
    assert np.linalg.norm(s - np.array([5.0, 0, 0])) <= 0.05


def test_T5_jacobian_spectra(inst, glrl_pts):
    loss = inst.loss
    d = 20
    for r in (0, 1, 2):
        U0 = glrl_pts[r]
        W0 = U0 @ U0.T
        J = e2e_jacobian_matrix(loss, W0)
        ev = np.linalg.eigvals(J)
        assert np.max(np.abs(ev.imag)) < 1e-8
        ev = np.sort(ev.real)
        G = dense_grad(loss, W0)
        # eigenvalues μ of −∇f on range(W0)^⊥
        if r:
            P = np.eye(d) - U0 @ np.linalg.pinv(U0)
            Qp = np.linalg.svd(P)[0][:, :d - r]
        else:
            Qp = np.eye(d)
        mu = np.linalg.eigvalsh(-Qp.T @ G @ Qp)
        pred = [mu[i] + mu[j] for i in range(mu.size) for j in range(i + 1)]
        if r:
            xi = np.sort(np.linalg.eigvals(factor_jacobian_matrix(loss, U0)).real)
            zeros = r * (r - 1) // 2
            xi = np.delete(xi, np.argsort(np.abs(xi))[:zeros])
            assert np.max(xi) <= 1e-8  # local minimum on the rank-r manifold
            pred = pred + list(xi)
        pred = np.sort(pred)
        assert pred.size == d * (d + 1) // 2
        assert np.max(np.abs(ev - pred)) <= 1e-9 * max(1.0, np.abs(pred).max())
        assert np.isclose(ev[-1], 2 * np.linalg.eigvalsh(-G)[-1], atol=1e-9)


def test_T6_limiting_trajectory_cauchy(inst):
    loss = inst.loss
    lam, V = np.linalg.eigh(-dense_grad(loss, np.zeros((20, 20))))
    mu1, u1 = lam[-1], V[:, -1]
    zs = []
    for eps in (1e-4, 1e-6, 1e-8, 1e-10):
        T = np.log(1 / eps) / (2 * mu1) + 1.0
        sol = factor_gf(loss, np.sqrt(eps) * u1[:, None], T, method="DOP853", rtol=1e-13,
                        atol=1e-16, jac=False)
        U = sol.y[:, -1].reshape(20, 1)
        zs.append(U @ U.T)
    diffs = [np.linalg.norm(zs[k + 1] - zs[k]) for k in range(3)]
    slopes = np.diff(np.log10(diffs)) / -2.0  # per factor 100 in ε
    assert np.all((slopes > 0.8) & (slopes < 1.2)), (diffs, slopes)


def test_T8_counterexample_numbers():
    for R in (2.0, 3.0, 100.0):
        ce = counterexample(R)
        assert ce.loss.value(ce.M_norm) == 0 and ce.loss.value(ce.M_rank) == 0
        assert np.isclose(np.abs(np.linalg.eigvalsh(ce.M_norm)).sum(), 4 * R)
        assert np.isclose(np.trace(ce.M_rank), 2 * R**2 + 2)
        assert np.allclose(np.sort(np.linalg.eigvalsh(ce.M_norm)), [0, 0, 2 * R - 2, 2 * R + 2],
                           atol=1e-9 * R)
        lam = np.sort(np.linalg.eigvalsh(-dense_grad(ce.loss, np.zeros((4, 4)))))
        s = np.sqrt(1 + 4 * R**2)
        assert np.allclose(lam, np.sort([(1 + s) / 2, (s - 1) / 2, -(s - 1) / 2, -(1 + s) / 2]))
        assert np.isclose(lam[-1] - lam[-2], 1.0)
        u1 = ce.u1
        assert np.isclose(u1 @ (-dense_grad(ce.loss, np.zeros((4, 4)))) @ u1, lam[-1])
    # the corrected reduced ODE (erratum E6) is the full GF restricted to u = (x, y, x, y)
    ce = counterexample(3.0)
    x, y = 0.3, 0.7
    u = np.array([[x], [y], [x], [y]])
    from lowranklab.flows.glrl import factor_rhs

    du = factor_rhs(ce.loss, u).ravel()
    assert np.allclose(du, np.repeat([counterexample_reduced_rhs(x, y, 3.0)], 2, axis=0).ravel())


def test_T8_counterexample_cvxpy():
    pytest.importorskip("cvxpy")
    from lowranklab.solvers.convex import min_trace_psd

    ce = counterexample(3.0)
    op, b = ce.loss.mask_operator()
    res = min_trace_psd(op, b, eps=1e-12)  # the X-error is ~√(gap): tight gap tolerance
    assert np.abs(res.X - ce.M_norm).max() <= 1e-5 and np.isclose(res.info["value"], 12.0)


def test_T9_prop_B2_gradient_flow():
    ce = counterexample(2.0)
    mu1 = ce.mu[0]
    dists = []
    for alpha in (1e-4, 1e-16, 1e-32):
        rng = np.random.default_rng(0)
        U0 = rng.standard_normal((4, 4))
        U0 *= np.sqrt(alpha / np.linalg.norm(U0 @ U0.T))
        sol = factor_gf(ce.loss, U0, 2 * np.log(1 / alpha) / (2 * mu1) + 80)
        U = sol.y[:, -1].reshape(4, 4)
        dists.append(np.linalg.norm(U @ U.T - ce.M_rank) / np.linalg.norm(ce.M_rank))
    assert 0.1 <= dists[0] <= 0.3 and dists[1] <= 1e-4 and dists[2] <= 1e-9
    ce = counterexample(100.0)
    sol = factor_gf(ce.loss, np.sqrt(1e-16) * ce.u1[:, None], 2e5)
    U = sol.y[:, -1].reshape(4, 1)
    assert np.linalg.norm(U @ U.T - ce.M_rank) / np.linalg.norm(ce.M_rank) <= 1e-8


def test_T10_random_init_reaches_global_min(inst, rng):
    U0 = rng.standard_normal((20, 20))
    U0 *= np.sqrt(1e-3 / np.linalg.norm(U0 @ U0.T))
    # over-parametrized (r = d) GD converges only sublinearly in the flat directions: the
    # spec's f ≤ 1e-8 / ∇f ⪰ −1e-6 needs ~10⁶ steps; the fast version checks the trend
    res = descend(inst.loss, U0, step=None, gtol=1e-9, max_iter=30_000)
    U, f = res.factors[0], res.trace["value"][-1]
    assert f <= 2e-7 and f < 1e-6 * inst.loss.value(np.zeros((20, 20)))
    assert np.linalg.eigvalsh(dense_grad(inst.loss, U @ U.T))[0] >= -1e-4


@pytest.mark.slow
def test_T10_random_init_reaches_global_min_spec_criterion(inst, rng):
    """The spec's T10 criterion itself (train f ≤ 1e-8, ∇f ⪰ −1e-6), with the 10⁶ steps the
    sublinear over-parametrized phase needs (≈ 50 s)."""
    U0 = rng.standard_normal((20, 20))
    U0 *= np.sqrt(1e-3 / np.linalg.norm(U0 @ U0.T))
    res = descend(inst.loss, U0, step=None, gtol=1e-12, max_iter=1_000_000)
    U, f = res.factors[0], res.trace["value"][-1]
    assert f <= 1e-8
    assert np.linalg.eigvalsh(dense_grad(inst.loss, U @ U.T))[0] >= -1e-6


def _balanced(d, L, rng, scale=1.0):
    return balanced_symmetric_init(d, L, scale, rng)


def test_deep_param_fd(rng):
    d = 5
    loss = FullObservation(np.diag(np.arange(1.0, d + 1)))
    for L in (1, 2, 3):
        model = DeepFactor(d, d, L, widths=[4] * (L - 1))
        obj = Objective(loss, model)
        th = rng.standard_normal(model.dim)
        v = rng.standard_normal(model.dim)
        h = 1e-6
        fd = (obj.value(th + h * v) - obj.value(th - h * v)) / (2 * h)
        assert np.isclose(obj.grad(th) @ v, fd, rtol=1e-6)
        fdh = (obj.grad(th + h * v) - obj.grad(th - h * v)) / (2 * h)
        assert np.allclose(obj.hvp(th, v), fdh, atol=1e-6 * max(1, np.abs(fdh).max()))
        Us = list(model.unpack(th))
        W = model.to_matrix(th).dense()
        fg = model.pull(th, loss.grad(W))  # ∇_{U_i} = P_{i−1}ᵀ G S_{i+1}ᵀ (spec §1.4)
        explicit = [np.eye(U.shape[0]) for U in Us]
        for i in range(len(Us)):
            left = np.eye(W.shape[0])
            for U in Us[:i]:
                left = left @ U
            right = np.eye(Us[i].shape[1])
            for U in Us[i + 1:]:
                right = right @ U
            explicit[i] = left.T @ as_dense(loss.grad(W)) @ right.T
        assert np.allclose(fg, np.concatenate([g.ravel() for g in explicit]))
        assert np.allclose(fg, obj.grad(th))


def test_balanced_init(rng):
    Us = _balanced(6, 4, rng, 1e-3)
    W = Us[0] @ Us[1] @ Us[2] @ Us[3]
    assert np.allclose(W, W.T, atol=1e-18) and np.isclose(np.linalg.norm(W), 1e-3)
    assert np.linalg.eigvalsh(W)[0] > -1e-15
    for i in range(3):
        assert np.allclose(Us[i].T @ Us[i], Us[i + 1] @ Us[i + 1].T, atol=1e-15)


def test_T11_end_to_end_forms(rng, inst):
    d = 8
    G = rng.standard_normal((d, d))
    G = G + G.T
    for L in (3, 4):
        Us = _balanced(d, L, rng, 2.0)
        W = Us[0]
        for U in Us[1:]:
            W = W @ U
        # (11) from the factor gradients: Ẇ = Σ P_{i−1} U̇_i S_{i+1} with U̇_i = −∇_{U_i}
        model = DeepFactor(d, d, L, widths=[U.shape[1] for U in Us[:-1]])
        grads = model.unpack(model.pull(model.pack(*Us), G))
        Wdot = np.zeros((d, d))
        for i in range(L):
            left = np.eye(d)
            for U in Us[:i]:
                left = left @ U
            right = np.eye(d)
            for U in Us[i + 1:]:
                right = right @ U
            Wdot -= left @ grads[i] @ right
        a = deep_rhs_11(W, G, L)
        b = deep_rhs_31(W, G, L)
        c = deep_rhs_19(W, G, L)
        M = psd_power(W, 2 / L)
        e = psd_power_derivative(M, m_flow_rhs(M, lambda W_: G, L), L / 2)
        for X in (a, b, c, e):
            assert np.linalg.norm(X - Wdot) <= 1e-10 * np.linalg.norm(Wdot)


def test_T14_K_limit(rng):
    s = np.sort(10 ** rng.uniform(-3, 1, size=6))[::-1]
    Kinf = K_matrix(s, np.inf)
    errs = [np.max(np.abs(K_matrix(s, L) - Kinf)) / np.max(Kinf) for L in (10, 100, 1000)]
    assert errs[2] < 1e-2 and 5 < errs[1] / errs[2] < 20  # O(1/L)
    assert np.allclose(K_matrix(s, 1), 1.0)
    assert np.allclose(np.diag(K_matrix(s, 4)), s ** (2 - 2 / 4))
    assert np.allclose(np.diag(Kinf), s**2)
    L = 5
    sumform = sum(np.outer(s ** (2 * k / L), s ** (2 * (L - 1 - k) / L)) for k in range(L)) / L
    assert np.allclose(K_matrix(s, L), sumform)


def test_T16_homogeneity_scaling():
    # linearised deep flow (40): Ṁ = QM² + M²Q is P = 2 homogeneous: θ(t) = aθ'(a t)
    Q = np.diag([2.0, 0.9, 0.5])
    M0 = np.diag([1.0, 2.0, 0.5]) + 0.1

    def rhs(t, y):
        M = y.reshape(3, 3)
        return (Q @ M @ M + M @ M @ Q).ravel()

    a = 1e-8
    t = 0.05
    s1 = solve_ivp(rhs, (0, t), (a * M0).ravel(), method="DOP853", rtol=1e-12, atol=1e-30)
    s2 = solve_ivp(rhs, (0, a * t), M0.ravel(), method="DOP853", rtol=1e-12, atol=1e-20)
    x, y = s1.y[:, -1], a * s2.y[:, -1]
    assert np.linalg.norm(x - y) / np.linalg.norm(y) <= 1e-8


def test_T18_deep_glrl(inst):
    # L = 2: same iterates as Algorithm 1 for the same number of steps
    loss = inst.loss
    eps = 1e-7
    res1 = glrl(loss, epsilon=eps, step=1e-2, max_iter=400, gtol=1e-30, max_rank=2)
    res2 = deep_glrl(loss, 2, epsilon=eps, step=1e-2, max_iter=400, gtol=1e-30, max_rank=2)
    for U, W in zip(res1.info["critical_points"], res2.info["critical_points"], strict=True):
        assert np.abs(U @ U.T - W).max() <= 1e-12
    # L = 3: the extension keeps the factors balanced
    res3 = deep_glrl(loss, 3, epsilon=eps, step=1e-2, max_iter=5000, gtol=1e-9, max_rank=2)
    Us = res3.info["phase_start_factors"][1]
    before = res3.info["phase_start_factors"][0]
    assert np.abs(Us[0].T @ before[0][:, :0]).size == 0  # shapes sane
    for i in range(2):
        gap = Us[i].T @ Us[i] - Us[i + 1] @ Us[i + 1].T
        assert abs(gap[-1, -1]) <= 1e-10 and np.abs(gap[-1, :-1]).max() <= 1e-10


def test_deep_gd_rmsprop_clock(inst, rng):
    from lowranklab.solvers.deep import DEFAULT_L3

    Us = _balanced(20, 3, rng, 1e-3)
    seen = []
    res = deep_gd(inst.loss, Us, step=DEFAULT_L3, max_iter=50, record_every=10,
                  callbacks=[lambda st: seen.append(st.extra["t"]) if st.iteration % 10 == 0
                             else None])
    t = res.info["t"]
    assert t > 0 and len(seen) == 5 and np.all(np.diff(seen) > 0)  # k = 0, 10, ..., 40
    assert res.trace["iter"].tolist() == [0, 10, 20, 30, 40, 50]
    # scalar RMSprop: step length ≤ η/… : the first step has η̃ = η/(‖∇‖ + ε)
    assert t <= 50 * DEFAULT_L3.eta / DEFAULT_L3.eps


def test_T15_deep_escape_direction():
    from lowranklab.experiments.glrl2021.fig7 import instance
    from lowranklab.flows.glrl import projective_deep_linear

    rng = np.random.default_rng(0)
    Q, W0 = instance(10, rng)
    u0 = np.ones(10)
    out = projective_deep_linear(Q, np.outer(u0, u0), 12)
    assert np.interp(10.0, out["log10_ratio"], out["alignment"]) > 0.999
    out = projective_deep_linear(Q, psd_power(W0, 0.5), 40)
    assert out["alignment"].max() < 1e-6
    Z = rng.standard_normal((10, 10))
    out = projective_deep_linear(Q, psd_power(W0 + 0.5e-3 * (Z + Z.T), 0.5), 36)
    assert np.interp(35.0, out["log10_ratio"], out["alignment"]) > 0.99
    # closed form: t_i = 1/(2 q_i √w_i); coordinate 2 blows up first for every u ≤ 1.1
    t = 1 / (2 * np.diag(Q) * np.sqrt(np.diag(W0)))
    assert np.argmin(t) == 1 and 1 / 7.2 < 1 / (4 * np.sqrt(1.1))


def test_measures(rng):
    from lowranklab.flows.glrl import deep_grad_norm, low_rankness
    from lowranklab.flows.trajectory import distance_to_points, polyline_distance

    P = rng.standard_normal((6, 4))
    x = rng.standard_normal(4)
    ts = np.linspace(0, 1, 20001)
    brute = min(np.min(np.linalg.norm(P[k] + ts[:, None] * (P[k + 1] - P[k]) - x, axis=1))
                for k in range(5))
    assert abs(polyline_distance(x.reshape(2, 2), P) - brute) < 1e-6
    W = np.diag([3.0, 2.0, 1.0, 0.5])
    assert np.isclose(low_rankness(W, 2), np.sqrt(1.25))
    assert distance_to_points(W, [np.zeros((4, 4)), W]) == (0.0, 1)
    # deep gradient norm from W equals the factor gradients of balanced symmetric factors
    Us = balanced_symmetric_init(5, 3, 1.0, rng)
    Wd = Us[0] @ Us[1] @ Us[2]
    G = rng.standard_normal((5, 5))
    G = G + G.T
    model = DeepFactor(5, 5, 3, widths=[U.shape[1] for U in Us[:-1]])
    fg = model.pull(model.pack(*Us), G)
    assert np.isclose(deep_grad_norm(Wd, G, 3), np.linalg.norm(fg))


def test_polyline_distance_bracket_is_exact(rng):
    """glrl2021.fig1's incremental polyline distance equals polyline_distance at every point of
    a trajectory (slow drift and jumps), while skipping most segments on the slow stretches."""
    import pytest

    from lowranklab.experiments.glrl2021._common import PolylineDistance
    from lowranklab.flows.trajectory import polyline_distance

    steps = rng.standard_normal((400, 16)) * 0.02
    P = np.cumsum(steps, axis=0)  # a random-walk path, 399 segments
    dist = PolylineDistance(P)
    x = P[0] + 0.1 * rng.standard_normal(16)
    for k in range(600):
        x = x + (0.003 * rng.standard_normal(16) if k % 150 else rng.standard_normal(16))
        X = x.reshape(4, 4)
        assert abs(dist(X) - polyline_distance(X, P)) <= 1e-12 * max(1.0, polyline_distance(X, P))
    assert dist.segment_evaluations < 0.5 * 600 * (len(P) - 1)
    assert PolylineDistance(P[:1])(P[0].reshape(4, 4) + 1.0) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="refresh"):
        PolylineDistance(P, refresh=0.0)
    with pytest.raises(ValueError, match="entries"):
        dist(np.zeros(3))
