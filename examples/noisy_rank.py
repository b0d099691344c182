"""The issue's noisy case: a 500×300 rank-5 matrix (unit-variance entries) plus N(0, 0.1²)
noise, 30 % observed. RMSE on the missing entries for rank="auto", fixed ranks with and
without early stopping, and SoftImpute — guessing the rank too high is what early stopping
and the rank path guard against.

    python examples/noisy_rank.py [--peer fancyimpute]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from softimpute import peer  # noqa: E402

from lowranklab import MatrixCompletion  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=2, default=(500, 300))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peer", default="faithful")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    (d1, d2), r = a.shape, 5
    M = rng.standard_normal((d1, r)) @ rng.standard_normal((r, d2)) / np.sqrt(r)
    Y = M + 0.1 * rng.standard_normal(M.shape)
    obs = rng.random(M.shape) < 0.3
    X = np.where(obs, Y, np.nan)
    runs = {"MatrixCompletion(rank='auto')": lambda: MatrixCompletion(random_state=0)}
    for k in (5, 10, 20):
        runs[f"MatrixCompletion(rank={k})"] = lambda k=k: MatrixCompletion(k, random_state=0)
        runs[f"MatrixCompletion(rank={k}, early_stopping=False)"] = \
            lambda k=k: MatrixCompletion(k, early_stopping=False)
    out = {}
    for name, make in runs.items():
        t = time.perf_counter()
        F = make().fit_transform(X)
        out[name] = float(np.sqrt(np.mean((F - M)[~obs] ** 2)))
        print(f"{name:48s} RMSE {out[name]:.4f}  {time.perf_counter() - t:5.1f} s")
    t = time.perf_counter()
    F = peer(a.peer)(X)
    out[f"SoftImpute ({a.peer})"] = float(np.sqrt(np.mean((F - M)[~obs] ** 2)))
    print(f"{'SoftImpute (' + a.peer + ')':48s} RMSE {out[f'SoftImpute ({a.peer})']:.4f}  "
          f"{time.perf_counter() - t:5.1f} s")
    return out


if __name__ == "__main__":
    main()
