"""MatrixCompletion / MatrixSensing: scikit-learn conventions, inputs, rank selection."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from lowranklab import MatrixCompletion, MatrixSensing, Triplets


def low_rank(d1, d2, r, seed=0):
    g = np.random.default_rng(seed)
    return g.standard_normal((d1, r)) @ g.standard_normal((r, d2)) / np.sqrt(r)


def with_missing(M, p_obs, seed=1):
    keep = np.random.default_rng(seed).random(M.shape) < p_obs
    return np.where(keep, M, np.nan), keep


def test_nan_input_recovers_exact_low_rank_and_picks_the_rank():
    M = low_rank(60, 40, 3)
    X, keep = with_missing(M, 0.5)
    est = MatrixCompletion(random_state=0)
    F = est.fit_transform(X)
    assert est.rank_ == 3
    assert np.array_equal(F[keep], X[keep])  # observed entries kept
    err = np.linalg.norm((F - M)[~keep]) / np.linalg.norm(M[~keep])
    assert err < 1e-6
    assert est.U_.shape == (60, 3) and est.V_.shape == (40, 3)
    assert set(est.validation_rmse_) >= {1, 2, 3, 4}
    np.testing.assert_allclose(est.reconstruct(), est.mean_ + est.U_ @ est.V_.T)


def test_auto_rank_with_noise_beats_a_too_large_rank():
    g = np.random.default_rng(3)
    M = low_rank(120, 80, 3, seed=2)
    Y = M + 0.1 * g.standard_normal(M.shape)
    X, keep = with_missing(Y, 0.4, seed=4)

    def rmse(est):
        F = est.fit_transform(X)
        return np.sqrt(np.mean((F - M)[~keep] ** 2))

    auto = MatrixCompletion(random_state=0)
    e_auto = rmse(auto)
    e_big = rmse(MatrixCompletion(rank=15, early_stopping=False))
    assert auto.rank_ == 3
    assert e_auto < 0.5 * e_big
    assert e_auto < 0.1  # about the noise level 0.1 × √(dof / m)


def test_early_stopping_regularizes_a_fixed_too_large_rank():
    g = np.random.default_rng(5)
    M = low_rank(100, 70, 2, seed=6)
    X, keep = with_missing(M + 0.2 * g.standard_normal(M.shape), 0.4, seed=7)
    err = {}
    for es in (True, False):
        F = MatrixCompletion(rank=10, early_stopping=es, random_state=0).fit_transform(X)
        err[es] = np.sqrt(np.mean((F - M)[~keep] ** 2))
    assert err[True] < err[False]


def test_default_method_rcg_reaches_the_answer_in_fewer_iterations_than_rgd():
    """The default solver (Riemannian CG) and method="rgd" fit the same noiseless matrix to
    round-off; CG needs fewer iterations (the reason it is the default: docs/completion.md)."""
    M = low_rank(200, 150, 4, seed=8)
    X, keep = with_missing(M, 0.3, seed=9)
    fits = {}
    for method in ("rcg", "rgd"):
        est = MatrixCompletion(4, method=method, early_stopping=False, tol=1e-14)
        F = est.fit_transform(X)
        fits[method] = (np.linalg.norm((F - M)[~keep]) / np.linalg.norm(M[~keep]),
                        est.n_iter_, est.result_.info["direction"])
    assert fits["rcg"][2] == "cg" and fits["rgd"][2] == "gradient"
    assert fits["rcg"][0] < 1e-8 and fits["rgd"][0] < 1e-8
    assert fits["rcg"][1] < 0.75 * fits["rgd"][1]
    assert MatrixCompletion().method == "rcg"


def test_sparse_input_needs_mask_and_zeros_are_data():
    M = low_rank(30, 20, 2)
    M[M < -0.5] = 0.0  # genuine zeros among the data
    X, keep = with_missing(M, 0.6)
    S = sp.csr_array(np.nan_to_num(X))
    with pytest.raises(TypeError, match="mask"):
        MatrixCompletion().fit(S)
    a = MatrixCompletion(rank=2, random_state=0).fit(S, mask=sp.csr_array(keep))
    b = MatrixCompletion(rank=2, random_state=0).fit(X)
    np.testing.assert_allclose(a.reconstruct(), b.reconstruct(), atol=1e-10)
    F = MatrixCompletion(rank=2, random_state=0).fit_transform(S, mask=keep)
    np.testing.assert_allclose(F, b.fit_transform(X), atol=1e-10)
    assert np.array_equal(F[keep], M[keep])
    with pytest.raises(TypeError, match="boolean"):
        MatrixCompletion().fit(S, mask=keep.astype(int))
    with pytest.raises(ValueError, match="shape"):
        MatrixCompletion().fit(S, mask=keep[:-1])


def test_fully_missing_row_and_column_are_predicted_as_the_mean():
    M = low_rank(40, 30, 2)
    X, _ = with_missing(M, 0.7)
    X[5, :] = np.nan
    X[:, 7] = np.nan
    with pytest.warns(UserWarning, match="1 rows and 1 columns have no observed entry"):
        est = MatrixCompletion(rank=2, random_state=0).fit(X)
    assert est.empty_rows_.tolist() == [5] and est.empty_cols_.tolist() == [7]
    np.testing.assert_allclose(est.predict([5, 5, 0], [0, 3, 7]), est.mean_, atol=1e-10)


def test_bad_inputs_raise_clear_errors():
    X = np.ones((4, 3))
    for kwargs, match in [({"rank": 0}, "rank"), ({"rank": "big"}, "rank"),
                          ({"rank": 9}, "rank must be <="), ({"validation_fraction": 1.5},
                                                               "validation_fraction"),
                          ({"max_iter": 0}, "max_iter"), ({"method": "als"}, "method")]:
        with pytest.raises(ValueError, match=match):
            MatrixCompletion(**kwargs).fit(X)
    with pytest.raises(ValueError, match="infinite"):
        MatrixCompletion().fit(np.array([[1.0, np.inf], [2.0, 3.0]]))
    with pytest.raises(ValueError, match="no observed entry"):
        MatrixCompletion().fit(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        MatrixCompletion().fit(np.ones(5))
    with pytest.raises(ValueError, match="not fitted"):
        MatrixCompletion().predict([0], [0])


def test_triplets_with_labels_and_an_explicit_duplicates_policy():
    M = low_rank(25, 15, 2)
    X, keep = with_missing(M, 0.7)
    i, j = np.nonzero(keep)
    users = np.array([f"user{k:02d}" for k in range(25)], dtype=object)
    items = np.array([("item", k) for k in range(15)] + [None], dtype=object)[:15]
    df = pd.DataFrame({"who": users[i], "what": list(items[j]), "rating": X[i, j]})
    t = Triplets.from_frame(df, row="who", col="what", value="rating")
    est = MatrixCompletion(rank=2, random_state=0).fit(t)
    assert est.shape_ == (25, 15)
    got = est.predict(["user03", "user20"], [("item", 4), ("item", 0)])
    np.testing.assert_allclose(got, [M[3, 4], M[20, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="unknown label"):
        est.predict(["nobody"], [("item", 0)])

    dup = pd.concat([df, df.iloc[:3].assign(rating=df.rating.iloc[:3] + 2.0)])
    with pytest.raises(ValueError, match="appear more than once.*duplicates='mean'"):
        Triplets.from_frame(dup, row="who", col="what", value="rating")
    t2 = Triplets.from_frame(dup, row="who", col="what", value="rating", duplicates="mean")
    assert t2.observed.values.size == len(df)
    first = (t2.observed.rows == 0) & (t2.observed.cols == 0)
    if first.any():
        assert np.isclose(t2.observed.values[first][0], X[0, 0] + 1.0)
    with pytest.raises(ValueError, match="name the row, col and value"):
        Triplets.from_frame(df.assign(extra=1))
    with pytest.raises(ValueError, match="numeric"):
        Triplets.from_frame(df.assign(rating="high"))


def test_random_state_reproducible():
    M = low_rank(50, 30, 3)
    X, _ = with_missing(M + 0.05 * np.random.default_rng(0).standard_normal(M.shape), 0.5)
    a = MatrixCompletion(random_state=7).fit(X)
    b = MatrixCompletion(random_state=7).fit(X)
    c = MatrixCompletion(random_state=8).fit(X)
    np.testing.assert_array_equal(a.U_, b.U_)
    assert a.validation_rmse_ == b.validation_rmse_
    assert a.validation_rmse_ != c.validation_rmse_  # another validation split


def test_transform_folds_new_rows_into_the_column_factors():
    M = low_rank(90, 30, 3)
    X, keep = with_missing(M, 0.6)
    est = MatrixCompletion(random_state=0).fit(X[:60])
    F = est.transform(X[60:])
    miss = ~keep[60:]
    assert np.linalg.norm((F - M[60:])[miss]) / np.linalg.norm(M[60:][miss]) < 1e-6
    with pytest.raises(ValueError, match="features"):
        est.transform(X[60:, :10])


def test_get_set_params_and_params_untouched():
    est = MatrixCompletion(rank="auto", random_state=3, max_iter=7)
    p = est.get_params()
    assert p["rank"] == "auto" and p["random_state"] == 3 and p["max_iter"] == 7
    est.set_params(rank=4)
    assert est.rank == 4
    est.fit(low_rank(10, 8, 2))
    assert est.get_params()["rank"] == 4


class WithoutPredict(MatrixCompletion):
    """MatrixCompletion less predict(rows, cols), for the checks that call predict(X)."""

    @property
    def predict(self):
        raise AttributeError("predict takes (rows, cols)")


def test_scikit_learn_check_estimator():
    """All of scikit-learn's checks pass for fit/transform. predict(rows, cols) takes entry
    indices (the issue's API), not a sample matrix, so the checks that call predict(X) run on
    a view of the estimator without predict: the only difference from MatrixCompletion."""
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(WithoutPredict(random_state=0, max_iter=50), on_fail=None)
    bad = [(r["check_name"], str(r["exception"])[:200]) for r in results
           if r["status"] == "failed"]
    assert not bad
    assert sum(r["status"] == "passed" for r in results) >= 40


def test_estimators_import_and_fit_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import numpy as np\n"
            "from lowranklab import MatrixCompletion\n"
            "e = MatrixCompletion(rank=1, random_state=0)\n"
            "e.fit(np.outer(np.arange(1, 5.0), np.arange(1, 4.0)))\n"
            "assert e.get_params()['rank'] == 1 and e.rank_ == 1\n"
            "assert 'MatrixCompletion(' in repr(e)\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_matrix_sensing_recovers_and_selects_the_rank():
    g = np.random.default_rng(1)
    d1, d2, m = 12, 10, 150
    X = low_rank(d1, d2, 2, seed=9)
    A = g.standard_normal((m, d1, d2)) / np.sqrt(m)
    y = np.einsum("kij,ij->k", A, X)
    est = MatrixSensing(random_state=0).fit(A, y)
    assert est.rank_ == 2
    assert np.linalg.norm(est.X_ - X) / np.linalg.norm(X) < 1e-6
    np.testing.assert_allclose(est.predict(A[:5]), y[:5], atol=1e-6)
    flat = MatrixSensing(rank=2, shape=(d1, d2), early_stopping=False).fit(A.reshape(m, -1), y)
    np.testing.assert_allclose(flat.X_, est.X_, atol=1e-6)
    from lowranklab.operators.dense import DenseSensing

    op = DenseSensing(A.reshape(m, -1), (d1, d2))
    with pytest.raises(ValueError, match="integer rank"):
        MatrixSensing().fit(op, y)
    e_op = MatrixSensing(rank=2, early_stopping=False).fit(op, y)
    np.testing.assert_allclose(e_op.X_, X, atol=1e-6)
    with pytest.raises(ValueError, match="shape="):
        MatrixSensing().fit(A.reshape(m, -1), y)
    with pytest.raises(ValueError, match="y must have shape"):
        MatrixSensing().fit(A, y[:-1])
