"""Landscape analysis: Hessian spectra with the symmetry removed, classification of points,
a critical-point finder, the papers' closed-form critical points and region predicates."""

from lowranklab.landscape.classify import KINDS, PointReport, classify_point
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
    "Spectrum",
    "dense_hessian",
    "hessian_eigs",
    "hessian_operator",
    "hessian_spectrum",
    "symmetry_basis",
]
