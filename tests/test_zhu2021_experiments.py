"""zhu2021 experiments at tiny sizes: the claims hold, and they fail on tampered tables (so they
are evaluated from the run, not asserted)."""

from __future__ import annotations

import numpy as np

from lowranklab.experiments import get
from lowranklab.experiments.base import Context


def _run(name: str, **overrides):
    exp = get(name)
    cfg = exp.make_config(quick=True, overrides=overrides)
    ctx = Context(name=name, rng=np.random.default_rng(cfg.seed), quick=True, verbose=False)
    tables = exp.run(cfg, ctx)
    return exp, cfg, tables


def _holds(exp, tables, cfg) -> dict[str, bool]:
    return {c.id: c.holds for c in exp.claims(tables, cfg)}


def test_e7_lemma1_claims_and_tampering():
    exp, cfg, tables = _run("zhu2021.e7", iters=1000, trials=1, record_every=10)
    assert all(_holds(exp, tables, cfg).values())
    bad = {k: v.copy() for k, v in tables.items()}
    bad["trace"].loc[bad["trace"].index[-1], "dist2"] = 1e3  # violate the Lemma 1 envelope
    h = _holds(exp, bad, cfg)
    assert not all(h.values())


def test_e5_saddle_escape_claims_and_tampering():
    exp, cfg, tables = _run("zhu2021.e5", n=8, m=6, iters=1500, trials=1,
                            eps0=[1e-2, 1e-4, 1e-6, 1e-8], pgd_max_iter=3000)
    h = _holds(exp, tables, cfg)
    assert all(h.values()), h
    bad = {k: v.copy() for k, v in tables.items()}
    bad["escape"]["steps"] = bad["escape"]["steps"] * 2  # slope twice the linearization
    assert not _holds(exp, bad, cfg)["escape-time-linear"]


def test_e1_atlas_claims():
    exp, cfg, tables = _run("zhu2021.e1", root_starts=3)
    h = _holds(exp, tables, cfg)
    assert all(h.values()), h
    bad = {k: v.copy() for k, v in tables.items()}
    a = bad["atlas"]
    a.loc[~a["global"], "lambda_min"] = 0.0  # pretend a saddle were flat
    assert not _holds(exp, bad, cfg)["saddle-bounds"]


def test_fig1_weighted_pca_claims():
    exp, cfg, tables = _run("zhu2021.fig1", grid=11, starts=30)
    h = _holds(exp, tables, cfg)
    assert all(h.values()), h
    figs = exp.plot(tables, cfg)
    assert set(figs) == {""}
    import matplotlib.pyplot as plt

    plt.close("all")


def test_multistart_restarts_bfgs_after_a_failed_line_search(monkeypatch):
    """A start whose BFGS line search gives up far from a critical point (‖∇h‖ ≈ 7 under
    SciPy 1.17) converges after a restart from the last point; every row says how many
    restarts it took, and with the restarts switched off the census marks the start (or,
    under a SciPy whose line search does not fail here, still finds the minimum)."""
    from lowranklab.experiments.zhu2021 import _common

    w, u0 = float(np.sqrt(3.2)), np.array([[0.803632371466521, -1.5679936921992659]])
    row = _common.weighted_pca_multistart(w, u0).iloc[0]
    assert row.kind == "global" and row.grad_norm <= 1e-6
    assert "bfgs_restarts" in row.index
    monkeypatch.setattr(_common, "MAX_BFGS_RESTARTS", 0)
    plain = _common.weighted_pca_multistart(w, u0).iloc[0]
    assert plain.bfgs_restarts == 0
    assert plain.kind in ("global", "not_converged")
    assert (plain.kind == "not_converged") == (row.bfgs_restarts > 0)
