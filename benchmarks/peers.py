"""Time to an accurate answer against the tools users know, measured in the same run.

    python -m benchmarks.run --suite peers --json OUT.json [--repeats 3] [--budget 300]
                             [--only-n 1000] [--only-d 20 50]

Peers come from the `bench` extra (pip install 'lowranklab[bench]'): Pymanopt, fancyimpute
(needs scikit-learn < 1.8), cvxpy with SCS and Clarabel; a peer that is not installed is
skipped with a line on stderr. Every record has `name`, `ours` (which of our configurations),
`ours_s`, `reference` (the peer and its configuration), `peer`, `reference_s` and `ratio` =
ours_s / reference_s (medians over `repeats` runs, ours and the peer interleaved so that both
see the same load; `name` ends in `__<ours>` for all but our default configuration), the
process CPU seconds of those median runs (`ours_cpu_s`, `reference_cpu_s`, `cpu_ratio`: on a
shared VM the CPU time leaves out the steal that inflates wall time; both sides run on one
thread), plus `*_reached`: whether that side reached the tolerance within the budget. When a
side did not, its time is the budget it spent (a lower bound on its time to tolerance) and
`*_final` says how far it got.

Completion (`completion_ttol_vs_*`): a planted noiseless n×n rank-10 instance
(`completion_problem`, singular values 1), time until ‖X − X♮‖_F/‖X♮‖_F ≤ 1e-6, checked at
every iterate (sweep for ALS) with the O((d1 + d2) r²) factored formula (`_rel_error`:
`lowrank.DistanceTo`, kept per instance) for
every method that keeps factors; SoftImpute keeps a dense n×n iterate, so its check is dense,
O(n²), below the cost of its own SVD step. Every factored method starts from the same spectral
point (the best rank-r approximation of A*(b)/p, rescaled, `spectral_matrix`), computed once
outside the timings (`init_s` in the record). Before the timed rounds every method solves a
small instance once, untimed (`warm_up`), so that first-call costs (numba compiling or
loading its cached code, lazy imports, Pymanopt's set-up) land in no method's timed run.
Peers get their best honest configuration:

* Pymanopt `FixedRankEmbedded` with ConjugateGradient (its defaults: Hestenes–Stiefel, adaptive
  line search) and SteepestDescent (its default backtracking line search); the gradient is
  the sparse Euclidean gradient A*(A(X) − b) projected by `manifold.projection` (never a dense
  n×n matrix), A(·) evaluated by our compiled sampled dot product, and the residual of the
  last point cached so that a gradient after a cost evaluation at the same point costs no
  extra pass. (Pymanopt's CG transports its direction with `projection(embedding(·))`, and
  `_apply_ambient` evaluates U S Vᵀ Z left to right, forming a dense n×n matrix: O(n² r) per
  iteration, its own cost, which dominates at n = 5000; SteepestDescent does not transport.)
* plain ALS (`benchmarks/als.py`), exact row-wise least squares, same spectral V₀.
* fancyimpute `SoftImpute(max_rank=r)` from its zero fill, with a shrinkage of 1e-8·σ₁(A*(b))
  instead of its default σ₁/50 (which biases the fixed point to ~5e-2 relative error).

SDP (`sdp_vs_cvxpy_*`): `benchmarks.peers_sdp.sdp_records` — our certified Burer–Monteiro
route `sdp-bm` against cvxpy with SCS (eps 1e-8) and Clarabel on the eftekhari2021 generator
(m = 2d), time to relative objective error and feasibility ≤ 1e-6 (see that module).

BLAS threads (`completion_blas_threads_n*`): RCG to 1e-6 with the BLAS raised to all cores, as
in a user's process, with the solvers' one-thread limit on entry sampling (`lowranklab.threads`)
against the same solve with the BLAS left alone (LOWRANKLAB_BLAS_THREADS=keep).

Generation (`completion_generate_*`): seconds for `completion_problem` with 8·10⁶ entries.

Scaling (`completion_scale_n*`): ms per GD step (balanced UVᵀ, `gd_step` of `benchmarks.run`),
ns per observed entry × rank, and the peak memory of generating the instance and taking one
step (tracemalloc, NumPy and SciPy allocations; `maxrss_bytes` is the process high-water mark).
`*_cpu_*` fields are this process's CPU time (`time.process_time`), which other processes on a
loaded machine do not inflate the way they inflate wall time.

The whole suite with 3 repeats takes over an hour on 2 cores: the runs that hit the budget
(GD and SoftImpute at n = 5000, merit-bfgs at d = 100) and Clarabel at d = 100 (~2 min and
1.6 GB per solve) dominate; `--only-n`, `--only-d`, `--only-peer`, `--only-ours`,
`--repeats`, `--budget` select less. n = 1000 with d = 20, 50 takes about 6 minutes.

Our configurations are the table `OURS` below (one line each); a new step rule of the engine
is one more line there.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks import peers_sdp
from benchmarks.als import als
from lowranklab.lowrank import DistanceTo, LowRank, fro_dist_sq, fro_norm
from lowranklab.models import BalancedFactor
from lowranklab.models.fixed_rank import manifold_for
from lowranklab.models.init import spectral_matrix
from lowranklab.objective import Objective
from lowranklab.problems import Problem, completion_problem
from lowranklab.solvers import gradient_descent
from lowranklab.solvers.riemannian import riemannian_gradient_descent

RANK = 10
TOL = 1e-6  # relative error (completion), relative objective error and feasibility (SDP)
BUDGET = 300.0  # seconds per solver run; a run that hits it did not reach TOL
COMPLETION = [(1000, 0.0995), (5000, 0.02)]  # (n, fraction): 99 500 and 500 000 entries
SDP_D = [20, 50, 100]
SCALE = [(1000, 10**5), (10_000, 10**6), (100_000, 10**7)]  # (n, |Ω|)
SCALE_FULL = [(100_000, 10**8)]  # the 'full' suite's step (see its record for the memory)
GENERATE = [(20_000, 8 * 10**6), (100_000, 8 * 10**6)]  # the 8·10⁶ entries in ≤ 3 s
THREADS = [(5000, 0.02)]  # (n, fraction): the compiled loops on 1 and on 2 threads
BLAS = [(1000, 0.0995), (5000, 0.02)]  # (n, fraction): rcg with the BLAS on all cores vs one


@dataclass
class Run:
    """One timed solve: seconds, iterations, whether TOL was reached, the final error."""

    seconds: float
    iterations: int | None  # None: the peer does not report it
    reached: bool
    final: float
    extra: dict | None = None
    cpu: float = float("nan")  # this process's CPU seconds over the same window


class Clock:
    """Wall and process-CPU time from construction: `clock.run(...)` ends a timed solve.
    The CPU time leaves out what other tenants of a shared machine take from it (steal)."""

    def __init__(self) -> None:
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        """(wall, CPU) seconds so far."""
        return time.perf_counter() - self.t0, time.process_time() - self.c0

    def run(self, iterations: int | None, reached: bool, final: float) -> Run:
        wall, cpu = self.elapsed()
        return Run(wall, iterations, reached, final, cpu=cpu)


class _Reached(Exception):
    """Raised from inside a peer's callback when its iterate meets the tolerance."""


# -- completion: our configurations ---------------------------------------------------------


_DISTANCES: dict[int, DistanceTo] = {}  # id(truth) -> the kept distance to it


def _rel_error(X, truth, truth_norm: float) -> float:
    """‖X − X♮‖_F/‖X♮‖_F for every method alike, by `DistanceTo` kept per instance (as the
    engine's rtol monitor keeps it): no method pays the truth's QRs at every check."""
    if isinstance(X, LowRank) and isinstance(truth, LowRank):
        dist = _DISTANCES.get(id(truth))
        if dist is None or dist.Y is not truth:
            dist = _DISTANCES[id(truth)] = DistanceTo(truth)
        return float(np.sqrt(max(dist(X), 0.0)) / truth_norm)
    return float(np.sqrt(max(fro_dist_sq(X, truth), 0.0)) / truth_norm)


def ours_rgd(prob: Problem, x0, budget: float, **kw) -> Run:
    """RGD on the fixed-rank manifold, exact step along the gradient (Wei et al. 2016)."""
    man = manifold_for(prob.shape, x0.rank, symmetric=False)
    clock = Clock()
    res = riemannian_gradient_descent(prob.loss(), man, x0, **{
        "rtol": TOL, "truth": prob.truth, "tol": None, "max_iter": 10**7,
        "time_budget": budget, "record_every": 10**9, **kw})
    wall, cpu = clock.elapsed()  # the check below is outside the timing, as for the peers
    final = _rel_error(res.info["point"].lowrank(), prob.truth, fro_norm(prob.truth))
    return Run(wall, res.iterations, final <= TOL, final, cpu=cpu)


def ours_gd(prob: Problem, x0, budget: float, mu: float = 0.5, **kw) -> Run:
    """GD on the balanced U Vᵀ factorization (regularizer μ/4‖UᵀU − VᵀV‖²)."""
    n1, n2 = prob.shape
    model = BalancedFactor(n1, n2, x0.rank, mu=mu)
    s = np.sqrt(x0.S)
    theta0 = model.pack(x0.U * s, x0.V * s)
    truth, tn = prob.truth, fro_norm(prob.truth)
    err = [np.inf]

    def stop(state) -> bool:
        err[0] = _rel_error(state.evaluation.X, truth, tn)
        return err[0] <= TOL

    clock = Clock()
    res = gradient_descent(Objective(prob.loss(), model), theta0, **{
        "tol": None, "max_iter": 10**7, "time_budget": budget, "callbacks": [stop],
        "record_every": 10**9, **kw})
    return clock.run(res.iterations, err[0] <= TOL, err[0])


OURS: dict[str, tuple[Callable[..., Run], dict]] = {
    # name: (runner, keyword arguments passed on to the solver, overriding the runner's stop
    # settings: no training-error tol, the relative-error stop only); the first one is our
    # default for `solve`
    # Riemannian CG with the exact step: `solve --model fixed-rank`'s default
    "rcg-exact": (ours_rgd, {"line_search": "exact", "direction": "cg", "stall_tol": None}),
    "rgd-exact": (ours_rgd, {"step": 1.0, "line_search": "exact", "stall_tol": None}),
    # ScaledGD (Tong, Ma & Chi 2021; no balancing term, as in the paper) with the exact step
    "scaled-gd": (ours_gd, {"mu": 0.0, "direction": "scaled", "line_search": "exact",
                            "stall_tol": None}),
    "gd-exact": (ours_gd, {"line_search": "exact", "stall_tol": None}),  # balanced, μ = 0.5
    "cg-exact": (ours_gd, {"line_search": "exact", "direction": "cg", "stall_tol": None}),
    # L-BFGS (5 pairs) on U Vᵀ without the balancing term, exact step
    "lbfgs-exact": (ours_gd, {"mu": 0.0, "line_search": "exact", "direction": "lbfgs",
                              "stall_tol": None}),
    # default step: ½/λ_max of the Hessian at the spectral point
    "gd-balanced": (ours_gd, {"line_search": "constant", "stall_tol": None}),
}


# -- completion: peers ----------------------------------------------------------------------


def peer_pymanopt(prob: Problem, x0, budget: float, method: str = "cg") -> Run:
    import pymanopt
    from pymanopt.manifolds import FixedRankEmbedded
    from pymanopt.optimizers import ConjugateGradient, SteepestDescent

    n1, n2 = prob.shape
    r = x0.rank
    man = FixedRankEmbedded(n1, n2, r)
    op, b, truth, tn = prob.op, prob.b, prob.truth, fro_norm(prob.truth)
    cache: dict = {"key": None, "res": None}
    state = {"iters": 0, "err": np.inf}

    def residual(u, s, vt) -> np.ndarray:
        key = (id(u), id(s), id(vt))
        if cache["key"] != key:
            cache["key"], cache["pt"] = key, (u, s, vt)  # keep them alive: ids stay unique
            cache["res"] = op.forward_lr(u * s, vt.T) - b
        return cache["res"]

    @pymanopt.function.numpy(man)
    def cost(u, s, vt):
        res = residual(u, s, vt)
        return 0.5 * float(res @ res)

    @pymanopt.function.numpy(man)
    def rgrad(u, s, vt):
        state["iters"] += 1
        state["err"] = _rel_error(LowRank(u * s, vt.T), truth, tn)
        if state["err"] <= TOL:
            raise _Reached
        return man.projection((u, s, vt), op.adjoint(residual(u, s, vt)))

    problem = pymanopt.Problem(man, cost, riemannian_gradient=rgrad)
    Opt = ConjugateGradient if method == "cg" else SteepestDescent
    opt = Opt(max_iterations=10**7, max_time=budget, min_gradient_norm=0.0, min_step_size=0.0,
              verbosity=0, log_verbosity=0)
    clock = Clock()
    try:
        opt.run(problem, initial_point=(x0.U.copy(), x0.S.copy(), x0.V.T.copy()))
    except _Reached:
        pass
    return clock.run(state["iters"], state["err"] <= TOL, state["err"])


def peer_als(prob: Problem, x0, budget: float) -> Run:
    op, truth, tn = prob.op, prob.truth, fro_norm(prob.truth)
    err = [np.inf]
    clock = Clock()

    def stop(U, V) -> bool:
        err[0] = _rel_error(LowRank(U, V), truth, tn)
        return err[0] <= TOL or time.perf_counter() - clock.t0 > budget

    _, _, k = als(op.rows, op.cols, prob.b, prob.shape, x0.V * np.sqrt(x0.S),
                  max_sweeps=10**6, callback=stop)
    return clock.run(k, err[0] <= TOL, err[0])


def peer_softimpute(prob: Problem, x0, budget: float, seed: int = 0) -> Run:
    from fancyimpute import SoftImpute
    from scipy.sparse.linalg import svds

    n1, n2 = prob.shape
    op = prob.op
    Xtrue = prob.truth.dense()
    tn = float(np.linalg.norm(Xtrue))
    Xin = np.full((n1, n2), np.nan)
    Xin[op.rows, op.cols] = prob.b
    state = {"iters": 0, "err": np.inf, "t0": 0.0}

    class Tracked(SoftImpute):
        def _converged(self, X_old, X_new, missing_mask):
            state["iters"] += 1
            state["err"] = float(np.linalg.norm(X_new - Xtrue)) / tn
            if state["err"] <= TOL or time.perf_counter() - state["t0"] > budget:
                return True
            return super()._converged(X_old, X_new, missing_mask)

    # shrinkage 1e-8·σ₁(A*(b)) instead of the default σ₁/50, whose bias stops it near 5e-2
    # (its fixed point is biased by about the shrinkage; 1e-8·σ₁ is far below TOL and still
    # positive, which fancyimpute needs: a shrinkage of 0 selects the default)
    lam = 1e-8 * float(svds(op.adjoint(prob.b), k=1, return_singular_vectors=False)[0])
    solver = Tracked(max_rank=x0.rank, shrinkage_value=lam, convergence_threshold=1e-12,
                     max_iters=10**6, verbose=False)
    np.random.seed(seed)  # fancyimpute's randomized SVD draws from NumPy's global RNG
    clock = Clock()
    state["t0"] = clock.t0
    with warnings.catch_warnings():  # its check_array(force_all_finite=...) is deprecated
        warnings.simplefilter("ignore", FutureWarning)
        solver.fit_transform(Xin)
    return clock.run(state["iters"], state["err"] <= TOL, state["err"])


PEERS_COMPLETION: dict[str, tuple[Callable[..., Run], dict, str, str]] = {
    # record name: (runner, kwargs, peer description, module it needs)
    "pymanopt_cg": (peer_pymanopt, {"method": "cg"},
                    "Pymanopt FixedRankEmbedded ConjugateGradient (sparse Euclidean gradient "
                    "projected by manifold.projection)", "pymanopt"),
    "pymanopt_sd": (peer_pymanopt, {"method": "sd"},
                    "Pymanopt FixedRankEmbedded SteepestDescent (same gradient)", "pymanopt"),
    "als": (peer_als, {}, "plain ALS (benchmarks/als.py), exact row-wise least squares", ""),
    "softimpute": (peer_softimpute, {}, "fancyimpute SoftImpute(max_rank=r, "
                   "shrinkage 1e-8*sigma_1)", "fancyimpute"),
}


def spectral_point(prob: Problem, r: int):
    """The shared starting point: the rescaled best rank-r approximation of A*(b)."""
    L, R = spectral_matrix(prob.op, prob.b, r, symmetric=False)
    return manifold_for(prob.shape, r, symmetric=False).from_lowrank(LowRank(L, R))


def available(module: str) -> bool:
    if not module:
        return True
    try:
        __import__(module)
    except ImportError as e:
        print(f"peers: skipping {module} ({e}); pip install 'lowranklab[bench]'",
              file=sys.stderr)
        return False
    return True


def _median_run(runs: list[Run]) -> Run:
    """The run with the median time (an odd number of runs gives a member; even, the lower)."""
    runs = sorted(runs, key=lambda u: u.seconds)
    return runs[(len(runs) - 1) // 2]


def _name(base: str, ours: str, table: dict) -> str:
    """The record name: `base` for our default (the table's first entry), base__ours else."""
    return base if ours == next(iter(table)) else f"{base}__{ours}"


def _record(name: str, ours_name: str, ours: Run, ref_name: str, ref: Run, repeats: int,
            **fields) -> dict:
    return {"name": name, "ours": ours_name, "ours_s": ours.seconds,
            "ours_iterations": ours.iterations, "ours_reached": ours.reached,
            "ours_final": ours.final, "reference": ref_name, "reference_s": ref.seconds,
            "reference_iterations": ref.iterations, "reference_reached": ref.reached,
            "reference_final": ref.final, "ratio": ours.seconds / ref.seconds,
            "ours_cpu_s": ours.cpu, "reference_cpu_s": ref.cpu,
            "cpu_ratio": ours.cpu / ref.cpu if ref.cpu > 0 else float("nan"),
            "repeats": repeats, "tol": TOL, **fields,
            **({"ours_extra": ours.extra} if ours.extra else {}),
            **({"reference_extra": ref.extra} if ref.extra else {})}


WARM_N, WARM_FRACTION, WARM_BUDGET = 300, 0.3, 2.0  # the untimed warm-up instance


def warm_up(n: int, fraction: float, rank: int,
            methods: list[tuple[Callable[..., Run], dict]]) -> None:
    """Run every method once, untimed, on a small instance (min(n, `WARM_N`) square, at least
    `WARM_FRACTION` observed, a budget of `WARM_BUDGET` s) before the timed rounds, so that no
    method's first timed run carries first-call costs that are not time to accuracy: numba
    compiling or loading its cached machine code, lazy imports, Pymanopt's set-up, BLAS
    threads starting."""
    nw = min(n, WARM_N)
    prob = completion_problem(nw, nw, rank, max(fraction, WARM_FRACTION),
                              np.random.default_rng(1))
    x0 = spectral_point(prob, rank)
    for fn, kw in methods:
        fn(prob, x0, WARM_BUDGET, **kw)


def bench_completion_ttol(n: int, fraction: float, repeats: int, budget: float, seed: int,
                          peers: list[str] | None = None, rank: int = RANK,
                          ours: list[str] | None = None) -> list[dict]:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    prob = completion_problem(n, n, rank, fraction, rng)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    x0 = spectral_point(prob, rank)
    init_s = time.perf_counter() - t0
    todo = {k: v for k, v in PEERS_COMPLETION.items()
            if (peers is None or k in peers) and available(v[3])}
    mine = {k: v for k, v in OURS.items() if ours is None or k in ours}
    runs: dict[str, list[Run]] = {k: [] for k in [*mine, *todo]}
    warm_up(n, fraction, rank, [*mine.values(), *((fn, kw) for fn, kw, _, _ in todo.values())])
    for _ in range(repeats):  # interleaved: every method once per round
        for k, (fn, kw) in mine.items():
            runs[k].append(fn(prob, x0, budget, **kw))
            _progress(f"n={n} {k}", runs[k][-1])
        for k, (fn, kw, _, _) in todo.items():
            runs[k].append(fn(prob, x0, budget, **kw))
            _progress(f"n={n} {k}", runs[k][-1])
    med = {k: _median_run(v) for k, v in runs.items()}
    fields = {"kind": "completion_ttol", "n": n, "fraction": fraction, "m": prob.op.m,
              "rank": rank, "generate_s": gen_s, "init_s": init_s, "budget_s": budget}
    return [_record(_name(f"completion_ttol_vs_{k}_n{n}", o, OURS), o, med[o], todo[k][2],
                    med[k], repeats, peer=k, **fields)
            for k in todo for o in mine]


# -- SDP: sdp-bm against cvxpy + SCS / Clarabel lives in benchmarks/peers_sdp.py ----------


# -- scaling --------------------------------------------------------------------------------


def bench_scale(n: int, m: int, repeats: int, seed: int) -> dict:
    """One GD step at n×n, |Ω| = m: ms per step, ns per entry × rank, peak memory."""
    from benchmarks.run import gd_step, timings
    from lowranklab.operators.kernels import backend

    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    prob = completion_problem(n, n, RANK, m / (n * n), np.random.default_rng(seed))
    gen_s, gen_cpu = time.perf_counter() - t0, time.process_time() - c0
    gen_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    held = tracemalloc.get_traced_memory()[0]
    model = BalancedFactor(n, n, RANK, mu=0.5)
    obj = Objective(prob.loss(), model)
    theta = np.random.default_rng(seed + 1).standard_normal(obj.dim) / np.sqrt(n)
    step = gd_step(obj, theta)
    step()
    step_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    c0 = time.process_time()
    ((med, mn, rounds),) = timings([step], repeats)
    step_cpu = (time.process_time() - c0) / (rounds + 1)  # + the warm-up step
    return {"name": f"completion_scale_n{n}_m{m}", "kind": "completion_scale", "n": n,
            "m": prob.op.m, "rank": RANK, "index_dtype": str(prob.op.rows.dtype),
            "backend": backend(), "generate_s": gen_s, "generate_cpu_s": gen_cpu,
            "step_ms": 1e3 * med, "step_cpu_ms": 1e3 * step_cpu,
            "step_min_ms": 1e3 * mn, "repeats": rounds,
            "ns_per_entry_rank": 1e9 * med / (prob.op.m * RANK),
            "peak_generate_bytes": int(gen_peak), "instance_bytes": int(held),
            "peak_step_bytes": int(step_peak),
            "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def bench_threads(n: int, fraction: float, repeats: int, seed: int, budget: float = 120.0,
                  threads: int = 2) -> dict:
    """The compiled loops on 1 and on `threads` threads (`kernels.set_threads`), interleaved:
    one GD step on the balanced U Vᵀ and RCG's time to relative error 1e-6 (our default
    completion solver, "rcg-exact"), with the speed-ups (1-thread time / threaded time)."""
    from benchmarks.run import gd_step, timings
    from lowranklab.operators import kernels

    prob = completion_problem(n, n, RANK, fraction, np.random.default_rng(seed))
    x0 = spectral_point(prob, RANK)
    obj = Objective(prob.loss(), BalancedFactor(n, n, RANK, mu=0.5))
    theta = np.random.default_rng(seed + 1).standard_normal(obj.dim) / np.sqrt(n)
    step = gd_step(obj, theta)
    fn, kw = OURS["rcg-exact"]
    runs: dict[int, list[Run]] = {1: [], threads: []}

    def on(k: int, f: Callable[[], object]) -> Callable[[], object]:
        def go():
            kernels.set_threads(k)
            try:
                return f()
            finally:
                kernels.set_threads(None)
        return go

    try:
        (s1, _, rounds), (sk, _, _) = timings([on(1, step), on(threads, step)], repeats)
        for _ in range(repeats):
            for k in runs:
                runs[k].append(on(k, lambda: fn(prob, x0, budget, **kw))())
    finally:
        kernels.set_threads(None)
    kernels.set_threads(threads)
    used = kernels.threads()  # capped at numba's threads (the cores)
    kernels.set_threads(None)
    r1, rk = _median_run(runs[1]), _median_run(runs[threads])
    return {"name": f"completion_threads_n{n}", "kind": "completion_threads", "n": n,
            "m": prob.op.m, "rank": RANK, "threads": threads, "threads_used": used,
            "cpu_count": os.cpu_count(), "step_ms_1": 1e3 * s1, "step_ms_n": 1e3 * sk,
            "step_speedup": s1 / sk, "rcg_s_1": r1.seconds, "rcg_s_n": rk.seconds,
            "rcg_speedup": r1.seconds / rk.seconds, "rcg_reached": r1.reached and rk.reached,
            "rcg_iterations": rk.iterations, "repeats": repeats, "step_rounds": rounds}


def bench_blas_threads(n: int, fraction: float, repeats: int, seed: int,
                       budget: float = 120.0) -> dict:
    """RCG ("rcg-exact") to relative error 1e-6 as a user's process runs it, the BLAS on all
    cores (`threadpoolctl` raises it to `os.cpu_count()` threads for the record, whatever
    OMP_NUM_THREADS says), with the solvers' one-thread limit for entry sampling (`ours`,
    LOWRANKLAB_BLAS_THREADS=auto, `lowranklab.threads`) against the same solve with the BLAS
    left alone (`reference`, LOWRANKLAB_BLAS_THREADS=keep), interleaved."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from lowranklab.threads import ENV

    prob = completion_problem(n, n, RANK, fraction, np.random.default_rng(seed))
    x0 = spectral_point(prob, RANK)
    fn, kw = OURS["rcg-exact"]
    cores = os.cpu_count() or 1
    runs: dict[str, list[Run]] = {"auto": [], "keep": []}
    before = os.environ.get(ENV)
    try:
        with threadpool_limits(cores, user_api="blas"):
            used = max((i["num_threads"] for i in threadpool_info()
                        if i.get("user_api") == "blas"), default=1)
            for _ in range(repeats):
                for policy, out in runs.items():
                    os.environ[ENV] = policy
                    out.append(fn(prob, x0, budget, **kw))
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
    ours, ref = _median_run(runs["auto"]), _median_run(runs["keep"])
    return {"name": f"completion_blas_threads_n{n}", "kind": "completion_blas_threads",
            "n": n, "m": prob.op.m, "rank": RANK, "ours": "rcg-exact",
            "ours_s": ours.seconds, "reference": f"rcg-exact, BLAS left at {used} threads",
            "reference_s": ref.seconds, "ratio": ours.seconds / ref.seconds,
            "ours_reached": ours.reached, "reference_reached": ref.reached,
            "blas_threads": used, "cpu_count": cores, "repeats": repeats}


def bench_generate(n: int, m: int, repeats: int, seed: int) -> dict:
    """Seconds for `completion_problem` with m entries of an n×n rank-10 matrix (median)."""
    ts, cpu = [], []
    for i in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        prob = completion_problem(n, n, RANK, m / (n * n), np.random.default_rng(seed + i))
        ts.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"name": f"completion_generate_n{n}_m{m}", "kind": "completion_generate", "n": n,
            "m": prob.op.m, "rank": RANK, "seconds": float(np.median(ts)),
            "cpu_s": float(np.median(cpu)),
            "seconds_max": float(np.max(ts)), "repeats": repeats, "target_s": 3.0,
            "meets_target": bool(np.median(ts) <= 3.0)}


# -- driver ---------------------------------------------------------------------------------


def _progress(what: str, run: Run) -> None:
    print(f"  {what:<28} {run.seconds:8.2f} s  {run.iterations or '-':>7} it  "
          f"{'reached' if run.reached else 'NOT reached'}  final {run.final:.2e}",
          file=sys.stderr, flush=True)


def run_peers(repeats: int, budget: float, seed: int, only_n: list[int] | None,
              only_d: list[int] | None, scale: list[tuple[int, int]],
              only_peer: list[str] | None = None,
              only_ours: list[str] | None = None) -> list[dict]:
    load0 = os.getloadavg()[0]
    records: list[dict] = []
    for n, frac in COMPLETION:
        if only_n is None or n in only_n:
            records += bench_completion_ttol(n, frac, repeats, budget, seed, only_peer,
                                             ours=only_ours)
    if available("cvxpy"):
        for d in SDP_D:
            if only_d is None or d in only_d:
                records += peers_sdp.sdp_records((d,), repeats=repeats, seed=seed,
                                                 budget=budget)
    for n, m in GENERATE:
        records.append(bench_generate(n, m, max(repeats, 3), seed))
    for n, m in scale:
        if only_n is None or n in only_n:
            records.append(bench_scale(n, m, max(repeats, 3), seed))
    for n, frac in THREADS:
        if only_n is None or n in only_n:
            records.append(bench_threads(n, frac, max(repeats, 3), seed, budget=budget))
    for n, frac in BLAS:
        if only_n is None or n in only_n:
            records.append(bench_blas_threads(n, frac, max(repeats, 3), seed, budget=budget))
    for r in records:
        r["loadavg_1min_start"] = load0
    return records


def print_table(records: list[dict]) -> None:
    print(f"{'case':<44}{'ours':>13}{'ours (s)':>10}{'peer (s)':>10}{'ratio':>8}  reached")
    for r in records:
        if r["kind"] == "completion_generate":
            print(f"{r['name']:<44}{'generate':>13}{r['seconds']:>10.2f}  (cpu "
                  f"{r['cpu_s']:.2f} s; target "
                  f"{r['target_s']:g} s: {'met' if r['meets_target'] else 'NOT met'})")
            continue
        if r["kind"] == "completion_scale":
            print(f"{r['name']:<44}{'gd step':>13}{r['step_ms']:>9.2f}ms"
                  f"{r['ns_per_entry_rank']:>8.2f} ns/(entry·r)  peak "
                  f"{r['peak_step_bytes'] / 2**20:.0f} MiB step, "
                  f"{r['peak_generate_bytes'] / 2**20:.0f} MiB generate")
            continue
        if r["kind"] == "completion_threads":
            print(f"{r['name']:<44}{'threads':>13}  step {r['step_ms_1']:.2f} → "
                  f"{r['step_ms_n']:.2f} ms ({r['step_speedup']:.2f}×), rcg "
                  f"{r['rcg_s_1']:.2f} → {r['rcg_s_n']:.2f} s ({r['rcg_speedup']:.2f}×) on "
                  f"{r['threads_used']} threads")
            continue
        cpu = f" (cpu {r['cpu_ratio']:.3f})" if "cpu_ratio" in r else ""
        print(f"{r['name']:<44}{r['ours']:>13}{r['ours_s']:>10.2f}{r['reference_s']:>10.2f}"
              f"{r['ratio']:>8.3f}{cpu}  {'y' if r['ours_reached'] else 'n'}/"
              f"{'y' if r['reference_reached'] else 'n'}  {r['reference']}")


def env() -> dict:
    """The machine: CPU model and count, memory, load at the end of the run."""
    out = {"cpu_count": os.cpu_count(), "loadavg_1min_end": os.getloadavg()[0],
           "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")}
    try:
        with open("/proc/cpuinfo") as f:
            out["cpu_model"] = next((ln.split(":", 1)[1].strip() for ln in f
                                     if ln.startswith("model name")), "")
    except OSError:
        pass
    return out
