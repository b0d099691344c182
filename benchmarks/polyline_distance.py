"""glrl2021.fig1's distance to the GLRL path: the bracketed `PolylineDistance` against the full
scan `flows.trajectory.polyline_distance` on the same GD snapshots, measured in the same run.

    python -m benchmarks.polyline_distance [--spacing 2e-3] [--T 40] [--json out.json]

The GLRL path of the canonical instance is stored at Frobenius spacing `--spacing` (paper size:
2e-3, quick: 5e-3); GD from a 1e-16 init runs T/η steps (η = 1e-3) and is snapshotted every
25 steps, as in the experiment. Both methods evaluate the same snapshots in interleaved blocks
(so both see the same load); the table gives the median time per evaluation, the ratio and the
largest difference (the bracket is exact, so it is round-off).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from lowranklab.atomic import write_text


def main(argv: list[str] | None = None) -> dict:
    from lowranklab.experiments.glrl2021._common import PolylineDistance, depth2_init
    from lowranklab.experiments.glrl2021.fig1 import Fig1Config
    from lowranklab.flows.trajectory import polyline_distance
    from lowranklab.problems.glrl_instances import canonical_instance
    from lowranklab.solvers.greedy import descend, glrl

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spacing", type=float, default=5e-3)
    ap.add_argument("--T", type=float, default=40.0)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    cfg = Fig1Config(spacing=args.spacing)
    inst = canonical_instance(cfg.instance_seed, cfg.p)
    res = glrl(inst.loss, epsilon=cfg.epsilon, step=cfg.step, record_spacing=cfg.spacing)
    P = np.array([np.zeros(inst.d**2)] + [(U @ U.T).ravel() for _, U in res.info["trajectory"]])
    snaps: list[np.ndarray] = []
    U0 = depth2_init(inst.d, 1e-16, np.random.default_rng(0))
    descend(inst.loss, U0, step=cfg.step, gtol=0.0, max_iter=int(args.T / cfg.step),
            callback=lambda k, U, *a: snaps.append(U @ U.T) if k % cfg.eval_every == 0 else None)
    bracket = PolylineDistance(P)
    t_full, t_br, diff = [], [], 0.0
    for i in range(0, len(snaps), args.block):
        blk = snaps[i:i + args.block]
        t0 = time.perf_counter()
        a = [polyline_distance(X, P) for X in blk]
        t1 = time.perf_counter()
        b = [bracket(X) for X in blk]
        t2 = time.perf_counter()
        t_full.append((t1 - t0) / len(blk))
        t_br.append((t2 - t1) / len(blk))
        diff = max(diff, max(abs(x - y) for x, y in zip(a, b, strict=True)))
    out = {"segments": int(P.shape[0] - 1), "evaluations": len(snaps),
           "full_scan_s": float(np.median(t_full)), "bracket_s": float(np.median(t_br)),
           "ratio": float(np.median(t_full) / np.median(t_br)), "max_abs_diff": diff,
           "full_evaluations": bracket.full_evaluations,
           "segment_fraction": bracket.segment_evaluations / (len(snaps) * (P.shape[0] - 1))}
    print(f"{'segments':>9} {'evals':>6} {'full scan':>11} {'bracket':>11} {'ratio':>6} "
          f"{'max diff':>9} {'segments read':>13}")
    print(f"{out['segments']:>9} {out['evaluations']:>6} {out['full_scan_s'] * 1e3:>9.2f}ms "
          f"{out['bracket_s'] * 1e3:>9.2f}ms {out['ratio']:>6.1f} {diff:>9.1e} "
          f"{out['segment_fraction']:>13.3f}")
    if args.json:
        write_text(args.json, json.dumps(out, indent=2))  # atomic
    return out


if __name__ == "__main__":
    main()
