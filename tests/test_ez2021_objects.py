"""ez2021 objects: gradients, Dg and its adjoint, Jacobian rank, PL, perturbation bounds,
invariances, Procrustes / Lemma F.2, the bounds of (47) and (8), the Fig.-4 toy, generators and
effective rank (spec §4: T1–T7, T11–T14, T20, T21, T23)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rel_err

from lowranklab.models.init import rank_k_init
from lowranklab.operators import symmetric_gaussian
from lowranklab.operators.dense import DenseSensing
from lowranklab.problems.ez2021 import (
    SymmetricSensing,
    effrank,
    example_instance,
    numerical_rank,
    planted_factor,
)
from lowranklab.problems.ez2021_theory import (
    generic_jacobian_rank,
    procrustes_dist,
    procrustes_rotation,
)
from lowranklab.problems.ez2021_toy import mb_surface, surface_radius_sq, toy_instance
from lowranklab.solvers.sensing_gd import sensing_objective


def _orth(p, rng):
    Q, R = np.linalg.qr(rng.standard_normal((p, p)))
    return Q * np.sign(np.diag(R))


def _fd_grad(fun, U, h=1e-6):
    G = np.zeros_like(U)
    for idx in np.ndindex(U.shape):
        E = np.zeros_like(U)
        E[idx] = h
        G[idx] = (fun(U + E) - fun(U - E)) / (2 * h)
    return G


def _small(rng, d=5, r=2, m=7):
    return example_instance(d, r, m, rng)


# -- T1, T2 -----------------------------------------------------------------------------------
def test_T1_gradient_factor_four_and_G(rng):
    inst = _small(rng)
    U = rng.standard_normal((5, 3))
    fd = _fd_grad(inst.train_error, U)
    assert rel_err(inst.grad_f(U), fd) <= 1e-6
    assert rel_err(inst.grad_G(U), fd / 8) <= 1e-6
    assert inst.G(U) == pytest.approx(inst.train_error(U) / 8, rel=1e-14)
    # the generic foundation objective (LeastSquares scale 2 ∘ UUᵀ) has the same gradient
    obj = sensing_objective(inst, 3)
    assert rel_err(obj.grad(U.ravel()).reshape(5, 3), inst.grad_f(U)) <= 1e-12
    assert obj.value(U.ravel()) == pytest.approx(inst.train_error(U), rel=1e-12)


def test_T1_negative_control_nonsymmetric(rng):
    d, m = 5, 7
    A = rng.standard_normal((m, d, d))  # not symmetric
    b = rng.standard_normal(m)
    U = rng.standard_normal((d, 3))

    def f(V):
        r = np.einsum("mij,ij->m", A, V @ V.T) - b
        return r @ r

    S = np.einsum("m,mij->ij", np.einsum("mij,ij->m", A, U @ U.T) - b, A)
    fd = _fd_grad(f, U)
    assert rel_err(4 * S @ U, fd) > 1e-3  # the symmetric formula is wrong here
    assert rel_err(2 * (S + S.T) @ U, fd) <= 1e-6
    op = DenseSensing(A.reshape(m, d * d), (d, d))
    with pytest.raises(ValueError, match="symmetric"):
        SymmetricSensing(op, b)
    sym = SymmetricSensing(op, b, symmetrize=True)  # (A_i + A_iᵀ)/2: same f on UUᵀ
    assert sym.train_error(U) == pytest.approx(f(U), rel=1e-12)
    assert rel_err(sym.grad_f(U), fd) <= 1e-6


def test_T2_gd_is_left_multiplication(rng):
    from lowranklab.solvers.sensing_gd import sensing_gd

    inst = _small(rng)
    U = rng.standard_normal((5, 5))
    eta = 1e-3
    res = sensing_gd(inst, U, step=eta, max_iter=1, tol=None)
    expected = (np.eye(5) - 4 * eta * inst.S(U)) @ U
    assert rel_err(res.theta.reshape(5, 5), expected) <= 1e-13


# -- T3 ---------------------------------------------------------------------------------------
def test_T3_derivative_adjoint_exact_expansion(rng):
    inst = _small(rng)
    U, D = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    lhs = inst.g(U + D) - inst.g(U) - inst.dg(U, D)
    assert rel_err(lhs, 0.5 * inst.forward(D @ D.T)) <= 1e-12
    assert rel_err(inst.dg(U, D), 0.5 * inst.forward(D @ U.T + U @ D.T)) <= 1e-12
    delta = rng.standard_normal(7)
    J = inst.jacobian(U)
    assert rel_err(J @ D.ravel(), inst.dg(U, D)) <= 1e-12
    a, b = float((J @ D.ravel()) @ delta), float(np.sum(D * inst.dg_adjoint(U, delta)))
    assert abs(a - b) <= 1e-12 * max(abs(a), 1)
    # chain rule ∇G = Dg*[g]
    assert rel_err(inst.dg_adjoint(U, inst.g(U)), inst.grad_G(U)) <= 1e-12


# -- T4 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("d,m", [(5, 10), (6, 20), (8, 30)])
def test_T4_jacobian_rank_at_low_rank_points(d, m):
    rng = np.random.default_rng(d * 100 + m)
    inst = SymmetricSensing(op := symmetric_gaussian(d, m, rng), np.zeros(op.m))
    for k in range(1, d + 1):
        U = rank_k_init((d, d), k, 1.0, rng)
        assert np.linalg.matrix_rank(inst.jacobian(U)) == generic_jacobian_rank(d, k, m), k


# -- T5, T6, T7 -------------------------------------------------------------------------------
def test_T5_PL_inequality_pointwise(rng):
    op = symmetric_gaussian(6, 20, rng)
    for _ in range(200):
        inst = SymmetricSensing(op, rng.standard_normal(20))
        U = rng.standard_normal((6, 6))
        lhs = float(np.sum(inst.grad_G(U) ** 2))
        rhs = inst.sigma_m_Dg(U) ** 2 * float(inst.g(U) @ inst.g(U))
        assert lhs >= rhs * (1 - 1e-10)


def test_T6_jacobian_perturbation_bound(rng):
    inst = SymmetricSensing(op := symmetric_gaussian(6, 20, rng), np.zeros(op.m))
    nA = inst.opnorm()
    for _ in range(200):
        U, V = rng.standard_normal((6, 6)), rng.standard_normal((6, 6)) * rng.uniform(0, 2)
        dUV = np.linalg.norm(U - V, 2)
        assert rel_err(inst.jacobian(U) - inst.jacobian(V), inst.jacobian(U - V)) <= 1e-12
        assert nA * dUV - np.linalg.norm(inst.jacobian(U) - inst.jacobian(V), 2) >= -1e-10
        assert inst.sigma_m_Dg(U) - (inst.sigma_m_Dg(V) - nA * dUV) >= -1e-10


def test_T7_rotation_invariances(rng):
    inst = _small(rng, d=6, r=2, m=15)
    U = rng.standard_normal((6, 4))
    R = _orth(4, rng)
    W = rng.standard_normal((4, 4))
    Om = W - W.T
    assert rel_err(inst.forward(U @ R @ R.T @ U.T), inst.forward(U @ U.T)) <= 1e-12
    assert np.linalg.norm(U @ R, 2) == pytest.approx(np.linalg.norm(U, 2), rel=1e-12)
    s1 = np.linalg.svd(inst.jacobian(U @ R), compute_uv=False)
    s0 = np.linalg.svd(inst.jacobian(U), compute_uv=False)
    assert rel_err(s1, s0) <= 1e-12
    assert np.linalg.norm(inst.jacobian(U) @ (U @ Om).ravel()) <= 1e-12 * np.linalg.norm(
        inst.jacobian(U)) * np.linalg.norm(U @ Om)
    M = U.T @ inst.grad_G(U)
    assert rel_err(M, M.T) <= 1e-12


# -- T11, T12 ---------------------------------------------------------------------------------
def test_T11_procrustes(rng):
    U, V = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    R = procrustes_rotation(U, V)
    direct = np.linalg.norm(U - V @ R)
    nuc = np.linalg.svd(U.T @ V, compute_uv=False).sum()
    closed = np.sqrt(np.sum(U**2) + np.sum(V**2) - 2 * nuc)  # Lemma F.1, eq. (53)
    assert direct == pytest.approx(closed, rel=1e-10)
    assert procrustes_dist(U, V) == pytest.approx(closed, rel=1e-10)
    assert procrustes_dist(U @ _orth(4, rng), U) <= 1e-12 * np.linalg.norm(U)
    for _ in range(100):
        assert direct <= np.linalg.norm(U - V @ _orth(4, rng)) + 1e-12


def _sigma_min(U, tol=1e-12):
    s = np.linalg.svd(U, compute_uv=False)
    s = s[s > tol * max(s[0], 1e-300)]
    return s[-1] if s.size else 0.0


def test_T12_lemma_F2_min_version_holds(rng):
    # 2,000 pairs instead of the spec's 20,000 keep the test fast; same generator
    for _ in range(2000):
        d, p = rng.integers(2, 6), rng.integers(1, 6)
        ku, kv = rng.integers(1, min(d, p) + 1), rng.integers(1, min(d, p) + 1)
        U = rank_k_init((d, p), ku, 10 ** rng.uniform(-1, 1), rng)
        if rng.uniform() < 0.3:  # near-rotations
            V = U @ _orth(p, rng) + 1e-3 * rng.standard_normal((d, p))
        else:
            V = rank_k_init((d, p), kv, 10 ** rng.uniform(-1, 1), rng)
        lhs = np.linalg.norm(U @ U.T - V @ V.T)
        rhs = min(_sigma_min(U), _sigma_min(V)) * procrustes_dist(U, V)
        assert lhs - rhs >= -1e-9 * max(1.0, lhs)


def test_T12_erratum_lemma_F2_max_version_is_false():
    # ez2021 Lemma F.2 / E.1 with max(·) (erratum §7.1): explicit counterexample
    U, V = np.diag([10.0, 0.0]), np.diag([10.0, 0.1])
    lhs = np.linalg.norm(U @ U.T - V @ V.T)
    dist = procrustes_dist(U, V)
    assert lhs == pytest.approx(0.01) and dist == pytest.approx(0.1)
    max_rhs = max(_sigma_min(U), _sigma_min(V)) * dist
    assert max_rhs == pytest.approx(1.0) and lhs < max_rhs  # the paper's version fails
    assert lhs >= min(_sigma_min(U), _sigma_min(V)) * dist - 1e-15  # min version holds


# -- T13, T14 ---------------------------------------------------------------------------------
def test_T13_and_T14_bounds(rng):
    inst = _small(rng, d=6, r=2, m=20)
    nA = inst.opnorm()
    X = inst.truth
    for _ in range(200):
        k = rng.integers(1, 7)
        U = rank_k_init((6, 6), k, 10 ** rng.uniform(-1, 1), rng)
        V = rank_k_init((6, 6), rng.integers(1, 7), 10 ** rng.uniform(-1, 1), rng)
        lhs13 = np.linalg.norm(inst.forward(U @ U.T - V @ V.T))
        rhs13 = nA * (np.linalg.norm(U, 2) + np.linalg.norm(V, 2)) * np.linalg.norm(U - V)
        assert rhs13 - lhs13 >= -1e-10 * rhs13  # (47)
        rk = np.linalg.matrix_rank(U @ U.T - X)
        rhs14 = np.linalg.norm(inst.residual(U)) / (nA * np.sqrt(rk)) - np.linalg.norm(X, 2)
        assert np.linalg.norm(U, 2) ** 2 - rhs14 >= -1e-10  # (8), corrected: −ξ → −‖X♮‖


# -- T20 --------------------------------------------------------------------------------------
def test_T20_fig4_toy_surface(rng):
    inst = toy_instance(rng)
    assert surface_radius_sq(inst) >= 0
    th, ph = np.meshgrid(np.linspace(0, 2 * np.pi, 60), np.linspace(0, 2 * np.pi, 60))
    U = mb_surface(inst, th, ph).reshape(-1, 2, 2)
    X = U @ U.transpose(0, 2, 1)
    meas = np.einsum("mij,nij->nm", inst.A, X)
    assert np.abs(meas - inst.b).max() <= 1e-12
    R = _orth(2, rng)
    V = U @ R
    assert np.abs(np.einsum("mij,nij->nm", inst.A, V @ V.transpose(0, 2, 1)) - inst.b
                  ).max() <= 1e-12
    assert rel_err(inst.A[0], np.diag([1.0, 0.0])) == 0  # A(UUᵀ)_1 = ‖U[1,:]‖²


# -- T21, T23 ---------------------------------------------------------------------------------
def test_T21_generators(rng):
    op = symmetric_gaussian(10, 2000, rng)
    T = op.A.reshape(2000, 10, 10)
    assert np.array_equal(T, T.transpose(0, 2, 1))
    iu = np.triu_indices(10)
    up = T[:, iu[0], iu[1]]
    assert np.abs(up.mean(axis=0)).max() <= 0.1  # per entry over 2000 draws: 4.5 s.e.
    assert abs(up.mean()) <= 0.02 and abs(up.var() - 1) <= 0.03
    inst = example_instance(30, 2, None, rng)
    lam = np.linalg.eigvalsh(inst.truth)
    assert lam.min() >= -1e-12 and np.trace(inst.truth) == pytest.approx(1, abs=1e-12)
    assert numerical_rank(inst.truth) == 2 and inst.m == 240
    U0 = rank_k_init((30, 30), 5, 3.0, rng)
    assert np.linalg.matrix_rank(U0) == 5 and np.linalg.norm(U0) == pytest.approx(3.0)
    Ub = rank_k_init((30, 30), 5, 3.0, rng, on_sphere=False)
    assert np.linalg.matrix_rank(Ub) == 5 and np.linalg.norm(Ub) <= 3.0
    Un = planted_factor(inst.truth, 30)
    assert rel_err(Un @ Un.T, inst.truth) <= 1e-12 and numerical_rank(Un) == 2


def test_T23_effrank():
    X = np.diag([1.0, 1e-3, 1e-12])
    assert effrank(X, 1e-8) == 2
    assert effrank(X, 1e-2) == 1
    assert effrank(np.zeros((3, 3))) == 0
    assert effrank(X, 1e-8) <= numerical_rank(X)


# -- M_b helpers (spec §1.6) ------------------------------------------------------------------
def test_Mb_projection_rip_and_tube(rng):
    from lowranklab.problems.ez2021_theory import (
        default_xi,
        dist_to_Mb,
        estimate_sigma_min_Mb,
        in_tube,
        project_to_Mb,
        rip_alpha,
        sample_Mb,
    )

    inst = example_instance(4, 1, 6, rng)  # under-determined: M_b is a manifold, not U♮O_p
    xi = default_xi(inst.truth)
    U = rng.standard_normal((4, 4)) * 0.3
    V, ok = project_to_Mb(inst, U)
    assert ok and np.linalg.norm(inst.residual(V)) <= 1e-12 * max(1, np.linalg.norm(inst.b))
    d, exact = dist_to_Mb(inst, U, xi)
    assert not exact and (d == np.inf or d >= 0)
    pts = sample_Mb(inst, 4, xi, 6, rng)
    assert pts and all(np.linalg.norm(P, 2) <= xi for P in pts)
    assert in_tube(inst, V, 1e-9) and not in_tube(inst, np.zeros((4, 4)), 1e-3)
    # α_s over symmetric rank ≤ s matrices: the heuristic for s < d is an upper bound of a
    # minimum over a smaller set, so it is ≥ the exact α_d (A injective: m = N = 6, d = 3)
    inst3 = example_instance(3, 3, 6, rng)
    a3, ex3 = rip_alpha(inst3, 3, rng=rng)
    a2, ex2 = rip_alpha(inst3, 2, rng=rng, starts=5)
    assert ex3 and not ex2 and a3 > 0 and a3 - 1e-9 <= a2 <= inst3.opnorm() + 1e-9
    assert rip_alpha(inst, 4, rng=rng) == (0.0, True)  # m < N: some symmetric X is annihilated
    smin = estimate_sigma_min_Mb(inst3, 3, default_xi(inst3.truth), n=4, rng=rng)
    assert smin == pytest.approx(np.sqrt(np.linalg.eigvalsh(inst3.truth)[0]), rel=1e-6)


def test_symmetric_half_coordinates_match_full_operator(rng):
    """The dense operator's half-coordinate products (the ez2021 GD fast path) agree with the
    plain (m, d²) products on symmetric matrices, and are not used for non-symmetric A_i."""
    inst = example_instance(7, 2, 30, rng)
    op = inst.op
    assert op.exactly_symmetric
    U = rng.standard_normal((7, 4))
    assert rel_err(op.forward_lr(U, U), op.A @ (U @ U.T).ravel()) <= 1e-13
    assert rel_err(op.forward_lr(U, U), inst.residual(U) + inst.b) <= 1e-13
    y = rng.standard_normal(30)
    assert rel_err(op.adjoint(y), (y @ op.A).reshape(7, 7)) <= 1e-13
    G = op.adjoint(y)
    assert np.array_equal(G, G.T)  # bit for bit: Objective pulls it by 2GU (symmetric_gradient)
    assert op._half_coordinates()[0].shape == (30, 28)  # N = d(d+1)/2: half the work of d²
    from lowranklab.operators.dense import DenseSensing

    general = DenseSensing(rng.standard_normal((30, 49)), (7, 7))
    assert not general.exactly_symmetric
    assert rel_err(general.forward_lr(U, U), general.A @ (U @ U.T).ravel()) <= 1e-13
