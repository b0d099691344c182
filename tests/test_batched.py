"""Batched trials (solvers/batched.py): trial b of every batched object equals the unbatched
object (values, gradients, line-search polynomials to 1e-12), and batched GD over many seeds
gives the same per-seed results as separate `gradient_descent` runs — stop codes, iteration
counts and final θ — on NumPy and on torch (CPU), in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.batched import BatchedBalanced, BatchedObjective, BatchedSymmetric
from lowranklab.models.init import initialize
from lowranklab.objective import Objective
from lowranklab.operators.batched import BatchedDenseSensing, BatchedEntrySampling
from lowranklab.problems import completion_problem, sensing_problem
from lowranklab.problems.batched import BatchedLeastSquares
from lowranklab.solvers import StopCode, gradient_descent
from lowranklab.solvers.batched import (
    Constant,
    Exact,
    quartic_minimizer,
    run_batched,
    solve_batch,
)
from lowranklab.solvers.engine import Stop
from lowranklab.solvers.result import Result
from lowranklab.sweep.batched import solve_sensing_batch


def _sensing(seed, d=12, r=2, m=96, symmetric=True):
    rng = np.random.default_rng(seed)
    P = sensing_problem(d, r, m, rng, symmetric=symmetric)
    model = SymmetricFactor(d, r) if symmetric else BalancedFactor(d, d, r, mu=0.5)
    obj = Objective(P.loss(), model)
    return P, obj, initialize(model, "spectral", rng, op=P.op, b=P.b)


def _completion(seed, n=30, r=2, mu=0.5):
    rng = np.random.default_rng(seed)
    P = completion_problem(n, n - 4, r, 0.45, rng)
    obj = Objective(P.loss(), BalancedFactor(n, n - 4, r, mu=mu))
    return P, obj, initialize(obj.model, "spectral", rng, op=P.op, b=P.b)


def _batch(maker, B, **kw):
    items = [maker(s, **kw) for s in range(B)]
    return ([P for P, _, _ in items], [o for _, o, _ in items],
            np.stack([t for _, _, t in items]))


def _torch():
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread for torch: the batched products here are small, and torch's thread
    pool on a loaded 2-core machine makes each one some 30× slower."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


KINDS = {"sensing_sym": (_sensing, {}), "sensing_rect": (_sensing, {"symmetric": False}),
         "completion": (_completion, {})}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_trial_b_equals_the_unbatched_objective(kind, backend):
    maker, kw = KINDS[kind]
    _, objs, th = _batch(maker, 5, **kw)
    bo = BatchedObjective.stack(objs)
    arr = th if backend == "numpy" else _torch().as_tensor(th)
    e = bo.evaluate(arr)
    rng = np.random.default_rng(9)
    xi = rng.standard_normal(th.shape)
    q = np.asarray(bo.line(arr, xi if backend == "numpy" else _torch().as_tensor(xi),
                           e.residual))
    for b in range(5):
        ref = objs[b].evaluate(th[b])
        trial = bo.trial(b).evaluate(th[b])  # the batch's own unbatched view: same numbers
        assert trial.value == pytest.approx(ref.value, rel=1e-12)
        assert float(e.value[b]) == pytest.approx(ref.value, rel=1e-12)
        assert float(e.train_error[b]) == pytest.approx(objs[b].loss.training_error(ref.X),
                                                        rel=1e-12)
        g = np.asarray(e.grad[b])
        assert np.max(np.abs(g - ref.grad)) <= 1e-12 * np.max(np.abs(ref.grad))
        # the quartic q_b(t) = F_b(θ_b − tξ_b) at a few t
        for t in (0.0, 0.01, 0.1):
            want = objs[b].value(th[b] - t * xi[b])
            got = np.polynomial.polynomial.polyval(t, q[b])
            assert got == pytest.approx(want, rel=1e-10)


def test_batched_operators_match_unbatched_products():
    rng = np.random.default_rng(0)
    ops = [sensing_problem(6, 1, 20, rng).op for _ in range(3)]
    bop = BatchedDenseSensing.stack(ops)
    assert bop.symmetric and bop.A is None  # half coordinates kept
    X = rng.standard_normal((3, 6, 6))
    X = X + X.transpose(0, 2, 1)
    y = rng.standard_normal((3, 20))
    for b in range(3):
        np.testing.assert_allclose(bop.forward(X, symmetric=True)[b], ops[b].forward(X[b]),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(bop.forward(X)[b], ops[b].forward(X[b]), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(bop.adjoint(y)[b], ops[b].adjoint(y[b]), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_array_equal(bop.trial(b).A, ops[b].A)
    # the fused residual + adjoint pass (compiled, where numba is there) equals the two passes
    U = rng.standard_normal((3, 6, 2))
    bb = rng.standard_normal((3, 20))
    fused = bop.residual_adjoint_sym(U, bb)
    if fused is not None:
        r = bop.forward_lr(U, U, symmetric=True) - bb
        np.testing.assert_allclose(fused[0], r, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fused[1], bop.adjoint(r), rtol=1e-12, atol=1e-12)
    # entry sampling with one pattern per trial: gather and both scatters
    cops = [completion_problem(7, 5, 2, 0.5, rng).op for _ in range(3)]
    sop = BatchedEntrySampling.stack(cops)
    U, V = rng.standard_normal((3, 7, 2)), rng.standard_normal((3, 5, 2))
    y = rng.standard_normal((3, cops[0].m))
    gU, gV = sop.pull(y, U, V)
    for b in range(3):
        G = cops[b].adjoint(y[b]).toarray()
        np.testing.assert_allclose(sop.forward_lr(U, V)[b], cops[b].forward_lr(U[b], V[b]),
                                   rtol=1e-12)
        np.testing.assert_allclose(gU[b], G @ V[b], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gV[b], G.T @ U[b], rtol=1e-12, atol=1e-12)
    torch = _torch()
    tU, tV, ty = (torch.as_tensor(a) for a in (U, V, y))
    for a, c in zip(sop.pull(ty, tU, tV), (gU, gV), strict=True):
        np.testing.assert_allclose(a.numpy(), c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("line_search", ["constant", "exact"])
def test_batched_gd_over_64_seeds_equals_64_separate_runs(line_search):
    Ps, objs, th = _batch(_sensing, 64)
    kw = {"line_search": line_search, "max_iter": 3000}
    if line_search == "constant":
        kw["step"] = 2e-3
    res = solve_batch(objs, th, truths=[P.truth for P in Ps], **kw)
    assert all(isinstance(r, Result) for r in res)
    for b, r in enumerate(res):
        ref = gradient_descent(objs[b], th[b], **kw)
        assert r.stop is ref.stop and r.iterations == ref.iterations, b
        assert r.message == ref.message
        assert r.counts["grad_evals"] == ref.counts["grad_evals"]
        assert np.max(np.abs(r.theta - ref.theta)) <= 1e-10
        # the iterates agree to round-off, not bitwise (the batched products sum in another
        # order): F then agrees to first order, |ΔF| ≤ ‖∇F‖‖Δθ‖ (F ≈ 1e-12 at the stop, so a
        # fixed relative tolerance would ask more of F than θ's round-off allows)
        dF = ref.trace["grad_norm"][-1] * np.linalg.norm(r.theta - ref.theta)
        assert abs(r.trace["value"][-1] - ref.trace["value"][-1]) <= (
            2 * dF + 1e-8 * abs(ref.trace["value"][-1]))
        np.testing.assert_allclose(r.factors[0], ref.factors[0], atol=1e-10)
    assert {r.stop for r in res} == {StopCode.CONVERGED}
    assert max(r.trace["rel_error"][-1] for r in res) < 1e-5


def test_one_trial_diverging_does_not_stop_the_others():
    _, objs, th = _batch(_completion, 6)
    steps = np.full(6, 0.3)
    steps[2] = 30.0  # far beyond 2/λ_max: trial 2 blows up
    res = solve_batch(objs, th, step=steps, max_iter=3000)
    for b, r in enumerate(res):
        ref = gradient_descent(objs[b], th[b], step=float(steps[b]), max_iter=3000)
        assert r.stop is ref.stop and r.iterations == ref.iterations
        assert np.max(np.abs(r.theta - ref.theta)) <= 1e-10
        assert r.message == ref.message
    assert res[2].stop is StopCode.DIVERGED and res[2].info["diverged_at"] == (
        res[2].iterations + 1)
    assert np.all(np.isfinite(res[2].theta))
    assert [r.stop for i, r in enumerate(res) if i != 2] == [StopCode.CONVERGED] * 5


@pytest.mark.parametrize("stop_kw", [{"max_iter": 40}, {"gtol": 1e-3},
                                     {"stall_tol": 1e-2, "stall_window": 5},
                                     {"time_budget": 0.0}, {"rtol": 1e-3}])
def test_other_stops_match_separate_runs(stop_kw):
    Ps, objs, th = _batch(_completion, 4)
    kw = {"step": 0.3, "max_iter": 3000, **stop_kw}
    res = solve_batch(objs, th, truths=[P.truth for P in Ps], **kw)
    for b, r in enumerate(res):
        ref = gradient_descent(objs[b], th[b], truth=Ps[b].truth, **kw)
        assert r.message == ref.message
        if "time_budget" in stop_kw:
            assert r.stop is ref.stop is StopCode.BUDGET and r.iterations == 0
            continue
        assert r.stop is ref.stop and r.iterations == ref.iterations
        assert np.max(np.abs(r.theta - ref.theta)) <= 1e-10


def test_compaction_changes_nothing():
    _, objs, th = _batch(_sensing, 12)
    bo = BatchedObjective.stack(objs)
    a = run_batched(bo, th, Exact(), stop=Stop(max_iter=500))
    b = run_batched(bo, th, Exact(), stop=Stop(max_iter=500), compact=False)
    assert all(isinstance(r, Result) for r in a) and len(a) == 12
    assert len({r.iterations for r in a}) > 1  # trials stop at different iterations
    assert [r.iterations for r in a] == [r.iterations for r in b]
    assert [r.stop for r in a] == [r.stop for r in b]
    np.testing.assert_allclose(np.stack([r.theta for r in a]), np.stack([r.theta for r in b]),
                               rtol=0, atol=1e-14)


@pytest.mark.parametrize("line_search", ["constant", "exact"])
def test_torch_cpu_gives_the_same_as_numpy(line_search):
    torch = _torch()
    Ps, objs, th = _batch(_completion, 8)
    kw = {"line_search": line_search, "max_iter": 3000,
          "step": 0.3 if line_search == "constant" else None}
    a = solve_batch(objs, th, **kw)
    b = solve_batch(objs, torch.as_tensor(th), **kw)
    for ra, rb in zip(a, b, strict=True):
        assert torch.is_tensor(rb.theta) and rb.theta.dtype == torch.float64
        assert ra.stop is rb.stop and ra.iterations == rb.iterations
        assert np.max(np.abs(ra.theta - rb.theta.numpy())) <= 1e-10


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_float32_is_honoured(backend):
    cfg = [{"d": 12, "r": 2, "m": 96, "seed": s} for s in range(6)]
    kw = {"line_search": "exact", "max_iter": 60, "tol": None, "stall_tol": None}
    if backend == "torch":
        _torch()
    r32 = solve_sensing_batch(cfg, dtype="float32", backend=backend, **kw)
    r64 = solve_sensing_batch(cfg, backend=backend, **kw)
    for a, b in zip(r32, r64, strict=True):
        assert str(a.theta.dtype).endswith("float32") and str(b.theta.dtype).endswith(
            "float64")
        # float32 carries ~6e-8 relative round-off per operation; over 60 contracting exact
        # steps the iterates stay within 1e-4 of the float64 ones, and both recover X♮ to
        # well under the float32 floor of ~1e-3 relative error
        assert np.max(np.abs(np.asarray(a.theta, dtype=np.float64) - np.asarray(b.theta))) < 1e-3
        assert a.trace["rel_error"][-1] < 1e-3 and b.trace["rel_error"][-1] < 1e-3


def test_solve_sensing_batch_recovers_the_planted_matrices():
    cfg = [{"d": 30, "r": 2, "m": 240, "seed": s} for s in range(8)]
    res = solve_sensing_batch(cfg, line_search="exact")
    assert all(r.stop is StopCode.CONVERGED for r in res)
    assert max(r.trace["rel_error"][-1] for r in res) < 1e-5
    assert res[0].trace["rel_error"][0] > 10 * res[0].trace["rel_error"][-1]


def test_quartic_minimizer():
    # q(t) = (t − 1)²(t + 2)² has its minima at t = 1 and t = −2: only t = 1 counts (t > 0)
    p = np.polynomial.polynomial.polymul([1, -2, 1], [4, 4, 1])
    q = np.stack([p, [1.0, -2.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 1.0]])
    t = quartic_minimizer(q)
    assert t[0] == pytest.approx(1.0, abs=1e-6)
    assert t[1] == 0.0  # not a proper quartic
    assert t[2] == 0.0  # increasing on t > 0: no positive critical point


def test_bad_input_errors():
    _, objs, th = _batch(_sensing, 3)
    bo = BatchedObjective.stack(objs)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        run_batched(bo, th[:2], Constant(1e-3))
    with pytest.raises(TypeError, match="theta0 must be float32 or float64"):
        run_batched(bo, th.astype(int), Constant(1e-3))
    bad = th.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="theta0 must be finite"):
        run_batched(bo, bad, Constant(1e-3))
    with pytest.raises(ValueError, match="step has 2 entries for 3 trials"):
        run_batched(bo, th, Constant([1e-3, 1e-3]))
    with pytest.raises(ValueError, match="step must be"):
        Constant(-1.0)
    with pytest.raises(TypeError, match="stop must be a Stop"):
        run_batched(bo, th, Constant(1e-3), stop={"max_iter": 3})
    with pytest.raises(ValueError, match="rtol needs the truth"):
        run_batched(bo, th, Constant(1e-3), stop=Stop(rtol=1e-3))
    with pytest.raises(ValueError, match="tol must be a finite number"):
        solve_batch(objs, th, step=1e-3, tol=-1.0)
    with pytest.raises(ValueError, match="line_search must be"):
        solve_batch(objs, th, line_search="armijo")
    with pytest.raises(ValueError, match="thetas0 has 2 entries"):
        solve_batch(objs, list(th[:2]), step=1e-3)
    mixed = [objs[0], _completion(0)[1]]
    with pytest.raises(ValueError, match="one model"):
        BatchedObjective.stack(mixed)
    with pytest.raises(ValueError, match="b must have shape"):
        BatchedLeastSquares(bo.loss.op, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="indices out of range"):
        BatchedEntrySampling(np.array([[0, 9]]), np.array([[0, 1]]), (3, 3))
    with pytest.raises(ValueError, match="A must have shape"):
        BatchedDenseSensing(np.zeros((2, 4, 5)), (2, 2))
    with pytest.raises(ValueError, match="loss acts on"):
        BatchedObjective(bo.loss, BatchedBalanced(5, 5, 2))
    with pytest.raises(TypeError, match="model must be"):
        BatchedObjective(bo.loss, SymmetricFactor(12, 2))
    with pytest.raises(ValueError, match="missing keys"):
        solve_sensing_batch([{"d": 5, "r": 1}])
    assert isinstance(bo.model, BatchedSymmetric)


def test_benchmark_records_run_at_a_small_size():
    """benchmarks/batched.py's code paths (the GPU ones on torch CPU, tiny sizes)."""
    _torch()
    from benchmarks import batched as bench

    rec = bench.batched_vs_single("cpu_batched_sensing", bench.sensing_trials, [4], 2, 1)
    assert {r["backend"] for r in rec["rows"]} == {"numpy", "torch"}
    assert all(r["us_per_trial_step"] > 0 for r in rec["rows"])
    assert rec["rows"][0]["floor_us_per_trial_step"] > 0
    gpu = bench.gpu_batched_sensing(2, 1, device="cpu", B=4)
    assert [r["dtype"] for r in gpu["rows"]] == ["float32", "float64"]
    step = bench.gpu_completion_step(200, 4000, 1)
    assert step["device"] == "cpu (smoke test)" and step["step_ms"] > 0


def test_no_numpy_round_trip_per_iteration_on_torch(monkeypatch):
    """Conversions of tensors to NumPy (`numpy`, `__array__`, `tolist`) happen at the start
    and the end of a batched run only: their number does not grow with the iterations."""
    torch = _torch()
    _, objs, th = _batch(_completion, 4)
    bo = BatchedObjective.stack(objs)
    tth = torch.as_tensor(th)
    calls = []
    for name in ("numpy", "__array__", "tolist"):
        orig = getattr(torch.Tensor, name)

        def counted(self, *a, _orig=orig, _name=name, **k):
            calls.append(_name)
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)
    counts = []
    for iters in (3, 30):
        calls.clear()
        res = run_batched(bo, tth, Exact(), stop=Stop(max_iter=iters, tol=None, ftol=None))
        assert [r.iterations for r in res] == [iters] * 4
        counts.append(len(calls))
    assert counts[0] == counts[1]
