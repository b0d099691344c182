"""Imputing scikit-learn's bundled `load_digits` (a 1797×64 matrix) with entries removed:
lowranklab.MatrixCompletion beside SoftImpute and the column mean, on the same mask.

    python examples/digits_imputation.py --missing 0.5 --out examples/out
    python examples/digits_imputation.py --rows 400 --out /tmp/digits     # CI size

Writes OUT/digits.json (RMSE on the removed entries, seconds) and OUT/digits.png (a few
digits: original, observed, each completion).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from softimpute import peer  # noqa: E402

from lowranklab import MatrixCompletion  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--missing", type=float, default=0.5)
    ap.add_argument("--rows", type=int, default=1797, help="use the first ROWS digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peer", default="faithful", help="faithful or fancyimpute")
    ap.add_argument("--out", type=Path, default=Path("examples/out"))
    a = ap.parse_args(argv)
    from sklearn.datasets import load_digits

    D = load_digits().data[: a.rows].astype(float)
    keep = np.random.default_rng(a.seed).random(D.shape) >= a.missing
    X = np.where(keep, D, np.nan)
    col_mean = np.nanmean(X, axis=0)
    methods = {
        "lowranklab MatrixCompletion(rank='auto')":
            lambda: MatrixCompletion(random_state=a.seed).fit_transform(X),
        f"SoftImpute ({a.peer})": lambda: peer(a.peer)(X),
        "column mean": lambda: np.where(keep, D, np.nan_to_num(col_mean)[None, :]),
    }
    results, filled = {}, {}
    for name, run in methods.items():
        t = time.perf_counter()
        F = run()
        rmse = float(np.sqrt(np.mean((F - D)[~keep] ** 2)))
        results[name] = {"rmse_missing": rmse, "seconds": time.perf_counter() - t}
        filled[name] = F
        print(f"{name:44s} RMSE {rmse:7.4f}  {results[name]['seconds']:6.1f} s")
    a.out.mkdir(parents=True, exist_ok=True)
    summary = {"data": "sklearn.datasets.load_digits", "rows": int(D.shape[0]),
               "missing": a.missing, "seed": a.seed, "results": results}
    (a.out / "digits.json").write_text(json.dumps(summary, indent=2))
    _figure(D, X, filled, a.out / "digits.png")
    print(f"wrote {a.out / 'digits.png'} and {a.out / 'digits.json'}")
    return summary


def _figure(D, X, filled, path, n=6) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("original", D), ("observed", np.nan_to_num(X, nan=-4.0))] + list(filled.items())
    fig, axes = plt.subplots(len(rows), n, figsize=(1.4 * n, 1.5 * len(rows)))
    for r, (name, M) in enumerate(rows):
        for k in range(n):
            ax = axes[r, k]
            ax.imshow(M[k].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name.split(" (")[0].replace("lowranklab ", ""), fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
