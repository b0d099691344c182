"""The completion kernels: compiled (numba) and NumPy/SciPy paths agree with the plain formulas."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lowranklab.lowrank import LowRank
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.operators import EntrySampling, kernels, uniform_entries
from lowranklab.problems.loss import LeastSquares

HAVE_NUMBA = kernels._compiled() is not None


@pytest.fixture(params=["numpy", "numba"])
def backend(request, monkeypatch):
    """Run the test once per implementation (the numba one only where numba is installed)."""
    if request.param == "numba" and not HAVE_NUMBA:
        pytest.skip("numba not installed")
    if request.param == "numpy":
        monkeypatch.setattr(kernels, "_compiled", lambda: None)
    assert kernels.backend() == request.param
    return request.param


def _indices(rng, d1, d2, m, *, shuffled=True):
    rows, cols = rng.integers(0, d1, m), rng.integers(0, d2, m)  # repeats included
    if not shuffled:
        order = np.lexsort((cols, rows))
        rows, cols = rows[order], cols[order]
    return rows.astype(np.int64), cols.astype(np.int64)


@pytest.mark.parametrize("m", [1, 7, kernels.BLOCK + 3])  # one entry; one block; two blocks
@pytest.mark.parametrize("r", [1, 4])
def test_sampled_dot_is_the_rowwise_dot_product(backend, m, r, rng):
    d1, d2 = 30, 20
    rows, cols = _indices(rng, d1, d2, m)
    U, V = rng.standard_normal((d1, r)), rng.standard_normal((d2, r))
    expected = np.einsum("kr,kr->k", U[rows], V[cols])
    # Σ of r products: round-off ≤ r·eps·Σ|u_t v_t|, far below 1e-12 for these sizes
    np.testing.assert_allclose(kernels.sampled_dot(rows, cols, U, V), expected,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("r", [1, 4, 13])
def test_sampled_dot_in_row_order_is_the_rowwise_dot_product(backend, r, rng):
    """With the CSR row pointer of observations in row order (repeats and empty rows included,
    row lengths below and above the kernel's four entries per pass) the row-by-row loop gives
    the same dot products."""
    d1, d2, m = 120, 15, 500
    rows, cols = _indices(rng, d1, d2, m, shuffled=False)
    rows[(rows >= 40) & (rows < 45)] = 45  # rows 40–44 empty, row 45 long
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.searchsorted(rows, np.arange(d1 + 1))
    assert (np.diff(indptr) == 0).any() and np.diff(indptr).max() > 8
    U, V = rng.standard_normal((d1, r)), rng.standard_normal((d2, r))
    expected = np.einsum("kr,kr->k", U[rows], V[cols])
    np.testing.assert_allclose(kernels.sampled_dot(rows, cols, U, V, indptr=indptr), expected,
                               rtol=1e-12, atol=1e-12)


def test_entry_sampling_forward_in_either_observation_order(rng):
    """A(U Vᵀ) = the sampled entries whether the observations come in row order (the row loop)
    or shuffled (the entry loop)."""
    d1, d2, r = 60, 40, 7
    rows, cols = _indices(rng, d1, d2, 900, shuffled=False)
    U, V = rng.standard_normal((d1, r)), rng.standard_normal((d2, r))
    X = U @ V.T
    perm = rng.permutation(rows.size)
    for ii, jj in ((rows, cols), (rows[perm], cols[perm])):
        op = EntrySampling(ii, jj, (d1, d2))
        np.testing.assert_allclose(op.forward_lr(U, V), X[ii, jj], rtol=1e-12, atol=1e-12)
    assert EntrySampling(rows, cols, (d1, d2))._order is None


def test_sampled_dot_takes_strided_and_float32_factors(backend, rng):
    rows, cols = _indices(rng, 12, 9, 50)
    W = rng.standard_normal((21, 6))
    U, V = W[:12, ::2], W[12:, 1::2]  # non-contiguous views
    expected = np.einsum("kr,kr->k", U[rows], V[cols])
    np.testing.assert_allclose(kernels.sampled_dot(rows, cols, U, V), expected, rtol=1e-12)
    out32 = kernels.sampled_dot(rows, cols, U.astype(np.float32), V.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, rtol=1e-5, atol=1e-5)


def test_numpy_sampled_dot_reuses_the_callers_buffers(monkeypatch, rng):
    monkeypatch.setattr(kernels, "_compiled", lambda: None)
    rows, cols = _indices(rng, 10, 10, 30)
    U, V = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    buffers: list = []
    kernels.sampled_dot(rows, cols, U, V, buffers=buffers)
    assert [b.shape for b in buffers] == [(30, 3), (30, 3)]
    first = [id(b) for b in buffers]
    kernels.sampled_dot(rows, cols, U, V, buffers=buffers)
    assert [id(b) for b in buffers] == first


def test_sampled_dot_rejects_mismatched_ranks(rng):
    rows, cols = _indices(rng, 4, 4, 5)
    with pytest.raises(ValueError, match="same number of columns"):
        kernels.sampled_dot(rows, cols, np.ones((4, 2)), np.ones((4, 3)))


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("r", [1, 6, 13])  # a single column; 4 + 1 + 1 blocks; the vector loop
def test_csr_products_match_dense(backend, index_dtype, canonical, transpose, r, rng):
    d1, d2, m = 150, 17, 700  # G Z's rows in chunks of 64: two whole, one partial
    rows, cols = _indices(rng, d1, d2, m, shuffled=False)
    y = rng.standard_normal(m)
    indptr = np.searchsorted(rows, np.arange(d1 + 1)).astype(index_dtype)
    if canonical:  # summed duplicates, sorted indices
        G = sp.csr_array((y, (rows, cols)), shape=(d1, d2))
        G.indices, G.indptr = G.indices.astype(index_dtype), G.indptr.astype(index_dtype)
    else:  # duplicates kept: the products must add them
        G = sp.csr_array((y, cols.astype(index_dtype), indptr), shape=(d1, d2))
    Gd = G.toarray().T if transpose else G.toarray()
    product = kernels.t_times if transpose else kernels.times
    Z = rng.standard_normal((Gd.shape[1], r))
    np.testing.assert_allclose(product(G, Z), Gd @ Z, rtol=1e-12, atol=1e-12)
    # into a slice of a larger array (how the models fill their gradient), and into a
    # non-contiguous one (written through a temporary)
    big = np.full((Gd.shape[0] + 4, r), np.nan)
    assert product(G, Z, out=big[2:-2]) is not None
    np.testing.assert_allclose(big[2:-2], Gd @ Z, rtol=1e-12, atol=1e-12)
    assert np.isnan(big[:2]).all() and np.isnan(big[-2:]).all()
    strided = np.full((Gd.shape[0], 2 * r), np.nan)[:, ::2]
    product(G, Z, out=strided)
    np.testing.assert_allclose(strided, Gd @ Z, rtol=1e-12, atol=1e-12)


def test_csr_products_fall_back_for_other_matrices(rng):
    Z = rng.standard_normal((6, 2))
    D = rng.standard_normal((6, 4))
    np.testing.assert_allclose(kernels.t_times(D, Z), D.T @ Z)
    np.testing.assert_allclose(kernels.times(D.T, Z), D.T @ Z)
    C = sp.csc_array(D)
    np.testing.assert_allclose(kernels.t_times(C, Z), D.T @ Z)
    np.testing.assert_allclose(kernels.t_times(sp.csr_array(D), Z[:, 0]), D.T @ Z[:, 0])
    out = np.empty((4, 2))
    assert kernels.t_times(D, Z, out=out) is out
    np.testing.assert_allclose(out, D.T @ Z)


def test_csr_products_reject_wrong_shapes(rng):
    G = sp.csr_array(rng.standard_normal((5, 4)))
    with pytest.raises(ValueError):
        kernels.t_times(G, np.ones((4, 2)))
    with pytest.raises(ValueError):
        kernels.times(G, np.ones((5, 2)))
    with pytest.raises(ValueError):
        kernels.times(G, np.ones((4, 2)), out=np.empty((4, 2)))


def test_environment_switch_turns_numba_off(monkeypatch):
    kernels._compiled.cache_clear()
    try:
        monkeypatch.setenv("LOWRANKLAB_NUMBA", "0")
        assert kernels.backend() == "numpy"
    finally:
        monkeypatch.delenv("LOWRANKLAB_NUMBA")
        kernels._compiled.cache_clear()
    assert kernels.backend() == ("numba" if HAVE_NUMBA else "numpy")


@pytest.mark.parametrize("model_kind", ["sym", "asym"])
def test_completion_gradient_and_hvp_match_finite_differences(backend, model_kind, rng):
    """The whole lift on entry sampling, on each backend, with repeated entries."""
    d = 9
    rows, cols = _indices(rng, d, d, 60)
    op = EntrySampling(rows, cols, (d, d))
    loss = LeastSquares(op, rng.standard_normal(op.m), scale=2.0)
    model = SymmetricFactor(d, 3) if model_kind == "sym" else BalancedFactor(d, d, 3, mu=0.7)
    obj = Objective(loss, model)
    theta, v = rng.standard_normal(obj.dim), rng.standard_normal(obj.dim)
    h = 1e-6  # central differences: error O(h²·‖∇³F‖) ≈ 1e-10 against O(1) quantities
    fd_dir = (obj.value(theta + h * v) - obj.value(theta - h * v)) / (2 * h)
    assert abs(obj.grad(theta) @ v - fd_dir) <= 1e-6 * max(1.0, abs(fd_dir))
    fd_hvp = (obj.grad(theta + h * v) - obj.grad(theta - h * v)) / (2 * h)
    hv = obj.hvp(theta, v)
    assert np.linalg.norm(hv - fd_hvp) <= 1e-6 * max(1.0, np.linalg.norm(fd_hvp))


def test_backends_give_the_same_gradient_step(monkeypatch, rng):
    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    op = uniform_entries((40, 30), 300, rng)
    obj = Objective(LeastSquares(op, rng.standard_normal(op.m)), BalancedFactor(40, 30, 4, mu=0.5))
    theta = rng.standard_normal(obj.dim)
    e_numba = obj.evaluate(theta)
    monkeypatch.setattr(kernels, "_compiled", lambda: None)
    e_numpy = obj.evaluate(theta)
    assert e_numba.value == pytest.approx(e_numpy.value, rel=1e-13)
    np.testing.assert_allclose(e_numba.grad, e_numpy.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shuffled", [True, False])  # the entry loop; the row loop
@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
def test_forward_gram_is_the_gram_matrix_of_the_forwards(backend_name, shuffled, monkeypatch,
                                                         rng):
    """op.forward_gram([X_1, X_2], r0) = [⟨y_a, y_c⟩] for y = (r0, A(X_1), A(X_2)), through
    the one compiled pass and through the separate forwards; counts one forward per X_j."""
    if backend_name == "numba" and not HAVE_NUMBA:
        pytest.skip("numba not installed")
    if backend_name == "numpy":
        monkeypatch.setattr(kernels, "_compiled", lambda: None)
    d1, d2, m = 12, 9, 50
    rows, cols = _indices(rng, d1, d2, m, shuffled=shuffled)
    op = EntrySampling(rows, cols, (d1, d2))
    assert (op._order is None) != shuffled
    Xs = [LowRank(rng.standard_normal((d1, k)), rng.standard_normal((d2, k))) for k in (4, 2)]
    r0 = rng.standard_normal(m)
    Y = np.stack([r0] + [np.einsum("kt,kt->k", X.L[rows], X.R[cols]) for X in Xs])
    got = op.forward_gram(Xs, r0)
    assert np.allclose(got, Y @ Y.T, rtol=1e-12, atol=1e-12)
    assert np.array_equal(got, got.T)
    assert op.counts["forward"] == 2


@pytest.fixture
def two_threads():
    """The compiled loops on two threads for one test (numba's thread count is capped at the
    cores, so this needs a machine with two or more)."""
    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: numba runs one thread")
    kernels.set_threads(2)
    yield
    kernels.set_threads(None)


@pytest.mark.parametrize("r", [3, 10, 20])  # G Z: register singles; a local vector
def test_threaded_kernels_equal_the_serial_ones(two_threads, r, rng):
    """sampled_dot and G Z split independent outputs over the threads: bitwise the one-thread
    result. Gᵀ Z adds per-thread buffers: equal to round-off, and to the dense product."""
    d1, d2, m = 300, 200, 5000
    rows, cols = _indices(rng, d1, d2, m)
    U, V = rng.standard_normal((d1, r)), rng.standard_normal((d2, r))
    G = sp.csr_array((rng.standard_normal(m), (rows, cols)), shape=(d1, d2))
    G.sum_duplicates()
    G.indices, G.indptr = G.indices.astype(np.int32), G.indptr.astype(np.int32)
    assert kernels.threads() == 2
    order = np.lexsort((cols, rows))
    sr, sc = rows[order], cols[order]
    ptr = np.searchsorted(sr, np.arange(d1 + 1))

    def products():
        return (kernels.sampled_dot(rows, cols, U, V), kernels.times(G, V),
                kernels.t_times(G, U), kernels.sampled_dot(sr, sc, U, V, indptr=ptr))

    par = products()
    kernels.set_threads(1)
    ser = products()
    assert np.array_equal(par[0], ser[0]) and np.array_equal(par[1], ser[1])
    assert np.array_equal(par[3], ser[3])
    np.testing.assert_allclose(par[2], ser[2], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(par[2], G.toarray().T @ U, rtol=1e-12, atol=1e-12)


def test_threaded_scatter_with_more_chunks_than_threads(rng):
    """The Gᵀ Z kernel with three row chunks (on however many threads numba has), one of them
    empty: every entry is scattered exactly once."""
    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    from lowranklab.operators import _numba_parallel

    d1, d2, r = 50, 40, 4
    rows, cols = _indices(rng, d1, d2, 600)
    G = sp.csr_array((rng.standard_normal(600), (rows, cols)), shape=(d1, d2))
    G.sum_duplicates()
    Z, out = rng.standard_normal((d1, r)), np.empty((d2, r))
    bounds = np.array([0, 20, 20, d1], dtype=np.int64)
    _numba_parallel.csr_t_times_kernel(G.indptr, G.indices, G.data, Z, out, bounds)
    np.testing.assert_allclose(out, G.toarray().T @ Z, rtol=1e-12, atol=1e-12)


def test_thread_settings_are_checked(monkeypatch):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads"):
            kernels.set_threads(bad)
    kernels.set_threads(None)
    monkeypatch.setenv(kernels.THREADS_ENV, "zero")
    with pytest.raises(ValueError, match="LOWRANKLAB_THREADS"):
        kernels.threads()
    monkeypatch.setenv(kernels.THREADS_ENV, "0")
    with pytest.raises(ValueError, match="LOWRANKLAB_THREADS"):
        kernels.threads()
    monkeypatch.setenv(kernels.THREADS_ENV, "1")
    assert kernels.threads() == 1
    monkeypatch.delenv(kernels.THREADS_ENV)
    assert kernels.threads() == 1  # the default: the serial loops
