"""`lowranklab inspect RESULT.npz --problem PROBLEM.npz [--json]`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lowranklab.cli import app
from lowranklab.landscape.closed_forms import factorization_critical_points
from lowranklab.lowrank import LowRank
from lowranklab.operators import DenseSensing
from lowranklab.problems import Problem, sensing_problem

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_inspect_gd_result_on_planted_sensing_is_global(tmp_path):
    """GD (`lowranklab solve`) on the foundation's planted symmetric sensing problem reaches a
    point that `inspect` reports as a global minimizer (f★ = 0 from the noiseless truth)."""
    P = sensing_problem(6, 2, 80, np.random.default_rng(0))
    P.save(tmp_path / "problem.npz")
    out = tmp_path / "result.npz"
    res = runner.invoke(app, ["solve", str(tmp_path / "problem.npz"), "--rank", "2",
                              "--max-iter", "3000", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    d = _json(runner.invoke(app, ["inspect", str(out), "--problem",
                                  str(tmp_path / "problem.npz"), "--json"]))
    assert d["kind"] == "global_minimizer"
    assert d["symmetry_dim"] == 1  # U ↦ UQ, Q ∈ O(2)
    assert d["lambda_min"] > 0 and d["grad_norm"] <= d["grad_tol"]
    text = runner.invoke(app, ["inspect", str(out), "--problem", str(tmp_path / "problem.npz")])
    assert text.exit_code == 0 and "global_minimizer" in text.stdout


def test_inspect_closed_form_saddle_reports_strict_saddle(tmp_path, rng):
    """A closed-form saddle of ½‖UVᵀ − X★‖² + ½/4‖UᵀU − VᵀV‖² written as RESULT.npz (the
    factorization problem as sensing with A = I) is a strict saddle with λ_min = −σ_k."""
    n, m, r = 5, 5, 2  # square: Problem.load infers non-square shapes wrongly (see report)
    sig = np.array([2.0, 1.0])
    Phi = np.linalg.qr(rng.standard_normal((n, r)))[0]
    Psi = np.linalg.qr(rng.standard_normal((m, r)))[0]
    X = Phi @ np.diag(sig) @ Psi.T
    P = Problem(op=DenseSensing(np.eye(n * m), (n, m)), b=X.ravel(),
                truth=LowRank(Phi * np.sqrt(sig), Psi * np.sqrt(sig)))
    P.save(tmp_path / "problem.npz")
    saddle = next(p for p in factorization_critical_points(X, r, mu=0.5, rng=rng)
                  if p.kept == (1,))  # σ₁ missing: λ_min = −σ₁ = −2
    np.savez(tmp_path / "saddle.npz", U=saddle.U, V=saddle.V, model=np.array("asym"),
             mu=np.array(0.5))
    d = _json(runner.invoke(app, ["inspect", str(tmp_path / "saddle.npz"), "--problem",
                                  str(tmp_path / "problem.npz"), "--json"]))
    assert d["kind"] == "strict_saddle"
    assert d["lambda_min"] == pytest.approx(-2.0, abs=1e-8)
    assert d["symmetry_dim"] == 1  # WΩ ≠ 0 for the one skew Ω even though rank W = 1
    assert d["value"] == pytest.approx(0.5 * 4.0, abs=1e-12)


@pytest.mark.parametrize("case", ["missing_result", "bad_problem", "mismatch"])
def test_inspect_bad_input_one_error_line(tmp_path, case):
    P = sensing_problem(4, 1, 30, np.random.default_rng(1))
    P.save(tmp_path / "p.npz")
    np.savez(tmp_path / "r.npz", U=np.ones((5, 1)), model=np.array("sym"))
    np.savez(tmp_path / "bad.npz", x=np.ones(3))
    result, problem = {
        "missing_result": ("nope.npz", "p.npz"),
        "bad_problem": ("r.npz", "bad.npz"),
        "mismatch": ("r.npz", "p.npz"),
    }[case]
    res = runner.invoke(app, ["inspect", str(tmp_path / result), "--problem",
                              str(tmp_path / problem)])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error:")
