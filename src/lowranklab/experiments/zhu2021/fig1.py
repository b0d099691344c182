"""`zhu2021.fig1`: Fig. 1 of Zhu, Li, Tang & Wakin — the landscape of the weighted-PCA example
h(u) = ½‖Ω ⊙ (uuᵀ − 11ᵀ)‖²_F, u ∈ R² (Remark 4, eq. (21)), for (a) Ω = 11ᵀ (no spurious
minima) and (b) Ω = [[8, 1], [1, 8]] (spurious minima), with the critical points marked, and
the threshold: for Ω = [[w, 1], [1, w]] the points ±x(1, −1), x² = (w² − 1)/(w² + 1), are
spurious local minima exactly when w² = b/a > 3 (seed002 spec §1.9, derived there).
The paper gives no plot range; we use [−2, 2]² as the spec suggests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.experiments.base import Claim, Context, Experiment, ExperimentConfig, register
from lowranklab.experiments.zhu2021._common import (
    PAPER,
    hessian_eigenvalues,
    weighted_pca_multistart,
    weighted_pca_objective,
)
from lowranklab.landscape.closed_forms import weighted_pca_critical_points


class Fig1Config(ExperimentConfig):
    ws: list[float] = [1.0, 8.0]  # the two panels of Fig. 1
    grid: int = 201
    box: float = 2.0
    starts: int = 200  # multistart BFGS per panel
    sweep_w2: list[float] = [1.0, 2.0, 2.9, 2.96, 3.03, 3.1, 4.0, 9.0, 25.0, 64.0]


def run(cfg: Fig1Config, ctx: Context) -> dict[str, pd.DataFrame]:
    xs = np.linspace(-cfg.box, cfg.box, cfg.grid)
    land, crit, ms = [], [], []
    for w in ctx.progress(cfg.ws, "panel"):
        obj = weighted_pca_objective(w)
        for u1 in xs:
            for u2 in xs:
                land.append({"w": w, "u1": u1, "u2": u2, "h": obj.value(np.array([u1, u2]))})
        for p in weighted_pca_critical_points(w):
            lam = hessian_eigenvalues(obj, p.u)
            crit.append({"w": w, "u1": p.u[0], "u2": p.u[1], "kind": p.kind, "h": p.value,
                         "h_numeric": obj.value(p.u),
                         "grad_norm": float(np.linalg.norm(obj.grad(p.u))),
                         "lam1_closed": p.hessian_eigenvalues[0],
                         "lam2_closed": p.hessian_eigenvalues[1],
                         "lam1": lam[0], "lam2": lam[1]})
        starts = ctx.rng.uniform(-cfg.box, cfg.box, size=(cfg.starts, 2))
        ms.append(weighted_pca_multistart(w, starts))
    sweep = []
    for w2 in cfg.sweep_w2:
        w = float(np.sqrt(w2))
        pts = weighted_pca_critical_points(w)
        pair = [p for p in pts if p.kind not in ("global_minimizer",) and np.any(p.u != 0)]
        e1 = 4 * w2 * (w2 - 3) / (w2 + 1)  # Hessian eigenvalue along (1, 1) at ±x(1, −1)
        sweep.append({"w": w, "w2": w2, "b_over_a": w2, "lam_11_closed": e1,
                      "n_spurious_closed": sum(p.kind == "spurious_minimizer" for p in pair),
                      "lam_min_numeric": (float(hessian_eigenvalues(
                          weighted_pca_objective(w), pair[0].u)[0]) if pair else np.nan)})
    crit_df = pd.DataFrame(crit)
    with pd.option_context("display.width", 160, "display.float_format", "{:.5g}".format):
        ctx.log("critical points (closed form, checked numerically)\n"
                + crit_df[["w", "u1", "u2", "kind", "h", "grad_norm", "lam1", "lam2"]]
                .to_string(index=False))
    return {"landscape": pd.DataFrame(land), "critical": crit_df,
            "multistart": pd.concat(ms, ignore_index=True), "sweep": pd.DataFrame(sweep)}


def claims(tables, cfg: Fig1Config) -> list[Claim]:
    crit, ms, sw = tables["critical"], tables["multistart"], tables["sweep"]
    out = []
    err = float(np.max(np.abs(np.c_[crit.lam1 - crit.lam1_closed, crit.lam2 - crit.lam2_closed])))
    out.append(Claim(
        id="closed-forms",
        statement="the closed-form critical points are critical (‖∇h‖ ≈ 0) with the closed-form "
                  "values and Hessian eigenvalues",
        paper_value="seed002 spec §1.9",
        measured={"max_grad": float(crit.grad_norm.max()), "max_eig_err": err,
                  "max_value_err": float((crit.h - crit.h_numeric).abs().max())},
        holds=bool(crit.grad_norm.max() < 1e-10 and err < 1e-8
                   and (crit.h - crit.h_numeric).abs().max() < 1e-10)))
    for w in cfg.ws:
        g = ms[ms.w == w]
        spur = g[g.kind == "spurious_min"]
        want = w * w > 3
        closed = crit[(crit.w == w) & (crit.kind == "spurious_minimizer")]
        match = True
        if want and len(spur):
            match = bool(np.all(np.isclose(spur.h, closed.h.iloc[0], atol=1e-8)))
        out.append(Claim(
            id=f"spurious-w{w:g}",
            statement=f"Ω = [[{w:g}, 1], [1, {w:g}]]: multistart BFGS "
                      f"{'finds' if want else 'finds no'} spurious local minima",
            paper_value=("spurious minima, h = 256/65 ≈ 3.93846 at ±(0.98453, −0.98453)"
                         if w == 8 else ("spurious minima" if want else "none (Fig. 1a)")),
            measured={"n_spurious": int(len(spur)), "n_global": int((g.kind == "global").sum()),
                      "n_starts": int(len(g)),
                      "h_spurious": float(spur.h.mean()) if len(spur) else None},
            holds=bool((len(spur) > 0) == want and match
                       and (g.kind != "not_converged").all())))
    ok = bool(np.all((sw.n_spurious_closed > 0) == (sw.w2 > 3))
              and np.all((sw.lam_min_numeric > 0) == (sw.w2 > 3)))
    out.append(Claim(
        id="threshold-w2-3",
        statement="±x(1, −1) are spurious local minima exactly when w² = b/a > 3 (closed form "
                  "and numerical Hessian agree across the sweep)",
        paper_value="threshold b/a = 3",
        measured={"w2_with_spurious": sw.w2[sw.n_spurious_closed > 0].tolist()},
        holds=ok))
    return out


def plot(tables, cfg: Fig1Config):
    import matplotlib.pyplot as plt

    land, crit, sw = tables["landscape"], tables["critical"], tables["sweep"]
    fig, axes = plt.subplots(1, len(cfg.ws) + 1, figsize=(5.2 * (len(cfg.ws) + 1), 4.6))
    style = {"global_minimizer": ("*", "gold", "global min"),
             "spurious_minimizer": ("o", "red", "spurious local min"),
             "strict_saddle": ("X", "white", "strict saddle"),
             "saddle": ("X", "white", "saddle")}
    for ax, w, letter in zip(axes, cfg.ws, "abcdefgh", strict=False):
        g = land[land.w == w]
        n = int(np.sqrt(len(g)))
        H = g.h.to_numpy().reshape(n, n).T  # rows: u2, cols: u1
        xs = np.sort(g.u1.unique())
        cs = ax.contourf(xs, xs, np.log10(1 + H), levels=30, cmap="viridis")
        ax.contour(xs, xs, np.log10(1 + H), levels=15, colors="k", linewidths=0.3)
        fig.colorbar(cs, ax=ax, label=r"$\log_{10}(1 + h(u))$")
        seen = set()
        for _, p in crit[crit.w == w].iterrows():
            mk, col, lab = style[p.kind]
            ax.plot(p.u1, p.u2, mk, color=col, mec="k", ms=12,
                    label=None if lab in seen else lab)
            seen.add(lab)
        ax.set_xlabel("$u_1$")
        ax.set_ylabel("$u_2$")
        ax.set_aspect("equal")
        ax.set_title(f"({letter}) Ω = [[{w:g}, 1], [1, {w:g}]]")
        ax.legend(fontsize=7, loc="lower left")
    ax = axes[-1]
    ax.semilogx(sw.w2, sw.lam_11_closed, "o-", label="closed form $4w^2(w^2-3)/(w^2+1)$")
    ax.semilogx(sw.w2, sw.lam_min_numeric, "k+", ms=10, label="numerical λ_min")
    ax.axhline(0, color="gray", lw=0.8)
    ax.axvline(3, color="red", ls="--", label="$w^2 = b/a = 3$")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("$w^2 = b/a$")
    ax.set_ylabel(r"$\lambda_{\min}(\nabla^2 h)$ at $\pm x(1,-1)$")
    ax.set_title("(c) spurious minima iff $w^2 > 3$")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{PAPER}, Fig. 1: weighted PCA "
                 r"$h(u)=\frac{1}{2}\|\Omega\odot(uu^T-X^\star)\|_F^2$")
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="zhu2021.fig1", paper="zhu2021", figure="Fig. 1",
    summary="weighted-PCA landscapes with critical points; spurious minima iff w² > 3",
    config=Fig1Config, run=run, claims=claims, plot=plot,
    quick={"grid": 121, "starts": 100},
))
