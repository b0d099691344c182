"""The torch backend (CPU): every operator, least squares and every factor parametrization
give the same numbers on torch tensors as on NumPy arrays (float64, 1e-12), keep float32
tensors float32, and never convert a tensor to NumPy on the way."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KINDS, SQUARE_KINDS, make_operator

from lowranklab.lowrank import LowRank, as_dense, fro_dist_sq, fro_norm, inner
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.deep import DeepFactor
from lowranklab.objective import Objective
from lowranklab.problems.loss import LeastSquares

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-12, atol=1e-12)


@pytest.fixture
def no_numpy_roundtrip(monkeypatch):
    """Converting any tensor to NumPy raises inside the test (the operators' data go the other
    way, NumPy → torch, once, and are cached)."""

    def boom(*args, **kwargs):
        raise AssertionError("a torch tensor was converted to NumPy")

    monkeypatch.setattr(torch.Tensor, "__array__", boom)
    monkeypatch.setattr(torch.Tensor, "numpy", boom)
    monkeypatch.setattr(torch.Tensor, "tolist", boom)


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype)


def close(a, b, **tol):
    """a (tensor or LowRank / sparse of tensors) equals the NumPy b."""
    a = as_dense(a)
    assert torch.is_tensor(a)
    np.testing.assert_allclose(a.detach().clone().resolve_conj().cpu().numpy(),
                               as_dense(b), **(tol or TOL))


def shape_for(kind):
    return (4, 4) if kind in SQUARE_KINDS else (4, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_operator_matches_numpy_on_torch(kind, rng):
    op = make_operator(kind, *shape_for(kind), rng)
    d1, d2 = op.shape_in
    X, y = rng.standard_normal((d1, d2)), rng.standard_normal(op.m)
    U, V = rng.standard_normal((d1, 2)), rng.standard_normal((d2, 2))
    ref = {  # NumPy first, so that the checks below run with conversion to NumPy forbidden
        "forward": op.forward(X), "forward_lr": op.forward_lr(U, V),
        "lowrank": op.forward(LowRank(U, V)), "adjoint": as_dense(op.adjoint(y)),
        "times": op.adjoint_times(y, V), "t_times": op.adjoint_t_times(y, U),
    }
    if d1 == d2:
        ref["sym"] = op.forward_sym(U)
    tX, ty, tU, tV = t(X), t(y), t(U), t(V)
    _check_operator(op, ref, tX, ty, tU, tV)


def _check_operator(op, ref, tX, ty, tU, tV):
    close(op.forward(tX), ref["forward"])
    close(op.forward_lr(tU, tV), ref["forward_lr"])
    close(op.forward(LowRank(tU, tV)), ref["lowrank"])
    G = op.adjoint(ty)
    close(G, ref["adjoint"])
    close(op.adjoint_times(ty, tV), ref["times"])
    close(op.adjoint_t_times(ty, tU), ref["t_times"])
    if "sym" in ref:
        close(op.forward_sym(tU), ref["sym"])


@pytest.mark.parametrize("kind", KINDS)
def test_operators_never_convert_tensors_to_numpy(kind, rng, no_numpy_roundtrip):
    op = make_operator(kind, *shape_for(kind), rng)
    d1, d2 = op.shape_in
    tX, ty = torch.randn(d1, d2, dtype=torch.float64), torch.randn(op.m, dtype=torch.float64)
    tU, tV = torch.randn(d1, 2, dtype=torch.float64), torch.randn(d2, 2, dtype=torch.float64)
    for out in (op.forward(tX), op.forward_lr(tU, tV), op.adjoint_times(ty, tV),
                op.adjoint_t_times(ty, tU), as_dense(op.adjoint(ty))):
        assert torch.is_tensor(out) and out.dtype == torch.float64


@pytest.mark.parametrize("kind", KINDS)
def test_float32_tensors_stay_float32(kind, rng):
    op = make_operator(kind, *shape_for(kind), rng)
    d1, d2 = op.shape_in
    f = torch.float32
    tU, tV, ty = torch.randn(d1, 2, dtype=f), torch.randn(d2, 2, dtype=f), torch.randn(op.m,
                                                                                      dtype=f)
    for out in (op.forward_lr(tU, tV), op.adjoint_times(ty, tV), op.adjoint_t_times(ty, tU),
                as_dense(op.adjoint(ty)), op.forward(torch.randn(d1, d2, dtype=f))):
        assert out.dtype == f
    ref = op.forward_lr(tU.double().numpy(), tV.double().numpy())
    np.testing.assert_allclose(op.forward_lr(tU, tV).double().numpy(), ref, rtol=1e-4,
                               atol=1e-4 * max(1.0, np.abs(ref).max()))


def _models(d1, d2):
    square = [("sym", SymmetricFactor(d1, 3)), ("deep3", DeepFactor(d1, d1, 3, [3, 2]))]
    rect = [("balanced", BalancedFactor(d1, d2, 2, mu=0.7)), ("deep2", DeepFactor(d1, d2, 2)),
            ("deep1", DeepFactor(d1, d2, 1))]
    return square, rect


@pytest.mark.parametrize("kind", ["gaussian", "entries", "rank_one", "symmetric_gaussian",
                                  "identity", "streamed_symmetric"])
def test_parametrizations_and_least_squares_match_numpy_on_torch(kind, rng):
    """to_matrix, push, pull, curvature, the regularizer and the whole lift (value, gradient,
    HVP of f(X(θ)) + ρ(θ)) on torch equal NumPy to 1e-12, for the ambient gradient in each
    operator's natural form (dense, sparse CSR, LowRank)."""
    d1, d2 = shape_for(kind)
    op = make_operator(kind, d1, d2, rng)
    b = rng.standard_normal(op.m)
    square, rect = _models(d1, d2)
    for name, model in (square if d1 == d2 else []) + rect:
        theta = rng.standard_normal(model.dim)
        theta_dot = rng.standard_normal(model.dim)
        loss = LeastSquares(op, b, scale=1.5)
        obj = Objective(loss, model)
        e = obj.evaluate(theta)
        G = e.G
        ref = [e.value, e.grad, obj.hvp(theta, theta_dot), model.to_matrix(theta),
               model.push(theta, theta_dot), model.curvature(theta, theta_dot, G),
               model.reg_grad(theta), model.reg_hvp(theta, theta_dot)]
        tt, ttd = t(theta), t(theta_dot)
        te = obj.evaluate(tt)
        assert te.value == pytest.approx(ref[0], rel=1e-12), name
        close(te.grad, ref[1])
        close(obj.hvp(tt, ttd), ref[2])
        close(model.to_matrix(tt), ref[3])
        close(model.push(tt, ttd), ref[4])
        close(model.curvature(tt, ttd, te.G), ref[5])
        close(model.reg_grad(tt), ref[6])
        close(model.reg_hvp(tt, ttd), ref[7])
        assert loss.training_error(model.to_matrix(tt)) == pytest.approx(
            loss.training_error(model.to_matrix(theta)), rel=1e-12)


def test_lift_never_converts_tensors_to_numpy(rng, no_numpy_roundtrip):
    for kind in ("entries", "gaussian", "rank_one"):
        op = make_operator(kind, 5, 4, rng)
        obj = Objective(LeastSquares(op, torch.randn(op.m, dtype=torch.float64)),
                        BalancedFactor(5, 4, 2, mu=0.5))
        theta = torch.randn(obj.dim, dtype=torch.float64)
        e = obj.evaluate(theta)
        assert torch.is_tensor(e.grad) and torch.is_tensor(obj.hvp(theta, theta))


def test_float32_lift_on_torch_stays_float32(rng):
    op = make_operator("entries", 6, 5, rng)
    obj = Objective(LeastSquares(op, rng.standard_normal(op.m)), BalancedFactor(6, 5, 2, mu=1.0))
    theta = torch.randn(obj.dim, dtype=torch.float32)
    e = obj.evaluate(theta)
    assert e.grad.dtype == torch.float32 and obj.hvp(theta, theta).dtype == torch.float32
    ref = obj.evaluate(theta.double().numpy())
    np.testing.assert_allclose(e.grad.double().numpy(), ref.grad, rtol=1e-4,
                               atol=1e-5 * np.abs(ref.grad).max())


def test_lowrank_helpers_on_torch(rng):
    L, R = rng.standard_normal((5, 2)), rng.standard_normal((4, 2))
    X, Y = LowRank(L, R), LowRank(R[:, ::-1].copy()[:4], L[:4] * 0 + 1)
    tX = LowRank(t(L), t(R))
    assert fro_norm(tX) == pytest.approx(fro_norm(X), rel=1e-12)
    close(tX.singular_values(), X.singular_values())
    close(tX + tX * -0.5, X + X * -0.5)
    D = rng.standard_normal((5, 4))
    assert inner(tX, t(D)) == pytest.approx(inner(X, D), rel=1e-12)
    assert inner(t(D), tX) == pytest.approx(inner(D, X), rel=1e-12)
    assert fro_dist_sq(t(D), tX) == pytest.approx(fro_dist_sq(D, X), rel=1e-12)
    assert fro_dist_sq(tX, LowRank(t(L), t(R * 2))) == pytest.approx(
        fro_dist_sq(X, LowRank(L, R * 2)), rel=1e-10)
    assert Y.shape == (4, 4)


def test_numpy_b_with_torch_x_and_the_reverse(rng):
    op = make_operator("gaussian", 3, 3, rng)
    b = rng.standard_normal(op.m)
    loss = LeastSquares(op, t(b))
    with pytest.raises(TypeError, match="tensor"):
        loss.value(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="dtype"):
        LeastSquares(op, t(b), dtype="float32")
    assert LeastSquares(op, b).value(t(np.zeros((3, 3)))) == pytest.approx(0.5 * b @ b)


@pytest.mark.parametrize("psd", [False, True])
@pytest.mark.parametrize("kind", ["entries", "gaussian", "rank_one"])
def test_fixed_rank_manifold_matches_numpy_on_torch(psd, kind, rng):
    """Point from factors, tangent projection of the (sparse / dense / LowRank) gradient,
    retraction through the 2r×2r core, transport, Riemannian Hessian and the inner product on
    torch equal NumPy to 1e-12 (compared as matrices: singular vectors are unique up to sign)."""
    from lowranklab.models.fixed_rank import manifold_for

    d1, d2 = (5, 5) if psd else (5, 4)
    op = make_operator(kind, d1, d2, rng)
    loss = LeastSquares(op, rng.standard_normal(op.m))
    M = manifold_for((d1, d2), 2, symmetric=psd)
    x = M.random_point(rng)
    tx = M.point(t(x.U), t(x.S), t(x.V))
    f, g, G = M.gradient(loss, x)
    tf, tg, tG = M.gradient(loss, tx)
    assert tf == pytest.approx(f, rel=1e-12)
    close(M.to_lowrank(tx, tg), M.to_lowrank(x, g))
    y, ty = M.retract(x, g, -0.3), M.retract(tx, tg, -0.3)
    close(ty.lowrank(), y.lowrank())
    close(M.to_lowrank(ty, M.transport(tx, ty, tg)), M.to_lowrank(y, M.transport(x, y, g)))
    close(M.to_lowrank(tx, M.hessian(loss, tx, tg, tG)), M.to_lowrank(x, M.hessian(loss, x, g, G)))
    assert M.inner(tx, tg, tg) == pytest.approx(M.inner(x, g, g), rel=1e-12)
    close(M.from_lowrank(LowRank(t(x.U), t(x.V))).lowrank(),
          M.from_lowrank(LowRank(x.U, x.V)).lowrank())
    assert float(abs(ty.U.T @ ty.U - torch.eye(2, dtype=torch.float64)).max()) < 1e-12
    assert torch.is_tensor(ty.flat()) and tuple(ty.flat().shape) == y.flat().shape


@pytest.mark.parametrize("problem", ["sensing", "completion"])
def test_plain_gd_loop_on_torch_follows_numpy_and_recovers(problem, no_numpy_roundtrip):
    """θ ← θ − η∇F(θ) written with the lift alone (what the engine will run): the torch
    iterates follow the NumPy ones to 1e-10 and reach the planted matrix, with every tensor →
    NumPy conversion forbidden (the reference θ crosses over through Python lists)."""
    from lowranklab.problems import completion_problem, sensing_problem

    rng = np.random.default_rng(4)
    if problem == "sensing":
        P = sensing_problem(8, 1, 80, rng, symmetric=False)
        eta, steps, tol = 0.2, 300, 1e-8
    else:
        P = completion_problem(12, 10, 1, 0.6, rng)
        eta, steps, tol = 1.0, 300, 1e-4  # 1.1e-5 reached at step 300 (‖X₀ − X♮‖²_F ≈ 1)
    model = BalancedFactor(*P.shape, 1, mu=0.5)
    obj = Objective(P.loss(), model)
    theta = 0.3 * rng.standard_normal(obj.dim)
    ttheta = torch.tensor(theta.tolist(), dtype=torch.float64)  # via a list: no __array__
    for _ in range(steps):
        theta = theta - eta * obj.evaluate(theta).grad
        ttheta = ttheta - eta * obj.evaluate(ttheta).grad
    assert torch.is_tensor(ttheta)
    ref = torch.tensor(theta.tolist(), dtype=torch.float64)
    assert float((ttheta - ref).abs().max()) < 1e-10
    from lowranklab.lowrank import fro_dist_sq as dist

    assert dist(model.to_matrix(theta), P.truth) < tol * P.truth.fro_sq()


def test_entry_sampling_gather_path_matches_sampled_addmm(rng):
    """The two torch routes to A(UVᵀ) on entry sampling (sampled_addmm on CPU, blocked
    gathers on accelerators) agree, on a pattern with a repeated entry and out of row order."""
    from lowranklab.operators import EntrySampling, sampling

    rows = np.array([3, 0, 2, 0, 3, 1, 0])
    cols = np.array([1, 2, 0, 2, 3, 1, 0])
    op = EntrySampling(rows, cols, (4, 5))
    U, V = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    ref = np.sum(U[rows] * V[cols], axis=1)
    tU, tV = t(U), t(V)
    close(op._sampled_addmm(tU, tV), ref)
    old = sampling.TORCH_BLOCK
    try:
        sampling.TORCH_BLOCK = 3  # several blocks
        close(op._gathered_dot(tU, tV), ref)
    finally:
        sampling.TORCH_BLOCK = old
