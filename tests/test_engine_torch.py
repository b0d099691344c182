"""The engine on torch tensors (CPU): GD (constant, exact step, ScaledGD), noisy and perturbed
GD and RGD run on tensors end to end, follow the NumPy runs, recover the planted instances,
and never convert a working tensor to NumPy (`Tensor.__array__`, `numpy` and `tolist` raise
inside the solve; the reference values cross over before it)."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.models.fixed_rank import manifold_for
from lowranklab.models.init import initial_point, initialize
from lowranklab.objective import Objective
from lowranklab.problems import completion_problem, sensing_problem
from lowranklab.solvers import StopCode, gradient_descent
from lowranklab.solvers.noisy import noisy_gradient_descent, perturbed_gradient_descent
from lowranklab.solvers.riemannian import riemannian_gradient_descent

torch = pytest.importorskip("torch")


@pytest.fixture
def forbid_numpy(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a torch tensor was converted to NumPy")

    def install():
        monkeypatch.setattr(torch.Tensor, "__array__", boom)
        monkeypatch.setattr(torch.Tensor, "numpy", boom)
        monkeypatch.setattr(torch.Tensor, "tolist", boom)

    return install


def t(x):
    return torch.tensor(np.asarray(x).tolist(), dtype=torch.float64)


def _completion():
    rng = np.random.default_rng(3)
    P = completion_problem(30, 24, 2, 0.5, rng)
    obj = Objective(P.loss(), BalancedFactor(30, 24, 2))
    th = initialize(obj.model, "spectral", rng, op=P.op, b=P.b)
    return P, obj, th


@pytest.mark.parametrize("kw", [{"step": 0.3}, {"line_search": "exact"},
                                {"line_search": "exact", "direction": "scaled"},
                                {"step": 0.3, "line_search": "armijo"}])
def test_gd_on_torch_matches_numpy_and_recovers(kw, forbid_numpy):
    P, obj, th = _completion()
    ref = gradient_descent(obj, th, max_iter=3000, truth=P.truth, **kw)
    tth = t(th)
    forbid_numpy()
    res = gradient_descent(obj, tth, max_iter=3000, truth=P.truth, **kw)
    assert torch.is_tensor(res.theta) and all(torch.is_tensor(F) for F in res.factors)
    assert res.stop is StopCode.CONVERGED and ref.stop is StopCode.CONVERGED
    assert res.iterations == ref.iterations
    assert res.trace["rel_error"][-1] < 1e-6
    np.testing.assert_allclose(res.trace["value"], ref.trace["value"], rtol=1e-8, atol=1e-20)


def test_noisy_and_perturbed_gd_on_torch(forbid_numpy):
    rng = np.random.default_rng(0)
    P = sensing_problem(8, 1, 60, rng)
    obj = Objective(P.loss(), SymmetricFactor(8, 1))
    th = t(0.3 * rng.standard_normal(8))
    forbid_numpy()
    a = noisy_gradient_descent(obj, th, noise=1e-3, rng=np.random.default_rng(1),
                               max_iter=3000, noise_until=2000)
    b = perturbed_gradient_descent(obj, th, rng=np.random.default_rng(1),
                                   max_iter=3000)
    for res in (a, b):
        assert torch.is_tensor(res.theta)
        assert res.trace["value"][-1] < 1e-8 * res.trace["value"][0]


def test_rgd_on_torch_matches_numpy_and_recovers(forbid_numpy):
    rng = np.random.default_rng(5)
    P = completion_problem(40, 30, 2, 0.5, rng)
    man = manifold_for(P.shape, 2, symmetric=False)
    x0 = initial_point(man, "spectral", rng, op=P.op, b=P.b)
    ref = riemannian_gradient_descent(P.loss(), man, x0, max_iter=300, truth=P.truth)
    tx0 = man.point(t(x0.U), t(x0.S), t(x0.V))
    forbid_numpy()
    res = riemannian_gradient_descent(P.loss(), man, tx0, max_iter=300, truth=P.truth)
    assert res.stop is StopCode.CONVERGED and res.iterations == ref.iterations
    assert torch.is_tensor(res.info["point"].U)
    assert res.trace["rel_error"][-1] < 1e-6
    np.testing.assert_allclose(res.trace["value"], ref.trace["value"], rtol=1e-7, atol=1e-22)


def test_float32_gd_on_torch_stays_float32_and_tracks_float64():
    """float32 GD: the iterates stay float32 and the final relative error is within float32's
    reach (the residual floor is ~√eps₃₂·‖X♮‖ ≈ 3e-4 relative; 1e-3 allowed)."""
    P, obj, th = _completion()
    res = gradient_descent(obj, torch.tensor(th.tolist(), dtype=torch.float32), step=0.3,
                           max_iter=2000, tol=None, stall_tol=None, truth=P.truth)
    assert res.theta.dtype == torch.float32
    assert res.trace["rel_error"][-1] < 1e-3


def test_glrl_on_torch_matches_numpy_and_recovers(forbid_numpy):
    """GLRL (glrl2021 Alg. 1) with `like=` a tensor: the same phases and critical points as on
    NumPy, and the planted rank-2 PSD matrix recovered."""
    from lowranklab.solvers.greedy import glrl

    rng = np.random.default_rng(2)
    P = sensing_problem(10, 2, 120, rng)
    loss = P.loss()
    ref = glrl(loss, step=None, max_iter=20_000, truth=P.truth)
    like = torch.zeros(1, dtype=torch.float64)
    forbid_numpy()
    res = glrl(loss, step=None, max_iter=20_000, truth=P.truth, like=like)
    assert torch.is_tensor(res.factors[0]) and res.info["rank"] == ref.info["rank"] == 2
    assert res.stop is StopCode.CONVERGED
    assert [p["iterations"] for p in res.info["phases"]] == [
        p["iterations"] for p in ref.info["phases"]]
    assert res.trace["test_error"][-1] < 1e-10 * float(np.sum(np.asarray(P.truth.dense()) ** 2))


def test_numpy_only_solvers_refuse_tensors_clearly():
    from lowranklab.problems.ez2021 import example_instance
    from lowranklab.problems.min_norm_instances import random_instance
    from lowranklab.solvers.merit import algorithm1
    from lowranklab.solvers.sensing_gd import sensing_gd

    rng = np.random.default_rng(0)
    inst = example_instance(5, 1, 20, rng)
    with pytest.raises(TypeError, match="NumPy arrays only"):
        sensing_gd(inst, torch.zeros(5, 5, dtype=torch.float64), step=1e-3)
    P = random_instance(5, 6, rng)
    with pytest.raises(TypeError, match="NumPy arrays only"):
        algorithm1(P, torch.ones(5, 3, dtype=torch.float64))


@pytest.mark.parametrize("args", [["--backend", "torch"], ["--backend", "torch", "--dtype",
                                                           "float32"], ["--dtype", "float32"],
                                  ["--model", "fixed-rank", "--backend", "torch"]])
def test_cli_solve_on_torch_and_float32(tmp_path, args):
    from typer.testing import CliRunner

    from lowranklab.cli import app

    rng = np.random.default_rng(0)
    P = completion_problem(30, 24, 2, 0.6, rng)
    P.save(tmp_path / "p.npz")
    out = tmp_path / "r.npz"
    res = CliRunner().invoke(app, ["solve", str(tmp_path / "p.npz"), "--rank", "2",
                                   *(["--model", "asym"] if "--model" not in args else []),
                                   "--init", "spectral", "--max-iter", "3000", "--out",
                                   str(out), "-q", *args])
    assert res.exit_code == 0, res.output
    with np.load(out, allow_pickle=False) as z:
        X = z["X"]
    rel = np.linalg.norm(X - np.asarray(P.truth.dense())) / np.linalg.norm(P.truth.dense())
    assert rel < (1e-3 if "float32" in args else 1e-6)


@pytest.mark.parametrize("args, msg", [
    (["--device", "cuda"], "--device applies to --backend torch"),
    (["--backend", "jax"], "--backend must be numpy or torch"),
    (["--dtype", "float16"], "--dtype must be float64 or float32"),
    (["--solver", "glrl", "--backend", "torch"], "NumPy float64 only"),
])
def test_cli_backend_bad_input_one_line(tmp_path, args, msg):
    from typer.testing import CliRunner

    from lowranklab.cli import app

    rng = np.random.default_rng(0)
    P = sensing_problem(6, 1, 40, rng)
    P.save(tmp_path / "p.npz")
    res = CliRunner().invoke(app, ["solve", str(tmp_path / "p.npz"), "--out",
                                   str(tmp_path / "r.npz"), *args])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and msg in lines[0], res.output
