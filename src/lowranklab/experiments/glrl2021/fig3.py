"""`glrl2021.fig3`: GLRL vs GD (not-so-small init) vs minimum nuclear norm vs R1MP on the
canonical instance (seed 3759, p = 0.25, spec §2.1/§2.4), plus the success fraction of GLRL and
of the PSD trace minimiser over random instances.

Panel (a): test loss ‖W − W*‖²_F/d² (solid) and train loss (dotted) against continuous time for
GD (depth 2, ‖W(0)‖_F = 1e-3) and GLRL (phases concatenated), with horizontal lines for the
convex baselines and R1MP(r_max). Panel (b): loss against rank r for GLRL (at W̄_r) and R1MP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.experiments.base import (
    SPEC_PILOT,
    Claim,
    Context,
    Experiment,
    ExperimentConfig,
    register,
)
from lowranklab.experiments.glrl2021._common import PAPER, TITLE, depth2_init
from lowranklab.problems.glrl_instances import canonical_instance
from lowranklab.solvers.greedy import descend, glrl, r1mp


class Fig3Config(ExperimentConfig):
    instance_seed: int = 3759
    p: float = 0.25
    epsilon: float = 1e-7
    glrl_step: float = 1e-3  # paper: η = 1e-3 (App. C.1)
    gd_init: float = 1e-3
    gd_step: float = 1e-3
    gd_iters: int = 1_000_000  # paper: 1e6 iterations (T = 1000)
    gd_seeds: int = 10
    record_every: int = 1000
    r_max: int = 20
    n_instances: int = 12
    success_tol: float = 1e-6  # test loss counted as exact recovery
    cvxpy: bool = True


def _losses(inst, W):
    return inst.test_loss(W), inst.loss.train_loss(W)


def _convex(inst):
    from lowranklab.solvers.convex import min_nuclear_norm, min_trace_psd

    op, b = inst.loss.mask_operator()
    psd = min_trace_psd(op, b, eps=1e-9)
    # general nuclear norm: X_ij = X_ji = W*_ij on observed pairs (spec §1.8, secondary)
    from lowranklab.operators import EntrySampling

    both = EntrySampling(np.concatenate([op.rows, op.cols]), np.concatenate([op.cols, op.rows]),
                         op.shape_in)
    keep = np.ones(both.m, dtype=bool)
    keep[op.m:] = op.rows != op.cols  # diagonal entries once
    both = EntrySampling(both.rows[keep], both.cols[keep], op.shape_in)
    nuc = min_nuclear_norm(both, np.concatenate([b, b])[keep], eps=1e-9)
    return psd.X, nuc.X


def run(cfg: Fig3Config, ctx: Context) -> dict[str, pd.DataFrame]:
    inst = canonical_instance(cfg.instance_seed, cfg.p)
    curves, summary, ranks = [], [], []
    # GLRL with its trajectory
    rec_glrl = []

    def cb(state):
        if state.iteration % cfg.record_every == 0:
            U = state.theta.reshape(inst.d, -1)
            rec_glrl.append((state.iteration * cfg.glrl_step, *_losses(inst, U @ U.T)))

    ctx.log("GLRL on the canonical instance")
    res = glrl(inst.loss, epsilon=cfg.epsilon, step=cfg.glrl_step, callbacks=[cb])
    for t, te, tr in rec_glrl:
        curves.append({"method": "GLRL", "seed": 0, "t": t, "test": te, "train": tr})
    for r, U in enumerate(res.info["critical_points"]):
        te, tr = _losses(inst, U @ U.T)
        ranks.append({"method": "GLRL", "r": r, "test": te, "train": tr})
        curves.append({"method": "GLRL", "seed": 0, "t": res.info["phases"][r - 1]["t_end"]
                       if r else 0.0, "test": te, "train": tr})
    W_glrl = res.X.dense()
    summary.append({"method": "GLRL", "seed": 0, **dict(zip(("test", "train"),
                                                           _losses(inst, W_glrl),
                                                           strict=True))})
    # GD, depth 2, small balanced init
    for s in ctx.progress(range(cfg.gd_seeds), "GD seed"):
        U0 = depth2_init(inst.d, cfg.gd_init, ctx.rng)

        def gcb(st, s=s):
            if st.iteration % cfg.record_every == 0:
                U = st.point.reshape(inst.d, -1)
                curves.append({"method": "GD", "seed": s, "t": st.extra["t"],
                               **dict(zip(("test", "train"), _losses(inst, U @ U.T),
                                          strict=True))})

        gd = descend(inst.loss, U0, step=cfg.gd_step, gtol=0.0, max_iter=cfg.gd_iters,
                     callbacks=[gcb])
        U = gd.factors[0]
        summary.append({"method": "GD", "seed": s,
                        **dict(zip(("test", "train"), _losses(inst, U @ U.T), strict=True))})
    # R1MP
    rr = r1mp(inst.loss, cfg.r_max)
    A = rr.info["atoms"]
    for r, a in enumerate(rr.info["coefficients"], 1):
        te, tr = _losses(inst, (A[:, :r] * a) @ A[:, :r].T)
        ranks.append({"method": "R1MP", "r": r, "test": te, "train": tr})
    # (r = the atoms taken: r_max unless R1MP converged, ∇f(W) = 0, before it)
    summary.append({"method": f"R1MP (r={rr.iterations})", "seed": 0,
                    **dict(zip(("test", "train"), _losses(inst, rr.X.dense()), strict=True))})
    # convex baselines
    if cfg.cvxpy:
        try:
            Xpsd, Xnuc = _convex(inst)
            for name, X in (("min trace (PSD)", Xpsd), ("min nuclear norm", Xnuc)):
                summary.append({"method": name, "seed": 0,
                                **dict(zip(("test", "train"), _losses(inst, X), strict=True))})
        except ImportError:
            ctx.log("cvxpy missing: skipping the convex baselines")
    # success over random instances (Armijo inner steps: the same critical points, faster)
    inst_rows = []
    seeds = ctx.rng.integers(0, 2**31, size=cfg.n_instances)
    for k in ctx.progress(range(cfg.n_instances), "random instance"):
        I = canonical_instance(int(seeds[k]), cfg.p)
        rg = glrl(I.loss, epsilon=cfg.epsilon, step=None, max_iter=50_000, max_rank=10,
                  max_norm=1e4 * I.d)
        row = {"instance": k, "instance_seed": int(seeds[k]), "glrl_test": I.test_loss(
            rg.X.dense()), "glrl_rank": rg.info["rank"], "glrl_stop": rg.stop.value,
            "tracemin_test": np.nan}
        if cfg.cvxpy:
            try:
                row["tracemin_test"] = I.test_loss(_convex(I)[0])
            except ImportError:
                pass
        inst_rows.append(row)
    inst_df = pd.DataFrame(inst_rows)
    inst_df["glrl_success"] = inst_df.glrl_test <= cfg.success_tol
    inst_df["tracemin_success"] = inst_df.tracemin_test <= cfg.success_tol
    return {"curves": pd.DataFrame(curves), "summary": pd.DataFrame(summary),
            "ranks": pd.DataFrame(ranks), "instances": inst_df}


def claims(tables, cfg: Fig3Config) -> list[Claim]:
    s = tables["summary"]
    inst = tables["instances"]
    g = float(s[s.method == "GLRL"].test.iloc[0])
    others = s[s.method != "GLRL"].groupby("method").test.mean()
    out = [Claim("glrl_exact", "GLRL recovers W* exactly on the canonical instance (p = 0.25)",
                 f"test ~1e-17 (7e-18, {SPEC_PILOT})", g, g < 1e-10)]
    out.append(Claim("others_not_exact", "GD (init 1e-3), R1MP and the minimum nuclear norm "
                     "solutions do not recover W* (test loss ≥ 100 × GLRL's and > 1e-4)",
                     f"GD 6.2e-2, R1MP 0.25, trace-min 3.6e-2, nuclear 8.7e-2 ({SPEC_PILOT})",
                     {k: float(v) for k, v in others.items()},
                     bool(np.all(others.values > max(100 * g, 1e-4)))))
    r1 = tables["ranks"]
    rm = float(r1[(r1.method == "R1MP") & (r1.r == r1[r1.method == "R1MP"].r.max())].test.iloc[0])
    paper_r = type(cfg).model_fields["r_max"].default
    out.append(Claim("r1mp_plateau", "R1MP's test loss stays large (spec T19: 0.1–0.4 at r = 20)",
                     f"[0.1, 0.4] ({SPEC_PILOT})", rm,
                     0.1 <= rm <= 0.4 if cfg.r_max == paper_r else rm > 1e-3,
                     standard=None if cfg.r_max == paper_r else
                     f"loosened: r_max = {cfg.r_max} (paper size: {paper_r}), test > 1e-3"))
    fg = float(inst.glrl_success.mean())
    ft = float(inst.tracemin_success.mean()) if inst.tracemin_test.notna().any() else np.nan
    # one criterion whatever is installed: without the trace minimiser (cvxpy missing or
    # cfg.cvxpy off) the comparison cannot be made, and the claim fails instead of changing
    out.append(Claim("success_fraction", f"over {len(inst)} random instances GLRL recovers W* "
                     "more often than the PSD trace minimiser",
                     f"GLRL 8/12, trace-min 2/12 ({SPEC_PILOT})",
                     {"GLRL": fg, "trace-min": ft if np.isfinite(ft) else "not computed"},
                     bool(np.isfinite(ft) and fg > ft)))
    return out


def plot(tables, cfg: Fig3Config):
    import matplotlib.pyplot as plt

    c, s, r = tables["curves"], tables["summary"], tables["ranks"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    gl = c[c.method == "GLRL"].sort_values("t")
    ax.plot(gl.t, gl.test, "C0-", label="GLRL test")
    ax.plot(gl.t, gl.train, "C0:", label="GLRL train")
    for i, (_seed, g) in enumerate(c[c.method == "GD"].groupby("seed")):
        g = g.sort_values("t")
        ax.plot(g.t, g.test, "C1-", alpha=0.6, lw=1, label="GD test" if i == 0 else None)
        ax.plot(g.t, g.train, "C1:", alpha=0.6, lw=1, label="GD train" if i == 0 else None)
    for name, col in (("min trace (PSD)", "C2"), ("min nuclear norm", "C3"),
                      ("R1MP (r=", "C4")):
        row = s[s.method.str.startswith(name)]
        if len(row):
            ax.axhline(float(row.test.iloc[0]), color=col, ls="--", lw=1,
                       label=f"{row.method.iloc[0]} test")
    ax.set_yscale("log")
    ax.set_xlabel("continuous time t")
    ax.set_ylabel("loss (test ‖W−W*‖²/d², train dotted)")
    ax.set_ylim(bottom=1e-20)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("(a) loss vs time")
    ax = axes[1]
    for name, col in (("GLRL", "C0"), ("R1MP", "C4")):
        g = r[r.method == name]
        ax.plot(g.r, g.test, "o-", color=col, label=f"{name} test")
        ax.plot(g.r, g.train, "o:", color=col, label=f"{name} train")
    ax.set_yscale("log")
    ax.set_xlabel("rank r")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    inst = tables["instances"]
    ax.set_title(f"(b) loss vs rank; success over {len(inst)} instances: GLRL "
                 f"{int(inst.glrl_success.sum())}, trace-min {int(inst.tracemin_success.sum())}",
                 fontsize=9)
    fig.suptitle(f"{TITLE}, Figure 3: GLRL vs GD vs min nuclear norm vs R1MP "
                 f"(seed {cfg.instance_seed}, p = {cfg.p})")
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="glrl2021.fig3", paper=PAPER, figure="Fig. 3",
    summary="GLRL recovers W* exactly; GD, R1MP and the min nuclear norm do not",
    config=Fig3Config, run=run, claims=claims, plot=plot,
    quick={"glrl_step": 1e-2, "gd_step": 1e-2, "gd_iters": 20_000, "gd_seeds": 2,
           "record_every": 200, "n_instances": 12},
))
