"""Phase-transition plots: the success probability over two grid axes as a heat map, with its
50 % contour and the theory's boundary where the family has one (families.FAMILIES[...]
.boundaries: e.g. sensing m = r(2d − r + 1)/2, the degrees of freedom of a PSD rank-r matrix;
completion f n1 n2 = r(n1 + n2 − r); min-norm factorization p(p + 1)/2 = m, Pataki's bound).

One panel per combination of the other grid axes (e.g. one per solver). The probability at a
cell is the fraction of its done tasks (over seeds) that meet the spec's success criterion;
cells with no done task are left blank (grey).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lowranklab.sweep.families import FAMILIES
from lowranklab.sweep.store import SweepStore

BOUNDARY_LABELS = {
    ("sensing", "dof"): r"theory: $m = r(2d-r+1)/2$ (degrees of freedom)",
    ("completion", "dof"): r"theory: $f\,n_1 n_2 = r(n_1+n_2-r)$ (degrees of freedom)",
    ("min_norm", "pataki"): r"theory: $p(p+1)/2 = m$ (Pataki)",
}


def success_grid(tasks: pd.DataFrame, x: str, y: str, xs: list, ys: list) -> tuple[
        np.ndarray, np.ndarray]:
    """(P, N): P[i, j] the success fraction at (ys[i], xs[j]) over its done tasks, N the count."""
    P = np.full((len(ys), len(xs)), np.nan)
    N = np.zeros((len(ys), len(xs)), dtype=int)
    done = tasks[tasks.status == "done"]
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            cell = done[(done[x] == xv) & (done[y] == yv)]
            N[i, j] = len(cell)
            if len(cell):
                P[i, j] = float(cell.success.astype(bool).mean())
    return P, N


def _axis_pos(values: list, v: float) -> float | None:
    """Fractional index of value v on an axis drawn at positions 0..n-1 (linear between grid
    values); None outside the axis."""
    vals = np.asarray(values, dtype=float)
    order = np.argsort(vals)
    sv, idx = vals[order], np.arange(len(vals), dtype=float)[order]
    if len(sv) == 1:
        return 0.0 if np.isclose(v, sv[0]) else None
    if v < sv[0] - 1e-12 or v > sv[-1] + 1e-12:
        return None
    return float(np.interp(v, sv, idx))


def phase_figure(store: SweepStore, x: str, y: str, boundary: str | None = None):
    """The matplotlib figure of the phase transition of the sweep in `store`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import patheffects

    spec = store.spec_json() or {}
    grid = spec.get("grid", {})
    for ax_name, v in (("x", x), ("y", y)):
        if v not in grid:
            raise ValueError(f"--{ax_name} must be a grid axis of this sweep {sorted(grid)}, "
                             f"got {v!r}")
    if x == y:
        raise ValueError(f"--x and --y must differ, both are {x!r}")
    family = spec.get("family")
    bfns = FAMILIES[family].boundaries.get(boundary) if boundary else None
    if boundary and bfns is None:
        raise ValueError(f"family {family} has no boundary {boundary!r}; known: "
                         f"{sorted(FAMILIES[family].boundaries) or 'none'}")
    if bfns is not None and x not in bfns and y not in bfns:
        raise ValueError(f"boundary {boundary!r} is a value of {sorted(bfns)}; put one of them "
                         f"on --x or --y")
    tasks = store.tasks_frame()
    if tasks.empty or not (tasks.status == "done").any():
        raise ValueError(f"{store.directory}: no done task to plot yet")
    xs, ys = grid[x], grid[y]
    facets = [k for k in grid if k not in (x, y)]
    combos = [()] if not facets else [tuple(json.loads(v) for v in c) for c in dict.fromkeys(
        tuple(_key(r[k]) for k in facets) for _, r in tasks.iterrows())]
    point_params = store.point_params()
    n = len(combos)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n + 1.2, 4.8), squeeze=False,
                             constrained_layout=True)
    im = None
    for ax, combo in zip(axes[0], combos, strict=True):
        sub = tasks
        for k, v in zip(facets, combo, strict=True):
            sub = sub[sub[k].map(_key) == _key(v)]
        P, N = success_grid(sub, x, y, xs, ys)
        im = ax.imshow(np.ma.masked_invalid(P), origin="lower", aspect="auto", vmin=0, vmax=1,
                       cmap="viridis", interpolation="nearest")
        ax.set_facecolor("0.85")
        if min(P.shape) >= 2 and np.isfinite(P).sum() >= 4:
            Pf = np.where(np.isfinite(P), P, 0.0)
            halo = [patheffects.Stroke(linewidth=4, foreground="black"), patheffects.Normal()]
            cs = ax.contour(np.arange(len(xs)), np.arange(len(ys)), Pf, levels=[0.5],
                            colors="white", linewidths=2)
            cs.set(path_effects=halo)
            if cs.allsegs and any(len(s) for s in cs.allsegs[0]):
                ax.plot([], [], color="white", lw=2, path_effects=halo, label="50 % success")
        if bfns is not None:
            _draw_boundary(ax, bfns, x, y, xs, ys, dict(zip(facets, combo, strict=True)),
                           point_params, BOUNDARY_LABELS.get((family, boundary), boundary))
        ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs], rotation=45 if len(xs) > 8 else 0)
        ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(y))
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(-0.5, len(ys) - 0.5)
        seeds = int(N.max()) if N.size else 0
        ttl = ", ".join(f"{k}={_fmt(v)}" for k, v in zip(facets, combo, strict=True))
        ax.set_title((ttl + "\n" if ttl else "") + f"{seeds} seed(s) per cell", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=1,
                      frameon=False)
    fig.colorbar(im, ax=axes[0].tolist(), label=f"P(success: {spec.get('success')})")
    fig.suptitle(f"{spec.get('name', 'sweep')}: {family}"
                 + (f" {spec.get('experiment')}" if spec.get("experiment") else "")
                 + " — phase transition")
    return fig


def _draw_boundary(ax, fns, x, y, xs, ys, facet, point_params, label) -> None:
    """The boundary as a polyline: for each value of the other axis, the value of the axis the
    boundary solves for (x when it can, else y), at the parameters of that grid point."""
    solve, other, other_vals = (x, y, ys) if x in fns else (y, x, xs)
    pts = []
    for j, ov in enumerate(other_vals):
        params = _params_at(point_params, {**facet, other: ov})
        if params is None:
            continue
        pos = _axis_pos(xs if solve == x else ys, float(fns[solve](params)))
        if pos is None:
            continue
        pts.append((pos, j) if solve == x else (j, pos))
    if not pts:
        return
    if len(pts) == 1:  # one value of the other axis: a full line across
        px, py = pts[0]
        if solve == x:
            ax.axvline(px, color="red", ls="--", lw=2, label=label)
        else:
            ax.axhline(py, color="red", ls="--", lw=2, label=label)
        return
    a = np.array(pts, dtype=float)
    ax.plot(a[:, 0], a[:, 1], color="red", ls="--", lw=2, label=label)


def _params_at(point_params: list[tuple[dict, dict]], want: dict[str, Any]) -> dict | None:
    for point, params in point_params:
        if all(_key(point.get(k)) == _key(v) for k, v in want.items()):
            return params
    return None


def _key(v: Any) -> str:
    return json.dumps(v, default=str)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


_LABELS = {"oversampling": "oversampling $m/(dr)$", "init_rank": "rank of $U_0$ ($k$)",
           "fraction": "observed fraction", "r": "rank $r$", "m": "measurements $m$",
           "p": "columns of $U$ ($p$)", "d": "dimension $d$"}


def _label(name: str) -> str:
    return _LABELS.get(name, name)


def draw_phase(directory: str | Path, x: str, y: str, boundary: str | None = None,
               out: str | Path | None = None) -> Path:
    """Draw the phase-transition figure of the sweep in DIR to `out` (default
    DIR/phase_X_Y.png) and return its path."""
    import matplotlib.pyplot as plt

    store = SweepStore(directory)
    fig = phase_figure(store, x, y, boundary)
    path = Path(out) if out is not None else Path(directory) / f"phase_{x}_{y}.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
