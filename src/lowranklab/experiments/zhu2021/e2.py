"""`zhu2021.e2`: the robust-strict-saddle constants, empirical vs proven (zhu2021 Thm 5 for
g, Thm 1 for general f; seed002 spec §3 E2, claims C10–C13).

For each region R1, R2, R3', R3'', R3''' (spec §2.1, Frobenius cap τ = 10/9) the ratio
"measured side / proven bound" (≥ 1 iff the inequality holds) is minimized three ways:
random sampling of W of five kinds, Nelder–Mead adversarial search started from the worst
samples (n = 4, m = 3, r = 2: 14 variables), and the tight families
  R2:   W(t) = [ΦΛ_t^{1/2}; ΨΛ_t^{1/2}], Λ_t = diag(σ₁, tσ₂), λ_min = (3t − 1)σ_r → −σ_r/4 at t = ¼
  R3'': W = c[√σ₁φ₁; √σ₁ψ₁]e₁ᵀ, c ↓ 20/19: ‖∇g‖/‖W‖³ → ½(1 − c⁻²) = 39/800  [derived here]
  R3''': W = cW★, c² ↓ 10/9: ⟨∇g, W⟩/‖WWᵀ‖²_F → ½(1 − c⁻²) = 1/20  [derived here]
Thm 1 is evaluated for G with f = QuadRSC at c = c_max of eq. (14).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from lowranklab.experiments.base import (
    SPEC_PILOT,
    Claim,
    Context,
    Experiment,
    ExperimentConfig,
    register,
)
from lowranklab.experiments.zhu2021._common import (
    PAPER,
    c_max_theorem1,
    log_table,
    objective_for,
)
from lowranklab.landscape.regions import REGIONS, region_inequalities
from lowranklab.problems.balanced_truth import planted_spectrum
from lowranklab.problems.smooth_losses import MatrixFactorizationLoss, QuadRSC

PROVEN = {"thm5": {"R1": "σ_r/32·dist² + ‖∇g‖²/(48σ₁)", "R2": "−σ_r/4", "R3p": "σ_r^{3/2}/11",
                   "R3pp": "39/800‖W‖³", "R3ppp": "‖WWᵀ‖²_F/20"},
          "thm1": {"R1": "σ_r/16·dist² + ‖∇G‖²/(260σ₁)", "R2": "−σ_r/6", "R3p": "σ_r^{3/2}/50",
                   "R3pp": "‖W‖³/50", "R3ppp": "‖WWᵀ‖_F^{3/2}/45"}}


class E2Config(ExperimentConfig):
    n: int = 4
    m: int = 3
    sigma: list[float] = [2.0, 1.0]
    samples: int = 3000
    restarts: int = 6  # adversarial Nelder–Mead starts per region (from the worst samples)
    nm_maxiter: int = 4000
    family_points: int = 25


def _orth(rng, n, r):
    Q, R = np.linalg.qr(rng.standard_normal((n, r)))
    return Q * np.sign(np.diag(R))


def _sample(t, rng, kind):
    N, r = t.W.shape
    sr, nstar = t.sigma[-1], np.sqrt(2 * t.sigma[0])
    if kind == "near":  # R1 and the R1/R3' boundary
        Z = rng.standard_normal(t.W.shape)
        return t.W @ _orth(rng, r, r) + Z * rng.uniform(0, 1.6) * np.sqrt(sr) / np.linalg.norm(Z)
    if kind == "low_sigma":  # R2
        s = np.array([rng.uniform(0, 1.1 * nstar), rng.uniform(0, np.sqrt(sr / 2))])
        return _orth(rng, N, r) @ np.diag(np.sort(s)[::-1]) @ _orth(rng, r, r)
    if kind == "moderate":  # R3'
        s = rng.uniform(np.sqrt(sr / 2), 20 / 19 * nstar, r)
        return _orth(rng, N, r) @ np.diag(np.sort(s)[::-1]) @ _orth(rng, r, r)
    if kind == "product":  # unbalanced, same product UVᵀ = X★ (R3')
        M = np.diag(np.exp(rng.normal(0, 0.5, r))) @ _orth(rng, r, r)
        # zhu2021 §A-F prints W̃ = [UM; VM⁻¹]; UVᵀ is preserved by [UM; VM⁻ᵀ]
        return np.vstack([t.U @ M, t.V @ np.linalg.inv(M).T])
    s = rng.uniform(0, 1, r) * 10 ** rng.uniform(-1, 0.7) * nstar  # "scaled": R3'', R3'''
    return _orth(rng, N, r) @ np.diag(np.sort(s)[::-1]) @ _orth(rng, r, r)


KINDS = ("near", "low_sigma", "moderate", "product", "scaled")


def _ratio(obj, theta, Xstar, constants, region):
    for q in region_inequalities(obj, theta, Xstar, constants=constants):
        if q.region == region:
            return q.ratio
    return None


def run(cfg: E2Config, ctx: Context) -> dict[str, pd.DataFrame]:
    t = planted_spectrum(cfg.n, cfg.m, cfg.sigma, ctx.rng)
    r = len(cfg.sigma)
    c = c_max_theorem1(t.Xstar, r)
    objs = {"thm5": objective_for(MatrixFactorizationLoss(t.Xstar), r, 0.5),
            "thm1": objective_for(QuadRSC(t.Xstar, c, ctx.rng), r, 0.5)}
    rows = []
    for i in ctx.progress(range(cfg.samples), "random samples"):
        kind = KINDS[i % len(KINDS)]
        W = _sample(t, ctx.rng, kind)
        for thm, obj in objs.items():
            for q in region_inequalities(obj, W.ravel(), t.Xstar, constants=thm):
                rows.append({"theorem": thm, "region": q.region, "method": "random",
                             "kind": kind, "ratio": q.ratio, "theta": W.ravel().tolist()})
    samples = pd.DataFrame(rows)
    # tight families (evaluated for both theorems)
    fam = []
    Phi, Psi, sig = t.Phi, t.Psi, t.sigma
    for thm, obj in objs.items():
        for tt in np.linspace(0, 0.25, cfg.family_points):
            lam = np.array([sig[0], tt * sig[1]])
            W = np.vstack([Phi * np.sqrt(lam), Psi * np.sqrt(lam)])
            fam.append({"theorem": thm, "region": "R2", "param": tt,
                        "ratio": _ratio(obj, W.ravel(), t.Xstar, thm, "R2")})
        w1 = np.zeros_like(t.W)
        w1[:, 0] = np.r_[Phi[:, 0], Psi[:, 0]] * np.sqrt(sig[0])
        for cc in 20 / 19 * (1 + np.geomspace(1e-6, 0.02, cfg.family_points)):
            fam.append({"theorem": thm, "region": "R3pp", "param": cc,
                        "ratio": _ratio(obj, (cc * w1).ravel(), t.Xstar, thm, "R3pp")})
        for cc in np.sqrt(10 / 9 * (1 + np.geomspace(1e-6, 0.5, cfg.family_points))):
            fam.append({"theorem": thm, "region": "R3ppp", "param": cc,
                        "ratio": _ratio(obj, (cc * t.W).ravel(), t.Xstar, thm, "R3ppp")})
    fam = pd.DataFrame(fam).dropna()
    # adversarial Nelder–Mead from the worst samples of each region
    adv = []
    jobs = [(thm, reg) for thm in objs for reg in REGIONS]
    for thm, reg in ctx.progress(jobs, "adversarial search"):
        pool = samples[(samples.theorem == thm) & (samples.region == reg)].nsmallest(
            cfg.restarts, "ratio")
        obj = objs[thm]

        def fun(x, obj=obj, thm=thm, reg=reg):
            q = _ratio(obj, x, t.Xstar, thm, reg)
            return 1e6 if q is None or not np.isfinite(q) else q

        for th0 in pool.theta:
            res = minimize(fun, np.asarray(th0), method="Nelder-Mead",
                           options={"adaptive": True, "maxiter": cfg.nm_maxiter,
                                    "xatol": 1e-10, "fatol": 1e-12})
            adv.append({"theorem": thm, "region": reg, "ratio": float(res.fun),
                        "start_ratio": fun(np.asarray(th0)), "nfev": int(res.nfev)})
    adv = pd.DataFrame(adv)
    summary = []
    for thm in objs:
        for reg in REGIONS:
            s = samples[(samples.theorem == thm) & (samples.region == reg)]
            a = adv[(adv.theorem == thm) & (adv.region == reg)]
            f = fam[(fam.theorem == thm) & (fam.region == reg)]
            summary.append({"theorem": thm, "region": reg, "proven": PROVEN[thm][reg],
                            "n_samples": len(s),
                            "random_min": float(s.ratio.min()) if len(s) else np.nan,
                            "adversarial_min": float(a.ratio.min()) if len(a) else np.nan,
                            "family_min": float(f.ratio.min()) if len(f) else np.nan})
    summary = pd.DataFrame(summary)
    summary["worst"] = summary[["random_min", "adversarial_min", "family_min"]].min(axis=1)
    log_table(ctx, f"worst ratio (≥ 1: the inequality holds); Thm 1 with QuadRSC c = {c:.3g}",
              summary.drop(columns=["proven"]))
    return {"samples": samples.drop(columns=["theta"]), "adversarial": adv, "families": fam,
            "summary": summary}


def claims(tables, cfg: E2Config) -> list[Claim]:
    s = tables["summary"].set_index(["theorem", "region"])
    out = []
    for thm, name in (("thm5", "Thm 5 (g)"), ("thm1", "Thm 1 (G, QuadRSC c = c_max)")):
        w = s.loc[thm].worst
        out.append(Claim(
            id=f"{thm}-holds",
            statement=f"{name}: every region inequality holds at every sampled, searched and "
                      "family point (worst ratio ≥ 1)",
            paper_value="ratio ≥ 1 in R1, R2, R3', R3'', R3'''",
            measured={k: float(v) for k, v in w.items()},
            holds=bool(np.all(w.dropna() >= 1 - 1e-9) and w.notna().all())))
    w5 = s.loc["thm5"].worst
    tight = ("R2", "R3pp", "R3ppp")
    t5 = s.loc["thm5"]
    search = {k: float(min(t5.adversarial_min[k], t5.random_min[k])) for k in tight}
    # the closed-form families are built to attain the constants: a check of the construction
    out.append(Claim(
        id="thm5-tight",
        statement="Thm 5's R2 (−σ_r/4), R3'' (39/800) and R3''' (1/20) constants are "
                  "attained by the closed-form tight families (family ratio ≤ 1.02)",
        paper_value=f"tight: −0.2500σ_r, 0.048750, 0.0508 ({SPEC_PILOT})",
        measured={k: float(t5.family_min[k]) for k in tight},
        holds=bool(all(t5.family_min[k] <= 1.02 for k in tight)), kind="consistency"))
    out.append(Claim(
        id="thm5-search",
        statement="the random + adversarial search alone (no closed form) stays above the "
                  "tight families' ratio in R2, R3'', R3''': local search does not find the "
                  "worst points",
        paper_value="not in the paper", measured=search,
        holds=bool(all(search[k] > t5.family_min[k] for k in tight)), kind="observation"))
    out.append(Claim(
        id="thm5-loose",
        statement="Thm 5's R1 constant is loose by ≥ 5× and R3' by ≥ 1.5× (worst ratios found)",
        paper_value="R1 ≥ 6× (12.2 with σ_r/32), R3' ≈ 2× (spec pilot, E2)",
        measured={"R1": float(w5["R1"]), "R3p": float(w5["R3p"])},
        holds=bool(w5["R1"] >= 5 and w5["R3p"] >= 1.5)))
    return out


def plot(tables, cfg: E2Config):
    import matplotlib.pyplot as plt

    smp, s = tables["samples"], tables["summary"]
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharey=True)
    for ax, thm, name in zip(axes, ("thm5", "thm1"), ("Thm 5: g", "Thm 1: G (QuadRSC)"),
                             strict=True):
        for i, reg in enumerate(REGIONS):
            v = smp[(smp.theorem == thm) & (smp.region == reg)].ratio
            if len(v):
                ax.scatter(i + 0.25 * (np.random.default_rng(i).random(len(v)) - 0.5),
                           v, s=4, alpha=0.3, color="C0", label="random" if i == 0 else None)
            row = s[(s.theorem == thm) & (s.region == reg)].iloc[0]
            ax.plot(i, row.adversarial_min, "rv", ms=9,
                    label="adversarial min" if i == 0 else None)
            if np.isfinite(row.family_min):
                ax.plot(i, row.family_min, "k*", ms=11,
                        label="tight family min" if reg == "R2" else None)
        ax.axhline(1, color="k", ls="--", lw=1, label="proven bound (ratio 1)")
        ax.set_xticks(range(len(REGIONS)), ["R1", "R2", "R3'", "R3''", "R3'''"])
        ax.set_yscale("log")
        ax.set_ylabel("measured / proven bound")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{PAPER}, E2: robust strict saddle constants, empirical vs proven "
                 f"(n = {cfg.n}, m = {cfg.m}, σ = {tuple(cfg.sigma)})")
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="zhu2021.e2", paper="zhu2021", figure="E2",
    summary="region constants of Thms 5/1: random + adversarial + tight families vs proven",
    config=E2Config, run=run, claims=claims, plot=plot,
    quick={"samples": 400, "restarts": 1, "nm_maxiter": 1200, "family_points": 15},
))
