"""ez2021 dynamics: the fast GD loop against the generic solver, Lemma C.1 (rank / row space)
for GD and the flow, the capture theorem on the exactly computable instance, the mini
Example 1.1, rank < r, and divergence detection (spec §4: T8–T10, T15–T17, T22)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rel_err

from lowranklab.experiments.ez2021.fig123 import eta_rule
from lowranklab.flows.sensing import gradient_flow
from lowranklab.lowrank import as_dense
from lowranklab.models.init import rank_k_init
from lowranklab.objective import Objective
from lowranklab.problems.ez2021 import (
    MACHINE_EPS,
    example_instance,
    numerical_rank,
    planted_factor,
)
from lowranklab.problems.ez2021_theory import (
    capture_conditions,
    capture_radii,
    default_xi,
    dist_to_Mb,
    estimate_sigma_m_Mb,
    injective_on_symmetric,
    procrustes_dist,
    rip_alpha,
)
from lowranklab.solvers import StopCode, gradient_descent
from lowranklab.solvers.sensing_gd import sensing_gd, sensing_objective


def _eta(inst, rho=1.0):
    # spec §4: η = 0.25/‖A‖² · min(1, 1/ρ²), matching η‖A‖² ≈ 0.27 of Example 1.1
    return 0.25 / inst.opnorm() ** 2 * min(1.0, 1.0 / rho**2)


def test_fast_loop_matches_generic_gradient_descent(rng):
    inst = example_instance(8, 2, 40, rng)
    U0 = rank_k_init((8, 8), 8, 1.0, rng)
    eta = _eta(inst)
    fast = sensing_gd(inst, U0, step=eta, max_iter=50, tol=None)
    obj = sensing_objective(inst)
    assert isinstance(obj, Objective)
    slow = gradient_descent(obj, U0.ravel(), step=eta, max_iter=50, truth=inst.truth)
    assert rel_err(fast.theta, slow.theta) <= 1e-12
    assert rel_err(fast.trace["train_error"], slow.trace["train_error"]) <= 1e-10
    assert rel_err(fast.trace["test_error"], slow.trace["test_error"]) <= 1e-10
    assert fast.iterations == slow.iterations == 50


def test_callbacks_are_honoured_and_see_the_generic_state(rng):
    inst = example_instance(6, 1, 20, rng)
    U0 = rank_k_init((6, 6), 3, 1.0, rng)
    seen = []

    def cb(state):
        seen.append(state.iteration)
        g = sensing_objective(inst).grad(state.theta)
        assert rel_err(state.evaluation.grad, g) <= 1e-12
        return state.iteration == 7

    res = sensing_gd(inst, U0, step=_eta(inst), max_iter=100, callbacks=[cb])
    assert res.stop is StopCode.INTERRUPTED and res.iterations == 7 and seen == list(range(8))


def test_T8_rowspace_and_rank_preserved_attracting_case():
    for seed in range(2):
        rng = np.random.default_rng(seed)
        inst = example_instance(20, 1, 80, rng)
        U = rank_k_init((20, 20), 2, 1.0, rng)
        _, _, Vt = np.linalg.svd(U)
        P = Vt[:2].T @ Vt[:2]
        eta = _eta(inst)
        for _ in range(25):  # 2,500 iterations, checked every 100
            U = sensing_gd(inst, U, step=eta, max_iter=100, tol=None).theta.reshape(20, 20)
            s = np.linalg.svd(U, compute_uv=False)
            assert np.linalg.norm(U - U @ P) <= 1e-10 * np.linalg.norm(U)
            assert s[2] / s[0] <= 1e-10 and s[1] / s[0] > 1e-6  # rank exactly 2 (G6)


def test_T9_T17_roundoff_escape_vs_factored_gd():
    rng = np.random.default_rng(0)
    inst = example_instance(10, 2, 80, rng)
    U0 = rank_k_init((10, 10), 1, 1.0, rng)
    eta = _eta(inst)
    plain = sensing_gd(inst, U0, step=eta, max_iter=3000, tol=None)
    s = np.linalg.svd(plain.theta.reshape(10, 10), compute_uv=False)
    assert s[1] / s[0] > 1e-6  # documented caveat: round-off seeds the repelling direction
    fact = sensing_gd(inst, U0, step=eta, max_iter=3000, tol=None, preserve_rowspace=True)
    U = fact.theta.reshape(10, 10)
    assert numerical_rank(U) == 1
    assert fact.info["final_train_error"] >= 1.0  # T17: rank(U₀) < r cannot fit the data


def test_T10_flow_preserves_rank_and_decreases_f():
    rng = np.random.default_rng(1)
    inst = example_instance(6, 1, 24, rng)
    U0 = rank_k_init((6, 6), 2, 1.0, rng)
    t, Us = gradient_flow(inst, U0, np.linspace(0, 20, 11))
    fs = [inst.train_error(U) for U in Us]
    for U in Us:
        s = np.linalg.svd(U, compute_uv=False)
        assert s[2] / s[0] <= 1e-10
    assert all(b <= a * (1 + 1e-9) for a, b in zip(fs, fs[1:], strict=False))
    assert fs[-1] < 1e-3 * fs[0]


def test_T10_eq36_eigenvalue_dynamics():
    rng = np.random.default_rng(2)
    inst = example_instance(6, 2, 20, rng)
    U = rank_k_init((6, 6), 3, 1.0, rng)
    Ud = -inst.grad_G(U)
    X = U @ U.T
    Sg = inst.adjoint(inst.g(U))  # A*(g)
    assert rel_err(Ud @ U.T + U @ Ud.T, -Sg @ X - X @ Sg) <= 1e-12  # eq. (30)/(36)
    lam, V = np.linalg.eigh(X)
    h = 1e-6
    lp = np.linalg.eigvalsh((U + h * Ud) @ (U + h * Ud).T)
    lm = np.linalg.eigvalsh((U - h * Ud) @ (U - h * Ud).T)
    dlam = (lp - lm) / (2 * h)
    pred = np.array([-2 * lam[i] * V[:, i] @ Sg @ V[:, i] for i in range(6)])
    nz = lam > 1e-8
    assert rel_err(dlam[nz], pred[nz]) <= 1e-6
    assert np.abs(dlam[~nz]).max() <= 1e-9


def _t15_instance():
    from lowranklab.operators import symmetric_gaussian
    from lowranklab.problems.ez2021 import SymmetricSensing
    from lowranklab.problems.planted import planted_psd

    rng = np.random.default_rng(5)
    while True:  # rejection-sample A until κ(M) ≤ 10
        op = symmetric_gaussian(3, 6, rng)
        inst = SymmetricSensing(op, np.zeros(6))
        s = np.linalg.svd(inst.svec_matrix(), compute_uv=False)
        if s[0] / s[-1] <= 10:
            break
    X = as_dense(planted_psd(3, 3, rng))
    return SymmetricSensing(op, op.forward(X), X), rng


def test_T15_capture_theorem_on_exact_instance():
    inst, rng = _t15_instance()
    X = inst.truth
    xi = default_xi(X)
    Un = planted_factor(X, 3)
    assert injective_on_symmetric(inst)
    sm = inst.sigma_m_Dg(Un)  # = σ_m(M_b): M_b = U♮O₃ and σ_m is rotation invariant
    smin = float(np.sqrt(np.linalg.eigvalsh(X)[0]))
    alpha, exact = rip_alpha(inst, 6, rng=rng)
    assert exact and sm > 0 and alpha > 0  # Assumption 3.1 (ii), (iii); (i): 6/3 ≤ 3 ≤ 3
    assert estimate_sigma_m_Mb(inst, 3, xi, n=6, rng=rng) == pytest.approx(sm, rel=1e-6)
    radii = capture_radii(sm, smin, alpha, inst.opnorm(), xi)
    assert radii["6c"] < radii["6b"] < radii["6a"] and radii["rho0"] > radii["6c"]
    E = rng.standard_normal((3, 3))
    U0 = Un + 0.9 * radii["6c"] * E / np.linalg.norm(E)
    conds = capture_conditions(inst, U0, radii, xi)
    assert conds["6c"] and conds["norm_ok"]
    eta = 0.1 / (inst.opnorm() ** 2 * xi**2)
    U, dmax = U0, 0.0
    for _ in range(30):  # 30 × 500 iterations (the test error reaches its 3e-28 floor by ~1e4)
        U = sensing_gd(inst, U, step=eta, max_iter=500, tol=None).theta.reshape(3, 3)
        dmax = max(dmax, dist_to_Mb(inst, U, xi)[0])
    assert dist_to_Mb(inst, U0, xi)[1]  # exact (Procrustes) distance here
    assert inst.test_error(U) <= 1e-20
    assert dmax < radii["rho0"]
    assert np.linalg.norm(inst.grad_G(U)) <= 1e-12 and np.linalg.norm(inst.g(U)) <= 1e-12
    assert procrustes_dist(U, Un) <= 1e-10


def test_T15_reverse_licq_fails_at_low_rank_points():
    from lowranklab.operators import symmetric_gaussian
    from lowranklab.problems.ez2021 import SymmetricSensing
    from lowranklab.problems.planted import planted_psd

    rng = np.random.default_rng(0)
    op = symmetric_gaussian(3, 6, rng)
    X = as_dense(planted_psd(3, 2, rng))
    inst = SymmetricSensing(op, op.forward(X), X)
    assert inst.sigma_m_Dg(planted_factor(X, 3)) <= 1e-12
    with pytest.warns(UserWarning, match="LICQ"):
        assert estimate_sigma_m_Mb(inst, 3, default_xi(X), n=2, rng=rng) == 0.0


def test_T16_mini_example_initialization_rank_matters():
    for seed in range(3):
        rng = np.random.default_rng(seed)
        inst = example_instance(20, 1, 80, rng)  # m = 80 < N = 210: under-determined
        eta = _eta(inst)
        out = {}
        for k, K in ((1, 10_000), (2, 4_000), (20, 10_000)):
            U0 = rank_k_init((20, 20), k, 1.0, rng)
            out[k] = sensing_gd(inst, U0, step=eta, max_iter=K, record_every=10**6)
        assert out[1].info["final_test_error"] <= 1e-12
        assert out[20].stop is StopCode.CONVERGED  # f ≤ eps ...
        assert out[20].info["final_test_error"] >= 1e-2  # ... without implicit bias
        t = [out[k].info["final_test_error"] for k in (1, 2, 20)]
        assert t[0] < t[1] < t[2]


def test_T22_divergence_detection_with_paper_eta():
    rng = np.random.default_rng(0)
    inst = example_instance(30, 2, None, rng)
    U0 = rank_k_init((30, 30), 30, 1e3, rng)
    res = sensing_gd(inst, U0, step=1e-4, max_iter=1000)
    assert res.stop is StopCode.DIVERGED and res.info["diverged_at"] <= 10
    assert np.all(np.isfinite(res.theta)) and np.all(np.isfinite(res.trace["train_error"]))
    ok = sensing_gd(inst, U0, step=eta_rule(1e3), max_iter=200)
    assert ok.stop is StopCode.MAX_ITER
    assert ok.info["final_train_error"] < ok.trace["train_error"][0]


def test_eta_rule_values():
    assert eta_rule(1e-3) == 1e-4 and eta_rule(1.0) == 1e-4
    assert eta_rule(10.0) == pytest.approx(5e-6) and eta_rule(1e3) == pytest.approx(5e-10)
    assert MACHINE_EPS == 2.0**-52
