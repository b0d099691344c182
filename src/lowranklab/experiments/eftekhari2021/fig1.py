"""`eftekhari2021.fig1`: the spurious-stationary-point trap of Figure 1 (d = m = 2).

Left (p = 1): gradient descent on the feasibility gap ‖A(uuᵀ) − b‖² reaches the smallest-norm
feasible point ±w, the global minimiser (= SDP optimum). Right (p = 2): Algorithm 1 on the
merit function from [u₀, 0] never leaves {[u, 0]} (the zero column is invariant) and converges
to the feasible, rank-1, first-order stationary [u*, 0] with ‖u*‖² ≫ opt: a spurious FOSP that
is a strict saddle (tangent Hessian < 0). Instance: the spec's explicit reproduction instance
(§3.2: 0.226 vs 4.50; the paper's unpublished one gave 0.24 vs 4.22). Different u₀ per panel
(spec §6.2: from one u₀ both flows share a basin; the paper's caption is inconsistent there).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lowranklab.experiments.base import Claim, Context, Experiment, ExperimentConfig, register
from lowranklab.experiments.eftekhari2021._common import PAPER
from lowranklab.problems.min_norm import MinNormFactorization
from lowranklab.problems.min_norm_instances import p1_feasible_points_2x2, toy_fig1_instance
from lowranklab.solvers.merit import algorithm1, feasibility_gd


class Fig1Config(ExperimentConfig):
    gamma: float = 100.0
    theta_left: float = 1.0  # u₀ = (cos θ, sin θ) for the p = 1 panel
    theta_right: float = 0.0  # u₀ of the p = 2 panel ([u₀, 0])
    step_left: float = 1e-3
    iters_left: int = 20_000
    step_right: float = 1e-4
    iters_right: int = 200_000
    record_every: int = 200
    grid: int = 121  # contour grid of the left panel
    surface_n: int = 48  # surface mesh of the right panel (s × θ)


def feasible_surface(P: MinNormFactorization, n: int, trace_max: float) -> pd.DataFrame:
    """A section of the feasible set of (factor) for d = m = p = 2: {X ∈ Sym(2): A(X) = b} =
    {X₀ + sN}; on its PSD part, U(s, θ) = (X₀ + sN)^{1/2} R_θ (spec §3.2). Returns the mesh
    (i_s, i_θ, U11, U21, U12)."""
    # A(X)_i = A_i11 x1 + 2A_i12 x2 + A_i22 x3 for X = [[x1, x2], [x2, x3]]
    M = np.stack([[a[0, 0], 2 * a[0, 1], a[1, 1]] for a in P.A3])
    x0 = np.linalg.lstsq(M, P.b, rcond=None)[0]
    nvec = np.linalg.svd(M)[2][-1]
    mat = lambda x: np.array([[x[0], x[1]], [x[1], x[2]]])  # noqa: E731
    X0, N = mat(x0), mat(nvec)
    span = (trace_max + abs(np.trace(X0))) / max(abs(np.trace(N)), 1e-3)
    ss = np.linspace(-span, span, 20001)
    ok = np.array([np.linalg.eigvalsh(X0 + s * N).min() >= 0 and np.trace(X0 + s * N)
                   <= trace_max for s in ss])
    if not ok.any():
        raise ValueError("the feasible set has no PSD point in range")
    s_vals = np.linspace(ss[ok].min(), ss[ok].max(), n)
    rows = []
    for i, s in enumerate(s_vals):
        ev, Q = np.linalg.eigh(X0 + s * N)
        R = (Q * np.sqrt(np.clip(ev, 0, None))) @ Q.T
        for j, th in enumerate(np.linspace(0, 2 * math.pi, n)):
            U = R @ np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
            rows.append((i, j, U[0, 0], U[1, 0], U[0, 1]))
    return pd.DataFrame(rows, columns=["i_s", "i_theta", "U11", "U21", "U12"])


def run(cfg: Fig1Config, ctx: Context) -> dict[str, pd.DataFrame]:
    P = toy_fig1_instance()
    pts = p1_feasible_points_2x2(P)
    w, ustar = pts[0], pts[-1]
    sdp_value, method = float(w @ w), "min over p=1 feasible points (Pataki, d=2)"
    try:
        from lowranklab.solvers.convex import min_trace_psd

        sdp_value, method = float(min_trace_psd(P.operator(), P.b).info["value"]), "sdp-clarabel"
    except ImportError:
        pass
    traces, finals = [], []
    runs = [("left", 1, cfg.theta_left), ("right", 2, cfg.theta_right)]
    for panel, p, th in ctx.progress(runs, "panel"):
        U0 = np.zeros((2, p))
        U0[:, 0] = (math.cos(th), math.sin(th))
        path = []

        def keep(state, path=path, p=p):
            U = state.theta.reshape(2, p)
            path.append((state.iteration, U[0, 0], U[1, 0], U[0, 1] if p == 2 else 0.0))

        if panel == "left":
            res = feasibility_gd(P, U0, step=cfg.step_left, max_iter=cfg.iters_left,
                                 record_every=cfg.record_every, callbacks=[keep], tol=None)
        else:
            res = algorithm1(P, U0, gamma=cfg.gamma, step=cfg.step_right,
                             max_iter=cfg.iters_right, record_every=cfg.record_every, tol=None,
                             callbacks=[keep])
        ctx.log(f"{panel} (p = {p}): {res}")
        df = res.trace.to_frame()[["iter", "objective", "gap"]]
        xy = pd.DataFrame(path, columns=["iter", "U11", "U21", "U12"])
        df = df.merge(xy, on="iter", how="left")
        df.insert(0, "panel", panel)
        traces.append(df)
        U = res.factors[0]
        st = P.stationarity(U)
        cert = P.certificate(U)
        finals.append({"panel": panel, "p": p, "objective": P.objective(U),
                       "gap": st.feasibility, "fosp_residual": st.stationarity,
                       "tangent_hess_min": st.tangent_hess_min, "rank": st.rank,
                       "second_col_max": float(np.abs(U[:, 1]).max()) if p == 2 else 0.0,
                       "lambda_min": cert.lambda_min, "iterations": res.iterations,
                       "stop": res.stop.value})
    points = pd.DataFrame([
        {"name": "w", "u1": w[0], "u2": w[1], "norm_sq": float(w @ w)},
        {"name": "u*", "u1": ustar[0], "u2": ustar[1], "norm_sq": float(ustar @ ustar)},
        {"name": "sdp", "u1": np.nan, "u2": np.nan, "norm_sq": sdp_value},
    ])
    points["method"] = ["closed form", "closed form", method]
    lim = 1.25 * float(np.linalg.norm(ustar))
    g = np.linspace(-lim, lim, cfg.grid)
    G1, G2 = np.meshgrid(g, g)
    Uq = np.stack([G1.ravel(), G2.ravel()])  # columns u
    R = np.einsum("kij,in,jn->kn", P.A3, Uq, Uq) - P.b[:, None]
    landscape = pd.DataFrame({"u1": G1.ravel(), "u2": G2.ravel(),
                              "log10_gap": np.log10(np.sum(R * R, axis=0) + 1e-16)})
    surface = feasible_surface(P, cfg.surface_n, 1.3 * float(ustar @ ustar))
    return {"trace": pd.concat(traces, ignore_index=True), "final": pd.DataFrame(finals),
            "points": points, "landscape": landscape, "surface": surface}


def claims(tables, cfg: Fig1Config) -> list[Claim]:
    f = tables["final"].set_index("panel")
    pts = tables["points"].set_index("name")
    opt = float(pts.loc["sdp", "norm_sq"])
    left, right = f.loc["left"], f.loc["right"]
    ratio = float(right.objective / opt)
    return [
        Claim("left_global", "p = 1: the feasibility-gap flow reaches a feasible point whose "
              "‖U‖²_F equals the optimal value of (SDP)", "0.24 = 0.24 (CVX)",
              {"objective": float(left.objective), "sdp": opt, "gap": float(left.gap)},
              bool(left.gap <= 1e-6 and abs(left.objective - opt) <= 1e-4 * opt)),
        Claim("right_feasible", "p = 2: the merit flow from [u₀, 0] converges to a feasible "
              "point", "feasible", float(right.gap), bool(right.gap <= 1e-6)),
        Claim("right_rank_kept", "p = 2: the zero column is invariant, the limit is rank 1 "
              "(= [u*, 0])", "rank 1", {"second_col_max": float(right.second_col_max),
                                        "rank": int(right["rank"])},
              bool(right.second_col_max == 0.0 and right["rank"] == 1)),
        Claim("right_spurious", "p = 2: the limit's objective is far above the global optimum "
              "(spurious)", "4.22 vs 0.24 (×17.6)",
              {"objective": float(right.objective), "sdp": opt, "ratio": ratio},
              bool(ratio > 10 and abs(right.objective - float(pts.loc["u*", "norm_sq"]))
                   <= 1e-4 * right.objective)),
        Claim("right_fosp_not_sosp", "p = 2: the limit is a first-order stationary point of "
              "(factor) but not second order: a rank-deficient spurious FOSP (strict saddle)",
              "spurious stationary point",
              {"fosp_residual": float(right.fosp_residual),
               "tangent_hess_min": float(right.tangent_hess_min)},
              bool(right.fosp_residual <= 1e-6 and right.tangent_hess_min < -1e-3)),
        Claim("pataki_d2", "d = 2: opt(SDP) equals the smallest p = 1 feasible ‖u‖² (rank ≤ 1 "
              "by Pataki)", "(implied)", {"sdp": opt, "min_p1": float(pts.loc["w", "norm_sq"])},
              bool(abs(opt - float(pts.loc["w", "norm_sq"])) <= 1e-6 * max(opt, 1.0))),
    ]


def plot(tables, cfg: Fig1Config):
    import matplotlib.pyplot as plt

    t, pts, land, surf = tables["trace"], tables["points"].set_index("name"), \
        tables["landscape"], tables["surface"]
    fig = plt.figure(figsize=(12, 5.2))
    ax = fig.add_subplot(1, 2, 1)
    n = int(round(math.sqrt(len(land))))
    cs = ax.contourf(land.u1.values.reshape(n, n), land.u2.values.reshape(n, n),
                     land.log10_gap.values.reshape(n, n), levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax, label=r"$\log_{10}\|\mathcal{A}(uu^\top)-b\|_2^2$")
    L = t[t.panel == "left"]
    ax.plot(L.U11, L.U21, "w.-", ms=3, lw=1, label="gradient flow of the feasibility gap")
    ax.plot(L.U11.iloc[0], L.U21.iloc[0], "ws", ms=7)
    for nm, col, lab in (("w", "tab:blue", r"$\pm w$ (global, $\|w\|^2$=%.3f)"),
                         ("u*", "tab:red", r"$\pm u^\star$ ($\|u^\star\|^2$=%.2f)")):
        u = np.array([pts.loc[nm, "u1"], pts.loc[nm, "u2"]])
        ax.plot([u[0], -u[0]], [u[1], -u[1]], "o", color=col, ms=8,
                label=lab % pts.loc[nm, "norm_sq"])
    ax.set_xlabel("$u_1$")
    ax.set_ylabel("$u_2$")
    ax.set_title("p = 1 (under-parametrised)")
    ax.legend(loc="lower left", fontsize=8)
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    ns = int(surf.i_s.max()) + 1
    nt = int(surf.i_theta.max()) + 1
    grid = {c: surf[c].values.reshape(ns, nt) for c in ("U11", "U21", "U12")}
    ax3.plot_surface(grid["U11"], grid["U21"], grid["U12"], color="tab:blue", alpha=0.25,
                     linewidth=0)
    R = t[t.panel == "right"]
    ax3.plot(R.U11, R.U21, R.U12, "k.-", ms=3, lw=1, label="Algorithm 1 on the merit function")
    ax3.scatter([R.U11.iloc[-1]], [R.U21.iloc[-1]], [R.U12.iloc[-1]], color="tab:red", s=40,
                label=rf"limit $[u^\star, 0]$: $\|U\|_F^2$={R.objective.iloc[-1]:.2f}")
    wv = (pts.loc["w", "u1"], pts.loc["w", "u2"])
    ax3.scatter([wv[0], -wv[0]], [wv[1], -wv[1]], [0, 0], color="tab:blue", s=40,
                label=r"global minimisers $\pm[w, 0]$")
    ax3.set_xlabel("$U_{11}$")
    ax3.set_ylabel("$U_{21}$")
    ax3.set_zlabel("$U_{12}$")
    ax3.set_title("p = 2 (over-parametrised): feasible set (surface)")
    ax3.legend(loc="upper left", fontsize=8)
    opt = pts.loc["sdp", "norm_sq"]
    fig.suptitle(f"Eftekhari (2021), Figure 1: spurious stationary point (reached "
                 f"{R.objective.iloc[-1]:.3f}) vs global optimum {opt:.3f} (paper: 4.22 vs 0.24;"
                 f" different $u_0$ per panel)", fontsize=10)
    fig.tight_layout()
    return {"": fig}


register(Experiment(
    name="eftekhari2021.fig1", paper=PAPER, figure="Figure 1",
    summary="SSP trap: p=1 feasibility flow finds the global min, p=2 merit flow from [u0,0] "
            "is trapped at a spurious rank-1 FOSP",
    config=Fig1Config, run=run, claims=claims, plot=plot,
    quick={"iters_right": 200_000, "iters_left": 20_000, "record_every": 500, "grid": 81,
           "surface_n": 36},
))
