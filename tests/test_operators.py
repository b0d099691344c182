"""Measurement operators: adjoint identities (property tests), fast paths, norms, generators,
input validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import KINDS, SQUARE_KINDS, dense_matrix_of, make_operator
from hypothesis import given, settings
from hypothesis import strategies as st

from lowranklab.lowrank import LowRank, as_dense
from lowranklab.operators import (
    DenseSensing,
    EntrySampling,
    Identity,
    bernoulli_entries,
    gaussian,
    symmetric_gaussian,
    uniform_entries,
)
from lowranklab.operators.sampling import sample_distinct

PROP = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 5)


def draw_op(kind: str, d1: int, d2: int, seed: int):
    rng = np.random.default_rng(seed)
    if kind in SQUARE_KINDS:
        d2 = d1
    return make_operator(kind, d1, d2, rng), rng


# -- adjoint identity ⟨A(X), y⟩ = ⟨X, A*(y)⟩ -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@PROP
@given(d1=dims, d2=dims, seed=seeds)
def test_adjoint_identity(kind, d1, d2, seed):
    op, rng = draw_op(kind, d1, d2, seed)
    X = rng.standard_normal(op.shape_in)
    y = rng.standard_normal(op.m)
    lhs = float(op.forward(X) @ y)
    Aty = as_dense(op.adjoint(y))
    assert Aty.shape == op.shape_in
    rhs = float(np.sum(X * Aty))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10 * (1 + np.abs(X).sum() * np.abs(y).sum()))


@pytest.mark.parametrize("kind", KINDS)
@PROP
@given(d1=dims, d2=dims, seed=seeds)
def test_adjoint_is_transpose_of_dense_matrix(kind, d1, d2, seed):
    """A*(y) equals the transpose of the basis-built matrix applied to y (catches a wrong
    vec convention that the scalar identity could hide behind symmetric X)."""
    op, rng = draw_op(kind, d1, d2, seed)
    M = dense_matrix_of(op)
    y = rng.standard_normal(op.m)
    np.testing.assert_allclose(as_dense(op.adjoint(y)).ravel(), M.T @ y, atol=1e-12)


def test_entry_sampling_repeated_index_adds(rng):
    op = EntrySampling(np.array([1, 1, 0]), np.array([2, 2, 0]), (2, 3))
    Aty = as_dense(op.adjoint(np.array([2.0, 5.0, -1.0])))
    expected = np.zeros((2, 3))
    expected[1, 2] = 7.0
    expected[0, 0] = -1.0
    np.testing.assert_array_equal(Aty, expected)
    X = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(op.forward(X), [X[1, 2], X[1, 2], X[0, 0]])
    assert op.norm() == pytest.approx(np.sqrt(2))


# -- factored fast paths ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@PROP
@given(d1=dims, d2=dims, k=st.integers(1, 4), seed=seeds)
def test_forward_lr_matches_dense(kind, d1, d2, k, seed):
    op, rng = draw_op(kind, d1, d2, seed)
    U = rng.standard_normal((op.shape_in[0], k))
    V = rng.standard_normal((op.shape_in[1], k))
    expected = op.forward(U @ V.T)
    np.testing.assert_allclose(op.forward_lr(U, V), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(op.forward(LowRank(U, V)), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", [*SQUARE_KINDS, "entries", "identity"])
@PROP
@given(d=dims, k=st.integers(1, 4), seed=seeds)
def test_forward_sym_matches_dense(kind, d, k, seed):
    op, rng = draw_op(kind, d, d, seed)
    U = rng.standard_normal((d, k))
    np.testing.assert_allclose(op.forward_sym(U), op.forward(U @ U.T), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
@PROP
@given(d1=dims, d2=dims, k=st.integers(1, 3), seed=seeds)
def test_adjoint_times_match_dense(kind, d1, d2, k, seed):
    op, rng = draw_op(kind, d1, d2, seed)
    y = rng.standard_normal(op.m)
    M = as_dense(op.adjoint(y))
    Z1 = rng.standard_normal((op.shape_in[1], k))
    Z2 = rng.standard_normal((op.shape_in[0], k))
    np.testing.assert_allclose(op.adjoint_times(y, Z1), M @ Z1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(op.adjoint_t_times(y, Z2), M.T @ Z2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind, shape", [(k, s) for k in KINDS for s in [(3, 3), (4, 2), (1, 5)]
                                         if k not in SQUARE_KINDS or s[0] == s[1]])
def test_norm_is_spectral_norm_of_dense_representation(kind, shape, rng):
    op = make_operator(kind, *shape, rng)
    M = dense_matrix_of(op)
    assert op.norm() == pytest.approx(np.linalg.norm(M, 2), rel=1e-8)


def test_dense_sensing_rows_are_row_major_vec(rng):
    op = gaussian(3, 4, 7, rng)
    np.testing.assert_array_equal(dense_matrix_of(op), op.A)


def test_generic_norm_path_matches_dense(rng):
    """The Lanczos (svds) fallback of the base class agrees with the exact norm."""
    op = gaussian(6, 5, 20, rng)
    from lowranklab.operators.base import MeasurementOperator

    assert MeasurementOperator._compute_norm(op) == pytest.approx(np.linalg.norm(op.A, 2),
                                                                  rel=1e-6)


# -- the symmetric Gaussian operator of the papers --------------------------------------------


def test_symmetric_gaussian_matrices_symmetric_with_unit_variance_diagonal(rng):
    d, m = 6, 4000
    op = symmetric_gaussian(d, m, rng)
    T = op.A.reshape(m, d, d)
    np.testing.assert_array_equal(T, T.transpose(0, 2, 1))
    assert op.symmetric
    diag = T[:, np.arange(d), np.arange(d)]
    iu, ju = np.triu_indices(d, 1)
    off = T[:, iu, ju]
    # m·d = 24000 diagonal samples, m·d(d−1)/2 = 60000 off-diagonal: both N(0, 1)
    assert np.mean(diag**2) == pytest.approx(1.0, rel=0.1)
    assert np.mean(off**2) == pytest.approx(1.0, rel=0.1)
    assert abs(np.mean(diag)) < 0.05 and abs(np.mean(off)) < 0.05
    # upper triangle entries independent across positions: correlation of two entries ≈ 0
    assert abs(np.corrcoef(T[:, 0, 1], T[:, 0, 2])[0, 1]) < 0.1


def test_gaussian_default_scale_is_isotropic_in_expectation(rng):
    m = 3000
    op = gaussian(4, 3, m, rng)
    assert np.mean(op.A**2) * m == pytest.approx(1.0, rel=0.05)
    assert not op.symmetric
    op2 = gaussian(4, 3, m, rng, scale=2.0)
    assert np.mean(op2.A**2) == pytest.approx(4.0, rel=0.05)


def test_symmetric_gaussian_expected_normal_operator(rng):
    """E[A*A(X)] = m(2X − diag X) for symmetric X (stated in the docstring)."""
    d, m = 4, 20000
    op = symmetric_gaussian(d, m, rng)
    B = rng.standard_normal((d, d))
    X = B + B.T
    got = as_dense(op.normal(X)) / m
    np.testing.assert_allclose(got, 2 * X - np.diag(np.diag(X)), atol=0.1 * np.abs(X).max())


# -- entry sampling stays sparse --------------------------------------------------------------


def test_entry_sampling_never_densifies(rng):
    n = 10**6  # a dense n×n array would be 8 TB: any densification fails loudly
    op = uniform_entries((n, n), 2000, rng)
    U = rng.standard_normal((n, 2)) * 1e-3
    V = rng.standard_normal((n, 2)) * 1e-3
    y = op.forward_lr(U, V)
    assert y.shape == (2000,)
    Aty = op.adjoint(y)
    assert sp.issparse(Aty) and Aty.shape == (n, n) and Aty.nnz == 2000
    np.testing.assert_allclose(op.adjoint_times(y, V), Aty @ V)
    assert op.adjoint_t_times(y, U).shape == (n, 2)
    assert op.norm() == 1.0
    assert op.fraction == pytest.approx(2000 / n**2)


# -- index generators -------------------------------------------------------------------------


@pytest.mark.parametrize("shape, m", [((7, 5), 1), ((7, 5), 20), ((7, 5), 35), ((3000, 4000), 50)])
def test_uniform_entries_distinct_and_counted(shape, m, rng):
    op = uniform_entries(shape, m, rng)
    assert op.m == m
    flat = op.rows * shape[1] + op.cols
    assert np.unique(flat).size == m
    assert op.rows.min() >= 0 and op.rows.max() < shape[0]
    assert op.cols.min() >= 0 and op.cols.max() < shape[1]


def test_uniform_entries_large_shape_distinct(rng):
    shape = (5000, 5000)
    op = uniform_entries(shape, 100_000, rng)
    assert op.m == 100_000
    assert np.unique(op.rows * shape[1] + op.cols).size == 100_000


def test_uniform_entries_are_uniform(rng):
    counts = np.zeros(12)
    for _ in range(400):
        op = uniform_entries((3, 4), 3, rng)
        np.add.at(counts, op.rows * 4 + op.cols, 1)
    # each entry observed with probability 1/4: 100 expected, sd ≈ 8.7
    assert np.all(np.abs(counts - 100) < 40)


@pytest.mark.parametrize("n, m", [(10, 3), (10, 8), (10, 10), (10, 0), (7, 4)])
def test_sample_distinct_uniform_sorted_both_paths(n, m, rng):
    # m ≤ n/2 draws with a surplus; m > n/2 draws the complement: each value is in the
    # sample with probability m/n, and the output is sorted and distinct
    counts = np.zeros(n)
    trials = 4000
    for _ in range(trials):
        s = sample_distinct(n, m, rng)
        assert s.dtype == np.int64 and s.size == m and np.all(np.diff(s) > 0)
        counts[s] += 1
    p = m / n
    sd = np.sqrt(trials * p * (1 - p))
    assert np.all(np.abs(counts - trials * p) <= 5 * sd + 1e-9)


def test_sample_distinct_pairs_uniform(rng):
    # uniform over subsets, not only over marginals: all 10 pairs of range(5) equally often
    counts = np.zeros((5, 5))
    for _ in range(5000):
        i, j = sample_distinct(5, 2, rng)
        counts[i, j] += 1
    pairs = counts[np.triu_indices(5, 1)]
    assert np.all(np.abs(pairs - 500) < 5 * np.sqrt(500 * 0.9))


def test_sample_distinct_same_seed_same_sample():
    a = sample_distinct(10**9, 5000, np.random.default_rng(3))
    b = sample_distinct(10**9, 5000, np.random.default_rng(3))
    c = sample_distinct(10**9, 5000, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError, match="m must be"):
        sample_distinct(5, 6, np.random.default_rng(0))


def test_entry_sampling_int32_indices_no_overflow(rng):
    # n = 10^5: n² = 10^10 > 2^31, yet the indices fit int32 and the linear index is int64
    n = 10**5
    op = uniform_entries((n, n), 5000, rng)
    assert op.rows.dtype == np.int32 and op.cols.dtype == np.int32
    flat = op.linear_indices()
    assert flat.dtype == np.int64 and np.all(np.diff(flat) > 0) and flat.max() < n * n
    np.testing.assert_array_equal(flat // n, op.rows)
    np.testing.assert_array_equal(flat % n, op.cols)
    # unsorted input with a repeated entry: the CSR permutation and the norm still hold
    rows, cols = np.array([n - 1, 0, n - 1]), np.array([n - 1, 5, n - 1])
    op2 = EntrySampling(rows, cols, (n, n))
    assert op2.norm() == pytest.approx(np.sqrt(2))
    A = op2.adjoint(np.array([1.0, 2.0, 3.0]))
    assert A[0, 5] == 2.0 and A[n - 1, n - 1] == 4.0


@pytest.mark.parametrize("p", [0.05, 0.3, 1.0])
def test_bernoulli_entries_distinct_and_count(p, rng):
    shape = (80, 60)
    op = bernoulli_entries(shape, p, rng)
    N = shape[0] * shape[1]
    assert np.unique(op.rows * shape[1] + op.cols).size == op.m
    assert abs(op.m - p * N) <= 5 * np.sqrt(N * p * (1 - p)) + 1e-9
    if p == 1.0:
        assert op.m == N


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: DenseSensing(np.zeros((3, 5)), (2, 2)),  # wrong column count
        lambda: DenseSensing(np.zeros(4), (2, 2)),  # not 2-D
        lambda: DenseSensing(np.array([[1.0, np.nan, 0, 0]]), (2, 2)),
        lambda: DenseSensing(np.array([[1.0, np.inf, 0, 0]]), (2, 2)),
        lambda: EntrySampling(np.array([0, 2]), np.array([0, 1]), (2, 2)),  # row out of range
        lambda: EntrySampling(np.array([0, 1]), np.array([0, -1]), (2, 2)),  # negative col
        lambda: EntrySampling(np.array([0, 1]), np.array([0]), (2, 2)),  # length mismatch
        lambda: EntrySampling(np.array([[0, 1]]), np.array([[0, 1]]), (2, 2)),  # 2-D
        lambda: EntrySampling(np.array([], dtype=int), np.array([], dtype=int), (2, 2)),
        lambda: EntrySampling(np.array([0]), np.array([0]), (0, 2)),
        lambda: Identity((0, 3)),
        lambda: symmetric_gaussian(0, 5, np.random.default_rng(0)),
        lambda: symmetric_gaussian(3, 0, np.random.default_rng(0)),
        lambda: symmetric_gaussian(2.5, 5, np.random.default_rng(0)),
        lambda: gaussian(2, 2, -1, np.random.default_rng(0)),
        lambda: gaussian(2, 2, 3, np.random.default_rng(0), scale=0.0),
        lambda: uniform_entries((3, 3), 0, np.random.default_rng(0)),
        lambda: uniform_entries((3, 3), 10, np.random.default_rng(0)),
        lambda: bernoulli_entries((3, 3), 0.0, np.random.default_rng(0)),
        lambda: bernoulli_entries((3, 3), 1.5, np.random.default_rng(0)),
        lambda: bernoulli_entries((3, 3), -0.1, np.random.default_rng(0)),
        lambda: bernoulli_entries((3, 3), float("nan"), np.random.default_rng(0)),
    ],
)
def test_bad_construction_raises_value_error(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("rows", [np.array([0.0, 1.0]), np.array([True, False])])
def test_non_integer_indices_raise_type_error(rows):
    with pytest.raises(TypeError):
        EntrySampling(rows, np.array([0, 1]), (2, 2))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_apply_shapes_raise(kind, rng):
    op = make_operator(kind, 3, 3, rng)
    with pytest.raises(ValueError, match="shape"):
        op.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        op.adjoint(np.zeros(op.m + 1))
    with pytest.raises(ValueError, match="shape"):
        op.adjoint(np.zeros((op.m, 1)))


def test_counts_track_applications(rng):
    op = make_operator("gaussian", 3, 2, rng)
    op.forward(np.zeros((3, 2)))
    op.forward_lr(np.zeros((3, 1)), np.zeros((2, 1)))
    op.adjoint(np.zeros(op.m))
    assert op.counts["forward"] == 2 and op.counts["adjoint"] == 1
