"""The factored matrix LowRank and the ambient helpers inner / fro_dist_sq / fro_norm."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from lowranklab.lowrank import LowRank, as_dense, fro_dist_sq, fro_norm, inner

PROP = settings(max_examples=25, deadline=None)


def lr(rng, d1, d2, k) -> LowRank:
    return LowRank(rng.standard_normal((d1, k)), rng.standard_normal((d2, k)))


@PROP
@given(d1=st.integers(1, 8), d2=st.integers(1, 8), k=st.integers(1, 10),
       seed=st.integers(0, 2**32 - 1))
def test_singular_values_and_fro_sq_match_dense(d1, d2, k, seed):
    rng = np.random.default_rng(seed)
    X = lr(rng, d1, d2, k)
    D = X.dense()
    sv = X.singular_values()
    assert sv.shape == (min(d1, d2),)
    np.testing.assert_allclose(sv, np.linalg.svd(D, compute_uv=False), rtol=1e-9,
                               atol=1e-12 * max(1.0, np.abs(D).max()))
    assert X.fro_sq() == pytest.approx(np.linalg.norm(D) ** 2, rel=1e-10)
    assert fro_norm(X) == pytest.approx(np.linalg.norm(D), rel=1e-10)


def test_singular_values_of_rank_deficient_product(rng):
    X = lr(rng, 9, 7, 3)
    sv = X.singular_values()
    assert sv.shape == (7,)
    assert np.all(sv[3:] == 0) and np.all(sv[:3] > 0)
    assert np.all(np.diff(sv) <= 0)


def test_algebra_and_shape(rng):
    X, Y = lr(rng, 5, 4, 2), lr(rng, 5, 4, 3)
    assert X.shape == (5, 4) and X.T.shape == (4, 5)
    np.testing.assert_allclose(X.T.dense(), X.dense().T)
    np.testing.assert_allclose((X + Y).dense(), X.dense() + Y.dense())
    np.testing.assert_allclose((2.5 * X).dense(), 2.5 * X.dense())
    np.testing.assert_allclose((X * -1.0).dense(), -X.dense())
    Z = rng.standard_normal((4, 3))
    np.testing.assert_allclose(X @ Z, X.dense() @ Z)
    with pytest.raises(ValueError):
        LowRank(np.zeros((3, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError):
        LowRank(np.zeros(3), np.zeros((4, 1)))


@pytest.mark.parametrize("a_kind", ["dense", "sparse", "lowrank"])
@pytest.mark.parametrize("b_kind", ["dense", "sparse", "lowrank"])
def test_inner_all_representations(a_kind, b_kind, rng):
    shape = (6, 5)

    def make(kind):
        if kind == "dense":
            return rng.standard_normal(shape)
        if kind == "sparse":
            # duplicate coordinates in COO must add, as in an entry-sampling adjoint
            rows = np.array([0, 2, 2, 5, 1])
            cols = np.array([1, 3, 3, 4, 0])
            return sp.coo_array((rng.standard_normal(5), (rows, cols)), shape=shape)
        return lr(rng, *shape, 2)

    A, B = make(a_kind), make(b_kind)
    expected = float(np.sum(as_dense(A) * as_dense(B)))
    assert expected != 0.0
    assert inner(A, B) == pytest.approx(expected, rel=1e-12)
    assert inner(B, A) == pytest.approx(expected, rel=1e-12)


def test_inner_sparse_csr_with_lowrank(rng):
    S = sp.random_array((30, 20), density=0.1, format="csr", random_state=1)
    X = lr(rng, 30, 20, 3)
    assert inner(S, X) == pytest.approx(float(np.sum(S.toarray() * X.dense())), rel=1e-12)


@pytest.mark.parametrize("kinds", [("lowrank", "lowrank"), ("lowrank", "dense"),
                                   ("dense", "dense"), ("sparse", "lowrank")])
def test_fro_dist_sq(kinds, rng):
    X = lr(rng, 7, 6, 2)
    Y = lr(rng, 7, 6, 3)
    convert = {"lowrank": lambda M: M, "dense": lambda M: M.dense(),
               "sparse": lambda M: sp.csr_array(M.dense())}
    got = fro_dist_sq(convert[kinds[0]](X), convert[kinds[1]](Y))
    assert got == pytest.approx(np.linalg.norm(X.dense() - Y.dense()) ** 2, rel=1e-10)


def test_fro_dist_sq_keeps_relative_accuracy_for_nearby_factors(rng):
    """Two factored matrices 1e-9 apart: the factored distance is accurate to a few digits
    where the naive ‖X‖² − 2⟨X,Y⟩ + ‖Y‖² expansion would be pure round-off."""
    U = rng.standard_normal((40, 3))
    dU = 1e-9 * rng.standard_normal((40, 3))
    X, Y = LowRank(U, U), LowRank(U + dU, U + dU)
    exact = np.linalg.norm(U @ dU.T + dU @ U.T + dU @ dU.T) ** 2
    assert fro_dist_sq(X, Y) == pytest.approx(exact, rel=1e-4)
    assert fro_dist_sq(X, X) <= 1e-28 * X.fro_sq()


def test_fro_norm_sparse_and_dense(rng):
    D = rng.standard_normal((4, 3))
    assert fro_norm(D) == pytest.approx(np.linalg.norm(D))
    assert fro_norm(sp.csr_array(D)) == pytest.approx(np.linalg.norm(D))


@pytest.mark.parametrize("gap", [1e-3, 1e-6, 1e-9])
def test_dist_sq_to_splits_along_the_truths_spaces(gap, rng):
    """‖X − Y‖² from Y's orthonormal parts matches the exact distance to 1e-6 relative at
    gaps 1e-3..1e-9 (rectangular, other widths, X in another factorization of a nearby
    matrix), where the Gram expansion has lost every digit at 1e-9; and it can fail: the
    parts of another matrix give another distance."""
    from lowranklab.lowrank import dist_sq_to, orthonormal_parts

    L, R = rng.standard_normal((50, 3)), rng.standard_normal((40, 3))
    dL, dR = gap * rng.standard_normal((50, 3)), gap * rng.standard_normal((40, 3))
    G = rng.standard_normal((3, 3)) + 3 * np.eye(3)  # X = (L + dL)G (R + dR)G⁻ᵀ)ᵀ
    X = LowRank((L + dL) @ G, (R + dR) @ np.linalg.inv(G).T)
    Y = LowRank(L, R)
    D = (L + dL) @ (R + dR).T - L @ R.T
    exact = float(np.sum(D * D))
    assert dist_sq_to(X, orthonormal_parts(Y)) == pytest.approx(exact, rel=1e-6)
    assert fro_dist_sq(X, Y) == pytest.approx(exact, rel=1e-6)
    other = LowRank(L + 1e-2, R)
    assert dist_sq_to(X, orthonormal_parts(other)) > 10 * exact
