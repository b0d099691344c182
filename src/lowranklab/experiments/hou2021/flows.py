"""`hou2021.flows` (proposed E5): the gradient flow (DLRA) and the rescaled flow (DLRA*) of
Theorem 3.1 from Z₀ = Z_# + δ wwᵀ near a spurious point Z_# ∈ S_{r−1} (n = 8, r = 3,
d = (1, 0.6, 0.3), missing the smallest component), integrated with SciPy's DOP853."""

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
from lowranklab.experiments.hou2021._common import CITE, FLOOR, PAPER
from lowranklab.flows.dlra import Truth, integrate_flow

SPEC_T100 = {1e-2: 26.0, 1e-4: 21.2, 1e-6: 15.9}  # spec E5 [verified], t(τ = 100)


class FlowsConfig(ExperimentConfig):
    n: int = 8
    d: list[float] = [1.0, 0.6, 0.3]
    deltas: list[float] = [1e-2, 1e-4, 1e-6]
    T: float = 40.0  # DLRA horizon (original time)
    tau: float = 100.0  # DLRA* horizon (rescaled time)
    samples: int = 801
    truth_seed: int = 0


def run(cfg: FlowsConfig, ctx: Context) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(cfg.truth_seed)
    d = np.asarray(cfg.d)
    r = d.size
    Ux = np.linalg.qr(rng.standard_normal((cfg.n, r)))[0]
    X = Truth(Ux, d)
    Zs = (Ux[:, :-1] * d[:-1]) @ Ux[:, :-1].T
    frames, rows = [], []
    for delta in ctx.progress(cfg.deltas, "delta"):
        w = ctx.rng.standard_normal(cfg.n)
        w /= np.linalg.norm(w)
        lam, Q = np.linalg.eigh(Zs + delta * np.outer(w, w))
        U0, S0 = Q[:, ::-1][:, :r], np.diag(lam[::-1][:r])
        a = integrate_flow(U0, S0, X, cfg.T, t_eval=np.linspace(0, cfg.T, cfg.samples))
        b = integrate_flow(U0, S0, X, cfg.tau, rescaled=True,
                           t_eval=np.linspace(0, cfg.tau, cfg.samples))
        for kind, f in (("dlra", a), ("dlra_star", b)):
            frames.append(pd.DataFrame({"delta": delta, "flow": kind, "t": f.t,
                                        "tau": f.tau if f.tau is not None else f.t,
                                        "dist": f.dist, "sigma_r": f.sigma_r}))
        mask = b.t <= cfg.T
        c = integrate_flow(U0, S0, X, float(b.t[mask][-1]), t_eval=b.t[mask])
        mismatch = max(float(np.linalg.norm(c.Z(i) - b.Z(i))) for i in range(int(mask.sum())))
        esc = a.t[np.flatnonzero(a.dist < 0.5 * d[-1])[0]]
        rows.append({"delta": delta, "final_dist": float(a.dist[-1]), "escape_t": float(esc),
                     "t_at_tau": float(b.t[-1]), "mismatch": mismatch,
                     "min_ratio": float(np.min(a.sigma_r / (a.sigma_r[0] * np.exp(-a.t)))),
                     "nfev_dlra": a.nfev, "nfev_star": b.nfev, "drift": float(a.drift.max())})
    return {"flow": pd.concat(frames, ignore_index=True), "summary": pd.DataFrame(rows)}


def claims(tables, cfg: FlowsConfig) -> list[Claim]:
    s = tables["summary"]
    out = []
    worst = float(s.final_dist.max())
    out.append(Claim("converges", f"Theorem 3.1: the gradient flow from near Z_# ∈ S_{{r−1}} "
                     f"escapes and converges to X (‖Z({cfg.T:g}) − X‖; spec < 1e-14)",
                     f"< 1e-14 ({SPEC_PILOT})", worst, worst < 1e-13))
    esc = s.escape_t.to_numpy()
    out.append(Claim("escape_time", "escape (‖Z − X‖ < ½d_k) at t* ≈ 0.7, independent of δ",
                     f"≈ 0.7 ({SPEC_PILOT})", esc.tolist(), bool(np.all(np.abs(esc - 0.7) < 0.25)
                                             and np.ptp(esc) <= 0.2)))
    tt = s.sort_values("delta", ascending=False).t_at_tau.to_numpy()
    out.append(Claim("rescaled_time", f"DLRA*: t(τ = {cfg.tau:g}) shrinks with δ — rescaled time "
                     "runs faster near the singular point (spec: 26.0, 21.2, 15.9)",
                     f"{list(SPEC_T100.values())} ({SPEC_PILOT})", tt.tolist(),
                     bool(np.all(np.diff(tt) < 0))))
    mm = float(s.mismatch.max())
    out.append(Claim("same_path", "Lemma 3.4: DLRA* traces the path of DLRA, Z̃(τ) = Z(t(τ))",
                     "< 1e-8", mm, mm < 1e-8))
    mr = float(s.min_ratio.min())
    out.append(Claim("sigma_bound", "σ_r(Z_t) ≥ σ_r(Z_0) e^{−t}: the PSD flow never leaves "
                     "M_r in finite time", "≥ 1", mr, mr >= 1 - 1e-8))
    return out


def plot(tables, cfg: FlowsConfig):
    import matplotlib.pyplot as plt

    f = tables["flow"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for i, (delta, g) in enumerate(f.groupby("delta", sort=False)):
        a, b = g[g.flow == "dlra"], g[g.flow == "dlra_star"]
        axes[0].semilogy(a.t, a.dist.clip(lower=FLOOR), color=f"C{i}", label=rf"$\delta$={delta:g}")
        axes[1].semilogy(b.tau, b.dist.clip(lower=FLOOR), color=f"C{i}",
                         label=rf"$\delta$={delta:g}, t($\tau$={cfg.tau:g})={b.t.iloc[-1]:.1f}")
        axes[2].semilogy(a.t, a.sigma_r, color=f"C{i}",
                         label=rf"$\sigma_r(Z_t)$, $\delta$={delta:g}")
        axes[2].semilogy(a.t, a.sigma_r.iloc[0] * np.exp(-a.t), ":", color=f"C{i}")
    axes[0].set_xlabel("t")
    axes[0].set_ylabel(r"$\|Z(t) - X\|_F$")
    axes[0].set_title(f"{CITE}: gradient flow (DLRA)", fontsize=9)
    axes[1].set_xlabel(r"rescaled time $\tau$")
    axes[1].set_ylabel(r"$\|\tilde Z(\tau) - X\|_F$")
    axes[1].set_title(r"rescaled flow DLRA*, $\varphi(S)=S^{-1}\sigma_{\min}(S)$", fontsize=9)
    axes[2].set_xlabel("t")
    axes[2].set_ylabel(r"$\sigma_r(Z_t)$")
    axes[2].set_ylim(1e-8, 2)
    axes[2].set_title(r"$\sigma_r(Z_t) \geq \sigma_r(Z_0)e^{-t}$ (dotted)", fontsize=9)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="hou2021.flows", paper=PAPER, figure="E5 (proposed)",
    summary="gradient flow and rescaled flow DLRA* escape S_{r−1} (Thm 3.1, Lemma 3.4)",
    config=FlowsConfig, run=run, claims=claims, plot=plot, quick={"samples": 401},
))
