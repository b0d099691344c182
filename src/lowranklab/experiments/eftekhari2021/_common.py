"""Shared helpers of the eftekhari2021 experiments: the SDP reference value with a fallback."""

from __future__ import annotations

import numpy as np

from lowranklab.problems.min_norm import MinNormFactorization
from lowranklab.solvers.merit import merit_bfgs

PAPER = "eftekhari2021"


def reference_optimum(P: MinNormFactorization, p: int, rng: np.random.Generator) -> dict:
    """opt(SDP) by cvxpy/Clarabel (X̄, its rank, its factor); without cvxpy, L-BFGS on h_100
    from ‖U₀‖_F = 3 (it reaches the SDP value on the paper's sizes, spec §2)."""
    try:
        from lowranklab.solvers.convex import min_trace_psd

        res = min_trace_psd(P.operator(), P.b)
        ev = res.info["eigenvalues"]
        return {"value": float(res.info["value"]), "X": res.X, "factor": res.factors[0][:, :p],
                "rank": int(np.sum(ev > 1e-6 * max(ev[0], 1e-300))), "method": "sdp-clarabel",
                "status": res.info["status"]}
    except ImportError:
        U0 = rng.standard_normal((P.d, p))
        U0 *= 3.0 / np.linalg.norm(U0)
        U = merit_bfgs(P, U0).factors[0]
        s, V = np.linalg.eigh(U @ U.T)
        s, V = s[::-1], V[:, ::-1]
        return {"value": P.objective(U), "X": U @ U.T,
                "factor": V[:, :p] * np.sqrt(np.clip(s[:p], 0, None)),
                "rank": int(np.sum(s > 1e-6 * s[0])), "method": "merit-lbfgs",
                "status": "reference"}
