"""Batched trials against a loop of single runs, and the GPU records of issue 15.

    python -m benchmarks.batched [--records cpu_batched_sensing,cpu_batched_completion,
                                  gpu_batched_sensing,gpu_completion_step]
                                 [--sizes 64,256,1024] [--iters 20] [--n N --m M]
                                 [--json OUT.json]

* `cpu_batched_sensing`: the papers' symmetric Gaussian sensing at d = 30, m = 240, r = 2
  (UUᵀ, spectral start, constant step, stops off so every trial takes `--iters` steps), one
  batched run of B trials (`run_batched`) against `gradient_descent` on single trials (a
  sample of 16, the same iterations), NumPy and torch CPU, one thread; records the time per
  trial-step of each and the ratio single/batched (the trial-throughput gain; target ≥ 5),
  and the floor: one pass over the stored A of the batch (one bare batched GEMV M x).
* `cpu_batched_completion`: the same for completion, n = 100, r = 2, 30 % observed
  (balanced UVᵀ, μ = 0.5), B = 64 and 256.
* `gpu_batched_sensing`: 1024 trials of the sensing case on CUDA (float32 and float64),
  trial-steps per second (target ≥ 10⁶ on an H100/H200); "skipped: no CUDA" without one.
* `gpu_completion_step`: one GD step θ − η∇F(θ) of completion with n = 10⁵, |Ω| = 10⁸,
  r = 10, float32, balanced UVᵀ, on CUDA (median of 10, synchronized; target ≤ 5 ms).
  Without CUDA it is skipped unless --n/--m give a small size, which then runs on torch CPU
  as a smoke test (the 10⁸ case is never run on a CPU).

Times are medians over `--repeats` rounds. Torch runs with one intra-op thread on CPU (as
OMP_NUM_THREADS=1 for NumPy: the machine is shared), so the CPU ratios are per core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from lowranklab.atomic import write_text
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.batched import BatchedObjective
from lowranklab.models.init import initialize
from lowranklab.objective import Objective
from lowranklab.problems import completion_problem, sensing_problem
from lowranklab.solvers import gradient_descent
from lowranklab.solvers.batched import Constant, run_batched
from lowranklab.solvers.engine import Stop
from lowranklab.solvers.step import default_step

RECORDS = ("cpu_batched_sensing", "cpu_batched_completion", "gpu_batched_sensing",
           "gpu_completion_step")
N_SINGLE = 16
TARGET_CPU, TARGET_GPU_STEPS, TARGET_GPU_MS = 5.0, 1e6, 5.0


def sensing_trials(B: int, d: int = 30, r: int = 2, m: int = 240):
    objs, thetas = [], []
    for s in range(B):
        rng = np.random.default_rng(s)
        P = sensing_problem(d, r, m, rng)
        obj = Objective(P.loss(), SymmetricFactor(d, r))
        objs.append(obj)
        thetas.append(initialize(obj.model, "spectral", rng, op=P.op, b=P.b))
    return objs, np.stack(thetas)


def completion_trials(B: int, n: int = 100, r: int = 2, fraction: float = 0.3):
    objs, thetas = [], []
    for s in range(B):
        rng = np.random.default_rng(s)
        P = completion_problem(n, n, r, fraction, rng)
        obj = Objective(P.loss(), BalancedFactor(n, n, r, mu=0.5))
        objs.append(obj)
        thetas.append(initialize(obj.model, "spectral", rng, op=P.op, b=P.b))
    return objs, np.stack(thetas)


def _median_time(f, repeats: int) -> float:
    f()  # warm-up (caches, the tensors copied to the device)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _fixed_steps(iters: int) -> Stop:
    return Stop(max_iter=iters, tol=None, ftol=None, blowup=1e300)


def gemv_floor(M: np.ndarray, repeats: int) -> float:
    """The memory floor of one batched sensing step: one pass over the stored half
    coordinates M (B, m, N) of the batch, timed as one bare batched GEMV M x (a gradient step
    reads A at least once; the fused residual + adjoint pass reads it once)."""
    x = np.random.default_rng(0).standard_normal((M.shape[0], M.shape[2], 1))
    return _median_time(lambda: np.matmul(M, x), repeats)


def batched_vs_single(name: str, make, sizes, iters: int, repeats: int) -> dict:
    import torch

    torch.set_num_threads(1)
    objs, thetas = make(max(sizes))
    step = 0.5 * default_step(objs[0])  # one safe step: every trial takes `iters` steps
    single = _median_time(lambda: [
        gradient_descent(o, t, step=step, max_iter=iters, tol=None, stall_tol=None,
                         blowup=1e300) for o, t in zip(objs[:N_SINGLE], thetas[:N_SINGLE],
                                                       strict=True)], repeats)
    per_single = single / (N_SINGLE * iters)
    rows = []
    for B in sizes:
        bo = BatchedObjective.stack(objs[:B])
        for backend in ("numpy", "torch"):
            th = thetas[:B] if backend == "numpy" else torch.as_tensor(thetas[:B])
            t = _median_time(lambda bo=bo, th=th: run_batched(
                bo, th, Constant(step), stop=_fixed_steps(iters)), repeats)
            per = t / (B * iters)
            row = {"B": B, "backend": backend, "us_per_trial_step": per * 1e6,
                   "ratio_single_over_batched": per_single / per,
                   "meets_target": per_single / per >= TARGET_CPU}
            if backend == "numpy" and getattr(bo.loss.op, "M", None) is not None:
                row["floor_us_per_trial_step"] = gemv_floor(bo.loss.op.M, repeats) / B * 1e6
            rows.append(row)
    return {"record": name, "iters": iters, "single_us_per_trial_step": per_single * 1e6,
            "single_trials_timed": N_SINGLE, "target_ratio": TARGET_CPU, "rows": rows}


def gpu_batched_sensing(iters: int, repeats: int, *, device: str = "cuda",
                        B: int = 1024) -> dict:
    """The record on `device` (a smaller B and device="cpu" smoke-test the code path)."""
    import torch

    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        return {"record": "gpu_batched_sensing", "status": "skipped: no CUDA"}
    objs, thetas = sensing_trials(B)
    step = 0.5 * default_step(objs[0])
    bo = BatchedObjective.stack(objs)
    rows = []
    for dt in (torch.float32, torch.float64):
        th = torch.as_tensor(thetas).to(device, dt)

        def go(th=th):
            run_batched(bo, th, Constant(step), stop=_fixed_steps(iters))
            if cuda:
                torch.cuda.synchronize()

        t = _median_time(go, repeats)
        rows.append({"dtype": str(dt).removeprefix("torch."),
                     "trial_steps_per_s": B * iters / t,
                     "meets_target": B * iters / t >= TARGET_GPU_STEPS})
    return {"record": "gpu_batched_sensing", "B": B, "d": 30, "m": 240, "iters": iters,
            "device": torch.cuda.get_device_name() if cuda else device,
            "target_trial_steps_per_s":
            TARGET_GPU_STEPS, "rows": rows}


def gpu_completion_step(n: int | None, m: int | None, repeats: int) -> dict:
    import torch

    from lowranklab.operators.sampling import uniform_entries
    from lowranklab.problems.loss import LeastSquares

    cuda = torch.cuda.is_available()
    if not cuda and (n is None or m is None):
        return {"record": "gpu_completion_step", "status": "skipped: no CUDA"}
    n = 10**5 if n is None else n
    m = 10**8 if m is None else m
    if not cuda and m > 10**7:
        raise SystemExit("gpu_completion_step: without CUDA only a smoke test with m <= 10⁷")
    device = "cuda" if cuda else "cpu"
    r = 10
    rng = np.random.default_rng(0)
    op = uniform_entries((n, n), m, rng)
    b = rng.standard_normal(m).astype(np.float32)
    obj = Objective(LeastSquares(op, b, dtype="float32"), BalancedFactor(n, n, r))
    gen = torch.Generator(device=device).manual_seed(0)
    theta = torch.randn(obj.dim, generator=gen, device=device, dtype=torch.float32) / n**0.5

    def step():
        out = theta - 1e-3 * obj.evaluate(theta).grad
        if cuda:
            torch.cuda.synchronize()
        return out

    t = _median_time(step, repeats)
    return {"record": "gpu_completion_step", "n": n, "m": m, "r": r, "dtype": "float32",
            "device": torch.cuda.get_device_name() if cuda else "cpu (smoke test)",
            "step_ms": t * 1e3, "target_ms": TARGET_GPU_MS,
            "meets_target": cuda and m == 10**8 and t * 1e3 <= TARGET_GPU_MS}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", default=",".join(RECORDS))
    ap.add_argument("--sizes", default="64,256,1024", help="batch sizes of the CPU sensing "
                    "record")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, help="gpu_completion_step: matrix size (smoke test)")
    ap.add_argument("--m", type=int, help="gpu_completion_step: observed entries")
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args(argv)
    names = [s for s in args.records.split(",") if s]
    unknown = set(names) - set(RECORDS)
    if unknown:
        raise SystemExit(f"unknown records {sorted(unknown)}; choose from {RECORDS}")
    sizes = [int(s) for s in args.sizes.split(",")]
    records = []
    for name in names:
        if name == "cpu_batched_sensing":
            records.append(batched_vs_single(name, sensing_trials, sizes, args.iters,
                                             args.repeats))
        elif name == "cpu_batched_completion":
            records.append(batched_vs_single(name, completion_trials,
                                             [s for s in sizes if s <= 256] or [64],
                                             args.iters, args.repeats))
        elif name == "gpu_batched_sensing":
            records.append(gpu_batched_sensing(args.iters, args.repeats))
        else:
            records.append(gpu_completion_step(args.n, args.m, args.repeats))
    import torch

    for rec in records:
        rec.update(python=platform.python_version(), numpy=np.__version__,
                   torch=torch.__version__, omp_threads=os.environ.get("OMP_NUM_THREADS"),
                   machine=platform.machine())
        print(json.dumps(rec))
    if args.json:
        write_text(args.json, json.dumps(records, indent=2))  # atomic
    return records


if __name__ == "__main__":
    main()
