"""Instructions per iteration of ez2021 GD (3) through the engine and through the dedicated
loop it replaced, split by where they run (BLAS, the rest of NumPy/SciPy, the Python
interpreter, libc), counted by valgrind's cachegrind.

    python -m benchmarks.engine_instructions [--iters 400] [--json OUT.json]

Needs `valgrind` on the PATH (not a Python dependency; `apt install valgrind`). Each case runs
in a child process under `valgrind --tool=cachegrind --cache-sim=no` twice, with 0 and with
`--iters` iterations; the difference over `--iters` is the per-iteration count, free of the
start-up and of the shared machine's timing noise (`benchmarks/engine.py` gives the wall
clock). Instructions are not cycles: BLAS kernels retire several flops per instruction and
interpreter code few, so the split says where the engine's extra work is, not its time.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from lowranklab.atomic import write_text

CASES = ("engine", "dedicated")


def child(which: str, n: int) -> None:
    """The measured process: the ez2021 instance of `benchmarks.engine`, n iterations."""
    import numpy as np

    from benchmarks.engine import old_sensing_loop
    from lowranklab.models.init import rank_k_init
    from lowranklab.problems.ez2021 import example_instance
    from lowranklab.solvers.sensing_gd import sensing_gd

    rng = np.random.default_rng(0)
    inst = example_instance(30, 2, 240, rng)
    U0 = rank_k_init((30, 30), 30, 1e-3, rng)
    sensing_gd(inst, U0, step=1e-4, max_iter=5, tol=None)  # imports and first-use set-up
    old_sensing_loop(inst, U0, 1e-4, 5)
    if which == "engine":
        sensing_gd(inst, U0, step=1e-4, max_iter=n, tol=None)
    else:
        old_sensing_loop(inst, U0, 1e-4, n)


BLAS_NAME = re.compile(r"^(cblas_)?[sdcz](gemv|gemm|syrk|syr2k|symv|trsm|trmm|dot|axpy|scal|copy|"
                       r"nrm2|ger)|haswell|skylakex|zen|sandybridge|^blas_|_kernel", re.I)


def place(source: str | None, fn: str | None) -> str:
    """The part of the process a function belongs to, from cachegrind's source file (`fl=`,
    ??? for libraries without debug information) and function name (`fn=`)."""
    source, fn = source or "???", fn or ""
    if "Python-" in source or any(f"/{d}/" in source for d in ("Objects", "Python", "Include",
                                                                 "Modules", "Parser")):
        return "python"
    if source.startswith("./") or fn.startswith(("__mem", "_int_", "malloc", "free", "pthread")):
        return "libc"  # glibc's sources are named ./string/..., ./malloc/...
    if source == "???" and BLAS_NAME.search(fn):
        return "blas"
    return "numpy and scipy"  # the compiled extension code (stripped: source ???)


def counts(path: str) -> collections.Counter:
    """Instructions (Ir) per function of a cachegrind output file, grouped by `place`."""
    by_fn: collections.Counter = collections.Counter()
    fl = fn = None
    with open(path) as f:
        for line in f:
            if line.startswith("fl="):
                fl = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
            elif line[:1].isdigit():
                parts = line.split()
                if len(parts) >= 2:
                    by_fn[(fl, fn)] += int(parts[1])
    return by_fn


def measure(which: str, n: int, tmp: str) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    runs = []
    for iters in (0, n):
        out = os.path.join(tmp, f"{which}.{iters}")
        subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                        f"--cachegrind-out-file={out}", sys.executable, "-m",
                        "benchmarks.engine_instructions", "--child", which, str(iters)],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append(counts(out))
    by_place: collections.Counter = collections.Counter()
    for key in set(runs[0]) | set(runs[1]):
        by_place[place(*key)] += (runs[1][key] - runs[0][key]) / n
    return {p: float(v) for p, v in by_place.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--json", metavar="OUT.json")
    ap.add_argument("--child", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return {}
    if args.iters < 1:
        ap.error("--iters must be positive")
    if shutil.which("valgrind") is None:
        ap.error("valgrind is not on the PATH")
    with tempfile.TemporaryDirectory() as tmp:
        res = {which: measure(which, args.iters, tmp) for which in CASES}
    places = sorted(set(res["engine"]) | set(res["dedicated"]),
                    key=lambda p: -res["engine"].get(p, 0.0))
    print(f"ez2021 GD (3), d = 30: instructions per iteration ({args.iters} iterations)")
    print(f"{'where':<18}{'engine':>12}{'dedicated':>12}")
    for p in places + ["total"]:
        e = sum(res["engine"].values()) if p == "total" else res["engine"].get(p, 0.0)
        d = sum(res["dedicated"].values()) if p == "total" else res["dedicated"].get(p, 0.0)
        print(f"{p:<18}{e / 1e3:>11.1f}k{d / 1e3:>11.1f}k")
    if args.json:
        write_text(args.json, json.dumps({"iters": args.iters, **res}, indent=2))
    return res


if __name__ == "__main__":
    main()
