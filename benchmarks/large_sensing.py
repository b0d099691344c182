"""Sensing at d = 1000: peak memory and step time of a short run, for the two operators that
make it fit (a stored dense operator would need m·d² numbers: 80 GB at m = 10⁴ in float64).

    python -m benchmarks.large_sensing [--d 1000] [--rank 5] [--iters 10] [--dtype float64]
                                       [--kind rank_one|streamed|both] [--json OUT.json]

* rank_one: planted X♮ = U♮V♮ᵀ (d×d, rank r, unit singular values), m = 4·r·2d rank-one
  Gaussian measurements aᵢᵀXbᵢ (`rank_one_gaussian`), balanced U Vᵀ from a spectral
  initialization, `gradient_descent` with a constant step for `--iters` iterations; records
  the relative error ‖X − X♮‖_F/‖X♮‖_F before and after. Memory O(m·d); a step O(m·r·d).
* streamed: the seeded Gaussian `StreamedGaussian` with `--streamed-m` rows (default 2000:
  every pass regenerates m·d² normals, about 20 s per 1000 rows at d = 1000 on one core), one
  objective evaluation (the one-pass residual + adjoint of `LeastSquares`). Memory: one block
  of rows (64 MiB) plus O(d²).

Peak memory is the process's maximum resident set size (`resource.getrusage`, ru_maxrss) after
each part, so each part's figure includes what ran before it (the parts run in the order above;
run one `--kind` for a clean figure). The issue's target: within 24 GiB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import numpy as np

from lowranklab.atomic import write_text
from lowranklab.models import BalancedFactor
from lowranklab.objective import Objective
from lowranklab.operators import StreamedGaussian, rank_one_gaussian
from lowranklab.problems.loss import LeastSquares
from lowranklab.problems.planted import planted_rect
from lowranklab.solvers import gradient_descent


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def spectral_init(op, b: np.ndarray, r: int) -> np.ndarray:
    """θ₀ = (P√Σ, Q√Σ) from the top-r SVD P Σ Qᵀ of A*(b) (E[A*(b)] = X♮ for the default
    scale), by Lanczos on the factored products A*(b)z, A*(b)ᵀz: O(m·d) per product, no d×d
    array."""
    from scipy.sparse.linalg import LinearOperator, svds

    d1, d2 = op.shape_in
    lin = LinearOperator((d1, d2), dtype=np.float64,
                         matvec=lambda z: op.adjoint_times(b, np.reshape(z, (d2, -1))),
                         rmatvec=lambda z: op.adjoint_t_times(b, np.reshape(z, (d1, -1))))
    P, S, Qt = svds(lin, k=r, random_state=0)
    root = np.sqrt(S)
    return np.concatenate([(P * root).ravel(), (Qt.T * root).ravel()])


def run_rank_one(d: int, r: int, iters: int, dtype: str, rng: np.random.Generator) -> dict:
    m = 4 * r * 2 * d
    t0 = time.perf_counter()
    op = rank_one_gaussian(d, d, m, rng, dtype=dtype)
    truth = planted_rect(d, d, r, rng)
    b = op.forward(truth)
    obj = Objective(LeastSquares(op, b, dtype=dtype), BalancedFactor(d, d, r, dtype=dtype))
    theta0 = obj.model.check(spectral_init(op, b, r))
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = gradient_descent(obj, theta0, step=0.25, max_iter=iters)
    run = time.perf_counter() - t0
    from lowranklab.lowrank import fro_dist_sq

    nt = np.sqrt(truth.fro_sq())
    e0 = np.sqrt(fro_dist_sq(obj.matrix(theta0), truth)) / nt
    e1 = np.sqrt(fro_dist_sq(res.X, truth)) / nt
    return {"kind": "rank_one", "d": d, "rank": r, "m": m, "dtype": dtype,
            "operator_bytes": int(op.a.nbytes + op.b.nbytes), "build_s": build,
            "iterations": res.iterations, "run_s": run, "step_s": run / max(res.iterations, 1),
            "rel_error_start": float(e0), "rel_error_end": float(e1), "stop": str(res.stop),
            "peak_rss_gib": peak_rss_gib()}


def run_streamed(d: int, r: int, m: int, dtype: str, rng: np.random.Generator) -> dict:
    op = StreamedGaussian((d, d), m, seed=int(rng.integers(2**31)), dtype=dtype)
    truth = planted_rect(d, d, r, rng)
    t0 = time.perf_counter()
    b = op.forward(truth)
    forward = time.perf_counter() - t0
    obj = Objective(LeastSquares(op, b, dtype=dtype), BalancedFactor(d, d, r, dtype=dtype))
    theta = obj.model.check(rng.standard_normal(obj.dim) / np.sqrt(d))
    t0 = time.perf_counter()
    e = obj.evaluate(theta)
    evaluate = time.perf_counter() - t0
    return {"kind": "streamed", "d": d, "rank": r, "m": m, "dtype": dtype,
            "block_rows": op.block_rows, "block_bytes": op.block_rows * d * d * op.dtype.itemsize,
            "stored_equivalent_bytes": m * d * d * op.dtype.itemsize,
            "forward_s": forward, "evaluate_s": evaluate, "grad_dtype": str(e.grad.dtype),
            "peak_rss_gib": peak_rss_gib()}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--rank", type=int, default=5)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--streamed-m", type=int, default=2000)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--kind", choices=["rank_one", "streamed", "both"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    records = []
    if args.kind in ("rank_one", "both"):
        records.append(run_rank_one(args.d, args.rank, args.iters, args.dtype, rng))
    if args.kind in ("streamed", "both"):
        records.append(run_streamed(args.d, args.rank, args.streamed_m, args.dtype, rng))
    for rec in records:
        rec.update(python=platform.python_version(), numpy=np.__version__)
        print(json.dumps(rec))
    if args.json:
        write_text(args.json, json.dumps(records, indent=2))  # atomic
    return records


if __name__ == "__main__":
    main()
