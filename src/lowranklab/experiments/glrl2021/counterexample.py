"""`glrl2021.counterexample`: Example 5.9 / Prop. B.2 — gradient flow with infinitesimal
initialization converges to the rank-1 interpolant M_rank (‖·‖_* = 2R² + 2), not to the
minimum-nuclear-norm interpolant M_norm (‖·‖_* = 4R): a counter-example to Conjecture 1.1.

Random-init GF uses R ∈ {2, 3} (at R = 100 the convergence is only asymptotic: rate
α^{1/(2μ₁+1)}, spec §1.9 and §4 gotcha 10); the GLRL / rank-1 statement uses R = 100 too.
GF is integrated by LSODA with the analytic Jacobian (stiff at large R)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.experiments.base import Claim, Context, Experiment, ExperimentConfig, register
from lowranklab.experiments.glrl2021._common import PAPER, TITLE, relerr
from lowranklab.flows.glrl import dense_grad, factor_gf
from lowranklab.problems.glrl_instances import counterexample


class CounterConfig(ExperimentConfig):
    R_random: list[float] = [2.0, 3.0]
    alphas: list[float] = [1e-4, 1e-8, 1e-16, 1e-32, 1e-64]
    seeds: int = 3
    R_glrl: list[float] = [2.0, 3.0, 100.0]
    glrl_eps: float = 1e-16
    horizon_R2: float = 20.0  # GF horizon 2 log(1/α)/(2μ₁) + horizon_R2 · R² (slow mode 4/R²)
    rtol: float = 1e-11
    cvxpy: bool = True


def _gf(ce, U0, alpha, cfg):
    T = 2 * np.log(1 / alpha) / (2 * ce.mu[0]) + cfg.horizon_R2 * ce.R**2
    sol = factor_gf(ce.loss, U0, T, rtol=cfg.rtol, atol=1e-300)
    U = sol.y[:, -1].reshape(U0.shape)
    return U @ U.T, sol


def run(cfg: CounterConfig, ctx: Context) -> dict[str, pd.DataFrame]:
    rows = []
    jobs = [(R, a, s) for R in cfg.R_random for a in cfg.alphas for s in range(cfg.seeds)]
    for R, alpha, s in ctx.progress(jobs, "random-init GF"):
        ce = counterexample(R)
        U0 = ctx.rng.standard_normal((4, 4))
        U0 *= np.sqrt(alpha / np.linalg.norm(U0 @ U0.T))  # ‖U₀U₀ᵀ‖_F = α
        W, sol = _gf(ce, U0, alpha, cfg)
        rows.append({"R": R, "alpha": alpha, "seed": s, "init": "random",
                     "dist_rank": relerr(W, ce.M_rank), "dist_norm": relerr(W, ce.M_norm),
                     "nuclear": float(np.trace(W)), "f": ce.loss.value(W),
                     "ok": bool(sol.success)})
    glrl_rows = []
    for R in ctx.progress(cfg.R_glrl, "GLRL (rank-1 init)"):
        ce = counterexample(R)
        W, sol = _gf(ce, np.sqrt(cfg.glrl_eps) * ce.u1[:, None], cfg.glrl_eps, cfg)
        lam1 = float(np.linalg.eigvalsh(-dense_grad(ce.loss, W))[-1])
        glrl_rows.append({"R": R, "eps": cfg.glrl_eps, "dist_rank": relerr(W, ce.M_rank),
                          "nuclear": float(np.trace(W)), "f": ce.loss.value(W),
                          "lam1_end": lam1, "mu1": ce.mu[0], "mu2": ce.mu[1]})
    base = []
    for R in sorted(set(cfg.R_random) | set(cfg.R_glrl)):
        ce = counterexample(R)
        row = {"R": R, "nuclear_M_norm": 4 * R, "nuclear_M_rank": 2 * R**2 + 2,
               "f_M_norm": ce.loss.value(ce.M_norm), "f_M_rank": ce.loss.value(ce.M_rank),
               "cvx_trace": np.nan, "cvx_dist_norm": np.nan}
        if cfg.cvxpy:
            try:
                from lowranklab.solvers.convex import min_trace_psd

                op, b = ce.loss.mask_operator()
                res = min_trace_psd(op, b, eps=1e-12)
                row.update(cvx_trace=res.info["value"], cvx_dist_norm=relerr(res.X, ce.M_norm))
            except ImportError:
                ctx.log("cvxpy missing: skipping the SDP baseline")
        base.append(row)
    return {"gf": pd.DataFrame(rows), "glrl": pd.DataFrame(glrl_rows),
            "baselines": pd.DataFrame(base)}


def claims(tables, cfg: CounterConfig) -> list[Claim]:
    gf, gl, base = tables["gf"], tables["glrl"], tables["baselines"]
    out = []
    worst = float(gl.dist_rank.max())
    out.append(Claim("glrl_to_M_rank", "GLRL (rank-1 infinitesimal init √ε u₁) converges to "
                     "M_rank for every R, and λ₁(−∇f) ≤ 0 there, so GLRL stops at rank 1",
                     "W̄₁ = M_rank", {"max rel. dist": worst,
                                      "max λ₁ end": float(gl.lam1_end.max())},
                     worst < 1e-6 and float(gl.lam1_end.max()) < 1e-6))
    R0 = min(cfg.R_random)
    g = gf[gf.R == R0].groupby("alpha").dist_rank.max().sort_index(ascending=False)
    mono = bool(np.all(np.diff(g.values) <= 0))
    out.append(Claim("gf_to_M_rank", f"Prop. B.2: GF from random init αW_init (R = {R0:g}) "
                     "approaches M_rank as α → 0 (distance decreasing in α)",
                     "lim_{α→0} lim_t φ(αW,t) = M_rank",
                     {f"{a:.0e}": float(v) for a, v in g.items()}, mono and g.values[-1] < 1e-8))
    small = gf[gf.alpha == min(cfg.alphas)]
    nuc_gap = bool(np.all(small.nuclear > 4 * small.R + 1e-6))
    out.append(Claim("not_min_nuclear", "the GF limit has a larger nuclear norm than the "
                     "minimum-nuclear-norm interpolant M_norm (4R): Conjecture 1.1 fails",
                     "2R² + 2 > 4R", {f"R={R:g}": float(v) for R, v in
                                      small.groupby("R").nuclear.mean().items()}, nuc_gap))
    if base.cvx_trace.notna().any():
        err = float(np.nanmax(np.abs(base.cvx_trace - base.nuclear_M_norm) / base.nuclear_M_norm))
        out.append(Claim("cvx_is_M_norm", "the PSD trace minimiser (cvxpy) is M_norm with "
                         "value 4R", "4R", {"max rel. err of value": err,
                                            "max rel. dist to M_norm":
                                                float(np.nanmax(base.cvx_dist_norm))},
                         err < 1e-6))
    zero = float(max(base.f_M_norm.max(), base.f_M_rank.max()))
    # both matrices are built to interpolate: a check of the construction
    out.append(Claim("both_interpolate", "f(M_norm) = f(M_rank) = 0", 0.0, zero, zero == 0.0,
                     kind="consistency"))
    return out


def plot(tables, cfg: CounterConfig):
    import matplotlib.pyplot as plt

    gf, base = tables["gf"], tables["baselines"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for R, g in gf.groupby("R"):
        m = g.groupby("alpha").dist_rank
        ax.errorbar(m.mean().index, m.mean().values, fmt="o-", label=f"R = {R:g}",
                    yerr=None)
        ax.scatter(g.alpha, g.dist_rank, s=8, alpha=0.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set_xlabel(r"initialization scale $\alpha = \|W(0)\|_F$")
    ax.set_ylabel(r"$\|W(\infty) - M_{rank}\|_F / \|M_{rank}\|_F$")
    ax.set_title("GF limit → M_rank as α → 0")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    ax = axes[1]
    for i, (R, g) in enumerate(gf.groupby("R")):
        m = g.groupby("alpha").nuclear.mean()
        ax.plot(m.index, m.values, "o-", color=f"C{i}", label=f"R = {R:g}: GF limit")
        b = base[base.R == R].iloc[0]
        ax.axhline(b.nuclear_M_norm, color=f"C{i}", ls="--", lw=1,
                   label=r"$\|M_{norm}\|_* = 4R$")
        ax.axhline(b.nuclear_M_rank, color=f"C{i}", ls=":", lw=1,
                   label=r"$\|M_{rank}\|_* = 2R^2+2$")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"nuclear norm of the GF limit (= trace)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{TITLE}, Example 5.9 / Prop. B.2: GF ≠ minimum nuclear norm")
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="glrl2021.counterexample", paper=PAPER, figure="Ex. 5.9",
    summary="GF with infinitesimal init converges to the rank-1 interpolant, not the "
            "min-nuclear-norm one",
    config=CounterConfig, run=run, claims=claims, plot=plot,
    quick={"alphas": [1e-4, 1e-16, 1e-32], "seeds": 2},
))
