"""BLAS threads during a solve (lowranklab/threads.py): one thread inside a completion solve
(set-up included), the BLAS untouched for dense sensing, the environment's override."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits

from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.fixed_rank import manifold_for
from lowranklab.models.init import initial_point
from lowranklab.objective import Objective
from lowranklab.problems import completion_problem, sensing_problem
from lowranklab.solvers import gradient_descent
from lowranklab.solvers.riemannian import riemannian_gradient_descent
from lowranklab.threads import ENV, blas_limit, policy

if not ThreadpoolController().select(user_api="blas").lib_controllers:
    pytest.skip("threadpoolctl sees no BLAS library", allow_module_level=True)


def _blas_libs() -> list:
    return ThreadpoolController().select(user_api="blas").lib_controllers


def _raised_counts():
    """Inside an outer limit of 2: a function giving the thread counts of the BLAS libraries
    that the limit raised to two (NumPy's and SciPy's OpenBLAS are two; SCS, loaded by the
    convex tests, bundles a one-thread OpenBLAS that no limit raises); skips where none can."""
    raised = {c.filepath for c in _blas_libs() if c.num_threads == 2}
    if not raised:
        pytest.skip("no BLAS library here can run two threads")
    return lambda: {c.num_threads for c in _blas_libs() if c.filepath in raised}


def _seen(solve) -> set[int]:
    """The BLAS thread counts a callback sees during `solve`, under an outer limit of 2."""
    seen: set[int] = set()
    with threadpool_limits(2, user_api="blas"):
        counts = _raised_counts()
        solve(lambda s: seen.update(counts()))
        assert counts() == {2}  # restored after the solve
    return seen


def _completion():
    P = completion_problem(60, 50, 2, 0.5, np.random.default_rng(0))
    man = manifold_for(P.shape, 2, symmetric=False)
    x0 = initial_point(man, "spectral", np.random.default_rng(1), op=P.op, b=P.b)
    return P, man, x0


def test_completion_solves_run_on_one_blas_thread(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    P, man, x0 = _completion()
    seen = _seen(lambda cb: riemannian_gradient_descent(P.loss(), man, x0, max_iter=5,
                                                        callbacks=[cb]))
    assert seen == {1}
    obj = Objective(P.loss(), BalancedFactor(60, 50, 2, mu=0.5))
    theta = np.random.default_rng(2).standard_normal(obj.dim) * 0.1
    seen = _seen(lambda cb: gradient_descent(obj, theta, step=1e-2, max_iter=5,
                                             callbacks=[cb]))
    assert seen == {1}


def test_dense_sensing_keeps_the_blas_threads(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    P = sensing_problem(8, 2, 40, np.random.default_rng(0), symmetric=True)
    obj = Objective(P.loss(), SymmetricFactor(8, 2))
    theta = np.random.default_rng(1).standard_normal(obj.dim) * 0.1
    seen = _seen(lambda cb: gradient_descent(obj, theta, step=1e-3, max_iter=5,
                                             callbacks=[cb]))
    assert seen == {2}


def test_environment_overrides_the_policy(monkeypatch):
    P, man, x0 = _completion()
    D = sensing_problem(8, 2, 40, np.random.default_rng(0), symmetric=True)
    obj = Objective(D.loss(), SymmetricFactor(8, 2))
    theta = np.random.default_rng(1).standard_normal(obj.dim) * 0.1

    def completion(cb):
        return riemannian_gradient_descent(P.loss(), man, x0, max_iter=3, callbacks=[cb])

    def dense(cb):
        return gradient_descent(obj, theta, step=1e-3, max_iter=3, callbacks=[cb])

    monkeypatch.setenv(ENV, "keep")
    assert policy() is None and _seen(completion) == {2}
    monkeypatch.setenv(ENV, "1")  # every solve, dense sensing too
    assert policy() == 1 and _seen(dense) == {1} and _seen(completion) == {1}
    monkeypatch.setenv(ENV, "auto")
    assert policy() == 0 and _seen(completion) == {1} and _seen(dense) == {2}
    for bad in ("0", "-1", "two", "1.5", ""):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(ValueError, match=ENV):
            blas_limit(P.op)


def test_overlapping_limits_share_one_and_restore_the_blas(monkeypatch):
    """Two solves whose limits overlap without nesting (A starts, B starts, A ends, B ends: two
    solves in two threads of a process): B keeps its one BLAS thread after A ends, and after B
    the BLAS is as it was before A. threadpoolctl's own limits restore what each saw on entry,
    so A's end would give B the threads back and B's end would leave the process on one
    thread for good (the tampering check below). Driven from this thread: a count set in any
    thread holds for the whole process (measured: a limit held by another thread made this
    thread's completion solve 5× faster), but read from another thread OpenBLAS reports its
    start-up count, so the check reads it here."""
    import lowranklab.threads as th

    monkeypatch.delenv(ENV, raising=False)
    P, _, _ = _completion()

    def overlap() -> tuple[set[int], set[int]]:
        a, b = blas_limit(P.op), blas_limit(P.op)
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)
        during_b = counts()
        b.__exit__(None, None, None)
        return during_b, counts()

    with threadpool_limits(2, user_api="blas"):
        counts = _raised_counts()
        assert overlap() == ({1}, {2})
        # tampering: threadpoolctl's limit per solve, unshared
        monkeypatch.setattr(th, "_shared_limit",
                            lambda n: th._controller().limit(limits=n, user_api="blas"))
        assert overlap() == ({2}, {1})


def test_info_reports_the_thread_settings(monkeypatch):
    from typer.testing import CliRunner

    from lowranklab.cli.app import app

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("LOWRANKLAB_THREADS", "2")
    out = CliRunner().invoke(app, ["info"]).output
    assert "kernel threads: 2" in out and "completion solves: one thread" in out
    monkeypatch.setenv(ENV, "keep")
    assert "completion solves: unchanged" in CliRunner().invoke(app, ["info"]).output
