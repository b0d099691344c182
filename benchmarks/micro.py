"""The small kernels behind the solvers' speed-ups, each against what it replaced, in one run.

    python -m benchmarks.micro [--repeats 7] [--json OUT.json]

Each case times `ours` and `reference` interleaved (a, b, a, b, …, so both see the same load
on a shared machine) and reports the median per call and ratio = ours / reference:

* `line_gram_n1000`: the exact line search's Gram matrix along a two-factor product on
  1000×1000 completion (|Ω| = 99 500, r = 10: X₁ of rank 2r, X₂ of rank r) in one compiled
  pass (`EntrySampling.forward_gram`), against two forwards and six dot products
  (`MeasurementOperator.forward_gram`);
* `scaled_solve_n1000`: ScaledGD's G (VᵀV)⁻¹ for G: 1000×10 by LAPACK potrs on Gᵀ
  (`models.symmetric._right_solve`), against two `np.linalg.solve` with the Cholesky factor;
* `manifold_qr_1000x10`: the reduced QR of the fixed-rank manifold (`fixed_rank._la`: SciPy)
  against `np.linalg.qr`;
* `manifold_reorth_1000x10`: re-orthonormalizing factors drifted by ~1e-14 (as after a
  retraction) by `fixed_rank._reorthonormalize`'s first-order polar correction against its
  QR path (two thin QRs and an r×r SVD, what every RGD/RCG step paid before);
* `csr_times_n1000_r10`: G V for the CSR gradient G of 1000×1000 completion (|Ω| = 99 500)
  and V of width r = 10 (`kernels.times`: a local accumulator vector per row, four entries of
  the row per pass over it), against the loop it replaced (one entry per pass; copied below);
* `sampled_dot_n1000_r10`: A(U Vᵀ) on the same observations, which come in row order
  (`EntrySampling.forward_lr`: row by row, four entries per pass sharing U[i]), against the
  entry-by-entry loop (`kernels.sampled_dot` without the row pointer; still the one for
  observations in any other order);
* `manifold_retract_1000x10`: the retraction R(Z + tξ) at 1000×1000, r = 10, with the
  orthonormal bases of P_U⊥Up and P_V⊥Vp as Cholesky factors of their Gram matrices
  (`fixed_rank._orth_complement_basis`), against the thin QRs it replaced (its fallback);
* `distance_kept_n1000`: ‖X − X♮‖²_F for X 1e-8 from a rank-10 X♮, by `lowrank.DistanceTo`
  kept for X♮ (the monitors' and the peer benchmark's check), against the QRs of the stacked
  factors `(X − X♮).fro_sq()`;
* `torch_batched_forward_b64` (with torch): the batched dense forward of 64 trials (m = 240,
  N = 465 half coordinates) as x_bᵀA_bᵀ (`BatchedDenseSensing.forward`) against A_b x_b, torch
  CPU, one thread.

Run with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from lowranklab.atomic import write_text


def interleaved(fa, fb, repeats: int, number: int) -> tuple[float, float]:
    """Median seconds per call of fa and fb, `number` calls per timing, interleaved."""
    fa(), fb()  # warm-up (numba compilation, caches)
    ta, tb = [], []
    for _ in range(repeats):
        for f, ts in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            ts.append((time.perf_counter() - t0) / number)
    return float(np.median(ta)), float(np.median(tb))


def _one_entry_csr_times():
    """The G Z loop for r > 6 columns before this version (one entry of the row per pass over
    the accumulator vector), compiled on first use."""
    import numba

    @numba.njit(nogil=True, fastmath=True)
    def kernel(indptr, indices, data, Z, out):  # pragma: no cover - compiled
        r = Z.shape[1]
        acc = np.empty(r)
        for i in range(indptr.shape[0] - 1):
            for t in range(r):
                acc[t] = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                j, y = indices[k], data[k]
                for t in range(r):
                    acc[t] += y * Z[j, t]
            for t in range(r):
                out[i, t] = acc[t]

    return kernel


def cases(rng: np.random.Generator) -> list[tuple[str, object, object, int]]:
    from lowranklab.lowrank import DistanceTo, LowRank
    from lowranklab.models import fixed_rank
    from lowranklab.models.fixed_rank import FixedRank, _la, _reorthonormalize
    from lowranklab.models.symmetric import _right_solve
    from lowranklab.operators import kernels
    from lowranklab.operators.base import MeasurementOperator
    from lowranklab.problems import completion_problem

    n, r = 1000, 10
    prob = completion_problem(n, n, r, 0.0995, rng)
    op = prob.op
    U, V, DU, DV = (rng.standard_normal((n, r)) for _ in range(4))
    Xs = [LowRank(np.hstack([U, DU]), np.hstack([DV, V])), LowRank(DU, DV)]
    r0 = rng.standard_normal(op.m)
    G, M = rng.standard_normal((n, r)), V.T @ V
    c = np.linalg.cholesky(M)
    A = rng.standard_normal((n, r))
    T = LowRank(U, V)
    X = LowRank(U + 1e-8 * rng.standard_normal((n, r)), V)
    kept = DistanceTo(T)
    Qu, Qv = np.linalg.qr(U)[0], np.linalg.qr(V)[0]
    Ud, Vd = (Q @ (np.eye(r) + 1e-14 * rng.standard_normal((r, r))) for Q in (Qu, Qv))
    sv = np.sort(rng.random(r))[::-1] + 1.0
    man = FixedRank(n, n, r)
    xm = man.point(Qu, sv, Qv)
    xi = man.project(xm, LowRank(DU, DV))

    def qr_retract(*a):
        ratio, fixed_rank.CHOLESKY_RATIO = fixed_rank.CHOLESKY_RATIO, np.inf
        try:
            return man.retract(*a)
        finally:
            fixed_rank.CHOLESKY_RATIO = ratio

    out = []
    if kernels.backend() == "numba":
        Gc = op.adjoint(r0)
        one_entry = _one_entry_csr_times()
        args = (kernels._unsigned(Gc.indptr), kernels._unsigned(Gc.indices), Gc.data, V,
                np.empty((n, r)))
        out.append(("csr_times_n1000_r10", lambda: kernels.times(Gc, V),
                    lambda: one_entry(*args), 100))
        assert op._order is None  # the generator's observations come in row order
        out.append(("sampled_dot_n1000_r10", lambda: op.forward_lr(U, V),
                    lambda: kernels.sampled_dot(op.rows, op.cols, U, V), 100))
    out += [
        ("line_gram_n1000", lambda: op.forward_gram(Xs, r0),
         lambda: MeasurementOperator.forward_gram(op, Xs, r0), 20),
        ("scaled_solve_n1000", lambda: _right_solve(G, M, 0.0),
         lambda: np.linalg.solve(c.T, np.linalg.solve(c, G.T)).T, 200),
        ("manifold_qr_1000x10", lambda: _la(A).qr(A), lambda: np.linalg.qr(A), 200),
        ("manifold_reorth_1000x10", lambda: _reorthonormalize(Ud, sv, Vd, symmetric=False),
         lambda: _reorthonormalize(Ud, sv, Vd, symmetric=False, polar_drift=-1.0), 200),
        ("manifold_retract_1000x10", lambda: man.retract(xm, xi, -0.5),
         lambda: qr_retract(xm, xi, -0.5), 100),
        ("distance_kept_n1000", lambda: kept(X), lambda: (X + T * -1.0).fro_sq(), 100),
    ]
    try:
        import torch
    except ImportError:
        return out
    from benchmarks.batched import sensing_trials
    from lowranklab.models.batched import BatchedObjective

    torch.set_num_threads(1)
    objs, _ = sensing_trials(64)  # d = 30, m = 240: N = 465 half coordinates
    bop = BatchedObjective.stack(objs).loss.op
    W = torch.randn(64, 30, 30, dtype=torch.float64)
    Xb = W + W.mT
    flat, Mb = bop._data("flat", Xb), bop._data("M", Xb)

    def before():  # the formula this version replaced: A_b x_b
        xb = Xb.reshape(64, 900)[:, flat]
        return (Mb @ xb[:, :, None])[:, :, 0]

    out.append(("torch_batched_forward_b64", lambda: bop.forward(Xb, symmetric=True), before,
                20))
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="OUT.json")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    records = []
    for name, ours, ref, number in cases(np.random.default_rng(args.seed)):
        a, b = interleaved(ours, ref, args.repeats, number)
        records.append({"name": name, "ours_s": a, "reference_s": b, "ratio": a / b})
    print(f"{'case':<28}{'ours (µs)':>12}{'reference (µs)':>16}{'ratio':>8}")
    for r in records:
        print(f"{r['name']:<28}{1e6 * r['ours_s']:>12.1f}{1e6 * r['reference_s']:>16.1f}"
              f"{r['ratio']:>8.3f}")
    if args.json:
        env = {"numpy": np.__version__, "python": platform.python_version(),
               "machine": platform.machine(), "repeats": args.repeats,
               "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
        write_text(args.json, json.dumps([{**r, **env} for r in records], indent=2))
    return records


if __name__ == "__main__":
    main()
