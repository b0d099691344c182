"""Smooth losses f(X) with exactly known restricted-convexity constants (zhu2021 §III-A).

zhu2021 Assumption 2 (eq. (6)): a‖D‖²_F ≤ [∇²f(X)](D, D) ≤ b‖D‖²_F for rank-restricted X, D;
after the normalization (7) a = 1 − c, b = 1 + c with c = (b − a)/(a + b). Every loss here
knows its (a, b, c) exactly (except Gaussian sensing, whose c is only bounded), so the
theorems' conditions on c can be checked numerically (seed002 spec §1.2):

    MF                 ½‖X − X★‖²_F                       c = 0
    QuadRSC            ½ eᵀHe, e = vec(X − X★), H = I + cS  c exactly (‖S‖₂ = 1)
    LogCoshRSC         Σ φ(X_ij − X★_ij), φ(t) = (1+c)/2 t² − 2c log cosh t   φ'' ∈ [1−c, 1+c]
    WeightedPCA        ½‖Ω ⊙ (X − X★)‖²_F                  a = min Ω², b = max Ω²
    synthetic-RIP      ½‖A(X − X★)‖², A = P diag(s) Qᵀ     RIP constant exactly δ, c = δ
    Gaussian sensing   ½‖A(X − X★)‖², A_ℓ i.i.d. N(0, 1/p)  c unknown (bounded when p ≥ nm)

All are `Loss` subclasses (value, grad, hvp), so `Objective(loss, BalancedFactor(...))` gives
G(W) = f(UVᵀ) + μ/4‖UᵀU − VᵀV‖²_F (zhu2021 eq. (9)) with its gradient and HVP for free.
X may be dense or `LowRank`; these are small-problem losses, so X is densified.
"""

from __future__ import annotations

import numpy as np

from lowranklab.lowrank import Matrix, as_dense
from lowranklab.operators.dense import DenseSensing, gaussian
from lowranklab.operators.identity import Identity
from lowranklab.problems.loss import LeastSquares, Loss


def _check_truth(Xstar: np.ndarray) -> np.ndarray:
    Xstar = np.asarray(Xstar, dtype=float)
    if Xstar.ndim != 2:
        raise ValueError(f"Xstar must be a 2-D matrix, got shape {Xstar.shape}")
    if not np.all(np.isfinite(Xstar)):
        raise ValueError("Xstar must have finite entries")
    return Xstar


def _check_c(c: float, name: str = "c") -> float:
    if not (np.isfinite(c) and 0 <= c < 1):
        raise ValueError(f"{name} must be in [0, 1), got {c}")
    return float(c)


class RSCLoss(Loss):
    """A loss with known constants a ≤ ∇²f ≤ b (restricted) and c = (b − a)/(a + b)."""

    Xstar: np.ndarray
    a_rsc: float  # a of zhu2021 eq. (6) (named a_rsc: LeastSquares.b is the measurement vector)
    b_rsc: float  # b of eq. (6)

    @property
    def c(self) -> float:
        return (self.b_rsc - self.a_rsc) / (self.a_rsc + self.b_rsc)

    def normalized(self) -> tuple[float, float, float]:
        """(scale, a', b') of the normalization f → 2f/(a + b) (zhu2021 eq. (7)): a' = 1 − c,
        b' = 1 + c."""
        s = 2.0 / (self.a_rsc + self.b_rsc)
        # zhu2021 §III-A prints b' = 2a/(a + b); the rescaled upper constant is 2b/(a + b)
        return s, s * self.a_rsc, s * self.b_rsc

    def mu_balanced(self) -> float:
        """μ = (a + b)/4: the theorems' μ = 1/2 for the normalized f (seed002 §1.2)."""
        return (self.a_rsc + self.b_rsc) / 4.0

    def _diff(self, X: Matrix) -> np.ndarray:
        Xd = as_dense(X)
        if Xd.shape != self.shape:
            raise ValueError(f"X must have shape {self.shape}, got {Xd.shape}")
        return Xd - self.Xstar


class MatrixFactorizationLoss(RSCLoss):
    """f(X) = ½‖X − X★‖²_F (zhu2021 eq. (29)); ∇f = X − X★, ∇²f[D] = D; a = b = 1, c = 0."""

    # zhu2021 eq. (3) prints ‖UVᵀ − X★‖²_F without ½; every result uses the ½ of eq. (29)

    def __init__(self, Xstar: np.ndarray) -> None:
        self.Xstar = _check_truth(Xstar)
        self.shape = self.Xstar.shape
        self.a_rsc = self.b_rsc = 1.0

    def value(self, X: Matrix) -> float:
        return 0.5 * float(np.sum(self._diff(X) ** 2))

    def grad(self, X: Matrix) -> np.ndarray:
        return self._diff(X)

    def hvp(self, X: Matrix, Xdot: Matrix) -> np.ndarray:
        return as_dense(Xdot).astype(float, copy=True)


class QuadRSC(RSCLoss):
    """f(X) = ½ eᵀ H e, e = vec(X − X★), H = I + c S, S = Q diag(λ) Qᵀ from sym(G) (G Gaussian)
    with its spectrum mapped affinely onto [−1, 1].

    The eigenvalues of H fill [1 − c, 1 + c] with both ends attained, so (6) holds globally
    with a = 1 − c, b = 1 + c exactly (seed002 spec §1.2).
    """

    def __init__(self, Xstar: np.ndarray, c: float, rng: np.random.Generator) -> None:
        self.Xstar = _check_truth(Xstar)
        self.shape = self.Xstar.shape
        cc = _check_c(c)
        N = self.Xstar.size
        G = rng.standard_normal((N, N))
        lam, Q = np.linalg.eigh(0.5 * (G + G.T))
        if N > 1:  # map the spectrum affinely onto [−1, 1] so that both ends are attained
            lam = 2 * (lam - lam[0]) / (lam[-1] - lam[0]) - 1
        else:
            lam = np.ones(1)
        self.H = np.eye(N) + cc * (Q * lam) @ Q.T
        w = np.linalg.eigvalsh(self.H)
        self.a_rsc, self.b_rsc = float(w[0]), float(w[-1])

    def _mat(self, e: np.ndarray) -> np.ndarray:
        return (self.H @ e.ravel()).reshape(self.shape)

    def value(self, X: Matrix) -> float:
        e = self._diff(X).ravel()
        return 0.5 * float(e @ self.H @ e)

    def grad(self, X: Matrix) -> np.ndarray:
        return self._mat(self._diff(X))

    def hvp(self, X: Matrix, Xdot: Matrix) -> np.ndarray:
        return self._mat(as_dense(Xdot))


def _log_cosh(t: np.ndarray) -> np.ndarray:
    a = np.abs(t)
    return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)


class LogCoshRSC(RSCLoss):
    """f(X) = Σ_ij φ(X_ij − X★_ij), φ(t) = (1+c)/2·t² − 2c·log cosh t  [not in paper].

    φ'(t) = (1+c)t − 2c tanh t, φ''(t) = 1 + c − 2c sech²t ∈ [1 − c, 1 + c], so a = 1 − c,
    b = 1 + c for every X (non-quadratic: the Hessian depends on X).
    """

    def __init__(self, Xstar: np.ndarray, c: float) -> None:
        self.Xstar = _check_truth(Xstar)
        self.shape = self.Xstar.shape
        cc = _check_c(c)
        self.a_rsc, self.b_rsc = 1.0 - cc, 1.0 + cc
        self._cc = cc

    def value(self, X: Matrix) -> float:
        T = self._diff(X)
        return float(np.sum(0.5 * (1 + self._cc) * T**2 - 2 * self._cc * _log_cosh(T)))

    def grad(self, X: Matrix) -> np.ndarray:
        T = self._diff(X)
        return (1 + self._cc) * T - 2 * self._cc * np.tanh(T)

    def hvp(self, X: Matrix, Xdot: Matrix) -> np.ndarray:
        T = self._diff(X)
        return (1 + self._cc - 2 * self._cc / np.cosh(T) ** 2) * as_dense(Xdot)


class WeightedPCA(RSCLoss):
    """f(X) = ½‖Ω ⊙ (X − X★)‖²_F (zhu2021 Remark 4, eq. (20)); ∇f = Ω² ⊙ (X − X★),
    ∇²f[D] = Ω² ⊙ D; a = min Ω²_ij, b = max Ω²_ij (so b/a = w² for Ω = [[w, 1], [1, w]])."""

    def __init__(self, Omega: np.ndarray, Xstar: np.ndarray) -> None:
        self.Xstar = _check_truth(Xstar)
        Omega = np.asarray(Omega, dtype=float)
        if Omega.shape != self.Xstar.shape:
            raise ValueError(f"Omega must have the shape of Xstar {self.Xstar.shape}, "
                             f"got {Omega.shape}")
        if not (np.all(np.isfinite(Omega)) and np.all(Omega > 0)):
            raise ValueError("Omega must have finite, strictly positive entries")
        self.shape = self.Xstar.shape
        self.W2 = Omega**2
        self.Omega = Omega
        self.a_rsc, self.b_rsc = float(self.W2.min()), float(self.W2.max())

    def value(self, X: Matrix) -> float:
        T = self._diff(X)
        return 0.5 * float(np.sum(self.W2 * T**2))

    def grad(self, X: Matrix) -> np.ndarray:
        return self.W2 * self._diff(X)

    def hvp(self, X: Matrix, Xdot: Matrix) -> np.ndarray:
        return self.W2 * as_dense(Xdot)


class SensingRSC(LeastSquares):
    """½‖A(X) − y‖², y = A(X★), with the restricted-convexity constants it is known to have.

    `delta` is the exact RIP constant for the synthetic operator, an upper bound
    ‖AᵀA − I‖₂ for a Gaussian one with p ≥ nm, and NaN when unknown.
    """

    def __init__(self, op: DenseSensing, Xstar: np.ndarray, delta: float) -> None:
        Xstar = _check_truth(Xstar)
        if tuple(Xstar.shape) != tuple(op.shape_in):
            raise ValueError(f"Xstar must have shape {op.shape_in}, got {Xstar.shape}")
        super().__init__(op, op.forward(Xstar))
        self.Xstar = Xstar
        self.delta = float(delta)
        # zhu2021 §III-C prints b = 1 − δ_4r; the upper RIP bound gives b = 1 + δ_4r
        self.a_rsc, self.b_rsc = 1.0 - self.delta, 1.0 + self.delta

    @property
    def c(self) -> float:
        return self.delta


def mf_loss(Xstar: np.ndarray) -> LeastSquares:
    """½‖X − X★‖²_F as a LeastSquares on the identity operator (for the CLI/Problem path)."""
    Xstar = _check_truth(Xstar)
    return LeastSquares(Identity(Xstar.shape), Xstar.ravel())


def synthetic_rip_sensing(Xstar: np.ndarray, delta: float, rng: np.random.Generator,
                          p: int | None = None) -> SensingRSC:
    """A = P diag(s) Qᵀ with P (p × nm) orthonormal columns, Q ∈ O(nm), s²_i ∈ [1−δ, 1+δ]
    with both ends attained: ‖A(D)‖² ∈ [(1−δ)‖D‖², (1+δ)‖D‖²] at every rank, so the RIP constant
    is exactly δ  [not in paper; seed002 spec §1.2]."""
    Xstar = _check_truth(Xstar)
    delta = _check_c(delta, "delta")
    N = Xstar.size
    p = N if p is None else int(p)
    if p < N:
        raise ValueError(f"p must be >= n·m = {N} for the synthetic RIP operator, got {p}")
    P, _ = np.linalg.qr(rng.standard_normal((p, N)))
    Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    s2 = rng.uniform(1 - delta, 1 + delta, size=N)
    if N >= 2:
        s2[0], s2[1] = 1 - delta, 1 + delta
    A = (P * np.sqrt(s2)) @ Q.T
    return SensingRSC(DenseSensing(A, Xstar.shape), Xstar, delta)


def gaussian_sensing(Xstar: np.ndarray, p: int, rng: np.random.Generator) -> SensingRSC:
    """A_ℓ with i.i.d. N(0, 1/p) entries (zhu2021 §III-C: variance 1/p, so E‖A(D)‖² = ‖D‖²).

    δ is ‖AᵀA − I‖₂ (a global bound) when p ≥ nm, otherwise unknown (NaN).
    """
    Xstar = _check_truth(Xstar)
    if int(p) != p or p < 1:
        raise ValueError(f"p must be a positive integer, got {p!r}")
    op = gaussian(Xstar.shape[0], Xstar.shape[1], int(p), rng)
    N = Xstar.size
    delta = float(np.linalg.norm(op.A.T @ op.A - np.eye(N), 2)) if p >= N else float("nan")
    return SensingRSC(op, Xstar, delta)


def c_max_theorem1(Xstar: np.ndarray, r: int) -> float:
    """c ≤ σ_r^{3/2}/(100‖X★‖_F‖X★‖^{1/2}) (zhu2021 eq. (14)), the c under which
    Thm 1 holds; 1/(100√r κ^{3/2}) ≤ c_max ≤ 1/(100κ^{3/2}) ≤ 0.01 (the lower end gives
    zhu2021 eq. (27))."""
    # the text calls a, b of (6) "the constants α and β in (14)"; c = (b − a)/(a + b)
    s = np.linalg.svd(Xstar, compute_uv=False)
    return float(s[r - 1] ** 1.5 / (100 * np.linalg.norm(Xstar) * np.sqrt(s[0])))
