"""The fixed-rank manifold M_r = {Z : rank Z = r} (general m×n) and its PSD variant
M_r⁺ = {Z ⪰ 0 : rank Z = r} (Hou, Li & Zhang 2021, §2; Vandereycken 2013).

Points are held as factors Z = U diag(S) Vᵀ with U ∈ St(m, r), V ∈ St(n, r) and S the r
singular values in decreasing order (PSD: V = U and S the eigenvalues). Tangent vectors are
held as components (M, Up, Vp):

    ξ = U M Vᵀ + Up Vᵀ + U Vpᵀ,     Uᵀ Up = 0,  Vᵀ Vp = 0      (hou2021 Def. 2.2)

(PSD: M symmetric and Vp = Up). No m×n array is formed unless the caller asks for one
(`dense`); the ambient gradient G of a loss enters only through the products G V and Gᵀ U,
so it may be dense, scipy-sparse (matrix completion) or `LowRank`.

    tangent projection    P_T(A) = P_U A + A P_V − P_U A P_V:
                          M = Uᵀ A V,  Up = P_U⊥ A V,  Vp = P_V⊥ Aᵀ U
    retraction            metric projection onto M_r of Y = Z + tξ, from the 2r×2r core
                          [[S + tM, t R₂ᵀ], [t R₁, 0]] in the bases [U Q₁], [V Q₂]
                          (Up = Q₁R₁, Vp = Q₂R₂): O((m + n) r² + r³). PSD: top-r algebraic
                          eigenvalues of the symmetric core, clipped at 0.
    transport             projection of the ambient vector onto the new tangent space
    Riemannian Hessian    Hess f(Z)[ξ] = P_T(∇²f(Z)[ξ]) + P_U⊥ G Vp Σ⁻¹ Vᵀ + U Σ⁻¹ Upᵀ G P_V⊥
                          (hou2021 eq. (5) with the transposes fixed; G = ∇f(Z))

Backends: the factors may be NumPy arrays or torch tensors (CPU/CUDA, any float dtype); points,
tangent projection, retraction, transport and the Hessian then compute in torch on the
factors' device (`torch.linalg` QR/SVD/eigh of the small cores), never through NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from lowranklab.backend import concat, eye, float_dtype, is_torch, zeros
from lowranklab.lowrank import LowRank, Matrix, as_dense
from lowranklab.models.base import sym_basis
from lowranklab.operators.kernels import t_times, times
from lowranklab.problems.loss import Loss


@dataclass(frozen=True)
class FixedRankPoint:
    """Z = U diag(S) Vᵀ (PSD: V is U and S are the eigenvalues), S in decreasing order."""

    U: np.ndarray
    S: np.ndarray
    V: np.ndarray

    @property
    def rank(self) -> int:
        return self.S.size

    @property
    def shape(self) -> tuple[int, int]:
        return (self.U.shape[0], self.V.shape[0])

    @property
    def sigma_r(self) -> float:
        """σ_r(Z), the smallest kept singular value (PSD: λ_r)."""
        return float(self.S[-1])

    @property
    def sigma_1(self) -> float:
        return float(self.S[0])

    def lowrank(self) -> LowRank:
        """Z as LowRank(U diag(S), V)."""
        return LowRank(self.U * self.S, self.V)

    def dense(self) -> np.ndarray:
        """Z as a dense m×n array (small problems only)."""
        return (self.U * self.S) @ self.V.T

    def flat(self) -> np.ndarray:
        """(vec U, S, vec V) as one flat vector (the `theta` of a solver `Result`)."""
        return concat([self.U.reshape(-1), self.S, self.V.reshape(-1)])


@dataclass(frozen=True)
class TangentVector:
    """ξ = U M Vᵀ + Up Vᵀ + U Vpᵀ at a point (U, S, V)."""

    M: np.ndarray
    Up: np.ndarray
    Vp: np.ndarray

    def __add__(self, other: TangentVector) -> TangentVector:
        return TangentVector(self.M + other.M, self.Up + other.Up, self.Vp + other.Vp)

    def __mul__(self, c: float) -> TangentVector:
        return TangentVector(c * self.M, c * self.Up, c * self.Vp)

    __rmul__ = __mul__

    def __sub__(self, other: TangentVector) -> TangentVector:
        return self + (-1.0) * other


class _NumPyLinalg:
    """numpy.linalg's svd and eigh, with the reduced QR from SciPy (the same LAPACK geqrf +
    orgqr without NumPy's wrapper overhead and finite check: 74 µs against 95 µs at 1000×10,
    `python -m benchmarks.micro`; the fallback of the retraction's complement bases and of
    the re-orthonormalization)."""

    svd = staticmethod(np.linalg.svd)
    eigh = staticmethod(np.linalg.eigh)

    @staticmethod
    def qr(a):
        return scipy.linalg.qr(a, mode="economic", check_finite=False)


def _la(x):
    """The linear-algebra module for x's backend: NumPy/SciPy or torch.linalg (same qr, svd,
    eigh signatures and conventions: reduced QR, full SVD, ascending eigenvalues)."""
    if is_torch(x):
        import torch

        return torch.linalg
    return _NumPyLinalg


def _flip(x, axis: int):
    """x reversed along axis (x[::-1], x[:, ::-1]; torch has no negative-step slices)."""
    return x.flip(axis) if is_torch(x) else np.flip(x, axis)


def _clip0(x):
    return x.clamp(min=0.0) if is_torch(x) else np.clip(x, 0.0, None)


def _block(A, B, C, D):
    """[[A, B], [C, D]] (for NumPy by slice assignment: np.block's generality costs 16 µs
    against 3 µs for the 2r×2r core of a retraction)."""
    if is_torch(A):
        return concat([concat([A, B], axis=1), concat([C, D], axis=1)], axis=0)
    k, l = A.shape
    K = np.empty((k + C.shape[0], l + B.shape[1]), dtype=np.result_type(A, B, C, D))
    K[:k, :l], K[:k, l:], K[k:, :l], K[k:, l:] = A, B, C, D
    return K


def _diag(v):
    if is_torch(v):
        import torch

        return torch.diag(v)
    return np.diag(v)


def _as_float(x):
    """Tensors as they are; NumPy input as a float32/float64 array (float64 by default)."""
    if is_torch(x):
        return x
    x = np.asarray(x)
    return x.astype(float_dtype(x), copy=False)


def _all_finite(x) -> bool:
    return bool(x.isfinite().all()) if is_torch(x) else bool(np.all(np.isfinite(x)))


def _products(G: Matrix, U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G V, Gᵀ U) for G dense, scipy-sparse or LowRank, never densifying G."""
    if isinstance(G, LowRank):
        return G.L @ (G.R.T @ V), G.R @ (G.L.T @ U)
    if is_torch(G):  # dense or sparse (CSR/COO) tensor
        return G @ V, G.mT @ U
    if sp.issparse(G):  # the compiled CSR kernels where numba is installed (operators/kernels)
        return times(G, V), t_times(G, U)
    G = _as_float(G)
    return G @ V, G.T @ U


CHOLESKY_RATIO = 1e-4  # the Cholesky basis only when min/max of diag(R) exceeds this


def _orth_complement_basis(U: np.ndarray, Up: np.ndarray):
    """(Q, R): Q with orthonormal columns ⟂ U whose span contains col(Up), R = Qᵀ Up, so that
    P_U⊥ Up = Q R. Q is returned as a function c ↦ Q c of coefficient blocks c.

    NumPy factors take the Cholesky factor R of the Gram matrix (P_U⊥ Up)ᵀ(P_U⊥ Up) = RᵀR and
    Q c = P_U⊥ Up (R⁻¹ c), never forming Q: an r×r Gram product, Cholesky and triangular solve
    in place of the thin QR's two m×r LAPACK passes. Q's orthonormality is then lost to
    κ(Up)²·eps instead of eps; the retraction is exact whatever Q's orthonormality (Z + tξ =
    [U Q] K [V Q']ᵀ holds for Q R = P_U⊥ Up), and `_reorthonormalize` restores UᵀU = I after
    it (its polar step up to a drift of 1e-10, its QR beyond). A failed or ill-conditioned
    Cholesky (min/max of diag(R) ≤ `CHOLESKY_RATIO`: Up near rank-deficient) and torch
    tensors take the thin QR."""
    # re-project first: near convergence Up is round-off whose orthogonality to U is lost,
    # and a Q with components along U would let UᵀU drift from I over the iterations
    Up = Up - U @ (U.T @ Up)
    if type(Up) is np.ndarray and Up.dtype == np.float64:  # r ≥ 1 on a FixedRank
        R, info = scipy.linalg.lapack.dpotrf(Up.T @ Up, lower=0, clean=1, overwrite_a=1)
        dR = np.diag(R)
        if info == 0 and float(dR.min()) > CHOLESKY_RATIO * float(dR.max()):
            def apply(c):  # LAPACK trtrs directly: SciPy's wrapper costs 5× the solve here
                return Up @ scipy.linalg.lapack.dtrtrs(R, c)[0]

            return apply, R
    la = _la(Up)
    Q, R = la.qr(Up)
    dR = abs(_diag(R))
    if not (dR.shape[0] and float(dR.min()) > 1e-8 * max(float(dR.max()), 1e-300)):
        # a rank-deficient Up leaves arbitrary columns in Q: make them orthogonal to U as well
        for _ in range(2):
            Q = Q - U @ (U.T @ Q)
            Q, _ = la.qr(Q)
        R = Q.T @ Up
    return (lambda c: Q @ c), R


class FixedRank:
    """The manifold of m×n real matrices of rank r (embedded, Frobenius metric)."""

    symmetric = False

    def __init__(self, m: int, n: int, r: int) -> None:
        for name, v in (("m", m), ("n", n), ("r", r)):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if r > min(m, n):
            raise ValueError(f"rank r={r} exceeds min(m, n) = {min(m, n)}")
        self.m, self.n, self.r = int(m), int(n), int(r)
        self.shape = (self.m, self.n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(m={self.m}, n={self.n}, r={self.r})"

    @property
    def dim(self) -> int:
        """(m + n − r) r (hou2021 Lemma 2.1, real case)."""
        return (self.m + self.n - self.r) * self.r

    # -- points ---------------------------------------------------------------------------
    def point(self, U: np.ndarray, S: np.ndarray, V: np.ndarray | None = None,
              *, check: bool = True) -> FixedRankPoint:
        U = _as_float(U)
        S = _as_float(S).reshape(-1)
        V = U if (self.symmetric or V is None) else _as_float(V)
        if check:
            shapes = tuple(U.shape), tuple(S.shape), tuple(V.shape)
            if shapes != ((self.m, self.r), (self.r,), (self.n, self.r)):
                raise ValueError(f"factors must have shapes U {(self.m, self.r)}, S ({self.r},),"
                                 f" V {(self.n, self.r)}; got {shapes}")
            if not (_all_finite(U) and _all_finite(S) and _all_finite(V)):
                raise ValueError("factors must be finite")
        return FixedRankPoint(U, S, V)

    def from_lowrank(self, Y: LowRank) -> FixedRankPoint:
        """The metric projection of Y = L Rᵀ onto rank ≤ r (truncated SVD) by two thin QRs
        and an SVD of the small core; O((m + n) k² + k³) for k = Y.L.shape[1]."""
        if Y.shape != self.shape:
            raise ValueError(f"matrix must have shape {self.shape}, got {Y.shape}")
        la = _la(Y.L)
        QL, RL = la.qr(Y.L)
        QR_, RR = la.qr(Y.R)
        a, s, bt = la.svd(RL @ RR.T)
        k = min(self.r, s.shape[0])
        return self._pad(QL @ a[:, :k], s[:k], QR_ @ bt[:k].T)

    def from_matrix(self, Y: np.ndarray) -> FixedRankPoint:
        """Truncated SVD of a dense matrix (Eckart–Young), for small problems and tests."""
        Y = np.asarray(Y, dtype=float)
        if Y.shape != self.shape:
            raise ValueError(f"matrix must have shape {self.shape}, got {Y.shape}")
        a, s, bt = np.linalg.svd(Y, full_matrices=False)
        return self.point(a[:, :self.r], s[:self.r], bt[:self.r].T)

    def _pad(self, U, S, V) -> FixedRankPoint:
        """Pad a rank-k < r truncation with zero singular values (the iterate left M_r)."""
        k = S.shape[0]
        V = U if self.symmetric else V
        if k < self.r:
            U = concat([U, _complement(U, self.r - k)], axis=1)
            V = U if self.symmetric else concat([V, _complement(V, self.r - k)], axis=1)
            S = concat([S, zeros((self.r - k,), like=S)])
        return FixedRankPoint(U, S, V)

    def random_point(self, rng: np.random.Generator, *, scale: float = 1.0) -> FixedRankPoint:
        """scale · A Bᵀ with A, B i.i.d. N(0, 1/n) of width r (almost surely rank r)."""
        A = rng.standard_normal((self.m, self.r)) / np.sqrt(self.n)
        B = A if self.symmetric else rng.standard_normal((self.n, self.r)) / np.sqrt(self.n)
        return self.from_lowrank(LowRank(scale * A, B))

    # -- tangent vectors ------------------------------------------------------------------
    def project(self, x: FixedRankPoint, A: Matrix) -> TangentVector:
        """P_{T_Z}(A) in components: M = UᵀAV, Up = P_U⊥AV, Vp = P_V⊥AᵀU (hou2021 Def. 2.2)."""
        AV, AtU = _products(A, x.U, x.V)
        M = x.U.T @ AV
        return TangentVector(M, AV - x.U @ M, AtU - x.V @ M.T)

    def tangent(self, x: FixedRankPoint, M: np.ndarray, Up: np.ndarray,
                Vp: np.ndarray | None = None) -> TangentVector:
        """A tangent vector from raw components, with Up, Vp projected onto U⊥, V⊥."""
        Up = Up - x.U @ (x.U.T @ Up)
        Vp = Up if (self.symmetric or Vp is None) else Vp - x.V @ (x.V.T @ Vp)
        return TangentVector(_as_float(M), Up, Vp)

    def to_lowrank(self, x: FixedRankPoint, xi: TangentVector) -> LowRank:
        """ξ = (U M + Up) Vᵀ + U Vpᵀ as a rank-≤2r LowRank."""
        return LowRank(concat([x.U @ xi.M + xi.Up, x.U], axis=1), concat([x.V, xi.Vp], axis=1))

    def to_dense(self, x: FixedRankPoint, xi: TangentVector) -> np.ndarray:
        return self.to_lowrank(x, xi).dense()

    def inner(self, x: FixedRankPoint, xi: TangentVector, eta: TangentVector) -> float:
        """⟨ξ, η⟩_F = ⟨M, M'⟩ + ⟨Up, Up'⟩ + ⟨Vp, Vp'⟩ (the three parts are orthogonal)."""
        if is_torch(xi.M):
            return float((xi.M * eta.M).sum() + (xi.Up * eta.Up).sum() + (xi.Vp * eta.Vp).sum())
        return float(np.vdot(xi.M, eta.M) + np.vdot(xi.Up, eta.Up) + np.vdot(xi.Vp, eta.Vp))

    def norm(self, x: FixedRankPoint, xi: TangentVector) -> float:
        return float(np.sqrt(max(self.inner(x, xi, xi), 0.0)))

    def zero(self, x: FixedRankPoint) -> TangentVector:
        return TangentVector(zeros((self.r, self.r), like=x.U), zeros(tuple(x.U.shape), like=x.U),
                             zeros(tuple(x.V.shape), like=x.V))

    def transport(self, x: FixedRankPoint, y: FixedRankPoint, xi: TangentVector) -> TangentVector:
        """Vector transport by projection: P_{T_y}(ξ) for ξ ∈ T_x."""
        return self.project(y, self.to_lowrank(x, xi))

    def tangent_basis(self, x: FixedRankPoint) -> list[TangentVector]:
        """An orthonormal basis of T_x (dim vectors; builds U⊥, V⊥: small problems only)."""
        r = self.r
        Uc, Vc = _complement(x.U, self.m - r), _complement(x.V, self.n - r)
        out = []
        for i in range(r):
            for j in range(r):
                M = np.zeros((r, r))
                M[i, j] = 1.0
                out.append(TangentVector(M, np.zeros_like(x.U), np.zeros_like(x.V)))
        Z = np.zeros((r, r))
        for a in range(self.m - r):
            for j in range(r):
                Up = np.zeros_like(x.U)
                Up[:, j] = Uc[:, a]
                out.append(TangentVector(Z, Up, np.zeros_like(x.V)))
        for b in range(self.n - r):
            for j in range(r):
                Vp = np.zeros_like(x.V)
                Vp[:, j] = Vc[:, b]
                out.append(TangentVector(Z, np.zeros_like(x.U), Vp))
        return out

    # -- retraction -----------------------------------------------------------------------
    def retract(self, x: FixedRankPoint, xi: TangentVector, t: float = 1.0) -> FixedRankPoint:
        """R(Z + tξ), the metric projection onto M_r (hou2021 Def. 2.3) from the 2r×2r core.

        If σ_r(Z + tξ) = 0 the result has trailing zero singular values (it left M_r);
        callers check `sigma_r`.
        """
        Q1, R1 = _orth_complement_basis(x.U, xi.Up)
        Q2, R2 = _orth_complement_basis(x.V, xi.Vp)
        K = _block(_diag(x.S) + t * xi.M, t * R2.T, t * R1, zeros((self.r, self.r), like=R1))
        a, s, bt = _la(K).svd(K)
        r = self.r
        U = x.U @ a[:r, :r] + Q1(a[r:, :r])
        V = x.V @ bt[:r, :r].T + Q2(bt[:r, r:].T)
        return _reorthonormalize(U, s[:r], V, symmetric=False)

    # -- calculus for a loss ----------------------------------------------------------------
    def ambient_gradient(self, loss: Loss, x: FixedRankPoint) -> tuple[float, Matrix]:
        f, G = loss.value_and_grad(x.lowrank())
        return float(f), G

    def gradient(self, loss: Loss, x: FixedRankPoint) -> tuple[float, TangentVector, Matrix]:
        """(f(Z), grad f(Z) = P_T(∇f(Z)), ∇f(Z))."""
        f, G = self.ambient_gradient(loss, x)
        return f, self.project(x, G), G

    def hessian(self, loss: Loss, x: FixedRankPoint, xi: TangentVector,
                G: Matrix | None = None) -> TangentVector:
        """Hess f(Z)[ξ] = P_T(∇²f(Z)[ξ]) + P_U⊥ G Vp Σ⁻¹ Vᵀ + U Σ⁻¹ Upᵀ G P_V⊥
        (hou2021 eq. (5), transposes corrected; Vandereycken 2013 Prop. 2.3)."""
        if G is None:
            G = loss.grad(x.lowrank())
        out = self.project(x, loss.hvp(x.lowrank(), self.to_lowrank(x, xi)))
        return out + self._curvature(x, xi, G)

    def _curvature(self, x: FixedRankPoint, xi: TangentVector, G: Matrix) -> TangentVector:
        GVp, GtUp = _products(G, xi.Up, xi.Vp)
        GVp = GVp / x.S
        GtUp = GtUp / x.S
        return TangentVector(zeros((self.r, self.r), like=GVp), GVp - x.U @ (x.U.T @ GVp),
                             GtUp - x.V @ (x.V.T @ GtUp))

    def hessian_matrix(self, loss: Loss, x: FixedRankPoint,
                       basis: list[TangentVector] | None = None) -> np.ndarray:
        """The symmetric matrix ⟨b_i, Hess f(Z)[b_j]⟩ on an orthonormal tangent basis."""
        basis = self.tangent_basis(x) if basis is None else basis
        G = loss.grad(x.lowrank())
        H = np.array([[self.inner(x, bi, self.hessian(loss, x, bj, G)) for bi in basis]
                      for bj in basis])
        return 0.5 * (H + H.T)


class FixedRankPSD(FixedRank):
    """The manifold of n×n PSD matrices of rank r: Z = U diag(λ) Uᵀ, λ > 0 (hou2021 §3–5).

    Tangent vectors ξ = U M Uᵀ + Up Uᵀ + U Upᵀ with M symmetric (stored with Vp = Up); an
    ambient A is symmetrized before projecting. The retraction keeps the top-r *algebraic*
    eigenvalues of the symmetric core and clips them at 0 (spec §2.3: an SVD truncation
    could keep a negative eigenvalue and leave the PSD cone).
    """

    symmetric = True

    def __init__(self, n: int, r: int) -> None:
        super().__init__(n, n, r)

    def __repr__(self) -> str:
        return f"FixedRankPSD(n={self.n}, r={self.r})"

    @property
    def dim(self) -> int:
        """r(2n − r + 1)/2 (hou2021 Lemma 2.1, real symmetric)."""
        return self.r * (2 * self.n - self.r + 1) // 2

    def from_lowrank(self, Y: LowRank) -> FixedRankPoint:
        """R₊(sym(Y)): top-r algebraic eigenpairs of (Y + Yᵀ)/2 clipped at 0, from a QR of
        [L R] and a small symmetric eigendecomposition."""
        if Y.shape != self.shape:
            raise ValueError(f"matrix must have shape {self.shape}, got {Y.shape}")
        la = _la(Y.L)
        Q, _ = la.qr(concat([Y.L, Y.R], axis=1))
        C = (Q.T @ Y.L) @ (Y.R.T @ Q)
        lam, P = la.eigh(0.5 * (C + C.T))
        k = min(self.r, lam.shape[0])
        lam, P = _flip(lam, 0)[:k], _flip(P, 1)[:, :k]
        return self._pad(Q @ P, _clip0(lam), None)

    def from_matrix(self, Y: np.ndarray) -> FixedRankPoint:
        Y = np.asarray(Y, dtype=float)
        if Y.shape != self.shape:
            raise ValueError(f"matrix must have shape {self.shape}, got {Y.shape}")
        lam, P = np.linalg.eigh(0.5 * (Y + Y.T))
        lam, P = lam[::-1][:self.r], P[:, ::-1][:, :self.r]
        return FixedRankPoint(P, np.clip(lam, 0.0, None), P)

    def project(self, x: FixedRankPoint, A: Matrix) -> TangentVector:
        """P_T(sym A) = P_U A_s + A_s P_U − P_U A_s P_U with A_s = (A + Aᵀ)/2."""
        AU, AtU = _products(A, x.U, x.U)
        AsU = 0.5 * (AU + AtU)
        M = x.U.T @ AsU
        M = 0.5 * (M + M.T)
        Up = AsU - x.U @ M
        return TangentVector(M, Up, Up)

    def tangent(self, x, M, Up, Vp=None) -> TangentVector:
        M = _as_float(M)
        M = 0.5 * (M + M.T)
        Up = Up - x.U @ (x.U.T @ Up)
        return TangentVector(M, Up, Up)

    def _curvature(self, x: FixedRankPoint, xi: TangentVector, G: Matrix) -> TangentVector:
        GUp, GtUp = _products(G, xi.Up, xi.Up)
        W = 0.5 * (GUp + GtUp) / x.S
        W = W - x.U @ (x.U.T @ W)
        return TangentVector(zeros((self.r, self.r), like=W), W, W)

    def tangent_basis(self, x: FixedRankPoint) -> list[TangentVector]:
        r, n = self.r, self.n
        Uc = _complement(x.U, n - r)
        Z0 = np.zeros_like(x.U)
        out = [TangentVector(M, Z0, Z0) for M in sym_basis(r)]
        Z = np.zeros((r, r))
        for a in range(n - r):
            for j in range(r):
                Up = np.zeros_like(x.U)
                Up[:, j] = Uc[:, a] / np.sqrt(2.0)  # ‖U Upᵀ + Up Uᵀ‖²_F = 2‖Up‖²
                out.append(TangentVector(Z, Up, Up))
        return out

    def retract(self, x: FixedRankPoint, xi: TangentVector, t: float = 1.0) -> FixedRankPoint:
        """R₊(Z + tξ): top-r algebraic eigenvalues of the symmetric 2r×2r core, clipped at 0."""
        Q1, R1 = _orth_complement_basis(x.U, xi.Up)
        r = self.r
        K = _block(_diag(x.S) + t * xi.M, t * R1.T, t * R1, zeros((r, r), like=R1))
        lam, P = _la(K).eigh(0.5 * (K + K.T))
        lam, P = _flip(lam, 0)[:r], _flip(P, 1)[:, :r]
        U = x.U @ P[:r] + Q1(P[r:])
        return _reorthonormalize(U, _clip0(lam), U, symmetric=True)


POLAR_DRIFT = 1e-10  # up to this drift the first-order polar correction is exact to O(δ²)


def _reorthonormalize(U: np.ndarray, S: np.ndarray, V: np.ndarray, *, symmetric: bool,
                      tol: float = 1e-15, polar_drift: float = POLAR_DRIFT) -> FixedRankPoint:
    """Restore UᵀU = VᵀV = I when round-off has drifted them by more than tol (it grows
    linearly over the iterations and would set a floor ≈ drift·‖X‖ on the attainable
    accuracy), keeping Z = U S Vᵀ.

    For a small drift δ = ‖UᵀU − I‖ ≤ polar_drift (`POLAR_DRIFT`; the usual case: δ ≈ 1e-15
    after a retraction) by the first-order polar factor: with E = UᵀU − I, U₁ = U(I − E/2) has
    U₁ᵀU₁ = I + O(δ²) and Z = U₁ K V₁ᵀ + O(δ²‖Z‖) with the r×r core K = (I + E_U/2) S
    (I + E_V/2), whose SVD K = a s bᵀ gives the factors U₁a, s, V₁b: two m×r×r products
    instead of two thin QRs of m×r (`python -m benchmarks.micro`, `manifold_reorth_1000x10`).
    Larger drifts refactor through two QRs and an r×r SVD."""
    r = S.shape[0]
    I = eye(r, like=U)
    EU = U.T @ U - I
    drift = float(abs(EU).max())
    EV = EU
    if not symmetric:
        EV = V.T @ V - I
        drift = max(drift, float(abs(EV).max()))
    if drift <= tol:
        return FixedRankPoint(U, S, U if symmetric else V)
    la = _la(U)
    if drift <= polar_drift:
        K = ((I + 0.5 * EU) * S) @ (I + 0.5 * EV)
        if symmetric:
            lam, P = la.eigh(0.5 * (K + K.T))
            U = U @ ((I - 0.5 * EU) @ _flip(P, 1))
            return FixedRankPoint(U, _clip0(_flip(lam, 0)), U)
        a, s, bt = la.svd(K)
        return FixedRankPoint(U @ ((I - 0.5 * EU) @ a), s, V @ ((I - 0.5 * EV) @ bt.T))
    QU, RU = la.qr(U)
    if symmetric:
        C = (RU * S) @ RU.T
        lam, P = la.eigh(0.5 * (C + C.T))
        U = QU @ _flip(P, 1)
        return FixedRankPoint(U, _clip0(_flip(lam, 0)), U)
    QV, RV = la.qr(V)
    a, s, bt = la.svd((RU * S) @ RV.T)
    return FixedRankPoint(QU @ a, s, QV @ bt.T)


def _complement(U: np.ndarray, k: int) -> np.ndarray:
    """k orthonormal columns orthogonal to the orthonormal columns of U."""
    m, r = U.shape
    if k <= 0:
        return zeros((m, 0), like=U)
    Q, _ = _la(U).qr(concat([U, eye(m, like=U)], axis=1))
    Q = Q[:, r:r + k] if r + k <= m else Q[:, r:]
    return Q


def metric_projection(Y: np.ndarray, r: int, *, psd: bool = False) -> np.ndarray:
    """Dense reference: the truncated SVD of Y (psd: top-r algebraic eigenvalues of sym(Y)
    clipped at 0). Used to check the factored retraction."""
    Y = as_dense(Y)
    if psd:
        lam, P = np.linalg.eigh(0.5 * (Y + Y.T))
        lam, P = np.clip(lam[::-1][:r], 0, None), P[:, ::-1][:, :r]
        return (P * lam) @ P.T
    a, s, bt = np.linalg.svd(Y, full_matrices=False)
    return (a[:, :r] * s[:r]) @ bt[:r]


def manifold_for(shape: tuple[int, int], r: int, *, symmetric: bool) -> FixedRank:
    """FixedRankPSD(n, r) when symmetric, else FixedRank(m, n, r)."""
    if symmetric:
        if shape[0] != shape[1]:
            raise ValueError(f"a PSD fixed-rank manifold needs a square shape, got {shape}")
        return FixedRankPSD(shape[0], r)
    return FixedRank(shape[0], shape[1], r)
