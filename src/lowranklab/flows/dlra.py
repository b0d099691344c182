"""Dynamical low-rank approximation (DLRA) of the gradient flow of f(Z) = ½‖Z − X‖²_F on the
PSD fixed-rank manifold, and the rescaled flow DLRA* (Hou, Li & Zhang 2021, §2.4 and §3).

With Z = U S Uᵀ, U ∈ St(n, r), S symmetric (not necessarily diagonal), gauge Uᵀ U̇ = 0:

    (DLRA)   U̇ = F(U, S) = P_U⊥ X U S⁻¹,        Ṡ = H(U, S) = −S + Uᵀ X U
    (DLRA*)  U̇ = F̃(U, S) = P_U⊥ X U φ(S),       Ṡ = H̃(U, S) = (−S + Uᵀ X U) λ_min(S)

with φ(S) = S⁻¹ λ_min(S), evaluated as Σ_i (λ_min/λ_i) p_i p_iᵀ with the ratio of the minimal
eigenvalue set to exactly 1, so that φ extends continuously (and C¹ where λ_min is simple) to
singular S (hou2021 Lemma 3.3, 3.5). DLRA* is DLRA times the scalar λ_min(S): the same path
in the time t(τ) with dt/dτ = λ_min(S(τ)) (hou2021 Lemma 3.4).

X is passed as factors (U_x, d) so that X U = U_x diag(d) U_xᵀ U costs O(n r²).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from lowranklab.models.base import sym_basis


def dlra_factor_derivatives(U: np.ndarray, S: np.ndarray, V: np.ndarray, Mdot: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U̇, Ṡ, V̇) of a curve Z = U S Vᵀ on M_r with Ż = Mdot ∈ T_Z and gauge UᵀU̇ = VᵀV̇ = 0
    (hou2021 Lemma 2.6; errata: U is m×r and Mdot is the tangent velocity itself):
    U̇ = P_U⊥ Mdot V S⁻¹,  V̇ = P_V⊥ Mdotᵀ U S⁻ᵀ,  Ṡ = Uᵀ Mdot V."""
    MV, MtU = Mdot @ V, Mdot.T @ U
    Ud = np.linalg.solve(S.T, (MV - U @ (U.T @ MV)).T).T
    Vd = np.linalg.solve(S, (MtU - V @ (V.T @ MtU)).T).T
    return Ud, U.T @ MV, Vd


def _eig(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of sym(S) in increasing order (index 0 is λ_min: identified by index)."""
    return np.linalg.eigh(0.5 * (S + S.T))


def lambda_min(S: np.ndarray) -> float:
    """The signed smallest eigenvalue of sym(S) (= σ_min(S) for S ⪰ 0)."""
    return float(_eig(S)[0][0])


def phi(S: np.ndarray) -> np.ndarray:
    """φ(S) = S⁻¹ λ_min(S) = Σ_i (λ_min/λ_i) p_i p_iᵀ, the λ_min term set to p p ᵀ exactly
    (no 0/0; continuous at singular S with a simple zero eigenvalue, hou2021 Lemma 3.3)."""
    lam, P = _eig(S)
    ratio = np.empty_like(lam)
    ratio[0] = 1.0
    ratio[1:] = lam[0] / lam[1:]
    return (P * ratio) @ P.T


def psi(S: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """ψ(S, η) = Dφ(S)[η] = −S⁻¹ η S⁻¹ λ_min + S⁻¹ (p_minᵀ η p_min), S nonsingular
    (hou2021 Lemma 3.5)."""
    lam, P = _eig(S)
    Sinv = (P / lam) @ P.T
    p = P[:, 0]
    return -Sinv @ eta @ Sinv * lam[0] + Sinv * float(p @ eta @ p)


def psi_limit(S_sharp: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """lim ψ(S, η) as S → S_#, singular with a simple zero eigenvalue. In the eigenbasis
    (p_i, d_i) of S_# with p_r spanning the kernel, for η = p_i p_jᵀ (hou2021 Lemma 3.5, two
    signs corrected — checked by finite differences of φ, spec §2.9):
    i, j < r: 0;  i < r = j: −p_i p_rᵀ/d_i;  i = r > j: −p_r p_jᵀ/d_j;
    i = j = r: Σ_{i<r} p_i p_iᵀ/d_i."""
    lam, P = _eig(S_sharp)
    r = lam.size
    E = P.T @ eta @ P  # coefficients of η in the basis p_i p_jᵀ (index 0 = kernel)
    out = np.zeros((r, r))
    inv = np.zeros(r)
    inv[1:] = 1.0 / lam[1:]
    out[1:, 0] = -E[1:, 0] * inv[1:]  # i < r, j = r
    out[0, 1:] = -E[0, 1:] * inv[1:]  # i = r, j < r
    out += np.diag(inv) * E[0, 0]  # i = j = r
    return P @ out @ P.T


@dataclass(frozen=True)
class Truth:
    """X = U_x diag(d) U_xᵀ in factored form."""

    Ux: np.ndarray
    d: np.ndarray

    def times(self, U: np.ndarray) -> np.ndarray:
        """X U."""
        return self.Ux @ (self.d[:, None] * (self.Ux.T @ U))

    def dense(self) -> np.ndarray:
        return (self.Ux * self.d) @ self.Ux.T


def dlra_rhs(U: np.ndarray, S: np.ndarray, X: Truth) -> tuple[np.ndarray, np.ndarray]:
    """(F, H) of (DLRA): F = P_U⊥ X U S⁻¹, H = −S + Uᵀ X U."""
    S = 0.5 * (S + S.T)
    XU = X.times(U)
    UtXU = U.T @ XU
    F = np.linalg.solve(S, (XU - U @ UtXU).T).T  # S symmetric: (·) S⁻¹ = (S⁻¹ (·)ᵀ)ᵀ
    return F, 0.5 * (UtXU + UtXU.T) - S


def dlra_star_rhs(U: np.ndarray, S: np.ndarray, X: Truth) -> tuple[np.ndarray, np.ndarray]:
    """(F̃, H̃) of (DLRA*): F̃ = P_U⊥ X U φ(S), H̃ = (−S + Uᵀ X U) λ_min(S) (hou2021 §3.2),
    safe at singular S."""
    S = 0.5 * (S + S.T)
    XU = X.times(U)
    UtXU = U.T @ XU
    return (XU - U @ UtXU) @ phi(S), (0.5 * (UtXU + UtXU.T) - S) * lambda_min(S)


def _pack(U, S, extra=()):
    return np.concatenate([U.ravel(), S.ravel(), np.asarray(extra, dtype=float)])


@dataclass
class FlowResult:
    """Samples of a flow: times t (original time; for DLRA* also the rescaled τ), the factors
    U(t), S(t), the distance ‖Z − X‖_F, λ_min(S) and the Stiefel drift ‖UᵀU − I‖."""

    t: np.ndarray
    tau: np.ndarray | None
    U: np.ndarray  # (k, n, r)
    S: np.ndarray  # (k, r, r)
    dist: np.ndarray
    sigma_r: np.ndarray
    drift: np.ndarray
    nfev: int
    success: bool
    message: str

    def Z(self, i: int) -> np.ndarray:
        return self.U[i] @ self.S[i] @ self.U[i].T


def distance_to_truth(U: np.ndarray, S: np.ndarray, X: Truth) -> float:
    """‖U S Uᵀ − X‖_F from the factors: QR of [U, U_x] and a 2r×2r core."""
    Q, R = np.linalg.qr(np.hstack([U, X.Ux]))
    r = U.shape[1]
    C = R[:, :r] @ (0.5 * (S + S.T)) @ R[:, :r].T - (R[:, r:] * X.d) @ R[:, r:].T
    return float(np.linalg.norm(C))


def integrate_flow(U0: np.ndarray, S0: np.ndarray, X: Truth, T: float, *,
                   rescaled: bool = False, t_eval: np.ndarray | None = None,
                   rtol: float = 1e-10, atol: float = 1e-13, method: str = "DOP853"
                   ) -> FlowResult:
    """Integrate (DLRA) to time T, or (DLRA*) to rescaled time T augmented with
    dt/dτ = λ_min(S) (rescaled=True), by scipy's solve_ivp on the flattened (U, S)
    (spec §2.7: DOP853, rtol 1e-10, atol 1e-13; S symmetrized inside the right-hand side)."""
    U0 = np.asarray(U0, dtype=float)
    S0 = np.asarray(S0, dtype=float)
    n, r = U0.shape
    if S0.shape != (r, r):
        raise ValueError(f"S0 must be {r}×{r}, got {S0.shape}")
    if not T > 0:
        raise ValueError(f"T must be > 0, got {T}")
    nU = n * r

    def unpack(y):
        return y[:nU].reshape(n, r), y[nU:nU + r * r].reshape(r, r)

    if rescaled:
        def rhs(_, y):
            U, S = unpack(y)
            F, H = dlra_star_rhs(U, S, X)
            return _pack(F, H, [lambda_min(S)])
        y0 = _pack(U0, S0, [0.0])
    else:
        def rhs(_, y):
            U, S = unpack(y)
            F, H = dlra_rhs(U, S, X)
            return _pack(F, H)
        y0 = _pack(U0, S0)
    sol = solve_ivp(rhs, (0.0, T), y0, method=method, rtol=rtol, atol=atol, t_eval=t_eval)
    Us, Ss = [], []
    for y in sol.y.T:
        U, S = unpack(y)
        Us.append(U)
        Ss.append(0.5 * (S + S.T))
    Us, Ss = np.array(Us), np.array(Ss)
    dist = np.array([distance_to_truth(U, S, X) for U, S in zip(Us, Ss, strict=True)])
    sig = np.array([lambda_min(S) for S in Ss])
    drift = np.array([np.linalg.norm(U.T @ U - np.eye(r)) for U in Us])
    t = sol.y[-1] if rescaled else sol.t
    return FlowResult(t=t, tau=sol.t if rescaled else None, U=Us, S=Ss, dist=dist, sigma_r=sig,
                      drift=drift, nfev=int(sol.nfev), success=bool(sol.success),
                      message=str(sol.message))


def jacobian_rescaled(U: np.ndarray, S: np.ndarray, X: Truth, h: float = 1e-6
                      ) -> np.ndarray:
    """Central-difference Jacobian of (F̃, H̃) in ambient coordinates R^{n×r} × S_r with an
    orthonormal basis of S_r (spec Gotcha 13); dimension n r + r(r+1)/2."""
    n, r = U.shape
    SB = sym_basis(r)

    def vec(F, H):
        return np.concatenate([F.ravel(), [float(np.vdot(B, H)) for B in SB]])

    dirs = []
    for k in range(n * r):
        E = np.zeros(n * r)
        E[k] = 1.0
        dirs.append((E.reshape(n, r), np.zeros((r, r))))
    dirs += [(np.zeros((n, r)), B) for B in SB]
    cols = []
    for dU, dS in dirs:
        fp = vec(*dlra_star_rhs(U + h * dU, S + h * dS, X))
        fm = vec(*dlra_star_rhs(U - h * dU, S - h * dS, X))
        cols.append((fp - fm) / (2 * h))
    return np.stack(cols, axis=1)
