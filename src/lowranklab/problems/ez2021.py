"""The objects of Eftekhari & Zygalakis (2021), "Limitations of implicit bias in matrix sensing:
initialization rank matters" (ez2021), on top of the foundation.

Symmetric sensing b = A(X♮), A(X)_i = ⟨A_i, X⟩ with symmetric A_i, factor U ∈ R^{d×p}:

    res(U) = A(UUᵀ) − b,      f(U) = ‖res(U)‖²₂           (the plotted training error)
    g(U)   = ½ res(U),        G(U) = ½‖g(U)‖²₂ = f(U)/8   (ez2021 L124)
    S(U)   = A*(res(U)),      ∇f(U) = 4 S(U) U,  ∇G(U) = ½ S(U) U = Dg(U)*[g(U)]
    Dg(U)[Δ] = A(ΔUᵀ),        Dg(U)*[δ] = A*(δ) U         (ez2021 eqs. (10), (11), (27))

`SymmetricSensing` holds A as an (m, d²) matrix (one GEMV per pass); f(U) is its `loss()`,
`LeastSquares(op, b, scale=2)`, composed with `SymmetricFactor` (`solvers.sensing_gd.
sensing_objective`), so GD (3) with the paper's η is the engine's constant-step GD (tested).
The theory helpers (M_b, capture radii, RIP, effective rank) live in `problems/ez2021_theory.py`.
"""

from __future__ import annotations

import numpy as np

from lowranklab.lowrank import as_dense
from lowranklab.operators.dense import DenseSensing, symmetric_gaussian
from lowranklab.problems.loss import LeastSquares
from lowranklab.problems.planted import planted_psd

MACHINE_EPS = float(np.finfo(np.float64).eps)  # MATLAB eps = 2^-52, the papers' "machine precision"


class SymmetricSensing:
    """A symmetric dense sensing instance (A_i = A_iᵀ), b = A(X♮), optional truth X♮.

    Non-symmetric A_i are rejected unless `symmetrize=True`, which replaces A_i by
    (A_i + A_iᵀ)/2; that leaves A unchanged on symmetric matrices (ez2021 spec G2), while the
    formulas ∇f = 4SU and Dg(U)[Δ] = A(ΔUᵀ) need symmetric A_i.
    """

    def __init__(self, op: DenseSensing, b: np.ndarray, truth=None, *,
                 symmetrize: bool = False) -> None:
        if not isinstance(op, DenseSensing):
            raise TypeError(f"op must be a DenseSensing operator, got {type(op).__name__}")
        d1, d2 = op.shape_in
        if d1 != d2:
            raise ValueError(f"op must act on square matrices, got shape {op.shape_in}")
        d, m = d1, op.m
        T = op.A.reshape(m, d, d)
        if not np.allclose(T, T.transpose(0, 2, 1), rtol=0, atol=1e-12 * max(1, np.abs(T).max())):
            if not symmetrize:
                raise ValueError("op must have symmetric A_i (pass symmetrize=True to use "
                                 "(A_i + A_iᵀ)/2)")
            op = DenseSensing(0.5 * (T + T.transpose(0, 2, 1)).reshape(m, d * d), (d, d))
        b = np.asarray(b, dtype=float)
        if b.shape != (m,) or not np.all(np.isfinite(b)):
            raise ValueError(f"b must be a finite vector of shape ({m},), got {b.shape}")
        self.op = op
        self.Amat = op.A
        self.A = op.A.reshape(m, d, d)
        self.b = b
        self.d, self.m = d, m
        self.truth = None if truth is None else np.asarray(as_dense(truth), dtype=float)
        if self.truth is not None and self.truth.shape != (d, d):
            raise ValueError(f"truth must be {d}×{d}, got {self.truth.shape}")

    # -- measurements -----------------------------------------------------------------------
    def forward(self, X: np.ndarray) -> np.ndarray:
        """A(X)."""
        return self.Amat @ np.asarray(X, dtype=float).ravel()

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """A*(y) = Σ_i y_i A_i (symmetric)."""
        return (np.asarray(y, dtype=float) @ self.Amat).reshape(self.d, self.d)

    def opnorm(self) -> float:
        """‖A‖ = max_{‖X‖_F=1} ‖A(X)‖₂ = σ₁(Amat) (ez2021 spec §1.2)."""
        return self.op.norm()

    def svec_matrix(self) -> np.ndarray:
        """M ∈ R^{m×N}, N = d(d+1)/2, rows svec(A_i): A(X) = M svec(X) for symmetric X and
        ‖svec(X)‖₂ = ‖X‖_F."""
        iu, ju = np.triu_indices(self.d)
        w = np.where(iu == ju, 1.0, np.sqrt(2.0))
        return self.A[:, iu, ju] * w

    # -- ez2021 L124 and eq. (3) --------------------------------------------------------------
    def residual(self, U: np.ndarray) -> np.ndarray:
        """res(U) = A(UUᵀ) − b."""
        return self.Amat @ (U @ U.T).ravel() - self.b

    def train_error(self, U: np.ndarray) -> float:
        """f(U) = ‖A(UUᵀ) − b‖²₂ (squared, unscaled: the plotted training error)."""
        r = self.residual(U)
        return float(r @ r)

    def test_error(self, U: np.ndarray) -> float:
        """‖UUᵀ − X♮‖²_F (squared: the plotted test error)."""
        if self.truth is None:
            raise ValueError("this instance has no truth X♮")
        return float(np.sum((U @ U.T - self.truth) ** 2))

    def g(self, U: np.ndarray) -> np.ndarray:
        """g(U) = ½(A(UUᵀ) − b) (ez2021 L124)."""
        return 0.5 * self.residual(U)

    def G(self, U: np.ndarray) -> float:
        """G(U) = ½‖g(U)‖² = f(U)/8."""
        return self.train_error(U) / 8.0

    def S(self, U: np.ndarray) -> np.ndarray:
        """S(U) = A*(A(UUᵀ) − b)."""
        return self.adjoint(self.residual(U))

    def grad_f(self, U: np.ndarray) -> np.ndarray:
        """∇f(U) = 4 S(U) U (symmetric A_i; ez2021 eq. (3))."""
        return 4.0 * self.S(U) @ U

    def grad_G(self, U: np.ndarray) -> np.ndarray:
        """∇G(U) = ½ S(U) U = A*(g(U)) U (ez2021 (flow), eq. (28))."""
        return 0.5 * self.S(U) @ U

    # -- ez2021 eqs. (10), (11) ---------------------------------------------------------------
    def dg(self, U: np.ndarray, Delta: np.ndarray) -> np.ndarray:
        """Dg(U)[Δ] = ½A(ΔUᵀ + UΔᵀ) = A(ΔUᵀ) (ez2021 eq. (10))."""
        return self.forward(Delta @ U.T)

    def dg_adjoint(self, U: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Dg(U)*[δ] = A*(δ) U (ez2021 eq. (11))."""
        return self.adjoint(delta) @ U

    def jacobian(self, U: np.ndarray) -> np.ndarray:
        """J(U) ∈ R^{m×dp}, row i = vec(A_i U), so J vec(Δ) = Dg(U)[Δ]."""
        return np.matmul(self.A, U).reshape(self.m, -1)

    def sigma_m_Dg(self, U: np.ndarray) -> float:
        """σ_m(Dg(U)): the m-th largest singular value of J(U) (0 when m > dp)."""
        J = self.jacobian(U)
        if self.m > J.shape[1]:
            return 0.0
        return float(np.linalg.svd(J, compute_uv=False)[self.m - 1])

    # -- the foundation's view of the same objective -------------------------------------------
    def loss(self) -> LeastSquares:
        """f as a foundation loss: LeastSquares(op, b, scale=2) = ‖A(X) − b‖²."""
        return LeastSquares(self.op, self.b, scale=2.0)



def example_instance(d: int, r: int, m: int | None, rng: np.random.Generator
                     ) -> SymmetricSensing:
    """Example 1.1 of ez2021: X♮ = ZZᵀ/tr(ZZᵀ) of rank r and trace 1, symmetric Gaussian A_i
    (upper triangle incl. diagonal i.i.d. N(0,1), unscaled), m = 4rd by default, b = A(X♮)."""
    if int(d) != d or int(r) != r or not 1 <= r <= d:
        raise ValueError(f"need integers 1 <= r <= d, got d={d}, r={r}")
    m = 4 * r * d if m is None else int(m)
    truth = planted_psd(d, r, rng, normalize="trace")
    op = symmetric_gaussian(d, m, rng)
    return SymmetricSensing(op, op.forward(truth), truth)


def planted_factor(X: np.ndarray, p: int, *, tol: float | None = None) -> np.ndarray:
    """U♮ = V_r Λ_r^½ padded with zero columns to width p, so U♮U♮ᵀ = X (PSD X)."""
    lam, V = np.linalg.eigh(0.5 * (X + X.T))
    lam, V = lam[::-1], V[:, ::-1]
    tol = X.shape[0] * MACHINE_EPS * max(lam[0], 0.0) if tol is None else tol
    keep = lam > tol
    if keep.sum() > p:
        raise ValueError(f"rank of X ({keep.sum()}) exceeds p={p}")
    U = V[:, keep] * np.sqrt(lam[keep])
    return np.hstack([U, np.zeros((X.shape[0], p - U.shape[1]))])


def numerical_rank(U: np.ndarray, tol: float | None = None) -> int:
    """#{σ_i(U) > tol·σ₁(U)}; tol defaults to max(d, p)·eps (MATLAB `rank`)."""
    s = np.linalg.svd(np.asarray(U, dtype=float), compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    tol = max(U.shape) * MACHINE_EPS if tol is None else tol
    return int(np.sum(s > tol * s[0]))


def effrank(X: np.ndarray, eps: float = 1e-8) -> int:
    """Effective rank (ez2021 Def. 2.1, numeric version): the least s with
    Σ_{i>s} λ_i² ≤ ε² Σ_i λ_i² for the eigenvalues λ₁ ≥ λ₂ ≥ … of the PSD matrix X."""
    lam = np.sort(np.abs(np.linalg.eigvalsh(0.5 * (X + X.T))))[::-1]
    tot = float(np.sum(lam**2))
    if tot == 0:
        return 0
    tail = np.concatenate([np.cumsum((lam**2)[::-1])[::-1], [0.0]])  # tail[s] = Σ_{i≥s} λ_i²
    return int(np.argmax(tail <= eps**2 * tot))
