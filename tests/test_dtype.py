"""dtype on NumPy: float64 by default, float32 kept end to end where asked (float32 data or a
`dtype=` argument) through operators, least squares and the parametrizations, never silently
upcast; float32 results agree with float64 at float32 precision."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KINDS, SQUARE_KINDS, make_operator

from lowranklab.backend import float_dtype, resolve_dtype
from lowranklab.lowrank import as_dense
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.deep import DeepFactor
from lowranklab.objective import Objective
from lowranklab.operators import (
    DenseSensing,
    EntrySampling,
    gaussian,
    rank_one_gaussian,
    symmetric_gaussian,
)
from lowranklab.problems.loss import LeastSquares

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def test_resolve_dtype_accepts_names_and_rejects_non_floats():
    assert resolve_dtype("float32") == F32 and resolve_dtype(np.float64) == F64
    assert resolve_dtype(None) is None
    for bad in ("int32", "float16", np.complex128):
        with pytest.raises(ValueError, match="dtype"):
            resolve_dtype(bad)
    with pytest.raises(TypeError, match="dtype"):
        resolve_dtype("not-a-dtype")
    assert float_dtype(np.zeros(2, dtype=np.int64)) == F64
    assert float_dtype(np.zeros(2, dtype=np.float32)) == F32


def test_default_is_float64(rng):
    op = gaussian(3, 4, 10, rng)
    assert op.A.dtype == F64 and op.dtype == F64
    assert DenseSensing(np.ones((2, 4), dtype=np.int64), (2, 2)).A.dtype == F64
    assert LeastSquares(op, np.arange(10)).b.dtype == F64
    assert SymmetricFactor(3, 2).pack(np.ones((3, 2), dtype=int)).dtype == F64


def test_generators_store_the_same_numbers_in_float32():
    a64 = symmetric_gaussian(4, 9, np.random.default_rng(3)).A
    a32 = symmetric_gaussian(4, 9, np.random.default_rng(3), dtype="float32").A
    assert a32.dtype == F32
    np.testing.assert_array_equal(a32, a64.astype(np.float32))
    g32 = gaussian(3, 2, 5, np.random.default_rng(1), dtype=np.float32)
    np.testing.assert_array_equal(g32.A, gaussian(3, 2, 5, np.random.default_rng(1)).A
                                  .astype(np.float32))
    r32 = rank_one_gaussian(3, 2, 5, np.random.default_rng(1), dtype="float32")
    assert r32.a.dtype == F32 and r32.b.dtype == F32


def _float32_operator(kind, rng, square=False):
    d1, d2 = (4, 4) if square or kind in SQUARE_KINDS else (4, 3)
    if kind == "symmetric_gaussian":
        return symmetric_gaussian(d1, 20, rng, dtype="float32")
    if kind == "gaussian":
        return gaussian(d1, d2, 20, rng, dtype="float32")
    if kind.startswith("rank_one"):
        return rank_one_gaussian(d1, d2, 20, rng, symmetric=kind == "rank_one_symmetric",
                                 dtype="float32")
    if kind.startswith("streamed"):
        from lowranklab.operators import StreamedGaussian

        return StreamedGaussian((d1, d2), 20, 4, symmetric=kind == "streamed_symmetric",
                                dtype="float32", block_bytes=4 * d1 * d2 * 3)
    return make_operator(kind, d1, d2, rng)  # entries and identity hold no float data


@pytest.mark.parametrize("kind", KINDS)
def test_float32_operators_keep_float32(kind, rng):
    op = _float32_operator(kind, rng)
    d1, d2 = op.shape_in
    X = rng.standard_normal((d1, d2)).astype(np.float32)
    U = rng.standard_normal((d1, 2)).astype(np.float32)
    V = rng.standard_normal((d2, 2)).astype(np.float32)
    y = rng.standard_normal(op.m).astype(np.float32)
    outs = {"forward": op.forward(X), "forward_lr": op.forward_lr(U, V),
            "adjoint": as_dense(op.adjoint(y)), "times": op.adjoint_times(y, V),
            "t_times": op.adjoint_t_times(y, U)}
    for name, out in outs.items():
        assert out.dtype == F32, name
    # float32 agrees with the same computation in float64 to float32 precision: each output
    # is a sum of at most m·d1·d2 ≤ 320 products of O(1) numbers, so the rounding error is
    # below 320·2⁻²⁴·max|term| ≈ 2e-5 relative to the scale of the terms
    ref = op.forward_lr(U.astype(np.float64), V.astype(np.float64))
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(outs["forward_lr"], ref, rtol=0, atol=1e-4 * scale)


@pytest.mark.parametrize("make_model", [
    lambda d1, d2: SymmetricFactor(d1, 2, dtype="float32"),
    lambda d1, d2: BalancedFactor(d1, d2, 2, mu=0.5, dtype="float32"),
    lambda d1, d2: DeepFactor(d1, d2, 3, [3, 2], dtype="float32"),
])
@pytest.mark.parametrize("kind", ["symmetric_gaussian", "entries", "rank_one_symmetric"])
def test_float32_lift_end_to_end(make_model, kind, rng):
    """f(X(θ)) + ρ(θ) on a float32 operator with a float32 model: value, gradient and HVP in
    float32, agreeing with the float64 computation on the same numbers to float32 precision
    (relative 1e-4: the lift chains three products of O(10) terms, each rounding at 6e-8)."""
    op = _float32_operator(kind, rng, square=True)
    d1, d2 = op.shape_in
    model = make_model(d1, d2)
    b = rng.standard_normal(op.m).astype(np.float32)
    obj = Objective(LeastSquares(op, b), model)
    theta = model.check(rng.standard_normal(model.dim))  # dtype="float32" casts
    assert theta.dtype == F32
    e = obj.evaluate(theta)
    hv = obj.hvp(theta, theta)
    assert e.grad.dtype == F32 and hv.dtype == F32
    assert e.X.L.dtype == F32 and e.X.R.dtype == F32
    # the same numbers in float64
    op64 = _as_float64(op)
    model64 = make_model(d1, d2)
    model64.dtype = None
    obj64 = Objective(LeastSquares(op64, b.astype(np.float64)), model64)
    t64 = theta.astype(np.float64)
    e64 = obj64.evaluate(t64)
    assert e.value == pytest.approx(e64.value, rel=1e-4)
    np.testing.assert_allclose(e.grad, e64.grad, rtol=0, atol=1e-4 * np.abs(e64.grad).max())
    hv64 = obj64.hvp(t64, t64)
    np.testing.assert_allclose(hv, hv64, rtol=0, atol=1e-4 * np.abs(hv64).max())


def _as_float64(op):
    if isinstance(op, DenseSensing):
        return DenseSensing(op.A, op.shape_in, dtype="float64")
    if isinstance(op, EntrySampling):
        return op
    from lowranklab.operators import RankOne

    return RankOne(op.a, None if op.symmetric else op.b, dtype="float64")


def test_float64_model_casts_float32_input_when_asked(rng):
    m = BalancedFactor(3, 2, 1, dtype="float64")
    th = m.pack(np.ones((3, 1), dtype=np.float32), np.ones((2, 1), dtype=np.float32))
    assert th.dtype == F64
    assert BalancedFactor(3, 2, 1).pack(np.ones((3, 1), np.float32),
                                        np.ones((2, 1), np.float32)).dtype == F32
    with pytest.raises(ValueError, match="dtype"):
        SymmetricFactor(3, 2, dtype="int64")


@pytest.mark.parametrize("psd", [False, True])
def test_float32_fixed_rank_manifold_keeps_float32(psd, rng):
    from lowranklab.models.fixed_rank import manifold_for

    shape = (6, 6) if psd else (6, 5)
    op = symmetric_gaussian(6, 40, rng, dtype="float32") if psd else gaussian(
        6, 5, 40, rng, dtype="float32")
    loss = LeastSquares(op, rng.standard_normal(40).astype(np.float32))
    M = manifold_for(shape, 2, symmetric=psd)
    x64 = M.random_point(rng)
    x = M.point(x64.U.astype(np.float32), x64.S.astype(np.float32), x64.V.astype(np.float32))
    f, g, G = M.gradient(loss, x)
    y = M.retract(x, g, -0.01)
    h = M.hessian(loss, x, g, G)
    for arr in (g.M, g.Up, g.Vp, y.U, y.S, y.V, h.M, h.Up):
        assert arr.dtype == F32
    f64, g64, _ = M.gradient(LeastSquares(_as_float64(op), loss.b.astype(np.float64)),
                             M.point(x.U.astype(np.float64), x.S.astype(np.float64),
                                     x.V.astype(np.float64), check=False))
    assert f == pytest.approx(f64, rel=1e-4)
    np.testing.assert_allclose(g.Up, g64.Up, rtol=0, atol=1e-4 * np.abs(g64.Up).max())
