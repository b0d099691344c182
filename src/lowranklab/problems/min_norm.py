"""Minimum-norm symmetric factorization (eftekhari2021, problem (factor)):

    min_{U ∈ R^{d×p}} ‖U‖²_F   s.t.   A(UUᵀ) = b,   ‖U‖ ≤ ξ,

and its calculus (spec §1): f(U) = ½‖U‖²_F, g(U) = ½(A(UUᵀ) − b), G(U) = ½‖g(U)‖², the
constraint differential Dg(U)[Δ] = A(ΔUᵀ) and its adjoint A*(δ)U, the Gram matrix
K(U) = [⟨A_iU, A_jU⟩], the multipliers λ(U, Δ) = K(U)^† A(ΔUᵀ), the tangent projection onto
M_b = {U : g(U) = 0}, the manifold gradient and Hessian, FOSP/SOSP tests, the SDP dual
certificate (4) with an optimality-gap bound, the augmented Lagrangian and Fletcher's merit
function h_γ(U) = L_γ(U, λ(U, U)) with its exact gradient ∇h_γ(U) = W_γ(U) U.

All A_i are symmetric (the paper assumes it everywhere; non-symmetric input is rejected).
Vectorisation is row-major (numpy `ravel`), so vec(MΔ) = (M ⊗ I_p) vec(Δ).
Reported objective values are ‖U‖²_F = tr(UUᵀ) = 2 f(U), the SDP objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from lowranklab.operators import DenseSensing

RIDGE = 1e-9  # eftekhari2021 Sec. XII: K(U) + 1e-9 I_m


class MinNormFactorization:
    """The instance (A, b, ξ) of (factor) with A_i symmetric d×d, stored three ways:
    `A3` (m, d, d), `Amat` (m, d²) with rows vec(A_i)ᵀ, `Astack` (m·d, d) for B(U) by one GEMM.
    """

    def __init__(self, A: np.ndarray | DenseSensing, b: np.ndarray, *,
                 xi: float = math.inf) -> None:
        if isinstance(A, DenseSensing):
            d1, d2 = A.shape_in
            if d1 != d2:
                raise ValueError(f"A must act on square matrices, got shape {A.shape_in}")
            A = A.A.reshape(A.m, d1, d2)
        A = np.asarray(A, dtype=float)
        if A.ndim != 3 or A.shape[1] != A.shape[2]:
            raise ValueError(f"A must have shape (m, d, d) or be a square DenseSensing, "
                             f"got shape {A.shape}")
        if not np.all(np.isfinite(A)):
            raise ValueError("A must have finite entries")
        scale = max(float(np.abs(A).max()), 1.0)
        if not np.allclose(A, A.transpose(0, 2, 1), atol=1e-12 * scale, rtol=0):
            raise ValueError("every A_i must be symmetric (eftekhari2021 assumes it; symmetrise "
                             "with (A_i + A_iᵀ)/2, which leaves A(UUᵀ) unchanged)")
        m, d, _ = A.shape
        b = np.asarray(b, dtype=float)
        if b.shape != (m,):
            raise ValueError(f"b must have shape ({m},), got {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError("b must be finite")
        if not xi > 0:
            raise ValueError(f"xi must be > 0, got {xi}")
        self.m, self.d = m, d
        self.A3 = np.ascontiguousarray(0.5 * (A + A.transpose(0, 2, 1)))
        self.Amat = self.A3.reshape(m, d * d)
        self.Astack = self.A3.reshape(m * d, d)
        self.b = b
        self.xi = float(xi)
        self._norm: float | None = None

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_problem(cls, problem, *, xi: float = math.inf) -> MinNormFactorization:
        """From a `Problem` (PROBLEM.npz) with a square dense symmetric sensing operator."""
        if not isinstance(problem.op, DenseSensing):
            raise TypeError(f"(factor) needs a dense sensing operator, got "
                            f"{type(problem.op).__name__}")
        return cls(problem.op, problem.b, xi=xi)

    def operator(self) -> DenseSensing:
        return DenseSensing(self.Amat, (self.d, self.d))

    def check_U(self, U: np.ndarray, name: str = "U") -> np.ndarray:
        U = np.asarray(U, dtype=float)
        if U.ndim != 2 or U.shape[0] != self.d:
            raise ValueError(f"{name} must have shape ({self.d}, p), got {U.shape}")
        return U

    # -- operator A (3), (5) --------------------------------------------------------------------
    def forward(self, X: np.ndarray) -> np.ndarray:
        """A(X) = [⟨A_i, X⟩]_i."""  # eftekhari2021 eq. (3)
        return self.Amat @ np.asarray(X, dtype=float).ravel()

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """A*(y) = Σ y_i A_i (symmetric)."""  # eftekhari2021 eq. (5)
        return (np.asarray(y, dtype=float) @ self.Amat).reshape(self.d, self.d)

    def norm(self) -> float:
        """‖A‖ = σ_max of the (m, d²) matrix."""
        if self._norm is None:
            self._norm = float(np.linalg.norm(self.Amat, 2))
        return self._norm

    # -- f, g, G (6) ----------------------------------------------------------------------------
    def residual(self, U: np.ndarray) -> np.ndarray:
        """r(U) = A(UUᵀ) − b."""
        return self.Amat @ (U @ U.T).ravel() - self.b

    def objective(self, U: np.ndarray) -> float:
        """‖U‖²_F = tr(UUᵀ), the (factor)/(SDP) objective in the paper's units."""
        return float(np.sum(U * U))

    def f(self, U: np.ndarray) -> float:
        return 0.5 * self.objective(U)  # eftekhari2021 eq. (6)

    def g(self, U: np.ndarray) -> np.ndarray:
        return 0.5 * self.residual(U)  # eftekhari2021 eq. (6)

    def G(self, U: np.ndarray) -> float:
        r = self.residual(U)
        return float(r @ r) / 8.0

    def grad_G(self, U: np.ndarray) -> np.ndarray:
        """∇G(U) = Dg(U)*[g(U)] = ½ A*(A(UUᵀ) − b) U."""
        return 0.5 * self.adjoint(self.residual(U)) @ U

    def feasibility_gap(self, U: np.ndarray) -> float:
        """‖A(UUᵀ) − b‖²₂, the figures' feasibility gap."""
        r = self.residual(U)
        return float(r @ r)

    def grad_feasibility_gap(self, U: np.ndarray) -> np.ndarray:
        """∇‖A(UUᵀ) − b‖² = 4 A*(A(UUᵀ) − b) U."""
        return 4.0 * self.adjoint(self.residual(U)) @ U

    # -- differential geometry (7), (8), (13), (14) ---------------------------------------------
    def B(self, U: np.ndarray) -> np.ndarray:
        """B(U) ∈ R^{m×dp} with rows vec(A_iU)ᵀ: Dg(U) ≅ B, Dg(U)* ≅ Bᵀ, K = BBᵀ."""
        return (self.Astack @ U).reshape(self.m, -1)

    def Dg(self, U: np.ndarray, D: np.ndarray) -> np.ndarray:
        """Dg(U)[Δ] = A(ΔUᵀ)."""  # eftekhari2021 eq. (7)
        return self.Amat @ (D @ U.T).ravel()

    def Dg_adj(self, U: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Dg(U)*[δ] = A*(δ) U."""  # eftekhari2021 eq. (8)
        return self.adjoint(delta) @ U

    def K(self, U: np.ndarray) -> np.ndarray:
        """K(U) = [⟨A_iU, A_jU⟩]_{ij} = Dg(U)∘Dg(U)*."""  # eftekhari2021 eq. (14)
        Bm = self.B(U)
        return Bm @ Bm.T

    def multipliers(self, U: np.ndarray, D: np.ndarray | None = None, *,
                    ridge: float = 0.0) -> np.ndarray:
        """λ(U, Δ) = ((Dg(U))*)^†[Δ] = K(U)^† A(ΔUᵀ) (Δ = U by default).

        ridge = 0: the exact pseudo-inverse, as the minimum-norm least-squares coefficients of
        vec(Δ) on {vec(A_iU)} (exact even when K is singular, since (Bᵀ)^† = (BBᵀ)^† B).
        ridge > 0: the stabilised (K + ridge·I)^{-1} A(ΔUᵀ) of Sec. XII.
        """  # eftekhari2021 eqs. (13), (14), (44)
        D = U if D is None else D
        Bm = self.B(U)
        if ridge > 0:
            K = Bm @ Bm.T
            K[np.diag_indices_from(K)] += ridge
            return np.linalg.solve(K, Bm @ D.ravel())
        return np.linalg.lstsq(Bm.T, D.ravel(), rcond=None)[0]

    def tangent_project(self, U: np.ndarray, D: np.ndarray) -> np.ndarray:
        """P_{T_U M_b}(Δ) = Δ − A*(λ(U, Δ)) U (orthogonal projection onto null Dg(U))."""
        return D - self.adjoint(self.multipliers(U, D)) @ U  # eftekhari2021 eq. (13)

    def tangent_basis(self, U: np.ndarray, *, rtol: float = 1e-10) -> np.ndarray:
        """Orthonormal basis T (dp × (dp − rank B)) of null B(U) = T_U M_b (row-major vec)."""
        Bm = self.B(U)
        _, s, Vt = np.linalg.svd(Bm, full_matrices=True)
        rank = int(np.sum(s > rtol * max(s[0] if s.size else 0.0, 1e-300)))
        return Vt[rank:].T

    def manifold_grad(self, U: np.ndarray, *, ridge: float = 0.0) -> np.ndarray:
        """∇_{M_b} f(U) = P_T(U) = (I − A*(λ(U, U))) U."""  # eftekhari2021 eq. (15)
        return U - self.adjoint(self.multipliers(U, ridge=ridge)) @ U

    def manifold_hess_quad(self, U: np.ndarray, D: np.ndarray,
                           lam: np.ndarray | None = None) -> float:
        """∇²_{M_b} f(U)[Δ, Δ] = ‖Δ‖²_F − ⟨A*(λ(U, U)), ΔΔᵀ⟩ for tangent Δ."""
        lam = self.multipliers(U) if lam is None else lam  # eftekhari2021 eq. (17)
        return float(np.sum(D * D) - np.sum(self.adjoint(lam) * (D @ D.T)))

    def tangent_hessian(self, U: np.ndarray, *, rtol: float = 1e-10) -> np.ndarray:
        """Tᵀ H T with H = (I − A*(λ)) ⊗ I_p, T a basis of T_U M_b: the matrix of (17)/(18)."""
        p = U.shape[1]
        T = self.tangent_basis(U, rtol=rtol)
        H = np.kron(np.eye(self.d) - self.adjoint(self.multipliers(U)), np.eye(p))
        return T.T @ H @ T

    def stationarity(self, U: np.ndarray) -> Stationarity:
        """Feasibility ‖r‖₂, stationarity ‖(I − A*(λ))U‖_F and λ_min of the tangent Hessian."""
        U = self.check_U(U)
        TH = self.tangent_hessian(U)
        hmin = float(np.linalg.eigvalsh(TH).min()) if TH.size else math.inf
        return Stationarity(feasibility=float(np.linalg.norm(self.residual(U))),
                            stationarity=float(np.linalg.norm(self.manifold_grad(U))),
                            tangent_hess_min=hmin, rank=numerical_rank(U),
                            spectral_norm=float(np.linalg.norm(U, 2)) if U.size else 0.0)

    def is_fosp(self, U: np.ndarray, *, tol_f: float = 1e-8, tol_g: float = 1e-8) -> bool:
        """Definition 10 (16): g(U) = 0 and (I − A*(λ(U, U)))U = 0, with ‖U‖ < ξ; tolerances
        relative to max(1, ‖b‖) and max(1, ‖U‖_F)."""
        s = self.stationarity(U)
        return (s.feasibility <= tol_f * max(1.0, float(np.linalg.norm(self.b)))
                and s.stationarity <= tol_g * max(1.0, float(np.linalg.norm(U)))
                and s.spectral_norm < self.xi)

    def is_sosp(self, U: np.ndarray, *, tol_f: float = 1e-8, tol_g: float = 1e-8,
                tol_h: float = 1e-8) -> bool:
        """Definition 11: an FOSP whose tangent Hessian (18) is ⪰ −tol_h."""
        return self.is_fosp(U, tol_f=tol_f, tol_g=tol_g) and \
            self.stationarity(U).tangent_hess_min >= -tol_h

    # -- augmented Lagrangian (AL), (52), (57) --------------------------------------------------
    def aug_lagrangian(self, U: np.ndarray, lam: np.ndarray, gamma: float) -> float:
        """L_γ(U, λ') = f(U) − ⟨g(U), λ'⟩ + γ/2 ‖g(U)‖²."""  # eftekhari2021 (AL)
        gU = self.g(U)
        return self.f(U) - float(gU @ lam) + 0.5 * gamma * float(gU @ gU)

    def aug_lagrangian_grad(self, U: np.ndarray, lam: np.ndarray, gamma: float) -> np.ndarray:
        """∇₁L_γ(U, λ') = U − A*(λ')U + γ/2 A*(A(UUᵀ) − b)U."""  # eftekhari2021 eq. (52)
        return U - self.adjoint(lam - 0.5 * gamma * self.residual(U)) @ U

    def aug_lagrangian_hess_quad(self, U: np.ndarray, lam: np.ndarray, gamma: float,
                                 D: np.ndarray) -> float:
        """∇²₁L_γ(U, λ')[Δ, Δ] = ‖Δ‖² − ⟨A*(λ' − γ g(U)), ΔΔᵀ⟩ + γ‖A(ΔUᵀ)‖²."""  # eq. (57)
        S = self.adjoint(lam - gamma * self.g(U))
        a = self.Dg(U, D)
        return float(np.sum(D * D) - np.sum(S * (D @ D.T)) + gamma * (a @ a))

    # -- merit function (merit), (19), corrected (49)–(51) --------------------------------------
    def _parts(self, U: np.ndarray, ridge: float):
        """B, K-factorisation, λ = K^{-1}A(UUᵀ), r; singular K falls back to the pseudo-inverse
        (h_γ is not differentiable there: Assumption 7 fails)."""
        Bm = self.B(U)
        K = Bm @ Bm.T
        c = Bm @ U.ravel()  # A(UUᵀ) = B vec(U)
        solve = _k_solver(K, ridge)
        return Bm, K, solve, c, c - self.b

    def merit(self, U: np.ndarray, gamma: float, *, ridge: float = 0.0) -> float:
        """h_γ(U) = ½‖U‖² − ½⟨r, λ(U, U)⟩ + γ/8 ‖r‖², r = A(UUᵀ) − b."""  # (merit)
        return self.merit_and_grad(U, gamma, ridge=ridge)[0]

    def merit_W(self, U: np.ndarray, gamma: float, *, ridge: float = 0.0) -> np.ndarray:
        """W_γ(U) = (I − M) + γA*(g) − (I − M)N − N(I − M) ∈ Sym(d), with M = A*(λ(U, U)),
        N = A*(K^{-1} g): ∇h_γ(U) = W_γ(U) U (eq. (19) with the corrected Dλ, spec §1.10)."""
        return self._merit_value_W(U, gamma, ridge)[1]

    def _merit_value_W(self, U: np.ndarray, gamma: float, ridge: float):
        _, _, solve, c, r = self._parts(U, ridge)
        sol = solve(np.column_stack([c, 0.5 * r]))
        lam, y = sol[:, 0], sol[:, 1]
        IM = np.eye(self.d) - self.adjoint(lam)
        N = self.adjoint(y)
        W = IM + (0.5 * gamma) * self.adjoint(r) - IM @ N - N @ IM
        h = 0.5 * float(np.sum(U * U)) - 0.5 * float(r @ lam) + gamma / 8.0 * float(r @ r)
        return h, W

    def merit_and_grad(self, U: np.ndarray, gamma: float, *,
                       ridge: float = 0.0) -> tuple[float, np.ndarray]:
        h, W = self._merit_value_W(U, gamma, ridge)
        return h, W @ U

    def merit_grad(self, U: np.ndarray, gamma: float, *, ridge: float = 0.0) -> np.ndarray:
        """∇h_γ(U) = W_γ(U) U."""  # eftekhari2021 eq. (19), corrected Dλ
        return self.merit_W(U, gamma, ridge=ridge) @ U

    def merit_grad_eq19(self, U: np.ndarray, gamma: float) -> np.ndarray:
        """(19) assembled term by term: (I − A*λ)U + γ/2 A*(r)U − ½(Dλ)*[r]."""
        r = self.residual(U)
        lam = self.multipliers(U)
        return (U - self.adjoint(lam) @ U + 0.5 * gamma * self.adjoint(r) @ U
                - 0.5 * self.dlambda_adj(U, r))

    def dlambda(self, U: np.ndarray, D: np.ndarray) -> np.ndarray:
        """Dλ(U, U)[Δ] = K^{-1} A((I − M)ΔUᵀ + ΔUᵀ(I − M)), M = A*(λ(U, U)).

        Corrects the paper's (49)–(51): DK(U)[Δ] = K̃ + K̃ᵀ, not 2K̃, unless the A_i commute.
        """  # eftekhari2021 Supp. eqs. (49)–(51), corrected (spec §1.10)
        _, _, solve, c, _ = self._parts(U, 0.0)
        IM = np.eye(self.d) - self.adjoint(solve(c))
        E = D @ U.T
        return solve(self.forward(IM @ E + E @ IM))

    def dlambda_paper(self, U: np.ndarray, D: np.ndarray) -> np.ndarray:
        """The paper's printed (51): 2K^{-1}(−K̃(U, Δ)K^{-1}A(UUᵀ) + A(ΔUᵀ)), with
        K̃_ij = ⟨A_iΔ, A_jU⟩. Wrong for non-commuting A_i; kept for the documenting test."""
        Bm, _, solve, c, _ = self._parts(U, 0.0)
        Bd = self.B(D)
        Kt = Bd @ Bm.T
        return 2.0 * solve(-Kt @ solve(c) + self.Dg(U, D))

    def dlambda_adj(self, U: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(Dλ(U, U))*[w] = ((I − M)N + N(I − M))U with N = A*(K^{-1}w)."""  # spec §1.10
        _, _, solve, c, _ = self._parts(U, 0.0)
        IM = np.eye(self.d) - self.adjoint(solve(c))
        N = self.adjoint(solve(np.asarray(w, dtype=float)))
        return (IM @ N + N @ IM) @ U

    def merit_hess_quad_at_fosp(self, U: np.ndarray, D: np.ndarray, gamma: float) -> float:
        """(65) at a feasible FOSP: ‖Δ‖² − ⟨A*λ, ΔΔᵀ⟩ − 2⟨A(ΔUᵀ), Dλ[Δ]⟩ + γ‖A(ΔUᵀ)‖²."""
        lam = self.multipliers(U)
        a = self.Dg(U, D)
        return float(np.sum(D * D) - np.sum(self.adjoint(lam) * (D @ D.T))
                     - 2.0 * a @ self.dlambda(U, D) + gamma * a @ a)

    # -- feasible-manifold distance (Definition 5) -----------------------------------------------
    def newton_project(self, U: np.ndarray, *, max_iter: int = 50,
                       tol: float = 1e-13) -> tuple[np.ndarray, int]:
        """Gauss–Newton projection V ← V − A*(K(V)^{-1} g(V)) V onto M_b (minimum-norm step of
        Dg(V)[Δ] = −g(V)); ‖U − V_∞‖_F is an upper bound on dist(U, M_b) (spec §1.5)."""
        V = self.check_U(U).copy()
        for k in range(max_iter):
            gV = self.g(V)
            if np.linalg.norm(gV) <= tol * max(1.0, float(np.linalg.norm(self.b))):
                return V, k
            V = V - self.adjoint(np.linalg.lstsq(self.K(V), gV, rcond=None)[0]) @ V
        return V, max_iter

    # -- dual certificate (4) --------------------------------------------------------------------
    def certificate(self, U: np.ndarray, *, lam: np.ndarray | None = None,
                    ridge: float = 0.0, C: np.ndarray | None = None) -> Certificate:
        """The SDP dual certificate built from U: λ = λ(U, U) (or the given λ).

        Reports ‖U‖²_F, bᵀλ, the dual gap ‖U‖²_F − bᵀλ, λ_min(I − A*(λ)), the feasibility
        ‖A(UUᵀ) − b‖ and the complementarity ‖(I − A*(λ))U‖_F. The optimality-gap bound uses
        that λ/(1 + μ), μ = max(0, −λ_min), is dual feasible, so opt(SDP) ≥ bᵀλ/(1 + μ) and
        ‖U‖²_F − opt ≤ ‖U‖²_F − bᵀλ/(1 + μ) whenever U is feasible (weak duality).

        C: a symmetric cost matrix for the general SDP min ⟨C, X⟩ s.t. A(X) = b, X ⪰ 0 (default
        I, the paper's (SDP)); then the objective is ⟨C, UUᵀ⟩, the slack C − A*(λ), and the gap
        bound uses λ/(1 + μ/c), dual feasible when c = λ_min(C) > 0 (C − A*(λ) + (μ/c)C ⪰ 0);
        for C not positive definite it is the plain dual gap when μ = 0 and NaN otherwise.
        """  # eftekhari2021 eq. (4)
        U = self.check_U(U)
        lam = self.multipliers(U, ridge=ridge) if lam is None else np.asarray(lam, float)
        if lam.shape != (self.m,):
            raise ValueError(f"lam must have shape ({self.m},), got {lam.shape}")
        if C is None:
            S = np.eye(self.d) - self.adjoint(lam)
            obj, c_min = self.objective(U), 1.0
        else:
            C = self.check_cost(C)
            S = C - self.adjoint(lam)
            obj = float(np.sum((C @ U) * U))
            c_min = float(np.linalg.eigvalsh(C)[0])
        lmin = float(np.linalg.eigvalsh(0.5 * (S + S.T)).min())
        dual = float(self.b @ lam)
        mu = max(0.0, -lmin)
        if c_min > 0:
            bound = obj - dual / (1.0 + mu / c_min)
        else:
            bound = obj - dual if mu == 0 else math.nan
        return Certificate(objective=obj, dual_value=dual, dual_gap=obj - dual,
                           lambda_min=lmin, feasibility=float(np.linalg.norm(self.residual(U))),
                           complementarity=float(np.linalg.norm(S @ U)),
                           gap_bound=bound, multipliers=lam)

    def check_cost(self, C: np.ndarray, name: str = "C") -> np.ndarray:
        """A finite symmetric d×d cost matrix (as float64)."""
        C = np.asarray(C, dtype=float)
        if C.shape != (self.d, self.d):
            raise ValueError(f"{name} must have shape ({self.d}, {self.d}), got {C.shape}")
        if not np.all(np.isfinite(C)):
            raise ValueError(f"{name} must have finite entries")
        if not np.allclose(C, C.T, atol=1e-12 * max(float(np.abs(C).max()), 1.0), rtol=0):
            raise ValueError(f"{name} must be symmetric (⟨C, X⟩ only sees (C + Cᵀ)/2)")
        return 0.5 * (C + C.T)


@dataclass
class Certificate:
    objective: float  # ‖U‖²_F (⟨C, UUᵀ⟩ for a cost matrix C)
    dual_value: float  # bᵀλ
    dual_gap: float  # ‖U‖²_F − bᵀλ
    lambda_min: float  # λ_min(I − A*(λ)) (or of C − A*(λ)); ≥ 0 means λ is dual feasible
    feasibility: float  # ‖A(UUᵀ) − b‖₂
    complementarity: float  # ‖(I − A*(λ))U‖_F
    gap_bound: float  # upper bound on ‖U‖²_F − opt(SDP) when U is feasible
    multipliers: np.ndarray

    def certifies(self, tol: float = 1e-6) -> bool:
        """(4) holds to `tol` (relative to max(1, ‖U‖²_F)): U Uᵀ solves (SDP)."""
        s = max(1.0, abs(self.objective))
        return (self.lambda_min >= -tol and abs(self.dual_gap) <= tol * s
                and self.feasibility <= tol * s)

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items() if k != "multipliers"}


@dataclass
class Stationarity:
    feasibility: float
    stationarity: float
    tangent_hess_min: float
    rank: int
    spectral_norm: float


def _k_solver(K: np.ndarray, ridge: float):
    """x ↦ (K + ridge·I)^{-1} x by Cholesky; the pseudo-inverse if K is numerically singular."""
    Kr = K if ridge <= 0 else K + ridge * np.eye(K.shape[0])
    try:
        cf = sla.cho_factor(Kr, check_finite=False)
        d = np.diag(cf[0])
        if d.min() > 1e-7 * d.max():  # cond(K) ≲ 1e14
            return lambda x: sla.cho_solve(cf, x, check_finite=False)
    except np.linalg.LinAlgError:
        pass
    pinv = np.linalg.pinv(Kr, rcond=1e-13, hermitian=True)
    return lambda x: pinv @ x


def numerical_rank(U: np.ndarray, rtol: float = 1e-8) -> int:
    """Number of singular values above rtol·σ₁."""
    if U.size == 0:
        return 0
    s = np.linalg.svd(U, compute_uv=False)
    return int(np.sum(s > rtol * max(s[0], 1e-300)))


# -- regimes (Assumption 3, Pataki) ------------------------------------------------------------
def is_overparametrized(d: int, m: int, p: int) -> bool:
    """Assumption 3(ii) literally: m < pd if p < d/2, else m < d(d+1)/2. Note (2, 2, 1) is True
    although the paper calls that Fig. 1 panel under-parametrised (there pd = m)."""
    _check_pos(d=d, m=m, p=p)
    return m < p * d if 2 * p < d else 2 * m < d * (d + 1)


def regime(d: int, m: int, p: int) -> str:
    """Informal regime of Sec. II: 'under' (p ≲ m/d), 'over' (p ≳ m/d) or 'very over' (p ≥ d)."""
    _check_pos(d=d, m=m, p=p)
    if p >= d:
        return "very over"
    return "over" if p * d > m else "under"


def pataki_rank_bound(m: int) -> int:
    """r_max(m) = ⌊(√(8m + 1) − 1)/2⌋: extreme SDP optima have r(r + 1)/2 ≤ m."""
    _check_pos(m=m)
    r = int((math.isqrt(8 * m + 1) - 1) // 2)
    return r


def pataki_p(m: int) -> int:
    """⌈√(2m)⌉: p ≥ √(2m) gives p(p + 1)/2 > m, so SDP optima have rank ≤ p − 1."""
    _check_pos(m=m)
    p = math.isqrt(2 * m)
    return p if p * p == 2 * m else p + 1


def lift(Z: np.ndarray, xi: float) -> np.ndarray:
    """Remark 2: [[ξ²I, Z], [Zᵀ, I]] ⪰ 0 iff ‖Z‖ ≤ ξ (Schur complement)."""
    Z = np.asarray(Z, dtype=float)
    if Z.ndim != 2:
        raise ValueError(f"Z must be a matrix, got shape {Z.shape}")
    d1, d2 = Z.shape
    return np.block([[xi**2 * np.eye(d1), Z], [Z.T, np.eye(d2)]])


def _check_pos(**kw: int) -> None:
    for k, v in kw.items():
        if int(v) != v or v < 1:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")
