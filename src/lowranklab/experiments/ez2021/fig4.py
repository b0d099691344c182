"""ez2021 Figure 4: the set M_b = {U : A(UUᵀ) = b, ‖U‖ ≤ ξ} of a toy example with
d = p = m = 2, A(UUᵀ) = [‖U[1,:]‖², ⟨A, UUᵀ⟩], X♮ random of rank 1, drawn from its closed-form
(θ, φ) parametrization (spec §2.3) in the coordinates (U₁₁, U₂₁, U₂₂) (paper L143).
A symmetric Gaussian, X♮ = zzᵀ, ξ = 2√‖X♮‖ (proposed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from lowranklab.experiments.base import Claim, Context, Experiment, ExperimentConfig, register
from lowranklab.experiments.ez2021 import CITATION, PAPER
from lowranklab.problems.ez2021_toy import mb_surface, surface_radius_sq, toy_instance


class Fig4Config(ExperimentConfig):
    grid: int = Field(60, ge=4)  # (θ, φ) grid size
    xi_factor: float = Field(2.0, gt=0)  # ξ = xi_factor·√‖X♮‖
    rotations: int = Field(20, ge=1)  # random right-rotations checked for invariance


def run(cfg: Fig4Config, ctx: Context) -> dict[str, pd.DataFrame]:
    inst = toy_instance(ctx.rng)
    xi = cfg.xi_factor * float(np.sqrt(np.linalg.norm(inst.truth, 2)))
    th, ph = np.meshgrid(np.linspace(0, 2 * np.pi, cfg.grid),
                         np.linspace(0, 2 * np.pi, cfg.grid), indexing="ij")
    U = mb_surface(inst, th, ph)  # (grid, grid, 2, 2)
    flat = U.reshape(-1, 2, 2)
    meas = np.einsum("mij,nij->nm", inst.A, flat @ flat.transpose(0, 2, 1))
    resid = np.abs(meas - inst.b).max(axis=1)
    spec = np.array([np.linalg.norm(V, 2) for V in flat])
    rot_resid = []
    for _ in range(cfg.rotations):  # M_b is invariant under U ↦ UR, R ∈ O_p
        Q, Rr = np.linalg.qr(ctx.rng.standard_normal((2, 2)))
        V = flat @ (Q * np.sign(np.diag(Rr)))
        rot_resid.append(np.abs(np.einsum("mij,nij->nm", inst.A, V @ V.transpose(0, 2, 1))
                                - inst.b).max())
    lam, vec = np.linalg.eigh(inst.truth)
    Un = np.hstack([vec[:, -1:] * np.sqrt(lam[-1]), np.zeros((2, 1))])  # U♮ = [z 0]
    surface = pd.DataFrame({
        "theta": th.ravel(), "phi": ph.ravel(), "U11": flat[:, 0, 0], "U12": flat[:, 0, 1],
        "U21": flat[:, 1, 0], "U22": flat[:, 1, 1], "residual": resid, "spec_norm": spec,
        "in_Mb": spec <= xi})
    (a11, a12), (_, a22) = inst.A[1]
    instance = pd.DataFrame([{
        "a11": a11, "a12": a12, "a22": a22, "b1": inst.b[0], "b2": inst.b[1], "xi": xi,
        "R2": surface_radius_sq(inst), "max_rotation_residual": float(max(rot_resid)),
        "truth_residual": float(np.abs(inst.residual(Un)).max()),
        "Un11": Un[0, 0], "Un21": Un[1, 0], "Un22": Un[1, 1]}])
    ctx.log(f"R² = {instance.R2.iloc[0]:.3g}, max residual {resid.max():.2e}, "
            f"{int((~surface.in_Mb).sum())} grid points outside ‖U‖ ≤ ξ")
    return {"surface": surface, "instance": instance}


def claims(tables, cfg: Fig4Config) -> list[Claim]:
    s, inst = tables["surface"], tables["instance"].iloc[0]
    # Fig. 4 draws the closed-form constraint surface: every row checks the construction (an
    # algebraic identity), none is a numerical statement of the paper to reproduce
    scale = max(1.0, abs(inst.b1), abs(inst.b2))
    return [
        Claim(id="on_Mb", statement="every point of the closed-form surface satisfies "
              "A(UUᵀ) = b (to 1e-12)", paper_value="U ∈ M_b",
              measured=float(s.residual.max()), holds=bool(s.residual.max() <= 1e-12 * scale),
              kind="consistency"),
        Claim(id="circle_radius", statement="the u₂-circle radius² R² is nonnegative, so M_b is "
              "a torus-like 2-surface over (θ, φ)", paper_value="R² ≥ 0",
              measured=float(inst.R2), holds=bool(inst.R2 >= 0), kind="consistency"),
        Claim(id="rotation_invariant", statement="M_b is invariant under U ↦ UR, R ∈ O_p "
              "(checked on every grid point for random R)", paper_value="invariant",
              measured=float(inst.max_rotation_residual),
              holds=bool(inst.max_rotation_residual <= 1e-12 * scale),
              kind="consistency"),
        Claim(id="contains_truth", statement="M_b contains U♮ = [z 0] with U♮U♮ᵀ = X♮",
              paper_value="U♮O_p ⊂ M_b", measured=float(inst.truth_residual),
              holds=bool(inst.truth_residual <= 1e-12 * scale), kind="consistency"),
    ]


def plot(tables, cfg: Fig4Config):
    import matplotlib.pyplot as plt

    s, inst = tables["surface"], tables["instance"].iloc[0]
    n = int(round(np.sqrt(len(s))))
    X, Y, Z = (s[c].to_numpy().reshape(n, n) for c in ("U11", "U21", "U22"))
    inside = s["in_Mb"].to_numpy().reshape(n, n)
    Zm = np.where(inside, Z, np.nan)
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(X, Y, Zm, cmap="viridis", edgecolor="k", linewidth=0.15, alpha=0.85,
                    rstride=1, cstride=1)
    ax.scatter([inst.Un11], [inst.Un21], [inst.Un22], color="red", s=40,
               label=r"$U^\natural = [z\ 0]$")
    ax.set_xlabel("U[1,1]")
    ax.set_ylabel("U[2,1]")
    ax.set_zlabel("U[2,2]")
    ax.legend(loc="upper left")
    ax.set_title(f"{CITATION}, Figure 4: the set $\\mathcal{{M}}_b$ for a toy example\n"
                 "(d = p = m = 2, rank-1 $X^\\natural$)", fontsize=10)
    return {"": fig}


register(Experiment(
    name=f"{PAPER}.fig4", paper=PAPER, figure="Figure 4",
    summary="the toy set M_b (d = p = m = 2) from its closed-form parametrization, in 3-D",
    config=Fig4Config, run=run, claims=claims, plot=plot, quick={"grid": 40}))
