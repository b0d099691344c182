"""Hessian spectra of F(θ) = f(X(θ)) + ρ(θ) from the generic Hessian-vector product, with the
symmetry directions of the parametrization removed.

The parametrizations are invariant under a group (U ↦ UQ, Q ∈ O(r), for UUᵀ and for balanced
UVᵀ with μ > 0; the GL(r) action (UB, VB⁻ᵀ) for UVᵀ with μ = 0). At a critical point the orbit
tangent S = span(`Parametrization.symmetry_tangents(θ)`) lies in the Hessian's null space and
is an invariant subspace, so those zeros are not flatness of the landscape. We therefore report
the spectrum of the Hessian *restricted to S⊥*,

    H_⊥ = Bᵀ ∇²F(θ) B,   B an orthonormal basis of S⊥,

and report dim S (the symmetry dimension) separately. For large problems B is never formed:
Lanczos runs on (I − SSᵀ) H (I − SSᵀ) + c·SSᵀ, where the shift c moves the symmetry
directions to the end of the spectrum that is not wanted (and a further shift ±2ρ·I keeps
ARPACK's relative stopping test meaningful for eigenvalues near 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from lowranklab.objective import Objective

DENSE_MAX_DIM = 600  # dense Hessians up to this many parameters (600² floats = 2.9 MB)


def symmetry_basis(objective: Objective, theta: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the orbit tangent of θ under the model's symmetry group."""
    theta = objective.model.check(theta)
    S = np.asarray(objective.model.symmetry_tangents(theta), dtype=float)
    if S.ndim != 2 or S.shape[0] != objective.dim:
        raise ValueError(f"symmetry_tangents must return a ({objective.dim}, s) array, "
                         f"got shape {S.shape}")
    return S


def hessian_operator(
    objective: Objective,
    theta: np.ndarray,
    *,
    symmetry: np.ndarray | None = None,
    shift: float = 0.0,
) -> LinearOperator:
    """∇²F(θ) as a symmetric `scipy.sparse.linalg.LinearOperator` built from `Objective.hvp`.

    With `symmetry` = S (orthonormal columns) the operator is P H P + shift·SSᵀ with
    P = I − SSᵀ: on S⊥ it is the restricted Hessian, on S it is shift·I.
    """
    theta = objective.model.check(theta)
    n = objective.dim
    G = objective.loss.grad(objective.matrix(theta))  # reused by every product

    if symmetry is None or symmetry.shape[1] == 0:
        def matvec(v):
            return objective.hvp(theta, np.ravel(v).astype(float), G=G)
    else:
        S = symmetry

        def matvec(v):
            v = np.ravel(v).astype(float)
            c = S.T @ v
            w = objective.hvp(theta, v - S @ c, G=G)
            return w - S @ (S.T @ w) + shift * (S @ c)

    return LinearOperator((n, n), matvec=matvec, rmatvec=matvec, dtype=float)


def dense_hessian(objective: Objective, theta: np.ndarray) -> np.ndarray:
    """The full (dim × dim) Hessian from dim Hessian-vector products, symmetrized."""
    theta = objective.model.check(theta)
    n = objective.dim
    G = objective.loss.grad(objective.matrix(theta))
    H = np.empty((n, n))
    e = np.zeros(n)
    for i in range(n):
        e[i] = 1.0
        H[:, i] = objective.hvp(theta, e, G=G)
        e[i] = 0.0
    return 0.5 * (H + H.T)


def complement_basis(S: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of span(S) (S has orthonormal columns)."""
    n, s = S.shape
    if s == 0:
        return np.eye(n)
    Q, _ = np.linalg.qr(S, mode="complete")
    return Q[:, s:]


@dataclass
class Spectrum:
    """Eigenvalues (ascending) and unit eigenvectors (columns, in θ-space) of the Hessian,
    restricted to the complement of the `symmetry_dim`-dimensional symmetry orbit when
    `restricted`; `complete` says whether these are all eigenvalues (dense) or a few (Lanczos)."""

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    symmetry_dim: int
    restricted: bool
    complete: bool
    method: str

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0]) if self.eigenvalues.size else float("nan")

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1]) if self.eigenvalues.size else float("nan")


def hessian_spectrum(
    objective: Objective, theta: np.ndarray, *, restrict: bool = True
) -> Spectrum:
    """The complete Hessian spectrum (dense eigendecomposition; small problems only).

    restrict=True: eigenpairs of Bᵀ H B with B a basis of the symmetry complement (dim − s
    eigenvalues); restrict=False: all dim eigenpairs of H.
    """
    if objective.dim > 4 * DENSE_MAX_DIM:
        raise ValueError(f"dense spectrum refused for {objective.dim} parameters "
                         f"(> {4 * DENSE_MAX_DIM}); use hessian_eigs (Lanczos)")
    H = dense_hessian(objective, theta)
    S = symmetry_basis(objective, theta)
    if restrict and S.shape[1]:
        B = complement_basis(S)
        lam, Y = np.linalg.eigh(B.T @ H @ B)
        vecs = B @ Y
    else:
        lam, vecs = np.linalg.eigh(H)
    return Spectrum(lam, vecs, S.shape[1], restrict, True, "dense")


def hessian_eigs(
    objective: Objective,
    theta: np.ndarray,
    k: int = 1,
    *,
    which: str = "SA",
    restrict: bool = True,
    method: str = "auto",
    tol: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Spectrum:
    """The k smallest (which="SA") or largest ("LA") Hessian eigenpairs.

    method="lanczos": ARPACK's Lanczos (`eigsh`) on the `LinearOperator`; "dense": the dense
    eigendecomposition; "auto": dense when dim ≤ DENSE_MAX_DIM. restrict=True works on the
    complement of the symmetry orbit. tol=0 asks ARPACK for machine precision.
    """
    if which not in ("SA", "LA"):
        raise ValueError(f"which must be 'SA' or 'LA', got {which!r}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    theta = objective.model.check(theta)
    n = objective.dim
    S = symmetry_basis(objective, theta) if restrict else np.zeros((n, 0))
    s = S.shape[1]
    m = n - s  # dimension of the space the eigenproblem lives on
    if k > m:
        raise ValueError(f"k={k} exceeds the dimension {m} of the (restricted) space")
    if method == "auto":
        method = "dense" if n <= DENSE_MAX_DIM else "lanczos"
    if method == "lanczos" and k >= m - 1:
        method = "dense"  # ARPACK needs k < dimension − 1
    if method == "dense":
        spec = hessian_spectrum(objective, theta, restrict=restrict)
        idx = np.arange(k) if which == "SA" else np.arange(m - k, m)
        return Spectrum(spec.eigenvalues[idx], spec.eigenvectors[:, idx], s, restrict,
                        False, "dense")

    rng = np.random.default_rng(0) if rng is None else rng
    v0 = rng.standard_normal(n)
    if s:
        v0 = v0 - S @ (S.T @ v0)
    # ρ ≈ max|λ| sets the scale. ARPACK's stopping test is relative to |λ|, which cannot be
    # met for λ ≈ 0 (flat directions), so we iterate on H + c·I with c = ±2ρ: the wanted
    # eigenvalues then have modulus ≥ ρ and are accurate to ~ε·ρ. The symmetry directions get
    # the value ±(2ρ + 1) before the shift, beyond the unwanted end of the spectrum.
    base = hessian_operator(objective, theta, symmetry=S if s else None, shift=0.0)
    rho = float(abs(eigsh(base, k=1, which="LM", v0=v0, tol=1e-3,
                          return_eigenvectors=False)[0])) if m > 1 else 1.0
    rho = rho if rho > 0 else 1.0
    sign = 1.0 if which == "SA" else -1.0
    c = 2.0 * rho * sign
    Hop = hessian_operator(objective, theta, symmetry=S if s else None,
                           shift=(2.0 * rho + 1.0) * sign)
    A = LinearOperator((n, n), matvec=lambda v: Hop.matvec(v) + c * np.ravel(v),
                       rmatvec=lambda v: Hop.matvec(v) + c * np.ravel(v), dtype=float)
    ncv = min(n, max(2 * k + 1, 20))
    lam = vecs = None
    for t in (tol, max(tol, 1e-10)):
        try:
            lam, vecs = eigsh(A, k=k, which=which, v0=v0, tol=t, ncv=ncv, maxiter=50 * n)
            break
        except ArpackNoConvergence:
            continue
    if lam is None:
        raise RuntimeError(f"Lanczos did not converge for the {k} {which} Hessian eigenpairs")
    lam = lam - c
    order = np.argsort(lam)
    return Spectrum(lam[order], vecs[:, order], s, restrict, False, "lanczos")
