"""The convex losses f(W) of Li, Luo & Lyu (glrl2021, spec §1.2), for L(U) = ½ f(UUᵀ).

    PairObservation   f(W) = ½ Σ_ij C_ij (sym(W)_ij − W*_ij)²,  ∇f(W) = C∘(sym(W) − W*)
                      (the paper's symmetric one-hot-pair sensing, App. C.1; C = (N + Nᵀ)/2)
    FullObservation   f(W) = ½‖W − W*‖²_F,                       ∇f(W) = W − W*
    LinearLoss        f(W) = f₀ − ⟨W, Q⟩,                         ∇f(W) = −Q

PairObservation keeps only index arrays over the observed entries (both (i, j) and (j, i)):
its gradient and Hessian products are scipy sparse arrays and no dense d×d array is built, so
it scales to large completion problems. Every gradient here is symmetric, also at non-symmetric
W (f(W) = f(Wᵀ), spec §1.2).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lowranklab.lowrank import LowRank, Matrix, as_dense, inner
from lowranklab.operators import EntrySampling
from lowranklab.problems.loss import Loss

FACTOR_DENSE_MAX = 500  # PairObservation's dense gradient for factored X up to this d


class PairObservation(Loss):
    """f(W) = ½ Σ_(i,j) C_ij (sym(W)_ij − Y_ij)² over a symmetric weighted index set.

    Stored as the list of observed *ordered* entries k = (i_k, j_k), closed under transposition
    (each off-diagonal pair appears as (i, j) and (j, i)), with weights c_k = C_ij and targets
    y_k = Y_ij. Then ∇f(W) = A*(c∘(s − y)) with s_k = sym(W)_{i_k j_k}, which is C∘(sym(W) − Y)
    (glrl2021 App. C.1, spec §1.2), and ∇²f[Ẇ] = A*(c∘sym(Ẇ)_k).
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray,
                 targets: np.ndarray, d: int) -> None:
        rows, cols = np.asarray(rows), np.asarray(cols)
        weights = np.asarray(weights, dtype=float)
        targets = np.asarray(targets, dtype=float)
        if not (rows.shape == cols.shape == weights.shape == targets.shape) or rows.ndim != 1:
            raise ValueError("rows, cols, weights and targets must be 1-D arrays of equal length")
        if np.any(weights <= 0) or not np.all(np.isfinite(weights)):
            raise ValueError("weights must be positive and finite")
        if not np.all(np.isfinite(targets)):
            raise ValueError("targets must be finite")
        self.op = EntrySampling(rows, cols, (int(d), int(d)))  # validates indices
        self.d = int(d)
        self.shape = (self.d, self.d)
        flat = self.op.linear_indices()
        if np.unique(flat).size != flat.size:
            raise ValueError("observed entries must be distinct")
        tflat = self.op.cols.astype(np.int64) * self.d + self.op.rows
        order = np.argsort(flat)
        pos = np.searchsorted(flat[order], tflat)
        if np.any(pos >= flat.size) or np.any(flat[order][np.minimum(pos, flat.size - 1)]
                                              != tflat):
            raise ValueError("the observed set must be symmetric: (j, i) with every (i, j)")
        self._transpose = order[pos]  # k -> index of the transposed entry
        if not (np.allclose(weights, weights[self._transpose])
                and np.allclose(targets, targets[self._transpose])):
            raise ValueError("weights and targets must be symmetric")
        self.c = weights
        self.y = targets
        self._dense: tuple[np.ndarray, np.ndarray] | None = None

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_mask(cls, N: np.ndarray, Wstar: np.ndarray) -> PairObservation:
        """From the ordered-pair indicator N (d×d, 0/1; small d) and a symmetric target W*:
        C = (N + Nᵀ)/2 (glrl2021 App. C.1, spec §1.2 canonical reading)."""
        N = np.asarray(N, dtype=float)
        Wstar = np.asarray(Wstar, dtype=float)
        if N.ndim != 2 or N.shape[0] != N.shape[1] or Wstar.shape != N.shape:
            raise ValueError(f"N and Wstar must be square of equal shape, got {N.shape}, "
                             f"{Wstar.shape}")
        if not np.allclose(Wstar, Wstar.T):
            raise ValueError("Wstar must be symmetric")
        C = 0.5 * (N + N.T)
        rows, cols = np.nonzero(C)
        return cls(rows, cols, C[rows, cols], Wstar[rows, cols], N.shape[0])

    @classmethod
    def from_entries(cls, rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                     d: int) -> PairObservation:
        """From observed entries Y_{i_k j_k} = values_k of a symmetric matrix (completion
        format; no dense array). Each ordered observation counts 1 in N, so an entry seen as
        (i, j) only gets C_ij = C_ji = ½ and one seen both ways gets 1; a value seen twice
        (both orders) is averaged."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        values = np.asarray(values, dtype=float)
        if not rows.shape == cols.shape == values.shape:
            raise ValueError("rows, cols and values must have equal shapes")
        d = int(d)
        r = np.concatenate([rows, cols])
        c = np.concatenate([cols, rows])
        v = np.concatenate([values, values])
        w = np.full(r.size, 0.5)
        flat = r * d + c
        uniq, inv = np.unique(flat, return_inverse=True)
        W = np.bincount(inv, weights=w)
        V = np.bincount(inv, weights=w * v) / W
        return cls(uniq // d, uniq % d, W, V, d)

    # -- the loss -------------------------------------------------------------------------------
    def sym_entries(self, X: Matrix) -> np.ndarray:
        """sym(X) at the observed entries."""
        a = self.op.forward(X)
        return 0.5 * (a + a[self._transpose])

    def residual(self, X: Matrix) -> np.ndarray:
        return self.sym_entries(X) - self.y

    def value(self, X: Matrix) -> float:
        r = self.residual(X)
        return 0.5 * float(np.sum(self.c * r * r))

    def grad(self, X: Matrix) -> sp.csr_array:
        return self.op.adjoint(self.c * self.residual(X))

    def value_and_grad(self, X: Matrix) -> tuple[float, Matrix]:
        """(f(X), ∇f(X)); for a factored X = UUᵀ with d ≤ FACTOR_DENSE_MAX the gradient is
        the dense C∘(UUᵀ − Y) (faster than the sparse gather at these sizes; the GLRL inner
        loop), otherwise the sparse A*(c∘r)."""
        if isinstance(X, LowRank) and X.L is X.R and self.d <= FACTOR_DENSE_MAX:
            return self._dense_value_and_grad(X.L)
        r = self.residual(X)
        return 0.5 * float(np.sum(self.c * r * r)), self.op.adjoint(self.c * r)

    def hvp(self, X: Matrix, Xdot: Matrix) -> sp.csr_array:
        return self.op.adjoint(self.c * self.sym_entries(Xdot))

    def _dense_value_and_grad(self, U: np.ndarray) -> tuple[float, np.ndarray]:
        """(f(UUᵀ), ∇f(UUᵀ)) with a dense d×d gradient (cross-checked against the sparse path
        in the tests)."""
        if self._dense is None:
            C = np.zeros(self.shape)
            Y = np.zeros(self.shape)
            C[self.op.rows, self.op.cols] = self.c
            Y[self.op.rows, self.op.cols] = self.y
            self._dense = (C, Y)
        C, Y = self._dense
        G = C * (U @ U.T - Y)
        return 0.5 * float(np.sum(G * (U @ U.T - Y))), G

    # -- plot normalisations (spec §1.2) --------------------------------------------------------
    @property
    def m(self) -> int:
        """Number of observed ordered entries weighted by C (= Σ_ij N_ij for the mask model)."""
        return int(round(float(np.sum(self.c))))

    def train_loss(self, X: Matrix) -> float:
        """(1/m) Σ_ij C_ij (sym(X)_ij − Y_ij)², the plotted train loss (≈1 at X = 0 when
        ‖W*‖_F = d); spec §1.2 [proposed]."""
        return 2.0 * self.value(X) / max(float(np.sum(self.c)), 1e-300)

    @property
    def n_pairs(self) -> int:
        """Distinct observed unordered pairs {i, j} (i ≤ j)."""
        return int(np.sum(self.op.rows <= self.op.cols))

    def mask_operator(self) -> tuple[EntrySampling, np.ndarray]:
        """(EntrySampling over the observed pairs with i ≤ j, targets): the constraint set
        W_ij = Y_ij of the convex baselines (X symmetric makes the (j, i) copy redundant)."""
        keep = self.op.rows <= self.op.cols
        return EntrySampling(self.op.rows[keep], self.op.cols[keep], self.shape), self.y[keep]


class FullObservation(Loss):
    """f(W) = ½‖W − W*‖²_F (glrl2021 §4 warm-up 2); ∇f = W − W*, ∇²f = I. Dense (small d)."""

    def __init__(self, Wstar: np.ndarray) -> None:
        Wstar = np.asarray(Wstar, dtype=float)
        if Wstar.ndim != 2 or Wstar.shape[0] != Wstar.shape[1]:
            raise ValueError(f"Wstar must be square, got shape {Wstar.shape}")
        if not np.allclose(Wstar, Wstar.T):
            raise ValueError("Wstar must be symmetric")
        self.Wstar = Wstar
        self.shape = Wstar.shape

    def value(self, X: Matrix) -> float:
        return 0.5 * float(np.sum((as_dense(X) - self.Wstar) ** 2))

    def grad(self, X: Matrix) -> np.ndarray:
        return as_dense(X) - self.Wstar

    def hvp(self, X: Matrix, Xdot: Matrix) -> np.ndarray:
        return np.array(as_dense(Xdot), dtype=float)


class LinearLoss(Loss):
    """f(W) = f₀ − ⟨W, Q⟩ with Q symmetric (glrl2021 §4 warm-up 1); ∇f = −Q, ∇²f = 0."""

    def __init__(self, Q: np.ndarray, f0: float = 0.0) -> None:
        Q = np.asarray(Q, dtype=float)
        if Q.ndim != 2 or Q.shape[0] != Q.shape[1] or not np.allclose(Q, Q.T):
            raise ValueError("Q must be a symmetric square matrix")
        self.Q = Q
        self.f0 = float(f0)
        self.shape = Q.shape

    def value(self, X: Matrix) -> float:
        return self.f0 - inner(X, self.Q)

    def grad(self, X: Matrix) -> np.ndarray:
        return -self.Q

    def hvp(self, X: Matrix, Xdot: Matrix) -> np.ndarray:
        return np.zeros(self.shape)


def sym_grad_matvec(G: Matrix, Z: np.ndarray) -> np.ndarray:
    """sym(G) Z = ½(G Z + Gᵀ Z) for dense, sparse or LowRank G (the gradient ½(∇f(W) +
    ∇f(W)ᵀ) of f'(W) = ½(f(W) + f(Wᵀ)) at a symmetric W, spec §1.2)."""
    if isinstance(G, LowRank):
        return 0.5 * (G @ Z + G.T @ Z)
    return 0.5 * (G @ Z + G.T @ Z)
