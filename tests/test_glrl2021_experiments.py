"""glrl2021 experiments at reduced size: spec §3 T7 (Fig. 4 core), T12, T13 and the
claims of the quick runs."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.experiments.base import Context


def _ctx(name, seed=0):
    return Context(name=name, rng=np.random.default_rng(seed), quick=True, verbose=False)


def test_T7_rank1_vs_random_init():
    from lowranklab.experiments.glrl2021 import fig4

    cfg = fig4.Fig4Config(epsilons=[1e-1, 1e-3, 1e-5], seeds=1, grid=500)
    tables = fig4.run(cfg, _ctx("glrl2021.fig4"))
    cl = {c.id: c for c in fig4.claims(tables, cfg)}
    assert all(c.holds for c in cl.values()), {k: c.measured for k, c in cl.items()}


def test_counterexample_claims_small():
    from lowranklab.experiments.glrl2021 import counterexample as ce

    cfg = ce.CounterConfig(R_random=[2.0], alphas=[1e-4, 1e-16, 1e-32], seeds=1,
                           R_glrl=[2.0, 100.0], cvxpy=False)
    tables = ce.run(cfg, _ctx("glrl2021.counterexample"))
    assert all(c.holds for c in ce.claims(tables, cfg))


@pytest.mark.slow
def test_fig3_quick_claims():
    from lowranklab.experiments.glrl2021 import fig3

    exp_cfg = fig3.Fig3Config(glrl_step=1e-2, gd_step=1e-2, gd_iters=20_000, gd_seeds=1,
                              record_every=500, n_instances=6)
    tables = fig3.run(exp_cfg, _ctx("glrl2021.fig3"))
    assert all(c.holds for c in fig3.claims(tables, exp_cfg))
