"""Hessian spectra from the HVP: dense vs finite differences, Lanczos vs dense, symmetry removal."""

from __future__ import annotations

import numpy as np
import pytest

from lowranklab.landscape import (
    dense_hessian,
    hessian_eigs,
    hessian_operator,
    hessian_spectrum,
    symmetry_basis,
)
from lowranklab.landscape.closed_forms import (
    factorization_critical_points,
    factorization_objective,
)
from lowranklab.models import BalancedFactor, SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems import sensing_problem


def _sym_sensing(rng, d=6, r=2, p=3, m=60):
    P = sensing_problem(d, r, m, rng)
    return P, Objective(P.loss(), SymmetricFactor(d, p))


def _random_X(rng, n=8, m=6, r=3):
    return rng.standard_normal((n, r)) @ rng.standard_normal((r, m))


def test_dense_hessian_matches_finite_differences_of_the_gradient(rng):
    """Columns of the dense Hessian = central differences of ∇F (step 1e-6, error O(h²))."""
    _, obj = _sym_sensing(rng)
    for o in (obj, factorization_objective(_random_X(rng, 5, 4, 2), 2, mu=0.5)):
        theta = rng.standard_normal(o.dim)
        H = dense_hessian(o, theta)
        h = 1e-6
        for i in rng.choice(o.dim, size=5, replace=False):
            e = np.zeros(o.dim)
            e[i] = h
            fd = (o.grad(theta + e) - o.grad(theta - e)) / (2 * h)
            assert np.linalg.norm(fd - H[:, i]) <= 1e-6 * max(1.0, np.linalg.norm(H[:, i]))
        v = rng.standard_normal(o.dim)
        np.testing.assert_allclose(hessian_operator(o, theta) @ v, H @ v, rtol=1e-10,
                                   atol=1e-10 * np.abs(H).max())


@pytest.mark.parametrize("which", ["SA", "LA"])
@pytest.mark.parametrize("restrict", [True, False])
def test_lanczos_agrees_with_dense_spectrum(which, restrict, rng):
    """eigsh on the HVP LinearOperator (with the symmetry deflation when restricted) equals the
    dense eigendecomposition to 1e-8, at generic points and at all critical points of the
    factorization problem (some have clusters of zero eigenvalues beyond the symmetry)."""
    _, obj_s = _sym_sensing(rng)
    X = _random_X(rng)
    cases = [(obj_s, rng.standard_normal(obj_s.dim))]
    for mu in (0.5, 0.0):
        obj_b = factorization_objective(X, 3, mu=mu)
        cases.append((obj_b, rng.standard_normal(obj_b.dim)))
        # every critical point, including saddles with degenerate zero eigenvalues
        cases += [(obj_b, p.theta) for p in factorization_critical_points(X, 3, mu=mu, rng=rng)]
    for obj, theta in cases:
        dense = hessian_spectrum(obj, theta, restrict=restrict)
        lz = hessian_eigs(obj, theta, 3, which=which, restrict=restrict, method="lanczos")
        assert lz.method == "lanczos"
        ref = dense.eigenvalues[:3] if which == "SA" else dense.eigenvalues[-3:]
        np.testing.assert_allclose(lz.eigenvalues, ref, atol=1e-8 * max(1, abs(ref).max()))
        assert lz.symmetry_dim == (dense.symmetry_dim if restrict else 0)
        H = dense_hessian(obj, theta)
        for j in range(3):  # eigenvectors: unit, H v = λ v, orthogonal to the symmetry orbit
            v = lz.eigenvectors[:, j]
            assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-8)
            if restrict:
                S = symmetry_basis(obj, theta)
                assert np.linalg.norm(S.T @ v) <= 1e-8
                assert np.linalg.norm(H @ v - S @ (S.T @ (H @ v)) - lz.eigenvalues[j] * v) \
                    <= 1e-6 * max(1, abs(lz.eigenvalues[j]))
            else:
                assert np.linalg.norm(H @ v - lz.eigenvalues[j] * v) <= 1e-6 * max(
                    1, abs(lz.eigenvalues[j]))


def test_symmetry_dimension_at_global_minimizers(rng):
    """At a global minimizer the symmetry orbit has dimension r(r−1)/2 (UUᵀ, balanced μ > 0),
    r² for μ = 0 (GL(r)); there the restricted spectrum is the full one minus those zeros."""
    r = 3
    P = sensing_problem(6, r, 80, rng)
    obj = Objective(P.loss(), SymmetricFactor(6, r))
    theta = P.truth.L.ravel()
    X = _random_X(rng, 8, 6, r)
    gl = factorization_critical_points(X, r, mu=0.5, rng=rng)[-1]
    assert gl.is_global
    for o, th, s in ((obj, theta, r * (r - 1) // 2),
                     (factorization_objective(X, r, 0.5), gl.theta, r * (r - 1) // 2),
                     (factorization_objective(X, r, 0.0), gl.theta, r * r)):
        full = hessian_spectrum(o, th, restrict=False)
        res = hessian_spectrum(o, th, restrict=True)
        assert res.symmetry_dim == s
        assert res.eigenvalues.size == o.dim - s
        assert abs(full.lambda_min) <= 1e-8 * full.lambda_max
        assert int(np.sum(np.abs(full.eigenvalues) <= 1e-8 * full.lambda_max)) == s
        assert res.lambda_min > 1e-6 * full.lambda_max
        np.testing.assert_allclose(res.eigenvalues, full.eigenvalues[s:],
                                   atol=1e-9 * full.lambda_max)


def test_large_problem_uses_lanczos(rng):
    """dim > DENSE_MAX_DIM: `auto` picks Lanczos; the PSD factorization ½‖UUᵀ − M‖² (d = 130,
    p = 5) at its minimizer has λ_min on the complement = smallest eigenvalue of M·2 (> 0)."""
    from lowranklab.operators import Identity
    from lowranklab.problems import LeastSquares

    d, p = 130, 5
    Z = np.linalg.qr(rng.standard_normal((d, p)))[0] * np.sqrt([5.0, 4.0, 3.0, 2.0, 1.0])
    M = Z @ Z.T
    obj = Objective(LeastSquares(Identity((d, d)), M.ravel()), SymmetricFactor(d, p))
    spec = hessian_eigs(obj, Z.ravel(), 2, which="SA")
    assert spec.method == "lanczos" and spec.symmetry_dim == p * (p - 1) // 2
    assert spec.lambda_min > 0.5  # ∇²F[Δ, Δ] = ‖ΔZᵀ + ZΔᵀ‖² ≥ 2σ_min(ZᵀZ)‖Δ‖² off the orbit
    top = hessian_eigs(obj, Z.ravel(), 1, which="LA")
    assert top.lambda_max == pytest.approx(4 * 5.0, rel=1e-8)  # Δ = Z e₁ direction: 4λ₁


def test_spectrum_input_validation(rng):
    _, obj = _sym_sensing(rng)
    th = rng.standard_normal(obj.dim)
    with pytest.raises(ValueError, match="which"):
        hessian_eigs(obj, th, 1, which="LM")
    with pytest.raises(ValueError, match="k="):
        hessian_eigs(obj, th, obj.dim + 1, restrict=False)
    with pytest.raises(ValueError, match="method"):
        hessian_eigs(obj, th, 1, method="qr")
    with pytest.raises(ValueError, match="theta"):
        dense_hessian(obj, th[:-1])
    with pytest.raises(ValueError, match="k must"):
        hessian_eigs(obj, th, 0)
    assert isinstance(BalancedFactor(3, 2, 1).symmetry_tangents(np.ones(5)), np.ndarray)
