"""`lowranklab solve --solver sdp-bm`: the Burer–Monteiro augmented-Lagrangian SDP solver
(`lowranklab.solvers.sdp_bm`) on PROBLEM.npz with a dense symmetric `A` (m, d²) and `b`;
an optional `C` (d, d) array in the same file is the cost (default I: min tr X).

RESULT.npz keys: `U`, `X` (small d), `objective` ⟨C, UUᵀ⟩, `multipliers` y, the certificate
(`dual_value`, `dual_gap`, `lambda_min` = λ_min(C − A*(y)), `gap_bound`, `feasibility`,
`complementarity`, `certified`), `sigma`, `solver`, and the foundation's `stop_code`,
`iterations`, `trace_*`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowranklab.problems.min_norm import MinNormFactorization


def solve_sdp_bm(problem_path: str | Path, out: str | Path, *, rank: int | None = None,
                 tol: float | None = None, max_iter: int | None = None, seed: int = 0,
                 progress: bool = False) -> str:
    """Solve min ⟨C, X⟩ s.t. A(X) = b, X ⪰ 0 with `sdp_bm`, write RESULT.npz, return a
    summary. rank: p (default Pataki + 1); tol: the certificate tolerance (default 1e-7)."""
    from lowranklab.io import save_result
    from lowranklab.problems import Problem
    from lowranklab.solvers.sdp_bm import sdp_bm

    P = MinNormFactorization.from_problem(Problem.load(problem_path))
    with np.load(problem_path, allow_pickle=False) as z:
        C = np.asarray(z["C"], dtype=float) if "C" in z.files else None
    kw = {} if max_iter is None else {"max_iter": max_iter}
    res = sdp_bm(P, C=C, rank=rank, seed=seed, tol=1e-7 if tol is None else tol,
                 progress=progress, **kw)
    cert = res.info["certificate"]
    extra = {**cert.as_dict(), "multipliers": cert.multipliers,
             "certified": bool(res.info["certified"]), "sigma": res.info["sigma"],
             "solver": "sdp-bm"}
    save_result(out, res, model_name="sym", factors={"U": res.factors[0]}, extra=extra)
    verdict = "certified optimal" if res.info["certified"] else "NOT certified"
    return (f"{res}\n⟨C, X⟩ = {cert.objective:.10g}, bᵀy = {cert.dual_value:.10g}, "
            f"λ_min(C − A*(y)) = {cert.lambda_min:.3e}, ‖A(X) − b‖ = {cert.feasibility:.2e}: "
            f"{verdict} (rank p = {res.info['rank']})")
