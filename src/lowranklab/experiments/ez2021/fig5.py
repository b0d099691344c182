"""ez2021 Figure 5: Algorithm 1 (restart when convergence is linear) against plain GD (3) from the
same initialization. Setup of Example 1.1 with fresh data, ‖U₀‖_F = ρ₀ = 10, η = 5·10⁻⁶,
W = 100, τ = 0.998, r₀ = 30, Δ_rank = 3, factor = 1/2, r = 2 (paper L246); K = 5·10⁴ with the
eps stop (proposed). The literal algorithm keeps restarting successful rank-2 runs (spec §3.3),
so the headline curve uses the labelled option restart_policy="until_target_rank"; the literal
("paper") policy is run as well and shown for reference (`show_literal`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from lowranklab.experiments.base import Claim, Context, Experiment, ExperimentConfig, register
from lowranklab.experiments.ez2021 import CITATION, PAPER
from lowranklab.experiments.ez2021._common import TEST_LABEL, TRAIN_LABEL
from lowranklab.models.init import rank_k_init
from lowranklab.problems.ez2021 import MACHINE_EPS, example_instance
from lowranklab.solvers.restart import restart_gd
from lowranklab.solvers.sensing_gd import sensing_gd


class Fig5Config(ExperimentConfig):
    d: int = Field(30, ge=2)
    r: int = Field(2, ge=1)  # rank of X♮ and the rank floor r of Algorithm 1
    m: int | None = None  # default 4rd
    rho0: float = Field(10.0, gt=0)  # ‖U₀‖_F
    eta: float = Field(5e-6, gt=0)
    window: int = Field(100, ge=2)  # W
    tau: float = Field(0.998, ge=0)
    r0: int = Field(30, ge=1)
    delta_rank: int = Field(3, ge=1)
    factor: float = Field(0.5, gt=0, lt=1)
    max_iter: int = Field(50_000, ge=1)  # K (proposed)
    eps: float = Field(MACHINE_EPS, gt=0)
    restart_policy: Literal["paper", "until_target_rank"] = "until_target_rank"  # headline run
    window_mode: Literal["paper", "fresh"] = "paper"
    max_restarts: int | None = None
    show_literal: bool = True  # also run the literal policy (restart_policy="paper")
    record_every: int = Field(10, ge=1)


def _alg1(inst, U0, cfg: Fig5Config, policy: str, rng):
    return restart_gd(inst, step=cfg.eta, max_iter=cfg.max_iter, window=cfg.window,
                      tau=cfg.tau, r0=cfg.r0, rho0=cfg.rho0, delta_rank=cfg.delta_rank,
                      factor=cfg.factor, r=cfg.r, rng=rng, U0=U0, window_mode=cfg.window_mode,
                      restart_policy=policy, max_restarts=cfg.max_restarts, tol=cfg.eps,
                      record_every=cfg.record_every, dense_until=0)


def run(cfg: Fig5Config, ctx: Context) -> dict[str, pd.DataFrame]:
    streams = ctx.rng.spawn(4)  # children 0, 1 are Figs 1–3's streams: the data here is fresh
    inst = example_instance(cfg.d, cfg.r, cfg.m, streams[2])
    init_rng = streams[3]
    U0 = rank_k_init((cfg.d, cfg.d), cfg.r0, cfg.rho0, init_rng)
    restart_seed = init_rng.integers(2**32)
    ctx.log(f"d={cfg.d}, m={inst.m}, ‖U0‖_F={cfg.rho0:g}, η={cfg.eta:g}")
    runs = [("gd", "plain GD (3)")]
    runs.append(("alg1", f"Algorithm 1 ({cfg.restart_policy})"))
    if cfg.show_literal and cfg.restart_policy != "paper":
        runs.append(("alg1_literal", "Algorithm 1 (paper, literal)"))
    traces, summary, events = [], [], []
    for key, label in ctx.progress(runs, "method"):
        if key == "gd":
            res = sensing_gd(inst, U0, step=cfg.eta, max_iter=cfg.max_iter, tol=cfg.eps,
                             record_every=cfg.record_every)
        else:
            policy = cfg.restart_policy if key == "alg1" else "paper"
            res = _alg1(inst, U0, cfg, policy, np.random.default_rng(restart_seed))
            for j, ev in enumerate(res.info["restarts"]):
                events.append({"method": key, "index": j, **ev})
        ctx.log(f"  {label}: {res}")
        df = res.trace.to_frame()[["iter", "train_error", "test_error"]]
        df.insert(0, "method", key)
        traces.append(df)
        summary.append({"method": key, "label": label, "stop": res.stop.value,
                        "iterations": res.iterations,
                        "final_train": res.info["final_train_error"],
                        "final_test": res.info["final_test_error"],
                        "n_restarts": res.info.get("n_restarts", 0),
                        "final_r0": res.info.get("final_r0", cfg.r0)})
    ev_cols = ["method", "index", "k", "ratio", "train_error", "r0", "rho0", "new_rank",
               "new_norm"]
    return {"trace": pd.concat(traces, ignore_index=True), "runs": pd.DataFrame(summary),
            "restarts": pd.DataFrame(events, columns=ev_cols)}


def claims(tables, cfg: Fig5Config) -> list[Claim]:
    runs = tables["runs"].set_index("method")
    ev = tables["restarts"]
    gd, a1 = runs.loc["gd"], runs.loc["alg1"]
    out = [
        Claim(id="outperforms_gd",
              statement="Algorithm 1 considerably outperforms GD (3) with the same "
                        "initialization (final test error at least 1e6× smaller)",
              paper_value="'considerably outperforms' (L246)",
              measured={"alg1": float(a1.final_test), "gd": float(gd.final_test)},
              holds=bool(a1.final_test * 1e6 <= gd.final_test)),
        Claim(id="gd_no_implicit_bias",
              statement="plain GD from a rank-30 U₀ with ‖U₀‖_F = 10 fits the data but is not "
                        "biased towards X♮ (test error ≥ 1)",
              paper_value="high-rank, high-norm init is detrimental (L246)",
              measured={"train": float(gd.final_train), "test": float(gd.final_test)},
              holds=bool(gd.final_test >= 1)),
        Claim(id="restarts_reach_target_rank",
              statement="the restarts lower the initialization rank from r₀ to the floor r",
              paper_value=f"r₀ → max(r₀ − jΔ, r): {cfg.r0} → {cfg.r}",
              measured={"n_restarts": int(a1.n_restarts), "final_r0": int(a1.final_r0),
                        "ranks": ev[ev.method == "alg1"].r0.astype(int).tolist()},
              holds=bool(a1.n_restarts > 0 and a1.final_r0 == cfg.r)),
    ]
    if "alg1_literal" in runs.index:
        lit = runs.loc["alg1_literal"]
        out.append(Claim(
            id="literal_keeps_restarting",
            statement="spec §3.3: the literal Algorithm 1 (no cap) restarts more often than the "
                      "until-target-rank variant, re-starting converging rank-r runs",
            paper_value="no cap on restarts (Algorithm 1 as printed)",
            measured={"literal": int(lit.n_restarts), "until_target_rank": int(a1.n_restarts),
                      "literal_final_test": float(lit.final_test)},
            holds=bool(lit.n_restarts > a1.n_restarts)))
    return out


def plot(tables, cfg: Fig5Config):
    import matplotlib.pyplot as plt

    trace, runs, ev = tables["trace"], tables["runs"].set_index("method"), tables["restarts"]
    style = {"gd": ("tab:red", "-", 1.6), "alg1": ("tab:blue", "-", 1.6),
             "alg1_literal": ("0.55", "--", 1.0)}
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.6))
    a1_ev = ev[ev.method == "alg1"]
    k_zoom = int(a1_ev.k.max()) + 2 * cfg.window if len(a1_ev) else 10 * cfg.window
    for ax, col, ylabel in zip(axes, ("train_error", "test_error"), (TRAIN_LABEL, TEST_LABEL),
                               strict=True):
        ins = ax.inset_axes([0.55, 0.1, 0.42, 0.4])
        for method, sub in trace.groupby("method", sort=False):
            c, ls, lw = style.get(method, ("k", "-", 1.0))
            lab = f"{runs.loc[method, 'label']}"
            if method != "gd":
                lab += f", {int(runs.loc[method, 'n_restarts'])} restarts"
            ax.plot(sub["iter"], sub[col], ls, color=c, lw=lw, label=lab)
            z = sub[sub["iter"] <= k_zoom]
            ins.plot(z["iter"], z[col], ls, color=c, lw=lw)
        for k in a1_ev.k:
            ax.axvline(k + 1, color="tab:blue", lw=0.4, alpha=0.35)
            ins.axvline(k + 1, color="tab:blue", lw=0.6, alpha=0.6)
        if len(a1_ev):
            sub = trace[trace.method == "alg1"].set_index("iter")[col]
            ks = [k for k in a1_ev.k if k in sub.index]
            ins.plot(ks, sub.loc[ks], "v", color="tab:blue", ms=4, label="restart")
        ins.set_yscale("log")
        ins.set_xlim(0, k_zoom)
        ins.tick_params(labelsize=7)
        ins.set_title(f"restarts magnified (k ≤ {k_zoom})", fontsize=7)
        ax.set_yscale("log")
        ax.set_xlabel("iteration $k$")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper right", framealpha=0.9)
    fig.suptitle(f"{CITATION}, Figure 5: Algorithm 1 vs GD (3) from the same $U_0$ "
                 f"($\\|U_0\\|_F$ = {cfg.rho0:g}, rank {cfg.r0}, $\\eta$ = {cfg.eta:g}, "
                 f"W = {cfg.window}, $\\tau$ = {cfg.tau})")
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name=f"{PAPER}.fig5", paper=PAPER, figure="Figure 5",
    summary="Algorithm 1 (restarts at lower rank/norm when convergence is linear) vs plain GD",
    config=Fig5Config, run=run, claims=claims, plot=plot,
    quick={"max_iter": 30_000}))
