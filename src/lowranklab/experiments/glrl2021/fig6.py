"""`glrl2021.fig6`: the marginal value of depth (App. D). The end-to-end SVD form (19) in
normalised time tL, dW/d(tL) = −Ũ((Ũᵀ∇fṼ)∘K^{(L)})Ṽᵀ, for L ∈ {1, 2, 4, …, ∞} (K* of Cor. D.2).
Per spec §2.4: symmetric init W(0) = 1e-3(G + Gᵀ)/2 and re-symmetrisation (a non-symmetric
Gaussian init or no re-symmetrisation lets the antisymmetric part blow up); integrated with
LSODA instead of 10⁶ constant steps (same flow, far fewer evaluations). Instance seed 11."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from lowranklab.experiments.base import (
    SPEC_PILOT,
    Claim,
    Context,
    Experiment,
    ExperimentConfig,
    register,
)
from lowranklab.experiments.glrl2021._common import PAPER, TITLE
from lowranklab.flows.glrl import K_matrix, dense_grad, sym
from lowranklab.problems.glrl_instances import canonical_instance


class Fig6Config(ExperimentConfig):
    instance_seed: int = 11
    p: float = 0.3
    init: float = 1e-3
    depths: list[float] = [1, 2, 4, 8, 16, 64, 256, float("inf")]
    t_max: float = 1000.0  # normalised time tL
    n_points: int = 300
    rtol: float = 1e-7


def rhs_normalised(W: np.ndarray, G: np.ndarray, L: float) -> np.ndarray:
    """(19)/L in the eigen-form of symmetric W = QΛQᵀ: σ = |λ|, Ṽ = Q sign(λ); re-symmetrised."""
    lam, Q = np.linalg.eigh(sym(W))
    V = Q * np.where(lam >= 0, 1.0, -1.0)
    K = K_matrix(np.abs(lam), L)
    return sym(-(Q @ ((Q.T @ G @ V) * K) @ V.T))


def run(cfg: Fig6Config, ctx: Context) -> dict[str, pd.DataFrame]:
    inst = canonical_instance(cfg.instance_seed, cfg.p)
    d = inst.d
    Z = ctx.rng.standard_normal((d, d))
    W0 = cfg.init * (Z + Z.T) / 2
    ts = np.unique(np.concatenate([[0.0], np.geomspace(0.1, cfg.t_max, cfg.n_points)]))
    rows = []
    for L in ctx.progress(cfg.depths, "depth"):
        def f(t, y, L=L):
            W = sym(y.reshape(d, d))
            return rhs_normalised(W, dense_grad(inst.loss, W), L).ravel()

        sol = solve_ivp(f, (0, cfg.t_max), W0.ravel(), method="LSODA", rtol=cfg.rtol,
                        atol=1e-12, t_eval=ts)
        for k, t in enumerate(sol.t):
            W = sym(sol.y[:, k].reshape(d, d))
            rows.append({"L": L, "tL": t, "test": inst.test_loss(W),
                         "train": inst.loss.train_loss(W)})
    return {"curves": pd.DataFrame(rows)}


def _drop_time(t, y, frac=0.5):
    """First time the test loss falls below frac × its initial value (linear interpolation)."""
    k = int(np.argmax(y < frac * y[0]))
    if k == 0:
        return float(t[-1])
    return float(np.interp(np.log(frac * y[0]), np.log([y[k], y[k - 1]]), [t[k], t[k - 1]]))


def _series(c, L):
    g = c[c.L == L].sort_values("tL")
    return g.tL.values, g.test.values


def claims(tables, cfg: Fig6Config) -> list[Claim]:
    c = tables["curves"]
    out = []
    fin = {L: float(c[c.L == L].sort_values("tL").test.iloc[-1]) for L in cfg.depths}
    small = [L for L in (1, 2, 4) if L in fin]
    if len(small) == 3:
        ok = fin[1] > 10 * fin[2] and fin[2] > 10 * fin[4]
        out.append(Claim("shallow_differ", "L = 1, 2, 4 differ a lot (final test loss)",
                         "clearly different", {str(L): fin[L] for L in small}, ok))
    inf = float("inf")
    if inf in cfg.depths:
        tinf, yinf = _series(c, inf)
        big = sorted(L for L in cfg.depths if np.isfinite(L) and L >= 16)
        drop_inf = _drop_time(tinf, yinf)
        drops, pointwise = {}, {}
        for L in big:
            t, y = _series(c, L)
            drops[L] = abs(_drop_time(t, y) - drop_inf) / drop_inf
            pointwise[L] = float(np.max(np.abs(y - yinf) / yinf))
        vals = [drops[L] for L in big]
        out.append(Claim("converges_in_L", "the curves converge as L → ∞: the time of the first "
                         "loss drop approaches that of L = ∞ (relative gap decreasing in L)",
                         "→ 0", {str(L): v for L, v in drops.items()},
                         len(vals) >= 2 and bool(np.all(np.diff(vals) < 0))))
        Lmax = big[-1]
        out.append(Claim("large_L_close", f"L ≥ 16 differ marginally: L = {Lmax:g} drops within "
                         "10% of the time of L = ∞ (first drop to half the initial test loss)",
                         "'differ marginally' (paper)", {"drop-time gap": drops[Lmax]},
                         drops[Lmax] < 0.1))
        # spec §Fig. 6 asks for < 10% pointwise in the test loss; at the sharp drops a small
        # time shift is a large vertical gap, so that criterion is not met (0.94 at full size)
        out.append(Claim("pointwise_not_close", f"the spec's pointwise criterion is not met: "
                         f"L = {Lmax:g} and L = ∞ differ by ≥ 10% in test loss at the drops",
                         f"< 10% pointwise ({SPEC_PILOT} acceptance)",
                         {"max pointwise rel. diff": pointwise[Lmax]}, pointwise[Lmax] >= 0.1,
                         kind="observation"))
    # the paper says "deeper models converge faster"; in normalised time tL the first drop
    # comes later as L grows (spec §Fig. 6: report what is observed, do not assert it)
    fin_L = sorted(L for L in cfg.depths if L >= 2)
    first = {L: _drop_time(*_series(c, L)) for L in fin_L}
    if len(first) >= 3:
        v = [first[L] for L in fin_L]
        out.append(Claim("deeper_not_faster", "the paper's 'deeper models converge faster' is "
                         "not what the curves show: the first drop (to half the initial test "
                         "loss) comes later in tL as L grows", "'deeper models converge "
                         "faster' (paper; an overstatement)",
                         {f"L={L:g}": t for L, t in first.items()},
                         bool(np.all(np.diff(v) > 0)), kind="observation"))
    return out


def plot(tables, cfg: Fig6Config):
    import matplotlib.pyplot as plt

    c = tables["curves"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, L in enumerate(cfg.depths):
        g = c[c.L == L].sort_values("tL")
        lab = "∞" if np.isinf(L) else f"{L:g}"
        ax.plot(g.tL, g.test, "-", color=f"C{i}", label=f"L = {lab}")
        ax.plot(g.tL, g.train, ":", color=f"C{i}")
    ax.set_yscale("log")
    ax.set_xlabel("normalised time tL")
    ax.set_ylabel("test loss (solid), train loss (dotted)")
    ax.set_title(f"{TITLE}, Figure 6: marginal value of depth, eq. (19)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return {"": fig}


register(Experiment(
    name="glrl2021.fig6", paper=PAPER, figure="Fig. 6",
    summary="end-to-end dynamics (19) for growing depth converge as L → ∞",
    config=Fig6Config, run=run, claims=claims, plot=plot,
    quick={"depths": [1, 2, 4, 64, 256, float("inf")], "t_max": 150.0, "n_points": 150,
           "rtol": 1e-6},
))
