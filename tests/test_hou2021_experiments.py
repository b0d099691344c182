"""hou2021: the registered experiments — registration, a tiny end-to-end run (tables, claims,
figures), and (slow) every --quick run with all its claims holding."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from lowranklab.experiments import load_all  # noqa: E402
from lowranklab.experiments.runner import run_experiment  # noqa: E402

NAMES = ["hou2021.example11", "hou2021.fig1", "hou2021.fig2", "hou2021.fig3",
         "hou2021.escape_time", "hou2021.flows"]


def test_registered():
    reg = load_all()
    for name in NAMES:
        assert name in reg and reg[name].paper == "hou2021"


@pytest.mark.parametrize("name,overrides", [
    ("hou2021.fig2", {"n": 20, "runs": 2, "K": 120, "variants": ["psd"]}),
    ("hou2021.fig3", {"n": 20, "runs": 2, "K": 120, "variants": ["general"]}),
    ("hou2021.escape_time", {"n": 20, "runs": 2, "deltas": [1e-2, 1e-4, 1e-6]}),
    ("hou2021.fig1", {"grid": 21, "angles": 61}),
])
def test_tiny_end_to_end(name, overrides, tmp_path):
    summary = run_experiment(name, quick=True, overrides=overrides, out=tmp_path, verbose=False)
    assert summary["claims"] and all(isinstance(c["holds"], bool) for c in summary["claims"])
    assert summary["figures"] and all(Path(f).is_file() for f in summary["figures"])
    # convergence claims do not depend on the size
    assert all(c["holds"] for c in summary["claims"] if "converge" in c["id"])


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_quick_claims_hold(name, tmp_path):
    summary = run_experiment(name, quick=True, out=tmp_path, verbose=False)
    failed = [c["id"] for c in summary["claims"] if not c["holds"]]
    assert not failed, failed
