"""`hou2021.fig1`: the magnitude of the Riemannian gradient near a spurious point (Fig. 1).

Slice of Example 1.1 inside the closure of M₂⁺: X = diag(2, 1, 0), Z_# = diag(2, 0, 0),
Z(a, b) = Z_# + v vᵀ with v = (0, a, b); G(a, b) = ‖P_{T_Z}(Z − X)‖_F computed by the
library's PSD fixed-rank manifold and checked against the closed form
G = ((ρ − c²)² + 2c²(1 − c²))^½, ρ = a² + b², c² = a²/ρ (spec E1, §2.6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lowranklab.experiments.base import Claim, Context, Experiment, ExperimentConfig, register
from lowranklab.experiments.hou2021._common import CITE, PAPER
from lowranklab.models.fixed_rank import FixedRankPoint, FixedRankPSD
from lowranklab.models.fixed_rank_spurious import gradient_norm_closed_form
from lowranklab.problems.distance import MatrixDistance

X = np.diag([2.0, 1.0, 0.0])
MAN = FixedRankPSD(3, 2)
LOSS = MatrixDistance(X)
SAMPLES = {(0.1, 0.0): 0.99, (0.0, 0.1): 0.01, (0.1, 0.1): 0.8546}  # spec E1


class Fig1Config(ExperimentConfig):
    grid: int = 401  # grid points per axis on [−1, 1]²
    radii: list[float] = [1e-1, 1e-2, 1e-4]  # ρ of the polar cuts
    angles: int = 721
    alpha: float = 0.5  # step of the overlaid Example 1.1 trajectories
    traj_eps: float = 0.1


def grad_norm(a: float, b: float) -> float:
    """‖grad f(Z_# + vvᵀ)‖_F from the library (U = (e₁, v/|v|), eigenvalues (2, |v|²))."""
    rho = a * a + b * b
    w = np.array([0.0, a, b]) / np.sqrt(rho)
    U = np.stack([np.array([1.0, 0.0, 0.0]), w], axis=1)
    x = FixedRankPoint(U, np.array([2.0, rho]), U) if rho <= 2 else FixedRankPoint(
        U[:, ::-1].copy(), np.array([rho, 2.0]), U[:, ::-1].copy())
    _, g, _ = MAN.gradient(LOSS, x)
    return MAN.norm(x, g)


def _closed(a, b):
    rho = a * a + b * b
    return gradient_norm_closed_form(rho, a / np.sqrt(rho), 1.0)


def _trajectory(alpha: float, eps: float, K: int = 60) -> pd.DataFrame:
    """RGD on M₂⁺ from Z_# + v₀v₀ᵀ; the iterates stay in the slice (spec §2.6 reduced map):
    (a, b) = √λ·(q₂, q₃) for the eigenpair (λ, q) of the lower 2×2 block."""
    v = np.array([0.0, eps, 1.0])
    x = MAN.from_matrix(np.diag([2.0, 0, 0]) + np.outer(v, v))
    rows = []
    for k in range(K + 1):
        B = x.dense()[1:, 1:]
        lam, Q = np.linalg.eigh(B)
        q = Q[:, -1] * np.sign(Q[1, -1] if abs(Q[1, -1]) > 1e-300 else Q[0, -1])
        a, b = np.sqrt(max(lam[-1], 0.0)) * q
        rows.append({"eps": eps, "k": k, "a": a, "b": b})
        _, g, _ = MAN.gradient(LOSS, x)
        x = MAN.retract(x, g, -alpha)
    return pd.DataFrame(rows)


def run(cfg: Fig1Config, ctx: Context) -> dict[str, pd.DataFrame]:
    s = np.linspace(-1, 1, cfg.grid)
    rows = []
    for a in ctx.progress(s, "grid row", len(s)):
        for b in s:
            if a == 0 and b == 0:
                rows.append((a, b, np.nan, np.nan))
                continue
            rows.append((a, b, grad_norm(a, b), float(_closed(a, b))))
    grid = pd.DataFrame(rows, columns=["a", "b", "G", "G_closed"])
    theta = np.linspace(-np.pi, np.pi, cfg.angles)
    polar = []
    for rho in cfg.radii:
        for th in theta:
            a, b = np.sqrt(rho) * np.cos(th), np.sqrt(rho) * np.sin(th)
            polar.append((rho, th, grad_norm(a, b), float(_closed(a, b))))
    polar = pd.DataFrame(polar, columns=["rho", "theta", "G", "G_closed"])
    samples = pd.DataFrame([(a, b, grad_norm(a, b), ref) for (a, b), ref in SAMPLES.items()],
                           columns=["a", "b", "G", "spec"])
    traj = pd.concat([_trajectory(cfg.alpha, 0.0), _trajectory(cfg.alpha, cfg.traj_eps)],
                     ignore_index=True)
    return {"grid": grid, "polar": polar, "samples": samples, "trajectories": traj}


def claims(tables, cfg: Fig1Config) -> list[Claim]:
    grid, polar, samples = tables["grid"], tables["polar"], tables["samples"]
    err = float(np.nanmax(np.abs(pd.concat([grid.G - grid.G_closed, polar.G - polar.G_closed]))))
    out = [Claim("closed_form", "the library's ‖P_T(Z − X)‖ equals the closed form of spec §2.6",
                 "0", err, err < 1e-12)]
    dev = float(np.abs(samples.G - samples.spec).max())
    out.append(Claim("samples", "G(0.1,0) = 0.99, G(0,0.1) = 0.01, G(0.1,0.1) = 0.8546",
                     "0.99, 0.01, 0.8546", samples.G.round(4).tolist(), dev < 1e-4))
    p = polar[polar.rho == min(cfg.radii)]
    lo, hi = float(p.G.min()), float(p.G.max())
    out.append(Claim("no_limit", "the gradient is singular at Z_#: near it ‖grad f‖ takes every "
                     "value in [0, 1] depending on the direction (no limit)",
                     "[0, 1]", [lo, hi], lo < 1e-3 and hi > 0.99))
    th = float(p.theta.iloc[p.G.argmin()])
    out.append(Claim("one_direction", "only one direction (a = 0, i.e. v ⟂ u_k) lets ‖grad f‖ "
                     "vanish, where G = b²: the only way RGD can converge to Z_#",
                     "θ = ±π/2", {"argmin θ": th, "|cos θ|": abs(np.cos(th))},
                     abs(np.cos(th)) < 1e-2))
    tr = tables["trajectories"]
    unp, per = tr[tr.eps == 0.0], tr[tr.eps > 0]
    out.append(Claim("trajectories", "Example 1.1 in the slice: the unperturbed run moves along "
                     "a = 0 into the origin; the perturbed one ends at (±1, 0), i.e. Z = X",
                     "(0, 0) and (±1, 0)",
                     {"unperturbed end": [float(unp.a.iloc[-1]), float(unp.b.iloc[-1])],
                      "perturbed end": [float(per.a.iloc[-1]), float(per.b.iloc[-1])]},
                     float(np.abs(unp.a).max()) < 1e-12 and abs(unp.b.iloc[-1]) < 1e-6
                     and abs(abs(per.a.iloc[-1]) - 1) < 1e-8 and abs(per.b.iloc[-1]) < 1e-8))
    return out


def plot(tables, cfg: Fig1Config):
    import matplotlib.pyplot as plt

    grid = tables["grid"]
    n = int(np.sqrt(len(grid)))
    A = grid.a.to_numpy().reshape(n, n)
    B = grid.b.to_numpy().reshape(n, n)
    G = grid.G.to_numpy().reshape(n, n)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    im = ax.pcolormesh(A, B, G, shading="auto", cmap="viridis")
    ax.contour(A, B, G, levels=[0.05, 0.25, 0.5, 0.75, 0.9], colors="w", linewidths=0.6)
    fig.colorbar(im, ax=ax, label=r"$\|P_{T_Z}(Z-X)\|_F$")
    tr = tables["trajectories"]
    for eps, g in tr.groupby("eps"):
        ax.plot(g.a, g.b, "o-", ms=2.5, lw=1, color="r" if eps == 0 else "orange",
                label="Example 1.1, " + ("unperturbed" if eps == 0 else rf"$\epsilon$={eps:g}"))
    ax.set_xlabel("a")
    ax.set_ylabel("b")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"{CITE}, Fig. 1: gradient magnitude near "
                 r"$Z_\#$, $Z = Z_\# + vv^\top$, $v=(0,a,b)$", fontsize=9)
    for rho, g in tables["polar"].groupby("rho"):
        ax2.plot(g.theta, g.G, label=rf"$\rho$={rho:g}")
    ax2.set_xlabel(r"direction $\theta$ = atan2(b, a)")
    ax2.set_ylabel(r"$\|P_{T_Z}(Z-X)\|_F$")
    ax2.set_title("polar cuts: the limit at the origin depends on the direction", fontsize=9)
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="hou2021.fig1", paper=PAPER, figure="Fig. 1",
    summary="the Riemannian gradient is discontinuous at a spurious point (slice of Ex. 1.1)",
    config=Fig1Config, run=run, claims=claims, plot=plot, quick={"grid": 121, "angles": 361},
))
