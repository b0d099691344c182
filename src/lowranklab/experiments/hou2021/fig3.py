"""`hou2021.fig3`: fixed step α_k ≡ 0.2 (3a, 3b) versus varying step α_k = 2σ_r(Z_k)
(3c, 3d) from a global random start Z₀ = 0.3·A Bᵀ, A, B i.i.d. N(0, 1/n) (spec E3): distance
to X (left) and log σ_r(Z_k) (right)."""

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
from lowranklab.experiments.hou2021._common import (
    CITE,
    D_DEFAULT,
    PAPER,
    band,
    first_below,
    make_truth,
    pad,
    per_run,
    rgd_run,
    slope,
)

# rule -> (α, the spec's calibrated k at which 1e-8 is reached, σ_r dip range)
RULES = {"fixed": (0.2, (88, 90), (0.02, 0.12)), "sigma": (2.0, (44, 53), (0.04, 0.10))}


class Fig3Config(ExperimentConfig):
    n: int = 100
    d: list[float] = D_DEFAULT
    variants: list[str] = ["psd", "general"]
    runs: int = 100
    K: int = 200
    init_scale: float = 0.3  # keeps α₀ = 2σ_r(Z₀) < 1 (spec E3)
    alpha_fixed: float = 0.2
    alpha_sigma: float = 2.0
    truth_seed: int = 0


def run(cfg: Fig3Config, ctx: Context) -> dict[str, pd.DataFrame]:
    frames = []
    for variant in cfg.variants:
        man, loss, X, _, _ = make_truth(cfg.n, cfg.d, variant, cfg.truth_seed)
        for i in ctx.progress(range(cfg.runs), f"{variant} run", cfg.runs):
            x0 = man.random_point(ctx.rng, scale=cfg.init_scale)
            for rule, alpha in (("fixed", cfg.alpha_fixed), ("sigma", cfg.alpha_sigma)):
                df = pad(rgd_run(loss, man, x0, X, alpha=alpha, rule=rule, K=cfg.K), cfg.K)
                df.insert(0, "run", i)
                df.insert(0, "rule", rule)
                df.insert(0, "variant", variant)
                frames.append(df)
    return {"trace": pd.concat(frames, ignore_index=True)}


def summarize(t: pd.DataFrame) -> pd.DataFrame:
    return per_run(t, ["variant", "rule"], lambda g: {
        "k_1e8": first_below(g.dist.to_numpy(), 1e-8),
        "k_1e12": first_below(g.dist.to_numpy(), 1e-12),
        "sigma_min": float(g.sigma_r.min()), "k_sigma_min": int(g.k.iloc[g.sigma_r.argmin()]),
        "sigma_final": float(g.sigma_r.iloc[-1]), "final": float(g.dist.iloc[-1])})


def claims(tables, cfg: Fig3Config) -> list[Claim]:
    t = tables["trace"]
    s = summarize(t)
    d_r = min(cfg.d)
    out = []
    conv = int((s.final < 1e-8).sum())
    out.append(Claim("converge", "the iterates always escape all spurious points and converge "
                     "to X, with both step rules", f"{len(s)}/{len(s)}", f"{conv}/{len(s)}",
                     conv == len(s)))
    # "σ_r(Z_k) is never too small" (paper) made testable: in every run the dip stays above
    # d_r/20 (the varying step α σ_r keeps ≥ α d_r/20), and the median dip of each rule lies
    # in the spec's pilot range (10 seeds); the full size's 100 runs reach lower minima
    # (0.014 fixed, 0.030 varying), which the per-run floor still admits
    floor = d_r / 20
    dips = {rule: (float(s[s.rule == rule].sigma_min.median()),
                   float(s[s.rule == rule].sigma_min.min())) for rule in RULES}
    ok = all(lo <= dips[rule][0] <= hi and dips[rule][1] > floor
             for rule, (_, _, (lo, hi)) in RULES.items())
    out.append(Claim("sigma_not_small", "σ_r(Z_k) is never too small: every run's minimum "
                     f"σ_r exceeds d_r/20 = {floor:g}, and the median dip lies in "
                     "[0.02, 0.12] (fixed) / [0.04, 0.10] (varying)",
                     f"never too small (paper); median dip ranges from 10 seeds ({SPEC_PILOT})",
                     {f"{rule} median dip": m for rule, (m, _) in dips.items()}
                     | {f"{rule} min dip": v for rule, (_, v) in dips.items()}, ok))
    dev = float(np.abs(s.sigma_final - d_r).max())
    out.append(Claim("sigma_limit", "σ_r(Z_k) soon converges to σ_r(X)", d_r,
                     {"max |σ_r(Z_K) − σ_r(X)|": dev}, dev < 1e-8))
    for rule, (_, (lo, hi), _) in RULES.items():
        sr = s[s.rule == rule]
        med = float(sr.k_1e8.median())
        name = "fixed α = 0.2" if rule == "fixed" else "varying α_k = 2σ_r"
        out.append(Claim(f"{rule}_k1e8",
                         f"{name}: distance 1e-8 reached at k ≈ {lo}–{hi}",
                         f"{lo}–{hi} ({SPEC_PILOT})", {"median": med, "min": float(sr.k_1e8.min()),
                                        "max": float(sr.k_1e8.max())},
                         lo - 3 <= med <= hi + 3))
    rate = {"fixed": np.log10(1 - cfg.alpha_fixed),
            "sigma": np.log10(abs(1 - cfg.alpha_sigma * d_r))}
    for rule, (lo, hi) in (("fixed", (60, 110)), ("sigma", (30, 55))):
        sl = slope(t[t.rule == rule], lo, hi)
        out.append(Claim(f"{rule}_rate", f"{rule} step: asymptotic slope log10|1 − α_k| with "
                         f"α_k → {'α' if rule == 'fixed' else 'α d_r'}",
                         round(float(rate[rule]), 4), sl, abs(sl - rate[rule]) < 1e-2))
    f8 = float(s[s.rule == "fixed"].k_1e8.median())
    v8 = float(s[s.rule == "sigma"].k_1e8.median())
    out.append(Claim("varying_faster", "the varying step reaches 1e-8 in fewer iterations",
                     "varying < fixed", {"fixed": f8, "varying": v8}, v8 < f8))
    return out


def plot(tables, cfg: Fig3Config):
    import matplotlib.pyplot as plt

    t = tables["trace"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    colors = {"psd": "C0", "general": "C1"}
    labels = {"fixed": rf"fixed $\alpha_k={cfg.alpha_fixed}$",
              "sigma": rf"varying $\alpha_k={cfg.alpha_sigma}\,\sigma_r(Z_k)$"}
    for row, rule in enumerate(("fixed", "sigma")):
        for variant, g in t[t.rule == rule].groupby("variant"):
            band(axes[row, 0], g, "dist", color=colors.get(variant, "C2"),
                 label=f"{variant} ({g.run.nunique()} runs)")
            band(axes[row, 1], g, "sigma_r", color=colors.get(variant, "C2"), label=variant)
        a, b = ("3a", "3b") if rule == "fixed" else ("3c", "3d")
        axes[row, 0].set_title(f"{CITE}, Fig. {a}: {labels[rule]}", fontsize=9)
        axes[row, 1].set_title(f"Fig. {b}: " + r"$\log_{10}\sigma_r(Z_k)$, " + labels[rule],
                               fontsize=9)
        axes[row, 0].set_ylabel(r"$\log_{10}\|Z_k - X\|_F$")
        axes[row, 1].set_ylabel(r"$\log_{10}\sigma_r(Z_k)$")
        axes[row, 1].axhline(np.log10(min(cfg.d)), color="k", ls=":", lw=1,
                             label=r"$\log_{10}\sigma_r(X)$")
    for ax in axes.ravel():
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("iteration k")
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="hou2021.fig3", paper=PAPER, figure="Fig. 3",
    summary="fixed vs varying step α_k = 2σ_r(Z_k): distance to X and σ_r(Z_k)",
    config=Fig3Config, run=run, claims=claims, plot=plot, quick={"runs": 8},
))
