"""glrl2021: losses, canonical instance, GLRL (Algorithm 1), R1MP — spec §3 T3, T4, T17, T19."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from lowranklab.cli.solve import solve_problem_glrl
from lowranklab.lowrank import LowRank, as_dense, fro_dist_sq, fro_norm
from lowranklab.models import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems import completion_problem
from lowranklab.problems.glrl_instances import canonical_instance
from lowranklab.problems.glrl_losses import FullObservation, LinearLoss, PairObservation
from lowranklab.solvers.greedy import descend, glrl, r1mp, top_eigenpairs


@pytest.fixture(scope="module")
def inst():
    return canonical_instance(3759, 0.3)


@pytest.fixture(scope="module")
def glrl_run(inst):
    return glrl(inst.loss, epsilon=1e-7, step=1e-2)


def _fd_grad(loss, W, h=1e-6):
    G = np.zeros_like(W)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            E = np.zeros_like(W)
            E[i, j] = h
            G[i, j] = (loss.value(W + E) - loss.value(W - E)) / (2 * h)
    return G


def test_canonical_instance_numbers(inst):
    # spec §2.1: 102 unordered pairs, λ₁,₂(−∇f(0)) = (6.183, 5.475), λ_min = −3.34
    assert inst.loss.n_pairs == 102
    assert np.isclose(np.linalg.norm(inst.Wstar), 20.0)
    lam = np.linalg.eigvalsh(-as_dense(inst.loss.grad(np.zeros((20, 20)))))
    assert abs(lam[-1] - 6.183) < 1e-3 and abs(lam[-2] - 5.475) < 1e-3
    assert abs(lam[0] + 3.34) < 1e-2
    i25 = canonical_instance(3759, 0.25)
    lam25 = np.linalg.eigvalsh(-as_dense(i25.loss.grad(np.zeros((20, 20)))))
    assert i25.loss.n_pairs == 88 and abs(lam25[-1] - 5.460) < 1e-3
    assert abs(lam25[-2] - 4.864) < 1e-3
    # -∇f(0) = C∘W*
    C = (inst.N + inst.N.T) / 2
    assert np.allclose(-as_dense(inst.loss.grad(np.zeros((20, 20)))), C * inst.Wstar)


def test_pair_loss_grad_hvp_fd(rng):
    d = 6
    N = (rng.random((d, d)) < 0.5).astype(float)
    Z = rng.standard_normal((d, 2))
    loss = PairObservation.from_mask(N, Z @ Z.T)
    W = rng.standard_normal((d, d))  # non-symmetric W: gradient still C∘(sym(W) − W*)
    G = as_dense(loss.grad(W))
    assert np.allclose(G, _fd_grad(loss, W), atol=1e-7)
    assert np.allclose(G, G.T)
    C = (N + N.T) / 2
    assert np.allclose(G, C * (0.5 * (W + W.T) - Z @ Z.T))
    Wd = rng.standard_normal((d, d))
    h = 1e-6
    fd = (as_dense(loss.grad(W + h * Wd)) - as_dense(loss.grad(W - h * Wd))) / (2 * h)
    assert np.allclose(as_dense(loss.hvp(W, Wd)), fd, atol=1e-7)
    # factored inputs and the dense fast path agree with the sparse path
    U = rng.standard_normal((d, 3))
    f, Gd = loss.value_and_grad(LowRank(U, U))  # dense path (d <= FACTOR_DENSE_MAX)
    assert isinstance(Gd, np.ndarray)
    assert np.isclose(f, loss.value(LowRank(U, U)))
    assert np.allclose(Gd, as_dense(loss.grad(LowRank(U, U))))  # sparse path
    assert np.isclose(loss.value(U @ U.T), loss.value(LowRank(U, U)))


def test_full_and_linear_losses_fd(rng):
    d = 5
    A = rng.standard_normal((d, d))
    for loss in (FullObservation(A + A.T), LinearLoss(A + A.T, f0=2.0)):
        W = rng.standard_normal((d, d))
        assert np.allclose(as_dense(loss.grad(W)), _fd_grad(loss, W), atol=1e-6)
        U = rng.standard_normal((d, 2))
        f, G = loss.value_and_grad(LowRank(U, U))
        assert np.isclose(f, loss.value(U @ U.T)) and np.allclose(G, loss.grad(U @ U.T))


def test_from_entries_matches_mask(rng):
    d = 7
    N = (rng.random((d, d)) < 0.4).astype(float)
    Z = rng.standard_normal((d, 2))
    Y = Z @ Z.T
    a = PairObservation.from_mask(N, Y)
    r, c = np.nonzero(N)
    b = PairObservation.from_entries(r, c, Y[r, c], d)
    W = rng.standard_normal((d, d))
    assert np.isclose(a.value(W), b.value(W))
    assert np.allclose(as_dense(a.grad(W)), as_dense(b.grad(W)))
    with pytest.raises(ValueError, match="symmetric"):
        PairObservation(np.array([0]), np.array([1]), np.ones(1), np.ones(1), 3)


def test_glrl_step_matches_objective(inst, rng):
    # the specialised inner loop does GD on ½f(UUᵀ): its gradient is half of Objective's ∇f(UUᵀ)
    U = rng.standard_normal((20, 3))
    obj = Objective(inst.loss, SymmetricFactor(20, 3))
    g_obj = obj.grad(U.ravel()).reshape(20, 3)
    U1 = descend(inst.loss, U.copy(), step=1e-3, gtol=0.0, max_iter=1).factors[0]
    assert np.allclose((U - U1) / 1e-3, 0.5 * g_obj, atol=1e-10)


def test_T3_T17_glrl_phases(inst, glrl_run):
    res = glrl_run
    ph = res.info["phases"]
    assert len(ph) == 3 and res.converged and res.info["rank"] == 3
    expected = [(6.183, 5.475), (2.140, 1.512), (1.157, 0.791)]
    for p, (l1, l2) in zip(ph, expected, strict=True):
        assert abs(p["lam1"] - l1) < 2e-3 and abs(p["lam2"] - l2) < 2e-3
    Ws = [U @ U.T for U in res.info["critical_points"]]
    assert np.linalg.norm(Ws[3] - inst.Wstar) <= 1e-6
    for r in (1, 2, 3):
        G = as_dense(inst.loss.grad(Ws[r]))
        assert np.linalg.norm(G @ Ws[r]) <= 1e-8  # Lemma A.1
        assert np.linalg.matrix_rank(Ws[r], tol=1e-6) == r
        lam1 = np.linalg.eigvalsh(-G)[-1]  # Lemma A.2
        assert (lam1 > 0.1) if r < 3 else (lam1 <= 1e-7)


def test_T4_phase_start_decrease(inst, glrl_run):
    for r in (0, 1):
        U = glrl_run.info["critical_points"][r]
        W = U @ U.T
        lam, V = top_eigenpairs(inst.loss.grad(W), 1)
        u = V[:, 0]
        errs = []
        for eps in (1e-4, 1e-6):
            ratio = (inst.loss.value(W + eps * np.outer(u, u)) - inst.loss.value(W)) / (
                eps * lam[0])
            errs.append(abs(ratio + 1))
        assert errs[1] < 1e-5 and errs[1] < errs[0] / 50  # O(ε)


def test_T19_r1mp(rng):
    inst = canonical_instance(3759, 0.25)
    res = r1mp(inst.loss, 20)
    f = np.array(res.info["f"])
    assert np.all(np.diff(f) <= 1e-9 * f[0])
    U = res.info["atoms"]
    G = as_dense(inst.loss.grad(res.X))
    assert np.max(np.abs(np.einsum("ir,ij,jr->r", U, G, U))) < 1e-8
    test = inst.test_loss(res.X.dense())
    assert 0.1 <= test <= 0.4
    # first atoms: test losses of spec §2.4 Fig. 3 pilot (0.64, 0.43, 0.37)
    tests = []
    for a in res.info["coefficients"][:3]:
        k = a.size
        tests.append(inst.test_loss((U[:, :k] * a) @ U[:, :k].T))
    assert np.allclose(tests, [0.64, 0.43, 0.37], atol=0.01)


def test_glrl_completion_30(tmp_path):
    rng = np.random.default_rng(7)
    P = completion_problem(30, 30, 3, 0.45, rng, symmetric=True)
    res, U = solve_problem_glrl(P)
    assert res.info["rank"] == 3 and res.converged
    rel = np.sqrt(fro_dist_sq(LowRank(U, U), P.truth)) / fro_norm(P.truth)
    assert rel <= 1e-5


def test_cli_glrl(tmp_path):
    rng = np.random.default_rng(11)
    P = completion_problem(30, 30, 3, 0.45, rng, symmetric=True)
    P.save(tmp_path / "p.npz")
    out = tmp_path / "r.npz"
    cp = subprocess.run([sys.executable, "-m", "lowranklab.cli", "solve", str(tmp_path / "p.npz"),
                         "--model", "sym", "--solver", "glrl", "--out", str(out), "-q"],
                        capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    z = np.load(out)
    U = z["U"]
    assert U.shape == (30, 3)
    rel = np.sqrt(fro_dist_sq(LowRank(U, U), P.truth)) / fro_norm(P.truth)
    assert rel <= 1e-5
    cp = subprocess.run([sys.executable, "-m", "lowranklab.cli", "solve", str(tmp_path / "p.npz"),
                         "--model", "asym", "--solver", "glrl", "--out", str(out)],
                        capture_output=True, text=True)
    assert cp.returncode == 2 and cp.stderr.startswith("error:")


def test_glrl_dense_sensing_capped(rng):
    from lowranklab.problems import sensing_problem

    P = sensing_problem(8, 2, 80, rng)
    res, U = solve_problem_glrl(P, max_rank=1)
    assert U.shape == (8, 1) and not res.converged
    res, U = solve_problem_glrl(P)
    rel = np.sqrt(fro_dist_sq(LowRank(U, U), P.truth)) / fro_norm(P.truth)
    assert res.info["rank"] == 2 and rel < 1e-6


def _no_dense_glrl(d, r, frac, max_iter, seed):
    rng = np.random.default_rng(seed)
    P = completion_problem(d, d, r, frac, rng, symmetric=True)
    tracemalloc.start()
    res = glrl(P.loss(), epsilon=1e-7, max_iter=max_iter, max_rank=r, gtol=1e-12,
               dense_eig_max=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return P, res, peak


def test_glrl_large_sparse_memory_small():
    d = 1000
    P, res, peak = _no_dense_glrl(d, 2, 0.02, 100, 3)
    # O(m) memory: a single dense d×d float64 array alone would take d²·8 bytes
    assert peak < 0.5 * d * d * 8
    assert res.info["rank"] == 2


@pytest.mark.slow
def test_glrl_2000_no_dense():
    d = 2000
    P, res, peak = _no_dense_glrl(d, 5, 0.02, 300, 4)
    assert peak < 0.5 * d * d * 8  # measured 9.1 MB (O(m), m = 80k) vs 32 MB for one d×d
    assert res.info["rank"] == 5
