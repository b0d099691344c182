"""SDP time to accuracy: `sdp_bm` (Burer–Monteiro augmented Lagrangian, SDPLR's method) against
cvxpy + SCS and cvxpy + Clarabel, measured in the same run.

    OMP_NUM_THREADS=1 python -m benchmarks.peers_sdp --json sdp.json [--d 20 50 100]
        [--repeats 3] [--scale 300] [--memory] [--clarabel-max-d 100]

Instance: min tr(X) s.t. A(X) = b, X ⪰ 0 on the eftekhari2021 generator
(`random_instance(d, m = 2d, b="planted")`: symmetric Gaussian A_i, b = A(WWᵀ) feasible).
"Time to accuracy" is the wall time of one solve that ends with relative objective error
|tr(X) − opt|/opt ≤ 1e-6 and relative feasibility ‖A(X) − b‖/‖b‖ ≤ 1e-6 (`*_reached` says
whether it did; the time counts either way). Ours stops on its own dual certificate at
tol = 1e-6 (`Certificate.certifies`: λ_min(I − A*(y)) ≥ −1e-6, relative dual gap and
feasibility ≤ 1e-6), with no oracle; the record carries the certificate. The convex solvers run
in their tight configurations, SCS eps = 1e-8 (max_iters 200 000) and Clarabel gap and
feasibility tolerances 1e-8 (`lowranklab.solvers.convex.min_trace_psd`), and their time is
that call's `Result.wall_time` (cvxpy's `problem.solve`, canonicalisation included: what a user
waits; the cvxpy problem construction before it is not counted).

opt is our own solve at tol = 1e-9, untimed; it is certified, and `opt_lower` = bᵀy/(1 + μ)
(μ = max(0, −λ_min)) is a rigorous lower bound on the optimum by weak duality, so
`opt − opt_lower` bounds how wrong opt can be from below. Each peer's distance to opt is in
its `reference_final`.

Ours and the peers run interleaved (ours, SCS, Clarabel, ours, ...) so that all see the same
load; times are medians over `repeats`, except that a peer whose first solve took more than
`SLOW_S` seconds is not repeated (its `reference_repeats` says so). `--scale` adds records
`sdp_bm_solve_d{d}` (ours only: the convex solvers' cost grows like d⁶, Clarabel needed
1.6 GB and 2 min at d = 100). `--memory` adds `*_maxrss_bytes`: one more solve of each in a
fresh subprocess, its peak resident memory (VmHWM of the child, instance included).

`sdp_records` is the function a suite calls; `ours_sdp_bm(P, opt, budget, seed)` returns the
fields of one timed run (seconds, iterations, reached, final, extra) for a caller's own table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

from lowranklab.atomic import write_text
from lowranklab.problems.min_norm import MinNormFactorization
from lowranklab.problems.min_norm_instances import random_instance
from lowranklab.solvers.sdp_bm import sdp_bm

TOL = 1e-6  # relative objective error and relative feasibility
REF_TOL = 1e-9  # certificate tolerance of the reference solve
SCS_EPS = 1e-8
SLOW_S = 30.0  # a peer slower than this is timed once
TARGET_RATIO = {100: 1.0 / 3.0}  # the target: d = 100 ≤ 1/3 of SCS's time
PEERS = {"scs": ("SCS", f"cvxpy + SCS (eps {SCS_EPS:g})"),
         "clarabel": ("CLARABEL", f"cvxpy + Clarabel (tol {SCS_EPS:g})")}


def instance(d: int, seed: int) -> MinNormFactorization:
    return random_instance(d, 2 * d, np.random.default_rng(seed), b="planted")


def _errors(P: MinNormFactorization, X: np.ndarray, opt: float) -> tuple[float, float]:
    """(|tr X − opt|/|opt|, ‖A(X) − b‖/‖b‖)."""
    obj = abs(float(np.trace(X)) - opt) / abs(opt)
    feas = float(np.linalg.norm(P.forward(X) - P.b) / np.linalg.norm(P.b))
    return obj, feas


def ours_sdp_bm(P: MinNormFactorization, opt: float, budget: float, seed: int) -> dict:
    """One timed `sdp_bm` solve at tol = TOL from the seeded Gaussian start (Pataki rank):
    {seconds, iterations, reached, final (relative objective error), extra}."""
    t0 = time.perf_counter()
    res = sdp_bm(P, tol=TOL, seed=seed, time_budget=budget, max_iter=10**6)
    dt = time.perf_counter() - t0
    U = res.factors[0]
    obj, feas = _errors(P, U @ U.T, opt)
    cert = res.info["certificate"]
    return {"seconds": dt, "iterations": res.iterations,
            "reached": bool(obj <= TOL and feas <= TOL), "final": obj,
            "extra": {"feasibility": feas, "certified": bool(res.info["certified"]),
                      "lambda_min": cert.lambda_min, "dual_gap": cert.dual_gap,
                      "stop": res.stop.value, "outer": res.counts["outer"],
                      "passes": res.counts["passes"], "rank": res.info["rank"]}}


def peer_cvxpy(P: MinNormFactorization, opt: float, solver: str) -> dict:
    """One timed cvxpy solve (`min_trace_psd`), same fields as `ours_sdp_bm`."""
    from lowranklab.solvers.convex import min_trace_psd

    t0 = time.perf_counter()
    res = min_trace_psd(P.operator(), P.b, solver=solver, eps=SCS_EPS)
    dt = time.perf_counter() - t0
    obj, feas = _errors(P, res.X, opt)
    return {"seconds": res.wall_time, "iterations": res.iterations,
            "reached": bool(obj <= TOL and feas <= TOL), "final": obj,
            "extra": {"feasibility": feas, "status": res.info["status"], "call_s": dt}}


def reference_optimum(P: MinNormFactorization, seed: int) -> dict:
    """opt from a certified solve at REF_TOL, with the weak-duality lower bound."""
    t0 = time.perf_counter()
    res = sdp_bm(P, tol=REF_TOL, seed=seed + 1000, max_iter=10**6)
    cert = res.info["certificate"]
    if not res.info["certified"]:
        raise RuntimeError(f"the reference solve at d = {P.d} was not certified: {res.message}")
    mu = max(0.0, -cert.lambda_min)
    return {"opt": cert.objective, "opt_lower": cert.dual_value / (1.0 + mu),
            "opt_solve_s": time.perf_counter() - t0, "opt_lambda_min": cert.lambda_min,
            "opt_feasibility": cert.feasibility / float(np.linalg.norm(P.b))}


def _median(runs: list[dict]) -> dict:
    """The run with the median time (odd count: a member; even: the lower middle)."""
    return sorted(runs, key=lambda u: u["seconds"])[(len(runs) - 1) // 2]


def sdp_records(ds=(20, 50, 100), *, repeats: int = 3, seed: int = 0, budget: float = 300.0,
                clarabel_max_d: int = 100, memory: bool = False) -> list[dict]:
    """Records `sdp_vs_cvxpy_scs_d{d}` and `sdp_vs_cvxpy_clarabel_d{d}` (schema of the peer
    suite: name, ours, ours_s, reference, reference_s, ratio = ours_s/reference_s, *_reached,
    *_final, repeats, tol, plus the SDP fields). cvxpy missing → no records (a line on stderr)."""
    try:
        import cvxpy  # noqa: F401
    except ImportError:
        print("peers_sdp: cvxpy not installed, SDP records skipped", file=sys.stderr)
        return []
    _warm_up(seed)
    records = []
    for d in ds:
        P = instance(d, seed)
        ref = reference_optimum(P, seed)
        opt = ref["opt"]
        todo = {k: v for k, v in PEERS.items() if k != "clarabel" or d <= clarabel_max_d}
        ours: list[dict] = []
        peers: dict[str, list[dict]] = {k: [] for k in todo}
        for i in range(repeats):
            ours.append(ours_sdp_bm(P, opt, budget, seed + i))
            _progress(f"d={d} sdp-bm", ours[-1])
            for k, (solver, _) in todo.items():
                if i > 0 and peers[k][0]["seconds"] > SLOW_S:
                    continue
                peers[k].append(peer_cvxpy(P, opt, solver))
                _progress(f"d={d} {k}", peers[k][-1])
        mo = _median(ours)
        mem = {}
        if memory:
            mem["ours_maxrss_bytes"] = _child_maxrss("sdp-bm", d, seed)
        for k, (_, desc) in todo.items():
            mr = _median(peers[k])
            rec = {"name": f"sdp_vs_cvxpy_{k}_d{d}", "kind": "sdp_ttol", "d": d, "m": P.m,
                   "ours": "sdp-bm", "ours_s": mo["seconds"],
                   "ours_iterations": mo["iterations"], "ours_reached": mo["reached"],
                   "ours_final": mo["final"], "ours_extra": mo["extra"],
                   "reference": desc, "reference_s": mr["seconds"],
                   "reference_reached": mr["reached"], "reference_final": mr["final"],
                   "reference_extra": mr["extra"],
                   "ratio": mo["seconds"] / mr["seconds"],
                   "repeats": repeats, "reference_repeats": len(peers[k]), "tol": TOL, **ref}
            if k == "scs" and d in TARGET_RATIO:
                rec["target"] = TARGET_RATIO[d]
                rec["meets_target"] = bool(rec["ratio"] <= TARGET_RATIO[d]
                                           and mo["reached"] and mo["extra"]["certified"])
            if memory:
                rec.update(mem, reference_maxrss_bytes=_child_maxrss(k, d, seed))
            records.append(rec)
    return records


def scale_records(ds=(300,), *, seed: int = 0, budget: float = 600.0,
                  memory: bool = False) -> list[dict]:
    """Records `sdp_bm_solve_d{d}`: one certified solve at tol = TOL (ours only), its time,
    iterations, certificate, and (memory=True) the peak memory of a fresh process."""
    out = []
    for d in ds:
        t0 = time.perf_counter()
        P = instance(d, seed)
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = sdp_bm(P, tol=TOL, seed=seed, time_budget=budget, max_iter=10**6)
        dt = time.perf_counter() - t0
        cert = res.info["certificate"]
        rec = {"name": f"sdp_bm_solve_d{d}", "kind": "sdp_scale", "d": d, "m": P.m,
               "ours": "sdp-bm", "ours_s": dt, "generate_s": gen_s,
               "iterations": res.iterations, "outer": res.counts["outer"],
               "passes": res.counts["passes"], "ms_per_pass": 1e3 * dt / res.counts["passes"],
               "certified": bool(res.info["certified"]), "stop": res.stop.value,
               "objective": cert.objective, "lambda_min": cert.lambda_min,
               "dual_gap": cert.dual_gap,
               "feasibility": cert.feasibility / float(np.linalg.norm(P.b)),
               "operator_bytes": int(P.A3.nbytes), "tol": TOL}
        print(f"  d={d} sdp-bm solve {dt:8.2f} s  {res.iterations} it  "
              f"certified={rec['certified']}", file=sys.stderr, flush=True)
        if memory:
            rec["ours_maxrss_bytes"] = _child_maxrss("sdp-bm", d, seed)
        out.append(rec)
    return out


def _warm_up(seed: int) -> None:
    """Imports and first-call set-up of cvxpy, SCS, Clarabel and ours, untimed."""
    P = instance(6, seed)
    opt = reference_optimum(P, seed)["opt"]
    ours_sdp_bm(P, opt, 60.0, seed)
    for solver, _ in PEERS.values():
        peer_cvxpy(P, opt, solver)


def _child_maxrss(which: str, d: int, seed: int) -> int:
    """Peak RSS (bytes) of a fresh interpreter that builds the instance and solves it once."""
    cmd = [sys.executable, "-m", "benchmarks.peers_sdp", "--one", which, "--d", str(d),
           "--seed", str(seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["maxrss_bytes"])


def _one(which: str, d: int, seed: int) -> dict:
    P = instance(d, seed)
    if which == "sdp-bm":
        sdp_bm(P, tol=TOL, seed=seed, max_iter=10**6)
    else:
        from lowranklab.solvers.convex import min_trace_psd

        min_trace_psd(P.operator(), P.b, solver=PEERS[which][0], eps=SCS_EPS)
    return {"maxrss_bytes": _peak_rss()}


def _peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM of /proc/self/status on Linux
    (ru_maxrss is not reset by execve, so a child started from a big parent would report the
    parent's peak), ru_maxrss elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _progress(what: str, run: dict) -> None:
    print(f"  {what:<20} {run['seconds']:8.3f} s  {run['iterations']:>7} it  "
          f"{'reached' if run['reached'] else 'NOT reached'}  final {run['final']:.2e}",
          file=sys.stderr, flush=True)


def print_table(records: list[dict]) -> None:
    print(f"{'case':<28}{'ours (s)':>10}{'peer (s)':>10}{'ratio':>8}"
          f"  reached  certificate λ_min")
    for r in records:
        if r["kind"] == "sdp_scale":
            print(f"{r['name']:<28}{r['ours_s']:>10.2f}{'':>10}{'':>8}  "
                  f"{'y' if r['certified'] else 'n'}        {r['lambda_min']:.1e}")
            continue
        print(f"{r['name']:<28}{r['ours_s']:>10.3f}{r['reference_s']:>10.3f}{r['ratio']:>8.3f}"
              f"  {'y' if r['ours_reached'] else 'n'}/"
              f"{'y' if r['reference_reached'] else 'n'}      "
              f"{r['ours_extra']['lambda_min']:.1e}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, nargs="+", default=[20, 50, 100])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--clarabel-max-d", type=int, default=100)
    ap.add_argument("--scale", type=int, nargs="*", default=[])
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--one", choices=["sdp-bm", *PEERS], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.repeats < 1:
        ap.error("--repeats must be >= 1")
    if a.one:
        print(json.dumps(_one(a.one, a.d[0], a.seed)))
        return
    load0 = os.getloadavg()[0]
    recs = sdp_records(a.d, repeats=a.repeats, seed=a.seed, budget=a.budget,
                       clarabel_max_d=a.clarabel_max_d, memory=a.memory)
    recs += scale_records(a.scale, seed=a.seed, memory=a.memory)
    print_table(recs)
    if a.json:
        meta = {"machine": platform.machine(), "processor": platform.processor(),
                "python": platform.python_version(), "cpu_count": os.cpu_count(),
                "loadavg_1min_start": load0, "loadavg_1min_end": os.getloadavg()[0],
                "threads": {k: os.environ.get(k) for k in
                            ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
                "numpy": np.__version__}
        write_text(a.json, json.dumps({"meta": meta, "records": recs}, indent=1))  # atomic


if __name__ == "__main__":
    main()
