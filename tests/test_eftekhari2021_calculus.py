"""eftekhari2021 operator calculus: spec §4.1 tests T1–T11 (adjoints, multipliers, projection,
manifold gradient/Hessian, corrected Dλ, merit gradient, Hessian forms, invariances, bounds)."""

import numpy as np
import pytest

from lowranklab.models import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems import LeastSquares
from lowranklab.problems.min_norm import MinNormFactorization
from lowranklab.problems.min_norm_instances import planted_certificate_instance, random_instance
from lowranklab.solvers.merit import algorithm1


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-300))


@pytest.fixture
def inst():
    rng = np.random.default_rng(5)
    P = random_instance(5, 7, rng)
    U = rng.standard_normal((5, 3))
    return P, U, rng


@pytest.fixture
def planted():
    rng = np.random.default_rng(3)
    P, W, lam = planted_certificate_instance(6, 8, 2, rng)
    Ubar = np.hstack([W, np.zeros((6, 2))])
    return P, Ubar, lam, rng


def test_T1_adjoints_and_dg(inst):
    P, U, rng = inst
    X = rng.standard_normal((5, 5))  # non-symmetric allowed
    y = rng.standard_normal(7)
    s = np.linalg.norm(X) * np.linalg.norm(y) * P.norm()
    assert abs(P.forward(X) @ y - np.sum(X * P.adjoint(y))) <= 1e-12 * s
    D = rng.standard_normal(U.shape)
    delta = rng.standard_normal(7)
    assert abs(P.Dg(U, D) @ delta - np.sum(D * P.Dg_adj(U, delta))) <= 1e-12 * s * 10
    e = 1e-6
    fd = (P.g(U + e * D) - P.g(U - e * D)) / (2 * e)
    assert rel(fd, P.Dg(U, D)) <= 1e-7
    # ∇G = Dg*[g] agrees with the generic symmetric-factor calculus (G = ¼/2 ‖A(UUᵀ) − b‖²)
    obj = Objective(LeastSquares(P.operator(), P.b, scale=0.25), SymmetricFactor(5, 3))
    assert rel(P.grad_G(U).ravel(), obj.grad(U.ravel())) <= 1e-12
    assert abs(P.G(U) - obj.value(U.ravel())) <= 1e-12 * P.G(U)


def test_T2_multipliers(inst):
    P, U, rng = inst
    B = P.B(U)
    lam = P.multipliers(U)
    assert rel(lam, np.linalg.lstsq(B.T, U.ravel(), rcond=None)[0]) <= 1e-12
    assert rel(lam, np.linalg.solve(P.K(U), P.forward(U @ U.T))) <= 1e-10  # (14)
    D1, D2 = rng.standard_normal(U.shape), rng.standard_normal(U.shape)
    assert rel(P.multipliers(U, 2 * D1 - 3 * D2),
               2 * P.multipliers(U, D1) - 3 * P.multipliers(U, D2)) <= 1e-12
    K = P.K(U)
    assert np.allclose(K, K.T, atol=1e-12 * np.abs(K).max())
    assert np.linalg.eigvalsh(K).min() >= -1e-12 * np.abs(K).max()
    Kij = np.array([[np.sum((Ai @ U) * (Aj @ U)) for Aj in P.A3] for Ai in P.A3])
    assert rel(K, Kij) <= 1e-12
    assert rel(P.multipliers(U, ridge=1e-9), lam) <= 1e-6


def test_T3_projection(inst):
    P, U, rng = inst
    D1, D2 = rng.standard_normal(U.shape), rng.standard_normal(U.shape)
    P1 = P.tangent_project(U, D1)
    s = np.linalg.norm(D1) * np.linalg.norm(D2)
    assert rel(P.tangent_project(U, P1), P1) <= 1e-12
    assert abs(np.sum(P1 * D2) - np.sum(D1 * P.tangent_project(U, D2))) <= 1e-12 * s
    assert np.linalg.norm(P.Dg(U, P1)) <= 1e-12 * P.norm() * np.linalg.norm(U) * s
    N = (D1 - P1).ravel()
    B = P.B(U)
    coef = np.linalg.lstsq(B.T, N, rcond=None)[0]
    assert np.linalg.norm(B.T @ coef - N) <= 1e-12 * np.linalg.norm(N)
    T = P.tangent_basis(U)
    assert T.shape == (15, 15 - 7)
    assert rel(T @ (T.T @ D1.ravel()), P1.ravel()) <= 1e-10


def test_T4_manifold_gradient(inst):
    P, U, _ = inst
    assert rel(P.manifold_grad(U), P.tangent_project(U, U)) <= 1e-12


def test_T5_manifold_hessian(inst):
    P, U, rng = inst
    D = P.tangent_project(U, rng.standard_normal(U.shape))
    lam = P.multipliers(U)
    L = lambda V: P.f(V) - P.g(V) @ lam  # noqa: E731
    e = 1e-4
    fd = (L(U + e * D) - 2 * L(U) + L(U - e * D)) / e**2
    assert abs(fd - P.manifold_hess_quad(U, D)) <= 1e-6 * abs(fd)


def test_T6_dlambda_corrected_vs_paper(inst):
    P, U, rng = inst
    D = rng.standard_normal(U.shape)
    e = 1e-6
    fd = (P.multipliers(U + e * D) - P.multipliers(U - e * D)) / (2 * e)
    assert rel(P.dlambda(U, D), fd) <= 1e-6
    # the printed (49)–(51) (DK = 2K̃) is wrong for non-commuting A_i
    assert rel(P.dlambda_paper(U, D), fd) > 1e-2
    w = rng.standard_normal(7)
    assert abs(w @ P.dlambda(U, D) - np.sum(P.dlambda_adj(U, w) * D)) <= 1e-12 * max(
        np.linalg.norm(w) * np.linalg.norm(P.dlambda(U, D)), 1.0)
    # pairwise-commuting (diagonal) A_i, m ≤ d: the printed formula agrees
    Ad = np.stack([np.diag(rng.standard_normal(5)) for _ in range(4)])
    Q = MinNormFactorization(Ad, rng.standard_normal(4))
    fdq = (Q.multipliers(U + e * D) - Q.multipliers(U - e * D)) / (2 * e)
    assert rel(Q.dlambda_paper(U, D), Q.dlambda(U, D)) <= 1e-12
    assert rel(Q.dlambda(U, D), fdq) <= 1e-6


@pytest.mark.parametrize("gamma", [1.0, 100.0])
def test_T7_merit_gradient(inst, gamma):
    P, U, rng = inst
    D = rng.standard_normal(U.shape)
    e = 1e-6
    fd = (P.merit(U + e * D, gamma) - P.merit(U - e * D, gamma)) / (2 * e)
    gr = P.merit_grad(U, gamma)
    assert abs(fd - np.sum(gr * D)) <= 1e-6 * max(abs(fd), np.linalg.norm(gr) * np.linalg.norm(D))
    W = P.merit_W(U, gamma)
    assert np.allclose(W, W.T, atol=1e-12 * np.abs(W).max())
    assert rel(gr, P.merit_grad_eq19(U, gamma)) <= 1e-10
    # explicit formula of h_γ
    r = P.residual(U)
    h = 0.5 * np.sum(U * U) - 0.5 * r @ P.multipliers(U) + gamma / 8 * r @ r
    assert abs(P.merit(U, gamma) - h) <= 1e-10 * abs(h)


def test_T7_merit_equals_f_on_manifold(planted):
    P, Ubar, _, _ = planted
    assert abs(P.merit(Ubar, 100.0) - P.f(Ubar)) <= 1e-12


def test_T8_orthogonal_split_and_prop15(inst, planted):
    P, U, _ = inst
    a = P.manifold_grad(U)
    bvec = 100.0 * P.Dg_adj(U, P.g(U))
    assert abs(np.sum(a * bvec)) <= 1e-12 * np.linalg.norm(a) * np.linalg.norm(bvec)
    lam = P.multipliers(U)
    assert np.linalg.norm(P.aug_lagrangian_grad(U, lam, 100.0)) > 1e-3
    Q, Ubar, _, _ = planted
    assert np.linalg.norm(Q.aug_lagrangian_grad(Ubar, Q.multipliers(Ubar), 100.0)) <= 1e-10
    # (52) is the gradient of (AL)
    rng = np.random.default_rng(1)
    D = rng.standard_normal(U.shape)
    e = 1e-6
    fd = (P.aug_lagrangian(U + e * D, lam, 7.0) - P.aug_lagrangian(U - e * D, lam, 7.0)) / (2 * e)
    assert abs(fd - np.sum(P.aug_lagrangian_grad(U, lam, 7.0) * D)) <= 1e-6 * abs(fd)


def test_T9_hessian_forms(inst, planted):
    P, U, rng = inst
    lam = rng.standard_normal(7)
    D = rng.standard_normal(U.shape)
    e = 1e-4
    L = lambda V: P.aug_lagrangian(V, lam, 10.0)  # noqa: E731
    fd = (L(U + e * D) - 2 * L(U) + L(U - e * D)) / e**2
    assert abs(fd - P.aug_lagrangian_hess_quad(U, lam, 10.0, D)) <= 1e-5 * abs(fd)
    Q, Ubar, _, rng2 = planted
    for gamma in (1.0, 100.0):
        D = rng2.standard_normal(Ubar.shape)
        e = 1e-6
        fd = np.sum(D * (Q.merit_grad(Ubar + e * D, gamma) - Q.merit_grad(Ubar - e * D, gamma))
                    ) / (2 * e)
        assert abs(fd - Q.merit_hess_quad_at_fosp(Ubar, D, gamma)) <= 1e-5 * abs(fd)


def test_T10_invariances(inst):
    P, U, rng = inst
    R, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    UR = U @ R
    assert abs(P.merit(UR, 100.0) - P.merit(U, 100.0)) <= 1e-10 * abs(P.merit(U, 100.0))
    assert rel(P.multipliers(UR), P.multipliers(U)) <= 1e-10
    assert rel(P.merit_grad(UR, 100.0), P.merit_grad(U, 100.0) @ R) <= 1e-10
    a = algorithm1(P, U, gamma=100.0, step=1e-4, max_iter=1, tol=None).factors[0]
    aR = algorithm1(P, UR, gamma=100.0, step=1e-4, max_iter=1, tol=None).factors[0]
    assert rel(aR, a @ R) <= 1e-10


def test_T11_bounds_identities_newton(planted):
    P, Ubar, _, rng = planted
    U = rng.standard_normal(Ubar.shape)
    nA = P.norm()
    assert np.sqrt(np.linalg.eigvalsh(P.K(U)).max()) <= np.linalg.norm(U, 2) * nA * (1 + 1e-12)
    V = Ubar
    U = V + 0.3 * rng.standard_normal(V.shape)
    bound = 0.5 * nA * (np.linalg.norm(U, 2) + np.linalg.norm(V, 2)) * np.linalg.norm(U - V)
    assert np.linalg.norm(P.g(U)) <= bound  # (39)
    N = U - V
    lhs = P.forward(U @ U.T) - P.forward(V @ V.T)
    rhs = 2 * P.forward(N @ V.T) + P.forward(N @ N.T)  # (32)
    assert rel(lhs, rhs) <= 1e-12
    Vn, k = P.newton_project(U, max_iter=10, tol=1e-14)
    assert np.linalg.norm(P.g(Vn)) <= 1e-12 and k <= 10


def test_bad_input_is_rejected():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4, 4))
    with pytest.raises(ValueError, match="symmetric"):
        MinNormFactorization(A, np.zeros(3))
    A = A + A.transpose(0, 2, 1)
    with pytest.raises(ValueError, match="b must have shape"):
        MinNormFactorization(A, np.zeros(2))
    P = MinNormFactorization(A, np.zeros(3))
    with pytest.raises(ValueError, match="U must have shape"):
        P.stationarity(np.zeros((3, 2)))
