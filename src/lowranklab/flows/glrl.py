"""Continuous-time dynamics of glrl2021 (spec §1.3–1.4, dense, small d):

    factor GF (1)        U̇ = −∇f(UUᵀ)U                         (GF on ½f(UUᵀ))
    end-to-end (2)       Ẇ = g(W) = −W∇f(W) − ∇f(W)W
    its Jacobian         J(W)[Δ] = −ac{∇f(W), Δ} − ac{∇²f(W)[Δ], W}
    deep (11)            Ẇ = −Σ_{i<L} (WWᵀ)^{i/L} ∇f(W) (WᵀW)^{1−(i+1)/L}
    deep PSD (31)        Ẇ = −Σ_{i<L} W^{2i/L} ∇f(W) W^{2−(2i+2)/L}
    M = W^{2/L} (12)     Ṁ = −∇f(M^{L/2})M^{L/2} − M^{L/2}∇f(M^{L/2})
    SVD form (19)        Ẇ = −L Ũ((Ũᵀ∇fṼ)∘K^{(L)})Ṽᵀ,  K^{(L)} → K* (Cor. D.2)

∇f is always used symmetrised (spec §1.2). Fractional powers use `eigh`/SVD with negative
round-off eigenvalues clipped to 0 (spec §4 gotcha 7).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from lowranklab.lowrank import as_dense
from lowranklab.problems.loss import Loss


def sym(A: np.ndarray) -> np.ndarray:
    return 0.5 * (A + A.T)


def dense_grad(loss: Loss, W: np.ndarray) -> np.ndarray:
    """sym(∇f(W)) as a dense array."""
    return sym(np.asarray(as_dense(loss.grad(W)), dtype=float))


def psd_power(W: np.ndarray, a: float) -> np.ndarray:
    """W^a for symmetric PSD W (eigenvalues clipped at 0)."""
    lam, Q = np.linalg.eigh(sym(W))
    lam = np.clip(lam, 0.0, None)
    with np.errstate(divide="ignore"):
        p = np.where(lam > 0, lam ** a, 0.0) if a < 0 else lam**a
    return (Q * p) @ Q.T


def psd_power_derivative(M: np.ndarray, Mdot: np.ndarray, P: float) -> np.ndarray:
    """D(M ↦ M^P)(M)[Ṁ] by divided differences in the eigenbasis of M (spec §1.4)."""
    m, Q = np.linalg.eigh(sym(M))
    m = np.clip(m, 0.0, None)
    A, B = np.meshgrid(m, m, indexing="ij")
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = (A**P - B**P) / (A - B)
    same = np.isclose(A, B, rtol=1e-9, atol=1e-300)
    dd = np.where(same, P * np.maximum(A, B) ** (P - 1) if P >= 1 else P * np.where(
        np.maximum(A, B) > 0, np.maximum(A, B), np.inf) ** (P - 1), dd)
    return Q @ ((Q.T @ Mdot @ Q) * dd) @ Q.T


# -- depth 2 -----------------------------------------------------------------------------------
def e2e_rhs(loss: Loss, W: np.ndarray) -> np.ndarray:
    """g(W) = −W∇f(W) − ∇f(W)W (glrl2021 eq. (2))."""
    G = dense_grad(loss, W)
    return -(W @ G + G @ W)


def e2e_jacobian(loss: Loss, W: np.ndarray, D: np.ndarray) -> np.ndarray:
    """J(W)[Δ] = −ac{∇f(W), Δ} − ac{∇²f(W)[Δ], W} (spec §1.3)."""
    G = dense_grad(loss, W)
    H = sym(np.asarray(as_dense(loss.hvp(W, D)), dtype=float))
    return -(G @ D + D @ G) - (H @ W + W @ H)


def sym_basis(d: int) -> np.ndarray:
    """Orthonormal basis of S_d (vec of the lower triangle, App. G.1): (d(d+1)/2, d, d)."""
    out = []
    for i in range(d):
        for j in range(i + 1):
            E = np.zeros((d, d))
            if i == j:
                E[i, i] = 1.0
            else:
                E[i, j] = E[j, i] = 1 / np.sqrt(2)
            out.append(E)
    return np.array(out)


def e2e_jacobian_matrix(loss: Loss, W: np.ndarray) -> np.ndarray:
    """J(W) restricted to S_d in the orthonormal basis of `sym_basis` (erratum E5: only on
    S_d do the antisymmetric directions drop out)."""
    B = sym_basis(W.shape[0])
    cols = [e2e_jacobian(loss, W, E) for E in B]
    return np.einsum("kij,lij->kl", B, np.array(cols))


def factor_rhs(loss: Loss, U: np.ndarray) -> np.ndarray:
    """U̇ = −∇f(UUᵀ)U, GF (1) on ½f(UUᵀ)."""
    return -dense_grad(loss, U @ U.T) @ U


def factor_jacobian_matrix(loss: Loss, U: np.ndarray) -> np.ndarray:
    """∂vec(U̇)/∂vec(U) = −D²L(U): Δ ↦ −(∇f Δ + ∇²f[ΔUᵀ + UΔᵀ] U) (spec §1.3)."""
    d, r = U.shape
    W = U @ U.T
    G = dense_grad(loss, W)
    J = np.empty((d * r, d * r))
    for k in range(d * r):
        D = np.zeros(d * r)
        D[k] = 1.0
        D = D.reshape(d, r)
        H = sym(np.asarray(as_dense(loss.hvp(W, D @ U.T + U @ D.T)), dtype=float))
        J[:, k] = -(G @ D + H @ U).ravel()
    return J


def factor_gf(loss: Loss, U0: np.ndarray, T: float, *, t_eval=None, method: str = "LSODA",
              rtol: float = 1e-11, atol: float = 1e-300, jac: bool = True, dense_output=False):
    """Integrate GF (1) from U0 to time T with SciPy (LSODA + analytic Jacobian for the stiff
    cases, spec §4 gotcha 3). Returns the `solve_ivp` solution (y columns are vec(U))."""
    d, r = U0.shape

    def f(t, y):
        return factor_rhs(loss, y.reshape(d, r)).ravel()

    kw = {}
    if jac and method in ("LSODA", "BDF", "Radau"):
        kw["jac"] = lambda t, y: factor_jacobian_matrix(loss, y.reshape(d, r))
    return solve_ivp(f, (0.0, T), U0.ravel(), method=method, rtol=rtol, atol=atol,
                     t_eval=t_eval, dense_output=dense_output, **kw)


# -- depth L -----------------------------------------------------------------------------------
def deep_rhs_11(W: np.ndarray, G: np.ndarray, L: int) -> np.ndarray:
    """Arora et al.'s end-to-end flow (11) for balanced factors, via the SVD of W."""
    P, s, Qt = np.linalg.svd(W)
    out = np.zeros_like(W)
    for i in range(L):
        A = (P * s ** (2 * i / L)) @ P.T
        e = 2 * (1 - (i + 1) / L)
        B = (Qt.T * np.where(s > 0, s, 0.0) ** e) @ Qt if e > 0 else np.eye(W.shape[0])
        out -= A @ G @ B
    return out


def deep_rhs_31(W: np.ndarray, G: np.ndarray, L: int) -> np.ndarray:
    """The PSD form (31): Ẇ = −Σ W^{2i/L} ∇f W^{2−(2i+2)/L}."""
    out = np.zeros_like(W)
    for i in range(L):
        out -= psd_power(W, 2 * i / L) @ G @ psd_power(W, 2 - (2 * i + 2) / L)
    return out


def m_flow_rhs(M: np.ndarray, G_of_W, L: float) -> np.ndarray:
    """Lemma 6.1, eq. (12): Ṁ = −∇f(W)W − W∇f(W) with W = M^{L/2}; G_of_W(W) = sym ∇f(W)."""
    W = psd_power(M, L / 2)
    G = G_of_W(W)
    return -(G @ W + W @ G)


def K_matrix(sigma: np.ndarray, L: float) -> np.ndarray:
    """K^{(L)} of Thm D.1 (L finite) or K* of Cor. D.2 (L = inf, erratum E9), evaluated
    stably (spec §1.4)."""
    s = np.asarray(sigma, dtype=float)
    a, b = np.meshgrid(s, s, indexing="ij")
    big = np.maximum(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.isinf(L):
            la, lb = np.log(a**2), np.log(b**2)
            K = (a**2 - b**2) / (la - lb)
            close = np.abs(la - lb) < 1e-9
            K = np.where(close, (a**2 + b**2) / 2, K)
            K = np.where((a == 0) | (b == 0), 0.0, K)
        else:
            pa, pb = a ** (2 / L), b ** (2 / L)
            K = (a**2 - b**2) / (L * (pa - pb))
            close = np.abs(pa - pb) <= 1e-9 * np.maximum(np.maximum(pa, pb), 1e-300)
            K = np.where(close, big ** (2 - 2 / L), K)
            K = np.where((a == 0) ^ (b == 0), big ** (2 - 2 / L) / L, K)
            K = np.where((a == 0) & (b == 0), 0.0 if L > 1 else 1.0, K)
    return K


def deep_rhs_19(W: np.ndarray, G: np.ndarray, L: float) -> np.ndarray:
    """The SVD form (19): Ẇ = −L Ũ((ŨᵀGṼ)∘K^{(L)})Ṽᵀ (full SVD, so the null space counts).
    For L = inf the factor L is dropped (normalised time tL, Fig. 6)."""
    P, s, Qt = np.linalg.svd(W)
    K = K_matrix(s, L)
    c = 1.0 if np.isinf(L) else L
    return -c * P @ ((P.T @ G @ Qt.T) * K) @ Qt


# -- App. J.2: the deep linearised flow in projective coordinates (spec §2.4 Fig. 7) ------------
def projective_deep_linear(Q: np.ndarray, M0: np.ndarray, log10_ratio_max: float, *,
                           rtol: float = 1e-10, n_points: int = 400) -> dict[str, np.ndarray]:
    """Ṁ = QM² + M²Q (eq. (40), L = 4, f linear with −∇f = Q) in projective form: M = rN with
    ‖N‖_F = 1, h(N) = QN² + N²Q, dN/dτ = h − ⟨h, N⟩N, d log r/dτ = ⟨h, N⟩ (dτ = r dt), so the
    finite-time blow-up is never reached. Integrated with DOP853 until
    log10(‖W‖_F/‖W(0)‖_F) = log10_ratio_max, W = M². Returns log10_ratio (growth of ‖W‖_F) and
    alignment |⟨v₁, u₁(W)⟩| with v₁ the top eigenvector of Q, at n_points points."""
    Q = sym(np.asarray(Q, dtype=float))
    d = Q.shape[0]
    v1 = np.linalg.eigh(Q)[1][:, -1]
    r0 = np.linalg.norm(M0)
    N0 = M0 / r0
    logW0 = np.log(np.linalg.norm(N0 @ N0)) + 2 * np.log(r0)

    def rhs(tau, y):
        N = y[:-1].reshape(d, d)
        N2 = N @ N
        h = Q @ N2 + N2 @ Q
        c = float(np.sum(h * N))
        return np.concatenate([(h - c * N).ravel(), [c]])

    def log10_ratio(y):
        N = y[:-1].reshape(d, d)
        return (np.log(np.linalg.norm(N @ N)) + 2 * y[-1] - logW0) / np.log(10)

    def event(tau, y):
        return log10_ratio(y) - log10_ratio_max

    event.terminal = True
    y0 = np.concatenate([N0.ravel(), [np.log(r0)]])
    sol = solve_ivp(rhs, (0.0, 1e7), y0, method="DOP853", rtol=rtol, atol=1e-14,
                    events=event, dense_output=True)
    taus = np.linspace(0.0, sol.t[-1], n_points)
    ratio, align = [], []
    for tau in taus:
        y = sol.sol(tau)
        N = sym(y[:-1].reshape(d, d))
        u = np.linalg.eigh(N @ N)[1][:, -1]
        ratio.append(log10_ratio(y))
        align.append(abs(float(u @ v1)))
    return {"log10_ratio": np.array(ratio), "alignment": np.array(align), "tau": taus}


def m_flow_solve(loss: Loss, W0: np.ndarray, L: float, T: float, *, t_eval=None,
                 rtol: float = 1e-10, atol: float | None = None, method: str = "LSODA",
                 return_solution: bool = False):
    """Integrate the deep symmetric flow through M = W^{2/L}, eq. (12) (spec §1.4: the
    recommended ODE for deep symmetric flows; L = 2 is the end-to-end flow (2)). W0 must be
    symmetric PSD (balanced factors). Returns (t, list of W(t))."""
    d = W0.shape[0]
    M0 = psd_power(W0, 2.0 / L)
    if atol is None:
        atol = 1e-14 * max(np.linalg.norm(M0), 1e-300)

    def f(t, y):
        M = sym(y.reshape(d, d))
        return m_flow_rhs(M, lambda W: dense_grad(loss, W), L).ravel()

    sol = solve_ivp(f, (0.0, T), M0.ravel(), method=method, rtol=rtol, atol=atol, t_eval=t_eval,
                    dense_output=return_solution)
    Ws = [psd_power(sym(sol.y[:, k].reshape(d, d)), L / 2.0) for k in range(sol.y.shape[1])]
    if return_solution:
        return sol.t, Ws, lambda t: psd_power(sym(sol.sol(t).reshape(d, d)), L / 2.0)
    return sol.t, Ws


def refine_min_distance(W_of_t, ts: np.ndarray, Wref: np.ndarray) -> tuple[float, float]:
    """min_t ‖W(t) − W_ref‖_F over continuous t: the sampled argmin refined by a bounded scalar
    search on the dense output (spec §1.11: the discrete check is inaccurate near sharp dips)."""
    from scipy.optimize import minimize_scalar

    vals = [float(np.linalg.norm(W_of_t(t) - Wref)) for t in ts]
    k = int(np.argmin(vals))
    lo, hi = ts[max(k - 1, 0)], ts[min(k + 1, len(ts) - 1)]
    if hi <= lo:
        return vals[k], float(ts[k])
    res = minimize_scalar(lambda t: float(np.linalg.norm(W_of_t(t) - Wref)), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-10 * max(hi, 1.0)})
    return (float(res.fun), float(res.x)) if res.fun < vals[k] else (vals[k], float(ts[k]))


def deep_grad_norm(W: np.ndarray, G: np.ndarray, L: int) -> float:
    """‖∇_{U_{1:L}} f(U₁⋯U_L)‖_F for balanced symmetric factors of a PSD W:
    ‖∇_{U_i}‖_F = ‖W^{(i−1)/L} G W^{(L−i)/L}‖_F (spec §1.11; depth 2: √2‖GU‖_F, the
    two-factor convention)."""
    tot = 0.0
    for i in range(1, int(L) + 1):
        A = psd_power(W, (i - 1) / L) @ G @ psd_power(W, (L - i) / L)
        tot += float(np.sum(A * A))
    return float(np.sqrt(tot))


def low_rankness(W: np.ndarray, r: int) -> float:
    """r-low-rankness √(Σ_{i>r} σ_i²(W)) (glrl2021 Def. 6.3)."""
    s = np.linalg.svd(W, compute_uv=False)
    return float(np.sqrt(np.sum(s[r:] ** 2)))
