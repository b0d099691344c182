"""The augmented Lagrangian of the SDP  min ⟨C, X⟩ s.t. A(X) = b, X ⪰ 0  as a loss on X:

    L_σ(X; y) = ⟨C, X⟩ − yᵀ(A(X) − b) + σ/2 ‖A(X) − b‖²,

Burer & Monteiro, "A nonlinear programming algorithm for solving semidefinite programs via
low-rank factorization", Math. Program. B 95 (2003), eq. (9) (with the sign of the multiplier
term as here). With r = A(X) − b it is quadratic in X:

    ∇L_σ(X) = C − A*(y − σ r),      ∇²L_σ(X)[Ẋ] = σ A*A(Ẋ).

Composed with `SymmetricFactor(d, p)` (X = UUᵀ) in an `Objective`, ∇_U = 2(C − A*(y − σr))U,
and the engine's solvers minimise it in U (`solvers/sdp_bm.py`: SDPLR's inner solve).

The A_i are symmetric (checked), so A(X) = A(sym X) and A is applied in the half coordinates
of `DenseSensing` (`forward_sym_half`, `adjoint`) when the A_i are exactly symmetric: one pass
over the d(d+1)/2 upper-triangle coordinates, half the bytes of the (m, d²) products, and the
forward and the adjoint read the same (m, d(d+1)/2) matrix (one copy in cache for the three
passes of an iteration).

Along a line X(s) = Σ_j s^j X_j (a model's `line`) the residual is the polynomial
r(s) = r₀ + Σ_{j≥1} s^j A(X_j), so L_σ(X(s)) is a polynomial in s (`line_polynomial`: degree 4
for UUᵀ), minimised exactly by `rules.Exact`. The loss keeps the residual of the last factored
point it saw (keyed by the factor's values, so a stale entry can never be used), and after
`line_point(s)` the polynomial residual r(s) of the point U + sΞ on the last line: the new
iterate's gradient then costs one pass over A (the adjoint), as in SDPLR's Sec. 5. The
polynomial residual carries round-off of the line coefficients; `forget()` drops the memo so
that the next residual is computed exactly (the solver does so before each certificate).
"""

from __future__ import annotations

import math

import numpy as np

from lowranklab.backend import require_numpy
from lowranklab.lowrank import LowRank, Matrix
from lowranklab.operators.dense import DenseSensing
from lowranklab.problems.loss import Loss


class AugmentedLagrangian(Loss):
    """L_σ(X; y) = ⟨C, X⟩ − yᵀ(A(X) − b) + σ/2‖A(X) − b‖² (module docstring).

    op: a square `DenseSensing` with symmetric A_i; b: (m,); y: the multipliers (default 0);
    sigma: the penalty σ > 0; C: a symmetric d×d cost (None: the identity, ⟨I, X⟩ = tr X).
    `set(y=..., sigma=...)` changes the multipliers and the penalty between inner solves (the
    memoised residual A(X) − b does not depend on them and stays valid).
    """

    def __init__(self, op: DenseSensing, b: np.ndarray, *, y: np.ndarray | None = None,
                 sigma: float = 1.0, C: np.ndarray | None = None) -> None:
        if not isinstance(op, DenseSensing):
            raise TypeError(f"op must be a DenseSensing operator, got {type(op).__name__}")
        d1, d2 = op.shape_in
        if d1 != d2:
            raise ValueError(f"op must act on square matrices, got shape {op.shape_in}")
        if not (op.exactly_symmetric or op.symmetric):
            raise ValueError("op must have symmetric A_i (the SDP's constraint matrices)")
        b = np.asarray(b, dtype=float)
        if b.shape != (op.m,):
            raise ValueError(f"b must have shape ({op.m},), got {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError("b must have finite entries")
        self.op, self.b, self.d = op, b, d1
        self.shape = (d1, d1)
        if C is not None:
            C = np.asarray(C, dtype=float)
            if C.shape != self.shape:
                raise ValueError(f"C must have shape {self.shape}, got {C.shape}")
            if not np.all(np.isfinite(C)):
                raise ValueError("C must have finite entries")
            if not np.allclose(C, C.T, atol=1e-12 * max(float(np.abs(C).max()), 1.0), rtol=0):
                raise ValueError("C must be symmetric")
            C = 0.5 * (C + C.T)
        self.C = C
        self._half = op.exactly_symmetric
        self._memo: tuple[np.ndarray, np.ndarray] | None = None  # (U, A(UUᵀ) − b)
        self._line: tuple | None = None  # (U, Ξ, r₀, A(X₁), A(X₂)) of the last line
        self.y = np.zeros(op.m)
        self.sigma = 1.0
        self.set(y=np.zeros(op.m) if y is None else y, sigma=sigma)

    def set(self, *, y: np.ndarray | None = None, sigma: float | None = None) -> None:
        """New multipliers y and/or penalty σ."""
        if y is not None:
            y = np.asarray(y, dtype=float)
            if y.shape != (self.op.m,):
                raise ValueError(f"y must have shape ({self.op.m},), got {y.shape}")
            if not np.all(np.isfinite(y)):
                raise ValueError("y must be finite")
            self.y = y
        if sigma is not None:
            if isinstance(sigma, bool) or not (math.isfinite(sigma) and sigma > 0):
                raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
            self.sigma = float(sigma)

    # -- A on symmetric matrices ------------------------------------------------------------
    def _forward_sym(self, X: np.ndarray, *, symmetric: bool = False) -> np.ndarray:
        """A(X) = A(sym X) for a dense X (one counted pass; half coordinates when exact)."""
        if not self._half:
            return self.op.forward(X)
        if not symmetric:
            X = 0.5 * (X + X.T)
        self.op.counts["forward"] += 1
        return self.op.forward_sym_half(X)

    @staticmethod
    def _sym_factor(X) -> np.ndarray | None:
        """U when X = LowRank(U, U) (a symmetric factored point), else None."""
        if isinstance(X, LowRank) and X.L is X.R:
            return X.L
        return None

    @staticmethod
    def _is_cross(X, U: np.ndarray, D: np.ndarray) -> bool:
        """X = LowRank([U, Ξ], [Ξ, U]) = UΞᵀ + ΞUᵀ (SymmetricFactor's line)."""
        p = U.shape[1]
        return bool(isinstance(X, LowRank) and X.L.shape == (U.shape[0], 2 * p)
                    and X.R.shape == X.L.shape and (X.L[:, :p] == U).all()
                    and (X.L[:, p:] == D).all() and (X.R[:, :p] == D).all()
                    and (X.R[:, p:] == U).all())

    def forget(self) -> None:
        """Drop the memoised residuals: the next one is computed exactly."""
        self._memo = None
        self._line = None

    def residual(self, X: Matrix) -> np.ndarray:
        """r = A(X) − b (a new array; memoised for a factored X = UUᵀ)."""
        require_numpy(X.L if isinstance(X, LowRank) else X, "AugmentedLagrangian")
        U = self._sym_factor(X)
        if U is not None:
            memo = self._memo
            if memo is not None and memo[0].shape == U.shape and (memo[0] == U).all():
                return memo[1].copy()
            r = self._forward_sym(U @ U.T, symmetric=True) - self.b
            self._memo = (U.copy(), r.copy())
            return r
        D = X.dense() if isinstance(X, LowRank) else np.asarray(X, dtype=float)
        if D.shape != self.shape:
            raise ValueError(f"X must have shape {self.shape}, got {D.shape}")
        return self._forward_sym(D) - self.b

    def objective(self, X: Matrix) -> float:
        """⟨C, X⟩ (tr X for C = I)."""
        if isinstance(X, LowRank):
            if self.C is None:
                return float(np.vdot(X.L, X.R))
            return float(np.vdot(self.C @ X.L, X.R))
        X = np.asarray(X, dtype=float)
        return float(np.trace(X)) if self.C is None else float(np.vdot(self.C, X))

    def _value_r(self, X: Matrix, r: np.ndarray) -> float:
        return self.objective(X) - float(self.y @ r) + 0.5 * self.sigma * float(r @ r)

    def value(self, X: Matrix) -> float:
        return self._value_r(X, self.residual(X))

    def _grad_r(self, r: np.ndarray) -> np.ndarray:
        S = -self.op.adjoint(self.y - self.sigma * r)  # one pass, symmetric
        if self.C is None:
            S.flat[:: self.d + 1] += 1.0
        else:
            S += self.C
        return S

    def grad(self, X: Matrix) -> np.ndarray:
        """C − A*(y − σ r), the dual slack at the multiplier estimate y − σr (dense, d×d)."""
        return self._grad_r(self.residual(X))

    def value_and_grad(self, X: Matrix) -> tuple[float, np.ndarray]:
        r = self.residual(X)
        return self._value_r(X, r), self._grad_r(r)

    def hvp(self, X: Matrix, Xdot: Matrix) -> np.ndarray:
        """σ A*A(Ẋ)."""
        D = Xdot.dense() if isinstance(Xdot, LowRank) else np.asarray(Xdot, dtype=float)
        return self.op.adjoint(self.sigma * self._forward_sym(D))

    # -- the exact line search (rules.Exact) ------------------------------------------------
    def line_polynomial(self, Xs: list) -> np.ndarray:
        """Coefficients c_k of L_σ(X(s)) = Σ_k c_k s^k for X(s) = Σ_j s^j X_j: with
        r(s) = Σ_j s^j r_j (r₀ = A(X₀) − b, r_j = A(X_j)),
        c_k = ⟨C, X_k⟩ − yᵀr_k + σ/2 Σ_{i+j=k} ⟨r_i, r_j⟩. One pass over A per j ≥ 1."""
        n = len(Xs)
        U0, D = self._sym_factor(Xs[0]), self._sym_factor(Xs[-1])
        uu_line = (n == 3 and U0 is not None and D is not None  # [UUᵀ, UΞᵀ + ΞUᵀ, ΞΞᵀ]
                   and self._is_cross(Xs[1], U0, D))
        r = [self.residual(Xs[0])] + [None] * (n - 1)
        for j in range(1, n):
            U = self._sym_factor(Xs[j])
            if U is not None:
                Xj, sym = U @ U.T, True
            elif uu_line:  # X₁ = M + Mᵀ, M = UΞᵀ: half the product of the factored form
                M = U0 @ D.T
                Xj, sym = M + M.T, True
            else:
                Xj = Xs[j].dense() if isinstance(Xs[j], LowRank) else np.asarray(Xs[j], float)
                sym = False
            r[j] = self._forward_sym(Xj, symmetric=sym)
        c = np.zeros(2 * n - 1)
        for i in range(n):
            c[i] += self.objective(Xs[i]) - float(self.y @ r[i])
            for j in range(i, n):
                v = float(r[i] @ r[j])
                c[i + j] += 0.5 * self.sigma * (v if i == j else 2.0 * v)
        self._line = (U0, D, r) if uu_line else None
        return c

    def line_point(self, s: float) -> None:
        """The next point is U + sΞ on the last line (X(s) = (U + sΞ)(U + sΞ)ᵀ): memoise its
        residual r₀ + s r₁ + s² r₂ (no pass over A). A no-op after a line of another form."""
        if self._line is None:
            return
        U0, D, (r0, r1, r2) = self._line
        self._memo = (U0 + s * D, r0 + s * r1 + (s * s) * r2)
        self._line = None
