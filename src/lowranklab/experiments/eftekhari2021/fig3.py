"""`eftekhari2021.fig3`: Algorithm 1 from three initialisations (Sec. XII, Figure 3).

d = 15, m = 30, p = ⌈√(2m)⌉ = 8, A_i and b Gaussian (Sec. XII generator), γ = 100,
η = 2·10⁻⁵, K + 10⁻⁹I. Initialisations, each rescaled to ‖U₀‖_F = 3:
(i) deterministic [1, 0, …, 0] (rank 1), (ii) partial oracle [√s₁v₁, 1, …, 1] (one column of
the SDP's global minimiser, the rest ones; rank 2), (iii) standard Gaussian (rank 8).
Algorithm 1 keeps ker U₀, so (i)/(ii) stay at rank 1/2, where A(UUᵀ) = b is generically
unsolvable (15, 29 < 30 dimensions): they stall at infeasible fixed points; (iii) reaches the
SDP optimum (the dashed line). Iteration count is not in the paper (spec §3.4: 10⁶).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.experiments.base import (
    Claim,
    Context,
    Experiment,
    ExperimentConfig,
    register,
    tolerance_standard,
)
from lowranklab.experiments.eftekhari2021._common import PAPER, reference_optimum
from lowranklab.problems.min_norm import MinNormFactorization, pataki_p
from lowranklab.problems.min_norm_instances import random_instance
from lowranklab.solvers.merit import PAPER_GAMMA, PAPER_STEP, algorithm1

INITS = ("deterministic", "partial oracle", "random")


class Fig3Config(ExperimentConfig):
    d: int = 15
    m: int = 30
    p: int | None = None  # default ⌈√(2m)⌉
    gamma: float = PAPER_GAMMA
    step: float | None = PAPER_STEP  # None: 1/(γ λ_max(K(U₀))) per initialisation
    iterations: int = 1_000_000
    init_norm: float = 3.0
    record_every: int = 1000
    opt_rtol: float = 1e-4  # relative error of (iii) counted as "reaches the SDP optimum"


def fig3_inits(P: MinNormFactorization, p: int, rng: np.random.Generator, *,
               factor: np.ndarray | None = None, norm: float = 3.0) -> dict[str, np.ndarray]:
    """The three U₀ of Sec. XII (spec §3.4), each rescaled to ‖U₀‖_F = norm. `factor` is a
    global minimiser V diag(√s) (default: from the SDP); the random draw comes last."""
    d = P.d
    if factor is None:
        factor = reference_optimum(P, p, rng)["factor"]
    det = np.zeros((d, p))
    det[:, 0] = 1.0
    oracle = np.ones((d, p))
    oracle[:, 0] = factor[:, 0]
    rand = rng.standard_normal((d, p))
    return {name: U * (norm / np.linalg.norm(U))
            for name, U in zip(INITS, (det, oracle, rand), strict=True)}


def run(cfg: Fig3Config, ctx: Context) -> dict[str, pd.DataFrame]:
    p = pataki_p(cfg.m) if cfg.p is None else cfg.p
    P = random_instance(cfg.d, cfg.m, ctx.rng)  # A_1..A_m, then b
    ref = reference_optimum(P, p, ctx.rng)
    ctx.log(f"reference optimum {ref['value']:.8g} (rank {ref['rank']}, {ref['method']})")
    inits = fig3_inits(P, p, ctx.rng, factor=ref["factor"], norm=cfg.init_norm)
    traces, finals = [], []
    for name in ctx.progress(INITS, "initialisation"):
        U0 = inits[name]
        res = algorithm1(P, U0, gamma=cfg.gamma, step=cfg.step, max_iter=cfg.iterations,
                         record_every=cfg.record_every, tol=None)
        ctx.log(f"{name}: {res}")
        df = res.trace.to_frame()[["iter", "objective", "gap", "rank", "sigma_min"]]
        df.insert(0, "init", name)
        traces.append(df)
        U = res.factors[0]
        cert = P.certificate(U, ridge=1e-9)
        s = np.linalg.svd(U, compute_uv=False)
        finals.append({
            "init": name, "objective": P.objective(U), "gap": float(np.linalg.norm(
                P.residual(U))), "rank_U0": int(np.linalg.matrix_rank(U0)),
            "rank": int(np.sum(s > 1e-8 * s[0])),
            "rank_exact_kept": _kernel_kept(U0, U),
            "lambda_min": cert.lambda_min, "dual_value": cert.dual_value,
            "iterations": res.iterations, "stop": res.stop.value})
    reference = pd.DataFrame([{"value": ref["value"], "rank": ref["rank"], "p": p, "d": cfg.d,
                               "m": cfg.m, "method": ref["method"], "status": ref["status"]}])
    return {"trace": pd.concat(traces, ignore_index=True), "final": pd.DataFrame(finals),
            "reference": reference}


def _kernel_kept(U0: np.ndarray, U: np.ndarray) -> float:
    """max ‖U z‖/‖U‖ over an orthonormal basis z of ker U₀ (0 when ker U₀ = {0})."""
    _, s, Vt = np.linalg.svd(U0)
    r = int(np.sum(s > 1e-12 * s[0]))
    Z = Vt[r:].T
    if Z.shape[1] == 0:
        return 0.0
    return float(np.linalg.norm(U @ Z, axis=0).max() / np.linalg.norm(U))


def claims(tables, cfg: Fig3Config) -> list[Claim]:
    f = tables["final"].set_index("init")
    ref = tables["reference"].iloc[0]
    opt = float(ref.value)
    t = tables["trace"]
    out = []
    for name in ("deterministic", "partial oracle"):
        row = f.loc[name]
        g = t[t.init == name]
        half = g[g.iter >= g.iter.max() / 2]
        drift = float(abs(half.objective.iloc[-1] - half.objective.iloc[0])
                      / half.objective.iloc[-1])
        out.append(Claim(
            f"{name.replace(' ', '_')}_stalls_infeasible",
            f"({'i' if name == 'deterministic' else 'ii'}) {name}: Algorithm 1 stalls at an "
            "infeasible point (gap plateaus at a nonzero level, objective flat) ≠ optimum",
            "infeasible stationary point of h_γ",
            {"gap": float(row.gap), "objective": float(row.objective), "opt": opt,
             "objective_drift_2nd_half": drift},
            bool(row.gap > 1e-2 and drift < 1e-3 and abs(row.objective - opt) > 1e-2 * opt)))
        out.append(Claim(
            f"{name.replace(' ', '_')}_rank_kept",
            f"{name}: the rank of U₀ ({int(row.rank_U0)}) is preserved exactly (ker U₀ ⊆ "
            "ker U_k)", f"rank {int(row.rank_U0)}",
            {"rank": int(row['rank']), "kernel_leak": float(row.rank_exact_kept)},
            bool(row['rank'] == row.rank_U0 and row.rank_exact_kept <= 1e-12)))
    r = f.loc["random"]
    rel = float(abs(r.objective - opt) / opt)
    out.append(Claim("random_feasible", "(iii) random: the feasibility gap goes to ≈ 0",
                     "≈ 0", float(r.gap), bool(r.gap <= 1e-6)))
    out.append(Claim("random_reaches_optimum",
                     "(iii) random: ‖U_k‖²_F converges to the SDP optimum (dashed line)",
                     f"= opt(SDP) (relative error ≤ {cfg.opt_rtol:g} at this size)",
                     {"objective": float(r.objective), "opt": opt, "rel_error": rel},
                     bool(rel <= cfg.opt_rtol), standard=tolerance_standard(cfg, "opt_rtol")))
    g = t[(t.init == "random") & (t.gap <= 1e-6)]
    mono = bool(len(g) >= 2 and np.all(np.diff(g.objective.values) <= 1e-12)
                and g.objective.min() >= opt * (1 - 1e-6))
    out.append(Claim("random_from_above", "(iii) once feasible, the objective decreases "
                     "monotonically to the optimum from above", "decreasing from above",
                     {"records": len(g), "min_objective": float(g.objective.min())
                      if len(g) else None}, mono))
    out.append(Claim("pataki", "p = ⌈√(2m)⌉ makes (SDP) tight: its solution has rank ≤ p − 1",
                     f"rank ≤ {int(ref.p) - 1}", int(ref['rank']),
                     bool(ref['rank'] <= ref.p - 1)))
    return out


def plot(tables, cfg: Fig3Config):
    import matplotlib.pyplot as plt

    t = tables["trace"]
    ref = tables["reference"].iloc[0]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 7.5), sharex=True)
    colors = {"deterministic": "tab:red", "partial oracle": "tab:orange", "random": "tab:blue"}
    for name in INITS:
        g = t[t.init == name]
        a1.semilogy(g.iter, np.maximum(g.gap, 1e-16), color=colors[name], label=name)
        a2.plot(g.iter, g.objective, color=colors[name], label=name)
    a2.axhline(ref.value, color="k", ls="--", lw=1, label=f"optimal value {ref.value:.4f}")
    a1.set_ylabel(r"feasibility gap $\|\mathcal{A}(U_kU_k^\top)-b\|_2$")
    a2.set_ylabel(r"target value $\|U_k\|_F^2$")
    a2.set_xlabel("iteration k")
    lo = min(ref.value, t.objective.min())
    a2.set_ylim(0.9 * lo, max(3.0 * ref.value, 1.1 * lo))
    for a in (a1, a2):
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    eta = "1/(γλ_max K(U₀))" if cfg.step is None else f"{cfg.step:g}"
    fig.suptitle(f"Eftekhari (2021), Figure 3: Algorithm 1 (γ = {cfg.gamma:g}, η = {eta}),"
                 f" d = {int(ref.d)}, m = {int(ref.m)}, p = {int(ref.p)}", fontsize=10)
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="eftekhari2021.fig3", paper=PAPER, figure="Figure 3",
    summary="Algorithm 1 from deterministic / partial-oracle / random U0: the first two stall "
            "infeasible at their initial rank, random reaches the SDP optimum",
    config=Fig3Config, run=run, claims=claims, plot=plot, slow=True,
    quick={"iterations": 100_000, "record_every": 500, "step": None, "opt_rtol": 0.05},
))
