"""Gradient descent end to end: recovery of planted matrices, stop codes, line search,
initializations, operation counts, and the PROBLEM.npz format."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.lowrank import LowRank, as_dense, fro_dist_sq, fro_norm
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.init import gaussian_factor, initialize, rank_k_factor
from lowranklab.objective import Objective
from lowranklab.problems import Problem, completion_problem, sensing_problem
from lowranklab.solvers import StopCode, default_step, gradient_descent
from lowranklab.solvers import monitors as mon


def rel_error(X, truth) -> float:
    return float(np.sqrt(fro_dist_sq(X, truth)) / fro_norm(truth))


@pytest.fixture
def sensing(rng):
    """The ez2021-style instance: d = 20, rank 2, m = 5·d·r symmetric Gaussian measurements."""
    d, r = 20, 2
    prob = sensing_problem(d, r, 5 * d * r, rng)
    model = SymmetricFactor(d, r)
    return prob, Objective(prob.loss(), model), model


# -- (a), (b) recovery ------------------------------------------------------------------------


def test_small_init_gd_recovers_psd_matrix_in_sensing(sensing, rng):
    prob, obj, model = sensing
    assert prob.op.m == 200 and prob.symmetric
    theta0 = model.pack(gaussian_factor((20, 2), 1e-3, rng))
    monitors = [mon.test_error(prob.truth), mon.spectrum()]  # the spectrum is opt-in
    res = gradient_descent(obj, theta0, max_iter=5000, tol=1e-20, truth=prob.truth,
                           monitors=monitors)
    assert res.stop is StopCode.CONVERGED
    assert res.trace["rel_error"][-1] < 1e-6
    assert rel_error(res.X, prob.truth) < 1e-6  # computed directly, not via the monitor
    assert res.trace["rank"][-1] == 2


def test_balanced_gd_recovers_rectangular_matrix_from_40_percent(rng):
    prob = completion_problem(60, 40, 3, 0.4, rng)
    assert prob.op.m == round(0.4 * 60 * 40)
    model = BalancedFactor(60, 40, 3, mu=0.5)
    obj = Objective(prob.loss(), model)
    theta0 = initialize(model, "small", rng, norm=1e-3)
    res = gradient_descent(obj, theta0, max_iter=5000, tol=1e-20, truth=prob.truth)
    assert res.stop is StopCode.CONVERGED
    assert rel_error(res.X, prob.truth) < 1e-6
    # the regularizer drives the factors to balance: UᵀU ≈ VᵀV
    assert np.linalg.norm(model.imbalance(res.theta)) < 1e-4


# -- (c)–(e) stop codes -----------------------------------------------------------------------


def test_huge_step_diverges_with_finite_iterate(sensing, rng):
    prob, obj, model = sensing
    theta0 = model.pack(gaussian_factor((20, 2), 1.0, rng))
    res = gradient_descent(obj, theta0, step=10.0, max_iter=1000)
    assert res.stop is StopCode.DIVERGED
    assert res.iterations < 1000
    assert np.all(np.isfinite(res.theta))
    assert np.all(np.isfinite(as_dense(res.X)))
    assert np.isfinite(obj.value(res.theta))
    assert np.all(np.isfinite(res.trace["value"]))
    assert "last finite iterate" in res.message


def test_callback_interrupts(sensing, rng):
    prob, obj, model = sensing
    seen = []

    def stop_at_7(state):
        seen.append(state.iteration)
        return state.iteration == 7

    theta0 = model.pack(gaussian_factor((20, 2), 1e-3, rng))
    res = gradient_descent(obj, theta0, step=1e-4, max_iter=100, callbacks=[stop_at_7])
    assert res.stop is StopCode.INTERRUPTED
    assert res.iterations == 7 and seen == list(range(8))


def test_tolerances_and_max_iter(sensing, rng):
    prob, obj, model = sensing
    theta0 = model.pack(gaussian_factor((20, 2), 1e-3, rng))
    step = default_step(obj)

    res = gradient_descent(obj, theta0, step=step, max_iter=5000, tol=1e-8)
    assert res.stop is StopCode.CONVERGED and res.converged
    assert res.trace["train_error"][-1] <= 1e-8
    # converged at the first iterate below tol: the previous one was above
    assert res.trace["train_error"][-2] > 1e-8

    res = gradient_descent(obj, theta0, step=step, max_iter=5000, gtol=1e-6)
    assert res.stop is StopCode.CONVERGED and res.trace["grad_norm"][-1] <= 1e-6

    res = gradient_descent(obj, theta0, step=step, max_iter=25)
    assert res.stop is StopCode.MAX_ITER and not res.converged
    assert res.iterations == 25
    assert res.trace["iter"][-1] == 25

    res = gradient_descent(obj, theta0, step=step, max_iter=0)
    assert res.stop is StopCode.MAX_ITER and res.iterations == 0
    np.testing.assert_array_equal(res.theta, theta0)

    res = gradient_descent(obj, theta0, step=step, max_iter=10**6, tol=None, stall_tol=1e-12,
                           stall_window=10)
    assert res.stop is StopCode.STALLED

    res = gradient_descent(obj, theta0, step=1e-6, max_iter=10**7, time_budget=0.05)
    assert res.stop is StopCode.BUDGET and res.iterations < 10**7


def test_armijo_decreases_monotonically(sensing, rng):
    prob, obj, model = sensing
    theta0 = model.pack(gaussian_factor((20, 2), 1.0, rng))
    res = gradient_descent(obj, theta0, step=1.0, line_search="armijo", max_iter=150, tol=None,
                           stall_tol=None)
    F = res.trace["value"]
    assert F.size == 151
    assert np.all(np.diff(F) <= 0)
    assert F[-1] < 1e-3 * F[0]
    assert res.stop is StopCode.MAX_ITER
    # the same large step without the line search diverges
    assert gradient_descent(obj, theta0, step=1.0, max_iter=150).stop is StopCode.DIVERGED


def test_gd_validates_arguments(sensing, rng):
    prob, obj, model = sensing
    theta0 = model.pack(gaussian_factor((20, 2), 1e-3, rng))
    for kwargs in ({"step": 0.0}, {"step": -1.0}, {"step": np.inf}, {"line_search": "wolfe"},
                   {"max_iter": -1}, {"max_iter": 2.5}, {"record_every": 0}):
        with pytest.raises(ValueError):
            gradient_descent(obj, theta0, **{"step": 1e-3, **kwargs})
    with pytest.raises(ValueError, match="theta0"):
        gradient_descent(obj, theta0[:-1], step=1e-3)
    bad = theta0.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="theta0"):
        gradient_descent(obj, bad, step=1e-3)


def test_record_every_thins_the_trace(sensing, rng):
    prob, obj, model = sensing
    theta0 = model.pack(gaussian_factor((20, 2), 1e-3, rng))
    res = gradient_descent(obj, theta0, step=1e-4, max_iter=50, record_every=10)
    np.testing.assert_array_equal(res.trace["iter"], [0, 10, 20, 30, 40, 50])


def test_spectrum_monitor_reports_smallest_singular_values(rng):
    U = rng.standard_normal((20, 6))
    X = LowRank(U, U)
    state = mon.State(0, U.ravel(), _Eval(X), 0.0, 0.0)
    row = mon.spectrum(k=3)(state)
    sv = np.linalg.svd(X.dense(), compute_uv=False)[:6]  # the 6 possibly nonzero ones
    assert row["rank"] == 6
    assert row["sigma_min"] == pytest.approx(sv[5])
    assert row["sigma_min1"] == pytest.approx(sv[4])
    assert row["sigma_min2"] == pytest.approx(sv[3])


def _Eval(X):
    from lowranklab.objective import Evaluation

    return Evaluation(0.0, 0.0, np.zeros(1), X, None)


# -- (f) initializations ----------------------------------------------------------------------


def test_spectral_init_close_to_truth_when_well_sampled(rng):
    prob = sensing_problem(20, 2, 2000, rng)  # m = 50·d·r
    model = SymmetricFactor(20, 2)
    theta = initialize(model, "spectral", rng, op=prob.op, b=prob.b)
    assert rel_error(model.to_matrix(theta), prob.truth) < 0.3

    cprob = completion_problem(60, 40, 3, 0.8, rng)
    bmodel = BalancedFactor(60, 40, 3)
    theta = initialize(bmodel, "spectral", rng, op=cprob.op, b=cprob.b)
    assert rel_error(bmodel.to_matrix(theta), cprob.truth) < 0.35
    # a random initialization of the same scale is nowhere near
    rand = initialize(bmodel, "small", rng, norm=np.sqrt(2 * fro_norm(cprob.truth)))
    assert rel_error(bmodel.to_matrix(rand), cprob.truth) > 0.9


@pytest.mark.parametrize("shape, k", [((10, 4), 1), ((10, 4), 3), ((10, 4), 4), ((5, 8), 5)])
def test_rank_k_factor_has_exact_rank(shape, k, rng):
    U = rank_k_factor(shape, k, 0.5, rng)
    assert U.shape == shape
    assert np.linalg.matrix_rank(U) == k
    assert np.linalg.norm(U) == pytest.approx(0.5)


def test_init_kinds_and_errors(rng):
    model = SymmetricFactor(6, 3)
    th = initialize(model, "small", rng, norm=1e-2)
    assert np.linalg.norm(th) == pytest.approx(1e-2)
    th = initialize(model, "identity", rng, norm=0.5)
    np.testing.assert_array_equal(model.unpack(th)[0], 0.5 * np.eye(6, 3))
    th = initialize(model, "rank", rng, rank=2, norm=1.0)
    assert np.linalg.matrix_rank(model.unpack(th)[0]) == 2
    with pytest.raises(ValueError):
        initialize(model, "rank", rng)
    with pytest.raises(ValueError):
        initialize(model, "spectral", rng)
    with pytest.raises(ValueError):
        initialize(model, "nope", rng)
    with pytest.raises(ValueError):
        initialize(model, "small", rng, norm=0.0)
    with pytest.raises(ValueError):
        rank_k_factor((4, 3), 4, 1.0, rng)


# -- (g) operation counts ---------------------------------------------------------------------


def test_counts_consistent_with_iterations(sensing, rng):
    prob, obj, model = sensing
    theta0 = model.pack(gaussian_factor((20, 2), 1e-3, rng))
    res = gradient_descent(obj, theta0, step=1e-4, max_iter=30)
    c = res.counts
    # one evaluation (one forward + one adjoint) per iteration plus the initial one
    assert c["grad_evals"] == res.iterations + 1 == 31
    assert c["forward"] == c["adjoint"] == c["grad_evals"]

    res = gradient_descent(obj, theta0, step=1.0, line_search="armijo", max_iter=30)
    c = res.counts
    assert c["grad_evals"] > res.iterations + 1  # backtracking needs extra evaluations
    assert c["forward"] == c["adjoint"] == c["grad_evals"]


# -- (h) PROBLEM.npz --------------------------------------------------------------------------


def test_problem_round_trip_dense(tmp_path, rng):
    prob = sensing_problem(5, 2, 30, rng)
    path = tmp_path / "sensing.npz"
    prob.save(path)
    back = Problem.load(path)
    np.testing.assert_array_equal(back.op.A, prob.op.A)
    np.testing.assert_array_equal(back.b, prob.b)
    assert back.shape == (5, 5) and back.symmetric
    assert isinstance(back.truth, LowRank)
    np.testing.assert_array_equal(back.truth.L, prob.truth.L)
    np.testing.assert_array_equal(back.truth.R, prob.truth.R)


def test_problem_round_trip_completion_and_dense_truth(tmp_path, rng):
    prob = completion_problem(7, 4, 2, 0.5, rng)
    path = tmp_path / "completion.npz"
    prob.save(path)
    back = Problem.load(path)
    assert back.shape == (7, 4) and not back.symmetric
    np.testing.assert_array_equal(back.op.rows, prob.op.rows)
    np.testing.assert_array_equal(back.op.cols, prob.op.cols)
    np.testing.assert_array_equal(back.b, prob.b)
    np.testing.assert_array_equal(back.truth.dense(), prob.truth.dense())
    # same measurements of the same matrix
    np.testing.assert_allclose(back.op.forward(back.truth), prob.b)

    dense_truth = Problem(prob.op, prob.b, truth=prob.truth.dense())
    dense_truth.save(tmp_path / "dt.npz")
    back = Problem.load(tmp_path / "dt.npz")
    assert isinstance(back.truth, np.ndarray)
    np.testing.assert_array_equal(back.truth, prob.truth.dense())

    no_truth = Problem(prob.op, prob.b)
    no_truth.save(tmp_path / "nt.npz")
    assert Problem.load(tmp_path / "nt.npz").truth is None


@pytest.mark.parametrize("arrays, key", [
    ({"A": np.zeros((3, 4))}, "b"),
    ({"rows": np.array([0]), "cols": np.array([0]), "shape": np.array([2, 2])}, "values"),
    ({"rows": np.array([0]), "values": np.zeros(1), "shape": np.array([2, 2])}, "cols"),
    ({"rows": np.array([0]), "cols": np.array([0]), "values": np.zeros(1)}, "shape"),
])
def test_problem_load_missing_key(tmp_path, arrays, key):
    path = tmp_path / "p.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=key):
        Problem.load(path)


@pytest.mark.parametrize("arrays, match", [
    ({"x": np.zeros(3)}, "needs either"),
    ({"A": np.zeros((3, 4)), "b": np.zeros(2)}, "shape"),
    ({"A": np.zeros((3, 5)), "b": np.zeros(3)}, "shape"),  # 5 columns: not d·d
    ({"A": np.zeros((3, 4)), "b": np.array([0, np.nan, 0])}, "non-finite"),
    ({"A": np.zeros((3, 4)), "b": np.zeros(3), "X_true": np.zeros((3, 3))}, "truth"),
])
def test_problem_load_rejects_inconsistent_files(tmp_path, arrays, match):
    path = tmp_path / "p.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        Problem.load(path)


def test_problem_load_unreadable(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_text("this is not an npz archive")
    with pytest.raises(ValueError, match="cannot read"):
        Problem.load(junk)
    with pytest.raises(ValueError, match="cannot read"):
        Problem.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip"])
def test_problem_load_empty_or_truncated(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="cannot read"):
        Problem.load(path)


def test_problem_round_trip_rectangular_sensing_and_bare_name(tmp_path, rng):
    P = sensing_problem(6, 2, 40, rng, symmetric=False, d2=4)
    path = tmp_path / "rect"  # no suffix: the file is written and read under this very name
    P.save(path)
    Q = Problem.load(path)
    assert Q.shape == (6, 4)
    np.testing.assert_array_equal(Q.b, P.b)
