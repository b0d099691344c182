"""Deep matrix factorization W = U₁U₂⋯U_L (glrl2021 §6, spec §1.4) as a `Parametrization`.

Shapes: U₁ ∈ R^{d1×k₁}, U_i ∈ R^{k_{i−1}×k_i}, U_L ∈ R^{k_{L−1}×d2}; θ = concat(vec U_i).
With prefixes P_i = U₁⋯U_i and suffixes S_i = U_i⋯U_L (P₀, S_{L+1} = identity):

    DW[θ̇] = Σ_i P_{i−1} U̇_i S_{i+1}                  (a LowRank, no d1×d2 array)
    ∇_{U_i} = P_{i−1}ᵀ G S_{i+1}ᵀ                      (pull)
    curvature_i = Ṗ_{i−1}ᵀ G S_{i+1}ᵀ + P_{i−1}ᵀ G Ṡ_{i+1}ᵀ   (Ṗ, Ṡ the directional derivatives)

The loss is f(U₁⋯U_L) without the ½ of the depth-2 ½f(UUᵀ) (spec §4 gotcha 1).
"""

from __future__ import annotations

import numpy as np

from lowranklab.backend import concat, eye, is_torch, resolve_dtype, zeros
from lowranklab.lowrank import LowRank, Matrix
from lowranklab.models.base import Parametrization


class DeepFactor(Parametrization):
    """W = U₁⋯U_L with inner widths `widths` (default all d, the over-parametrized case)."""

    def __init__(self, d1: int, d2: int, L: int, widths: list[int] | None = None, *,
                 dtype=None) -> None:
        if int(L) != L or L < 1:
            raise ValueError(f"L must be a positive integer, got {L}")
        widths = [min(d1, d2)] * (L - 1) if widths is None else [int(k) for k in widths]
        if len(widths) != L - 1 or any(k < 1 for k in widths):
            raise ValueError(f"widths must be {L - 1} positive integers, got {widths}")
        self.L = int(L)
        self.dtype = resolve_dtype(dtype)
        self.dims = [int(d1), *widths, int(d2)]
        self.shapes = [(self.dims[i], self.dims[i + 1]) for i in range(self.L)]
        self.sizes = [a * b for a, b in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.shape = (int(d1), int(d2))
        self.dim = int(self.offsets[-1])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(theta[int(self.offsets[i]):int(self.offsets[i + 1])].reshape(self.shapes[i])
                     for i in range(self.L))

    def pack(self, *factors: np.ndarray) -> np.ndarray:
        if len(factors) != self.L:
            raise ValueError(f"expected {self.L} factors, got {len(factors)}")
        for i, (F, s) in enumerate(zip(factors, self.shapes, strict=True)):
            shape = tuple(F.shape) if is_torch(F) else np.shape(F)
            if shape != s:
                raise ValueError(f"factor {i + 1} must have shape {s}, got {shape}")
        return concat([self.as_float(F).reshape(-1) for F in factors])

    # prefixes[i] = U_1⋯U_i (None = identity for i = 0); suffixes[i] = U_i⋯U_L (1-based i)
    def _prefix_suffix(self, Us):
        L = self.L
        pre: list[np.ndarray | None] = [None] * (L + 1)
        for i in range(1, L + 1):
            pre[i] = Us[0] if i == 1 else pre[i - 1] @ Us[i - 1]
        suf: list[np.ndarray | None] = [None] * (L + 2)
        for i in range(L, 0, -1):
            suf[i] = Us[L - 1] if i == L else Us[i - 1] @ suf[i + 1]
        return pre, suf

    def to_matrix(self, theta: np.ndarray) -> LowRank:
        Us = self.unpack(theta)
        if self.L == 1:
            return LowRank(Us[0], eye(self.shape[1], like=theta))
        pre, _ = self._prefix_suffix(Us)
        return LowRank(pre[self.L - 1], Us[-1].T)

    def matrix_dense(self, theta: np.ndarray) -> np.ndarray:
        return self.to_matrix(theta).dense()

    def push(self, theta, theta_dot) -> LowRank:
        Us, Ud = self.unpack(theta), self.unpack(theta_dot)
        pre, suf = self._prefix_suffix(Us)
        Ls, Rs = [], []
        for i in range(1, self.L + 1):
            left = Ud[i - 1] if pre[i - 1] is None else pre[i - 1] @ Ud[i - 1]
            right = eye(self.shape[1], like=theta) if suf[i + 1] is None else suf[i + 1].T
            Ls.append(left)
            Rs.append(right)
        return LowRank(concat(Ls, axis=1), concat(Rs, axis=1))

    @staticmethod
    def _sandwich(P, G: Matrix, S) -> np.ndarray:
        """Pᵀ G Sᵀ with None meaning identity."""
        def dense(M):  # SciPy products may return np.matrix; tensors stay tensors
            return M if is_torch(M) else np.asarray(M)

        if S is None:
            M = (G.mT if is_torch(G) else G.T) @ P if P is not None else None
            if M is None:
                from lowranklab.lowrank import as_dense

                return dense(as_dense(G))
            return dense(M).T
        GS = dense(G @ S.T)
        return GS if P is None else P.T @ GS

    def pull(self, theta, G: Matrix) -> np.ndarray:
        Us = self.unpack(theta)
        pre, suf = self._prefix_suffix(Us)
        return concat([self._sandwich(pre[i - 1], G, suf[i + 1]).reshape(-1)
                       for i in range(1, self.L + 1)])

    def curvature(self, theta, theta_dot, G: Matrix) -> np.ndarray:
        Us, Ud = self.unpack(theta), self.unpack(theta_dot)
        L = self.L
        pre, suf = self._prefix_suffix(Us)
        dpre: list[np.ndarray | None] = [None] * (L + 1)  # d/dt of pre[i]
        for i in range(1, L + 1):
            a = Ud[0] if i == 1 else pre[i - 1] @ Ud[i - 1]
            dpre[i] = a if i == 1 else dpre[i - 1] @ Us[i - 1] + a
        dsuf: list[np.ndarray | None] = [None] * (L + 2)
        for i in range(L, 0, -1):
            a = Ud[L - 1] if i == L else Ud[i - 1] @ suf[i + 1]
            dsuf[i] = a if i == L else Us[i - 1] @ dsuf[i + 1] + a
        out = []
        for i in range(1, L + 1):
            term = zeros(self.shapes[i - 1], like=theta)
            if dpre[i - 1] is not None:
                term = term + self._sandwich(dpre[i - 1], G, suf[i + 1])
            if dsuf[i + 1] is not None:
                term = term + self._sandwich(pre[i - 1], G, dsuf[i + 1])
            out.append(term.reshape(-1))
        return concat(out)


def balanced_symmetric_init(d: int, L: int, norm: float, rng: np.random.Generator, *,
                            D: np.ndarray | None = None) -> list[np.ndarray]:
    """glrl2021 App. C.1 (spec §2.1): U_i = V_i D^{1/L} V_{i+1}ᵀ with Haar V_i, V_{L+1} = V₁,
    D = diag(|g|)·norm/‖g‖ ≥ 0; then W(0) = V₁DV₁ᵀ is symmetric PSD with ‖W(0)‖_F = norm and
    the factors are balanced (U_iᵀU_i = U_{i+1}U_{i+1}ᵀ)."""
    from lowranklab.problems.glrl_instances import haar_orthogonal

    if not norm > 0:
        raise ValueError(f"norm must be > 0, got {norm}")
    if D is None:
        g = np.abs(rng.standard_normal(d))
        D = g * (norm / np.linalg.norm(g))
    D = np.asarray(D, dtype=float)
    if np.any(D < 0):
        raise ValueError("D must be >= 0 (D^{1/L} is needed)")
    V = [haar_orthogonal(d, rng) for _ in range(L)]
    V.append(V[0])
    Dr = D ** (1.0 / L)
    return [(V[i] * Dr) @ V[i + 1].T for i in range(L)]
