"""zhu2021 claims of seed002 spec §2 about functions, lemmas, derivatives and dynamics:
C3, C4, C15, C17, C18, C19, C22. (C1 and the claims about critical points and regions — C2,
C5–C14, C16, C20, C21 — are tested with the landscape toolkit in
tests/test_landscape_zhu2021.py.)

Tolerances follow spec §2: identities ≤ 1e-10·scale, ratios ≥ 1 − 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.models import BalancedFactor
from lowranklab.objective import Objective
from lowranklab.problems.balanced_truth import (
    aligned_residual,
    dist,
    hat,
    lift,
    planted_spectrum,
    procrustes,
    psd_objective,
)
from lowranklab.problems.smooth_losses import (
    LogCoshRSC,
    MatrixFactorizationLoss,
    QuadRSC,
    c_max_theorem1,
)
from lowranklab.solvers import gradient_descent

RATIO_TOL = 1e-9


def _orth(rng, n, r):
    Q, R = np.linalg.qr(rng.standard_normal((n, r)))
    return Q * np.sign(np.diag(R))


def _obj(loss, r, mu):
    n, m = loss.shape
    return Objective(loss, BalancedFactor(n, m, r, mu=mu))


# ----------------------------------------------------------------------------- C3
def test_C3_lemma3_procrustes(rng):
    """Lemma 3: R = LPᵀ from W₂ᵀW₁ = LSPᵀ minimizes ‖W₁ − W₂R‖_F over O_r and W₁ᵀW₂R ⪰ 0."""
    for _ in range(20):
        W1, W2 = rng.standard_normal((9, 3)), rng.standard_normal((9, 3))
        R = procrustes(W1, W2)
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
        best = np.linalg.norm(W1 - W2 @ R)
        others = [np.linalg.norm(W1 - W2 @ _orth(rng, 3, 3)) for _ in range(100)]
        assert best <= min(others) + 1e-12
        assert np.isclose(dist(W1, W2), best)
        S = W1.T @ W2 @ R
        np.testing.assert_allclose(S, S.T, atol=1e-12)
        assert np.linalg.eigvalsh(S).min() >= -1e-10
        # the reversed order P Lᵀ is not the minimizer (the argument order matters)
        L, _, Pt = np.linalg.svd(W2.T @ W1)
        assert np.linalg.norm(W1 - W2 @ (Pt.T @ L.T)) >= best - 1e-12


# ----------------------------------------------------------------------------- C4
def test_C4_lemma4_identity_and_bound(rng):
    """Lemma 4 (μ = ½): g(W) = ⅛‖WWᵀ − W★W★ᵀ‖²_F + ¼‖UᵀU★ − VᵀV★‖²_F; for any μ > 0,
    g ≥ min{μ/4, ⅛}‖WWᵀ − W★W★ᵀ‖²_F. The lifted PSD objective and the gradient split."""
    n, m = 6, 5
    t = planted_spectrum(n, m, [3.0, 2.0, 1.0], rng)
    M = lift(t.Xstar)
    np.testing.assert_allclose(M, t.W @ t.W.T, atol=1e-12)
    for mu in (0.1, 0.5, 2.0):
        obj = _obj(MatrixFactorizationLoss(t.Xstar), 3, mu)
        for _ in range(50):
            W = rng.standard_normal((n + m, 3)) * rng.uniform(0.1, 2)
            U, V = W[:n], W[n:]
            g = obj.value(W.ravel())
            E = np.sum((W @ W.T - M) ** 2)
            if mu == 0.5:
                ident = psd_objective(W, M) + 0.25 * np.sum((U.T @ t.U - V.T @ t.V) ** 2)
                assert abs(g - ident) <= 1e-10 * max(1.0, g)
                # ∇g = ½(WWᵀ − M)W + ½Ŵ★Ŵ★ᵀW (zhu2021 eq. (52))
                grad = obj.grad(W.ravel()).reshape(W.shape)
                Wh = t.W_hat
                want = 0.5 * (W @ W.T - M) @ W + 0.5 * Wh @ Wh.T @ W
                np.testing.assert_allclose(grad, want, atol=1e-10 * max(1, np.abs(want).max()))
            assert g >= min(mu / 4, 1 / 8) * E * (1 - RATIO_TOL)


# ----------------------------------------------------------------------------- C15
@pytest.mark.parametrize("which", ["g", "G"])
def test_C15_lemma1_linear_rate_in_R1(which, rng):
    """Lemma 1 with Thm 5 (g: α = σ_r/32, β = 1/(48σ₁)) or Thm 1 (G with QuadRSC at c_max of
    (14): α = σ_r/16, β = 1/(260σ₁)): GD with ν = 2β from dist ≤ 0.99σ_r^{1/2} satisfies
    dist²_t ≤ (1 − 2να)^t dist²_0 at every t (its proof's "μ ≤ 2β" means ν ≤ 2β)."""
    sig = [3.0, 2.0, 1.0]
    t = planted_spectrum(8, 6, sig, rng)
    if which == "g":
        loss, alpha, beta = MatrixFactorizationLoss(t.Xstar), sig[-1] / 32, 1 / (48 * sig[0])
    else:
        c = c_max_theorem1(t.Xstar, 3)
        loss, alpha, beta = QuadRSC(t.Xstar, c, rng), sig[-1] / 16, 1 / (260 * sig[0])
        # ‖X★‖ ≤ ‖X★‖_F ≤ √r‖X★‖: 1/(100√r κ^{3/2}) ≤ c_max ≤ 1/(100κ^{3/2}) ≤ 0.01
        # (spec §1.2 states "c_max ≤ 1/(100√r κ^{3/2})": that inequality is reversed)
        kap = sig[0] / sig[-1]
        assert 1 / (100 * np.sqrt(3) * kap**1.5) <= c <= 1 / (100 * kap**1.5) <= 0.01
    # Def 8's AM-GM step forces αβ ≤ 1/4 (the paper's ‖∇h‖² there should read ‖∇h‖)
    assert alpha * beta <= 0.25
    obj = _obj(loss, 3, 0.5)
    Z = rng.standard_normal(t.W.shape)
    W0 = t.W @ _orth(rng, 3, 3) + 0.99 * np.sqrt(sig[-1]) * Z / np.linalg.norm(Z)
    nu = 2 * beta
    d0 = dist(W0, t.W) ** 2
    seen = []
    gradient_descent(obj, W0.ravel(), step=nu, max_iter=2000, monitors=[],
                     callbacks=[lambda s: seen.append(
                         (s.iteration, dist(s.theta.reshape(W0.shape), t.W) ** 2))])
    its, d2 = np.array(seen).T
    assert len(its) == 2000
    assert np.all(d2 <= (1 - 2 * nu * alpha) ** its * d0 * (1 + 1e-9) + 1e-28)
    assert d2[-1] < 1e-3 * d0  # and it is far faster than the bound


# ----------------------------------------------------------------------------- C17
def test_C17_auxiliary_matrix_lemmas(rng):
    """Lemma 7, Cor 2, Lemma 8, Lemma 9, Lemma 13 and Tu et al. [31, L5.4] on random pairs
    (n = 7, r = 3), with B aligned to A by Procrustes so that AᵀB ⪰ 0."""
    n, r = 7, 3
    mins = {"L7lo": np.inf, "L7hi": np.inf, "C2lo": np.inf, "C2hi": np.inf, "L8": np.inf,
            "L9": np.inf, "L13": np.inf, "Tu": np.inf}
    l8_count = 0
    for _ in range(1500):
        # Lemma 7: σ_n(A)tr B ≤ tr(AB) ≤ ‖A‖tr B for A, B ⪰ 0
        Ga, Gb = rng.standard_normal((n, n)), rng.standard_normal((n, n - 2))
        A, B = Ga @ Ga.T, Gb @ Gb.T
        la = np.linalg.eigvalsh(A)
        tr = np.trace(A @ B)
        mins["L7lo"] = min(mins["L7lo"], tr / (la[0] * np.trace(B)))
        mins["L7hi"] = min(mins["L7hi"], la[-1] * np.trace(B) / tr)
        # Cor 2: σ_r(B)‖A‖_F ≤ ‖AB‖_F ≤ ‖B‖‖A‖_F
        A2, B2 = rng.standard_normal((n, r)), rng.standard_normal((r, r))
        sb = np.linalg.svd(B2, compute_uv=False)
        nab = np.linalg.norm(A2 @ B2)
        mins["C2lo"] = min(mins["C2lo"], nab / (sb[-1] * np.linalg.norm(A2)))
        mins["C2hi"] = min(mins["C2hi"], sb[0] * np.linalg.norm(A2) / nab)
        # pairs (A, B) of n×r factors, B aligned to A
        Bf = rng.standard_normal((n, r)) * rng.uniform(0.3, 2)
        Af = Bf + rng.standard_normal((n, r)) * rng.uniform(0.01, 1.5)
        Bf = Bf @ procrustes(Af, Bf)
        S = Af.T @ Bf
        assert np.allclose(S, S.T, atol=1e-10) and np.linalg.eigvalsh(S).min() > -1e-10
        E = Af @ Af.T - Bf @ Bf.T
        D = Af - Bf
        sB = np.linalg.svd(Bf, compute_uv=False)
        if np.linalg.norm(D, 2) <= np.sqrt(2) / 2 * sB[-1]:  # Lemma 8
            l8_count += 1
            lhs = np.sum((E @ Af) * D)
            rhs = (np.trace(D.T @ D @ Bf.T @ Bf) + np.sum(E**2)) / 16
            mins["L8"] = min(mins["L8"], lhs / rhs)
        # Lemma 13: ‖(A − B)Aᵀ‖²_F ≤ ‖AAᵀ − BBᵀ‖²_F / (2(√2 − 1))
        mins["L13"] = min(mins["L13"], np.sum(E**2) / (2 * (np.sqrt(2) - 1))
                          / np.sum((D @ Af.T) ** 2))
        # Tu et al.: ‖AAᵀ − BBᵀ‖²_F ≥ 2(√2 − 1)σ_r²(B)dist²(A, B)
        mins["Tu"] = min(mins["Tu"], np.sum(E**2) / (2 * (np.sqrt(2) - 1) * sB[-1] ** 2
                                                    * dist(Af, Bf) ** 2))
        # Lemma 9: ‖A‖ ≥ α‖B‖, α > 1 ⇒ ‖(AAᵀ − BBᵀ)A‖_F ≥ (1 − α⁻²)‖A‖³
        alpha = rng.uniform(1.01, 3)
        A9 = rng.standard_normal((n, r))
        B9 = rng.standard_normal((n, r))
        B9 *= np.linalg.norm(A9, 2) / (alpha * np.linalg.norm(B9, 2)) * rng.uniform(0.2, 1)
        lhs = np.linalg.norm((A9 @ A9.T - B9 @ B9.T) @ A9)
        mins["L9"] = min(mins["L9"], lhs / ((1 - alpha**-2) * np.linalg.norm(A9, 2) ** 3))
    assert l8_count >= 50
    for k, v in mins.items():
        assert v >= 1 - RATIO_TOL, (k, v)


# ----------------------------------------------------------------------------- C18
@pytest.mark.parametrize("kind", ["quadrsc", "logcosh"])
def test_C18_lemmas_10_to_12_deviation_from_mf(kind, rng):
    """Lemmas 10–12: with c the restricted-convexity constant of f,
    L10 |⟨∇f(C) − ∇f(D) − (C − D), H⟩| ≤ c‖C − D‖_F‖H‖_F,
    L11 ‖∇G − ∇g‖_F ≤ c‖WWᵀ − W★W★ᵀ‖_F‖W‖,
    L12 |∇²G[Δ,Δ] − ∇²g[Δ,Δ]| ≤ 2c‖UVᵀ − X★‖_F‖Δ_UΔ_Vᵀ‖_F + c‖Δ_UVᵀ + UΔ_Vᵀ‖²_F."""
    n, m, r = 5, 4, 2
    t = planted_spectrum(n, m, [2.0, 1.0], rng)
    c = 0.3
    f = QuadRSC(t.Xstar, c, rng) if kind == "quadrsc" else LogCoshRSC(t.Xstar, c)
    G, g = _obj(f, r, 0.5), _obj(MatrixFactorizationLoss(t.Xstar), r, 0.5)
    M = t.W @ t.W.T
    worst = {"L10": 0.0, "L11": 0.0, "L12": 0.0}
    for _ in range(600):
        C = rng.standard_normal((n, r)) @ rng.standard_normal((r, m))
        D = rng.standard_normal((n, r)) @ rng.standard_normal((r, m))
        H = rng.standard_normal((n, m))
        lhs = abs(np.sum((f.grad(C) - f.grad(D) - (C - D)) * H))
        worst["L10"] = max(worst["L10"], lhs / (c * np.linalg.norm(C - D) * np.linalg.norm(H)))
        W = rng.standard_normal((n + m, r)) * rng.uniform(0.2, 2)
        th = W.ravel()
        lhs = np.linalg.norm(G.grad(th) - g.grad(th))
        worst["L11"] = max(worst["L11"], lhs / (c * np.linalg.norm(W @ W.T - M)
                                                * np.linalg.norm(W, 2)))
        Dl = rng.standard_normal(W.shape)
        dU, dV = Dl[:n], Dl[n:]
        U, V = W[:n], W[n:]
        lhs = abs(Dl.ravel() @ (G.hvp(th, Dl.ravel()) - g.hvp(th, Dl.ravel())))
        rhs = (2 * c * np.linalg.norm(U @ V.T - t.Xstar) * np.linalg.norm(dU @ dV.T)
               + c * np.linalg.norm(dU @ V.T + U @ dV.T) ** 2)
        worst["L12"] = max(worst["L12"], lhs / rhs)
    for k, v in worst.items():
        assert v <= 1 + RATIO_TOL, (k, v)


# ----------------------------------------------------------------------------- C19
def test_C19_derivatives_match_paper_formulas_and_fd(rng):
    """Gradient (71), Hessian quadratic form (72) with the regularizer Hessian (32), the spec's
    HVP, all against the generic Objective and central finite differences (log-cosh f)."""
    n, m, r, mu = 5, 4, 2, 0.7
    t = planted_spectrum(n, m, [2.0, 1.0], rng)
    f = LogCoshRSC(t.Xstar, 0.3)
    obj = _obj(f, r, mu)
    W = rng.standard_normal((n + m, r))
    Dl = rng.standard_normal((n + m, r))
    U, V, dU, dV = W[:n], W[n:], Dl[:n], Dl[n:]
    X = U @ V.T
    D = U.T @ U - V.T @ V
    Wh, Dh = hat(W, n), hat(Dl, n)
    gf = f.grad(X)
    # (71): ∇G = [∇f V; ∇fᵀU] + μŴŴᵀW  (the V block of ∇ρ carries the minus sign)
    grad71 = np.vstack([gf @ V, gf.T @ U]) + mu * Wh @ Wh.T @ W
    np.testing.assert_allclose(obj.grad(W.ravel()).reshape(W.shape), grad71, atol=1e-12)
    # (72) with (32): ∇²f[Δ_X, Δ_X] + 2⟨∇f, Δ_UΔ_Vᵀ⟩ + ∇²ρ[Δ, Δ]
    dX = dU @ V.T + U @ dV.T
    rho2 = mu * (np.sum((Wh.T @ W) * (Dh.T @ Dl)) + np.sum((Wh @ Dh.T) * (Dl @ W.T))
                 + np.sum((Wh @ Wh.T) * (Dl @ Dl.T)))
    rho2_closed = mu * np.sum(D * (Dh.T @ Dl)) + mu / 2 * np.sum((Wh.T @ Dl + Dl.T @ Wh) ** 2)
    assert rho2 == pytest.approx(rho2_closed, rel=1e-12)
    quad72 = np.sum(f.hvp(X, dX) * dX) + 2 * np.sum(gf * (dU @ dV.T)) + rho2
    hv = obj.hvp(W.ravel(), Dl.ravel())
    assert Dl.ravel() @ hv == pytest.approx(quad72, rel=1e-12)
    # spec §1.3 HVP: H_ρ[Δ] = μ(Δ̂D + ŴḊ), Ḋ = ŴᵀΔ + ΔᵀŴ
    Ddot = Wh.T @ Dl + Dl.T @ Wh
    Z = f.hvp(X, dX)
    hvp = np.vstack([Z @ V + gf @ dV, Z.T @ U + gf.T @ dU]) + mu * (Dh @ D + Wh @ Ddot)
    np.testing.assert_allclose(hv.reshape(W.shape), hvp, atol=1e-12)
    # central finite differences: gradient (step 1e-6), second derivative (step 1e-4)
    th, d = W.ravel(), Dl.ravel()
    fd1 = (obj.value(th + 1e-6 * d) - obj.value(th - 1e-6 * d)) / 2e-6
    assert obj.grad(th) @ d == pytest.approx(fd1, rel=1e-7)
    fd2 = (obj.value(th + 1e-4 * d) - 2 * obj.value(th) + obj.value(th - 1e-4 * d)) / 1e-8
    assert d @ hv == pytest.approx(fd2, rel=1e-5)
    # the aligned residual of the regularity condition is orthogonal-invariant
    Q = _orth(rng, r, r)
    np.testing.assert_allclose(aligned_residual(W, t.W), aligned_residual(W, t.W @ Q),
                               atol=1e-12)


# ----------------------------------------------------------------------------- C22
def test_C22_imbalance_dynamics(rng):
    """dD/dt = −μ(DWᵀW + WᵀWD) [not in paper]: with a small step ‖UᵀU − VᵀV‖_F is
    non-increasing for μ > 0 and almost constant for μ = 0 (n = 8, m = 6, r = 3, η = 0.005,
    3000 steps, U scaled ×2)."""
    n, m, r = 8, 6, 3
    t = planted_spectrum(n, m, [3.0, 2.0, 1.0], rng)
    U0, V0 = rng.standard_normal((n, r)), rng.standard_normal((m, r))
    th0 = np.vstack([2 * U0, V0]).ravel()
    out = {}
    for mu in (0.5, 0.0):
        obj = _obj(MatrixFactorizationLoss(t.Xstar), r, mu)
        imb = []

        def cb(s, obj=obj, imb=imb):
            imb.append(float(np.linalg.norm(obj.model.imbalance(s.theta))))

        gradient_descent(obj, th0, step=0.005, max_iter=3000, monitors=[], callbacks=[cb])
        out[mu] = np.array(imb)
    reg, free = out[0.5], out[0.0]
    assert np.all(np.diff(reg) <= 1e-12 * reg[0]) and reg[-1] < 1e-6 * reg[0]
    assert abs(free[-1] / free[0] - 1) < 0.03  # spec: 45.7 → 45.2
