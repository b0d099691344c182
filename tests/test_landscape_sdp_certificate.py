"""The SDP dual certificate of min ‖U‖²_F s.t. A(UUᵀ) = b, reached from the landscape toolkit."""

import numpy as np

from lowranklab.landscape import sdp_dual_certificate
from lowranklab.problems.min_norm_instances import (
    p1_feasible_points_2x2,
    planted_certificate_instance,
    toy_fig1_instance,
)


def test_planted_optimum_is_certified_and_gap_vanishes():
    rng = np.random.default_rng(0)
    problem, W, lam_bar = planted_certificate_instance(8, 10, 2, rng)
    cert = sdp_dual_certificate(problem, W)
    assert cert.certifies(1e-8)
    np.testing.assert_allclose(cert.multipliers, lam_bar, atol=1e-8)
    # I − A*(λ̄) = Z ⪰ 0 vanishes exactly on range(W) (complementarity ZW = 0)
    assert abs(cert.dual_gap) < 1e-9 and abs(cert.lambda_min) < 1e-9
    assert cert.complementarity < 1e-9


def test_spurious_feasible_point_is_not_certified():
    # eftekhari2021 Fig. 1: the p = 1 feasible point u* (‖u*‖² = 4.50) is first-order
    # stationary but not optimal, so its multipliers are dual infeasible
    problem = toy_fig1_instance()
    points = sorted((np.reshape(u, (2, 1)) for u in p1_feasible_points_2x2(problem)),
                    key=lambda u: float(np.sum(u**2)))
    best, worst = points[0], points[-1]
    assert sdp_dual_certificate(problem, best).certifies(1e-6)
    cert = sdp_dual_certificate(problem, worst)
    assert cert.feasibility < 1e-9
    assert not cert.certifies(1e-6) and cert.lambda_min < -0.1
