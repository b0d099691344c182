"""Landscape analysis: "what is this point?" for every (loss, parametrization) pair.

    spectrum      Hessian as a LinearOperator from the HVP; Lanczos / dense eigenpairs on the
                  complement of the symmetry orbit (its dimension reported)
    classify      PointReport and classify_point (global / strict saddle / spurious / ...)
    finder        critical points of any kind by minimizing ½‖∇F‖²
    closed_forms  zhu2021 factorization critical points, hou2021 spurious points, weighted PCA
    regions       zhu2021 robust strict saddle regions R1, R2, R3', R3'', R3''' and inequalities
    certificates  λ_min(∇f) ≥ 0 (PSD) global-optimality certificate; the SDP dual certificate
                  of min ‖U‖²_F s.t. A(UUᵀ) = b (eftekhari2021 eq. (4))
"""

from lowranklab.landscape.certificates import certificate_psd, sdp_dual_certificate
from lowranklab.landscape.classify import KINDS, PointReport, classify_point
from lowranklab.landscape.finder import FinderResult, find_critical_point
from lowranklab.landscape.spectrum import (
    Spectrum,
    dense_hessian,
    hessian_eigs,
    hessian_operator,
    hessian_spectrum,
    symmetry_basis,
)

__all__ = [
    "KINDS",
    "PointReport",
    "classify_point",
    "FinderResult",
    "find_critical_point",
    "certificate_psd",
    "sdp_dual_certificate",
    "Spectrum",
    "dense_hessian",
    "hessian_eigs",
    "hessian_operator",
    "hessian_spectrum",
    "symmetry_basis",
]
