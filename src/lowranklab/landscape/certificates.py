"""Global-optimality certificates for a convex loss f evaluated at a factored point X.

- PSD problems (X = UUᵀ): X minimizes the convex f over the PSD cone iff ∇f(X) ⪰ 0 and
  ⟨∇f(X), X⟩ = 0. GLRL (Li, Luo & Lyu 2021) checks the first condition as λ₁(−∇f) ≤ 0.
  `certificate_psd` returns λ_min(sym ∇f(X)); a value ≥ −tol certifies (with ⟨∇f, X⟩ ≈ 0,
  which holds at any first-order stationary point of F(U) = f(UUᵀ): ⟨∇F(U), U⟩ = 2⟨∇f, X⟩).
- Unconstrained (X = UVᵀ): X minimizes the convex f over all matrices iff ∇f(X) = 0.
- Constrained min ‖U‖²_F s.t. A(UUᵀ) = b (eftekhari2021): the SDP dual certificate (4),
  `sdp_dual_certificate`, with the dual gap from the multipliers λ(U, U) and λ_min(I − A*(λ)).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from lowranklab.lowrank import LowRank, Matrix, as_dense
from lowranklab.problems.min_norm import Certificate, MinNormFactorization


def sdp_dual_certificate(problem: MinNormFactorization, U: np.ndarray, **kw) -> Certificate:
    """eftekhari2021 eq. (4) at U: λ = λ(U, U); U Uᵀ solves (SDP) when I − A*(λ) ⪰ 0, the
    dual gap ‖U‖²_F − bᵀλ vanishes and U is feasible (`Certificate.certifies`). Keywords:
    lam= (e.g. the multipliers of `solvers.sdp_bm`), ridge=, C= (a cost: C − A*(λ) ⪰ 0)."""
    return problem.certificate(U, **kw)


def certificate_psd(G: Matrix, *, dense_max: int = 2000) -> float:
    """λ_min(½(G + Gᵀ)) for a square ambient gradient G (dense, sparse or LowRank)."""
    n, n2 = G.shape
    if n != n2:
        raise ValueError(f"certificate_psd needs a square gradient, got shape {G.shape}")
    if n <= dense_max:
        D = as_dense(G)
        return float(np.linalg.eigvalsh(0.5 * (D + D.T))[0])
    if isinstance(G, LowRank):
        def mv(x):
            return 0.5 * (G @ x + G.T @ x)
    elif sp.issparse(G):
        Gs = sp.csr_array(G)

        def mv(x):
            return 0.5 * (Gs @ x + Gs.T @ x)
    else:
        Gd = np.asarray(G)

        def mv(x):
            return 0.5 * (Gd @ x + Gd.T @ x)
    op = LinearOperator((n, n), matvec=lambda x: mv(np.ravel(x)), dtype=float)
    return float(eigsh(op, k=1, which="SA", v0=np.ones(n), return_eigenvectors=False)[0])
