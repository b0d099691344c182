"""Operators for large d: the seeded streamed Gaussian (same numbers as the stored one) and
rank-one measurements a_iᵀ X b_i (factored products without a d1×d2 array). The adjoint
identity and fast-path property tests of both run in test_operators.py (helpers.KINDS)."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.lowrank import LowRank, as_dense
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.operators import (
    DenseSensing,
    RankOne,
    StreamedGaussian,
    rank_one_gaussian,
    seeded_gaussian,
)
from lowranklab.problems.loss import LeastSquares


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("block_bytes", [8 * 16, 8 * 16 * 3, 2**26])
def test_streamed_blocks_are_the_stored_rows(symmetric, block_bytes):
    """Every block size streams exactly the numbers the stored operator holds."""
    streamed = StreamedGaussian((4, 4), 11, 7, symmetric=symmetric, block_bytes=block_bytes)
    stored = seeded_gaussian((4, 4), 11, 7, symmetric=symmetric)
    assert isinstance(stored, DenseSensing)
    blocks = np.concatenate([blk.copy() for _, _, blk in streamed.blocks()])
    np.testing.assert_array_equal(blocks, streamed.draws(0, 11))
    np.testing.assert_array_equal(streamed.rows(0, 11), stored.A)
    np.testing.assert_array_equal(streamed.rows(3, 9), stored.A[3:9])
    if symmetric:  # the drawn coordinates are the upper triangles, triu order
        iu = np.triu_indices(4)
        np.testing.assert_array_equal(blocks, stored.A.reshape(11, 4, 4)[:, iu[0], iu[1]])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 4)), rng.standard_normal(11)
    np.testing.assert_allclose(streamed.forward(X), stored.forward(X), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(streamed.adjoint(y), stored.adjoint(y), rtol=1e-13, atol=1e-13)


def test_streamed_numbers_follow_the_documented_definition():
    """Row i is PCG64(SeedSequence(seed, spawn_key=(i,))) in float64: d1·d2 draws (general,
    times 1/√m) or d(d+1)/2 draws on the upper triangle in triu order, mirrored (symmetric)."""
    seed, m = 12345, 5
    op = StreamedGaussian((3, 4), m, seed)
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(2,))))
    np.testing.assert_array_equal(op.rows(2, 3)[0], g.standard_normal(12) * (1 / np.sqrt(m)))
    sym = StreamedGaussian((3, 3), m, seed, symmetric=True)
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(4,))))
    A4 = np.zeros((3, 3))
    A4[np.triu_indices(3)] = g.standard_normal(6)
    A4 = np.triu(A4) + np.triu(A4, 1).T
    np.testing.assert_array_equal(sym.rows(4, 5)[0].reshape(3, 3), A4)
    # distinct seeds, distinct rows
    assert not np.array_equal(op.rows(0, 1), StreamedGaussian((3, 4), m, seed + 1).rows(0, 1))


def test_streamed_float32_stores_the_float64_numbers_rounded():
    op64 = StreamedGaussian((5, 3), 9, 1)
    op32 = StreamedGaussian((5, 3), 9, 1, dtype="float32")
    assert op32.dtype == np.float32 and op32.rows(0, 9).dtype == np.float32
    np.testing.assert_array_equal(op32.rows(0, 9), op64.rows(0, 9).astype(np.float32))
    assert seeded_gaussian((5, 3), 9, 1, dtype="float32").A.dtype == np.float32
    X = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    assert op32.forward(X).dtype == np.float32
    assert op32.adjoint(np.ones(9, dtype=np.float32)).dtype == np.float32


def test_streamed_residual_adjoint_is_one_pass_of_forward_and_adjoint():
    op = StreamedGaussian((4, 5), 13, 3, block_bytes=8 * 20 * 4)
    rng = np.random.default_rng(2)
    U, V, b = rng.standard_normal((4, 2)), rng.standard_normal((5, 2)), rng.standard_normal(13)
    r, G = op.residual_adjoint(LowRank(U, V), b, 2.5)
    np.testing.assert_allclose(r, op.forward_lr(U, V) - b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(G, op.adjoint(2.5 * r), rtol=1e-13, atol=1e-13)
    # and LeastSquares on the streamed operator equals LeastSquares on the stored one
    stored = op.materialize()
    for model, theta in ((BalancedFactor(4, 5, 2), np.concatenate([U.ravel(), V.ravel()])),):
        e_s = Objective(LeastSquares(op, b, scale=2.0), model).evaluate(theta)
        e_d = Objective(LeastSquares(stored, b, scale=2.0), model).evaluate(theta)
        assert e_s.value == pytest.approx(e_d.value, rel=1e-12)
        np.testing.assert_allclose(e_s.grad, e_d.grad, rtol=1e-11, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        op.residual_adjoint(np.zeros((5, 4)), b)


@pytest.mark.parametrize("make, err", [
    (lambda: StreamedGaussian((3, 3), 5, -1), TypeError),
    (lambda: StreamedGaussian((3, 3), 5, 1.5), TypeError),
    (lambda: StreamedGaussian((3, 4), 5, 0, symmetric=True), ValueError),
    (lambda: StreamedGaussian((3, 3), 0, 0), ValueError),
    (lambda: StreamedGaussian((3, 3), 5, 0, scale=0.0), ValueError),
    (lambda: StreamedGaussian((3, 3), 5, 0, block_bytes=0), ValueError),
    (lambda: StreamedGaussian((3, 3), 5, 0, dtype="int32"), ValueError),
    (lambda: StreamedGaussian((3, 3), 5, 0).rows(4, 6), ValueError),
    (lambda: RankOne(np.ones((3, 2)), np.ones((4, 2))), ValueError),
    (lambda: RankOne(np.ones(3)), ValueError),
    (lambda: RankOne(np.array([[np.nan, 1.0]])), ValueError),
    (lambda: rank_one_gaussian(3, 4, 5, np.random.default_rng(0), symmetric=True), ValueError),
    (lambda: rank_one_gaussian(3, 3, 5, np.random.default_rng(0), scale=-1.0), ValueError),
])
def test_bad_large_operators_raise(make, err):
    with pytest.raises(err):
        make()


def test_rank_one_is_the_sum_of_outer_products(rng):
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
    op = RankOne(a, b)
    X = rng.standard_normal((3, 4))
    np.testing.assert_allclose(op.forward(X), [a[i] @ X @ b[i] for i in range(6)], rtol=1e-13)
    y = rng.standard_normal(6)
    np.testing.assert_allclose(as_dense(op.adjoint(y)),
                               sum(y[i] * np.outer(a[i], b[i]) for i in range(6)), rtol=1e-13)
    sym = RankOne(a)
    assert sym.symmetric and sym.shape_in == (3, 3)
    U = rng.standard_normal((3, 2))
    np.testing.assert_allclose(sym.forward_sym(U), np.sum((a @ U) ** 2, axis=1), rtol=1e-13)


def test_rank_one_default_scale_is_isotropic_in_expectation():
    """E[A*A(X)] = X for the general kind with scale m^(-1/4): at m = 40 000 the Monte Carlo
    error of each entry is about ‖X‖_F/√m·√(d1 d2)-ish, so 0.1 relative is a loose bound that a
    wrong scale (off by any factor ≥ 1.2) fails."""
    rng = np.random.default_rng(5)
    op = rank_one_gaussian(3, 2, 40_000, rng)
    X = rng.standard_normal((3, 2))
    N = as_dense(op.normal(X))
    assert np.linalg.norm(N - X) <= 0.1 * np.linalg.norm(X)


def test_rank_one_factored_paths_never_form_the_ambient_matrix(monkeypatch, rng):
    """A(UVᵀ), the gradient pull A*(y)V, A*(y)ᵀU and the HVP stay in factors: LowRank.dense is
    made to raise, and the products still match the dense reference computed beforehand."""
    d, m = 40, 300
    op = rank_one_gaussian(d, d, m, rng, symmetric=True)
    b = rng.standard_normal(m)
    model = SymmetricFactor(d, 2)
    theta = rng.standard_normal(d * 2)
    M = np.stack([np.outer(r, r).ravel() for r in op.a])  # the stored-equivalent operator
    dense = Objective(LeastSquares(DenseSensing(M, (d, d)), b), model)
    ref = dense.evaluate(theta).grad, dense.hvp(theta, theta[::-1].copy())

    def boom(self):
        raise AssertionError("a d×d matrix was formed")

    monkeypatch.setattr(LowRank, "dense", boom)
    obj = Objective(LeastSquares(op, b), model)
    np.testing.assert_allclose(obj.evaluate(theta).grad, ref[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(obj.hvp(theta, theta[::-1].copy()), ref[1], rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("operator", ["streamed", "rank_one"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_large_sensing_problems_round_trip_through_problem_npz(operator, symmetric, tmp_path):
    from lowranklab.problems import sensing_problem
    from lowranklab.problems.instance import Problem

    rng = np.random.default_rng(11)
    prob = sensing_problem(5, 2, 40, rng, symmetric=symmetric, d2=None if symmetric else 4,
                           operator=operator, dtype="float32")
    assert prob.op.dtype == np.float32 and prob.b.dtype == np.float32
    np.testing.assert_allclose(prob.b, prob.op.forward(prob.truth), rtol=1e-5, atol=1e-6)
    path = tmp_path / "p.npz"
    prob.save(path)
    back = Problem.load(path)
    assert type(back.op) is type(prob.op) and back.op.shape_in == prob.op.shape_in
    assert back.op.dtype == np.float32 and back.b.dtype == np.float32
    np.testing.assert_array_equal(back.b, prob.b)
    X = rng.standard_normal(prob.shape).astype(np.float32)
    np.testing.assert_array_equal(back.op.forward(X), prob.op.forward(X))


def test_sensing_problem_dense_default_is_unchanged_and_bad_operator_raises():
    from lowranklab.operators import symmetric_gaussian
    from lowranklab.problems import sensing_problem

    prob = sensing_problem(4, 1, 12, np.random.default_rng(3))
    np.testing.assert_array_equal(prob.op.A, symmetric_gaussian(4, 12,
                                                                np.random.default_rng(3)).A)
    with pytest.raises(ValueError, match="operator"):
        sensing_problem(4, 1, 12, np.random.default_rng(3), operator="sparse")
