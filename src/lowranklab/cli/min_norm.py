"""`lowranklab solve --solver merit|merit-euler|merit-bfgs|sdp` on a (factor) instance
(eftekhari2021): PROBLEM.npz with a dense symmetric `A` (m, d²) and `b`; no truth needed.
(Copied from solvers/min_norm_cli.py into the CLI layer; writes go through lowranklab.atomic.)

RESULT.npz keys: `U`, `X`, `objective` (‖U‖²_F), `multipliers` λ(U, U), the certificate
(`dual_value`, `dual_gap`, `lambda_min`, `gap_bound`, `feasibility`), `gamma`, `step`, and
the foundation's `stop_code`, `iterations`, `trace_*`. For `sdp`: `X`, `U` (its factor),
`value`, `dual`, `status`, `lambda_min`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowranklab.atomic import write_npz
from lowranklab.problems.min_norm import MinNormFactorization

SOLVERS = ("merit", "merit-euler", "merit-bfgs", "sdp")
DEFAULT_INIT_NORM = 3.0  # eftekhari2021 Sec. XII: U₀ ← 3U₀/‖U₀‖_F


def solve_min_norm(problem_path: str | Path, out: str | Path, *, solver: str, rank: int,
                   gamma: float | None = None, step: float | None = None,
                   max_iter: int | None = None, init: str = "small",
                   init_norm: float | None = None, init_rank: int | None = None,
                   seed: int = 0, progress: bool = False) -> str:
    """Solve (factor) with one of SOLVERS, write RESULT.npz, return a one-line summary."""
    from lowranklab.io import save_result
    from lowranklab.models import SymmetricFactor
    from lowranklab.models.init import initialize
    from lowranklab.problems import Problem
    from lowranklab.solvers import merit

    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    P = MinNormFactorization.from_problem(Problem.load(problem_path))
    if solver == "sdp":
        return _solve_sdp(P, out)
    if not 1 <= rank <= 2 * P.d or int(rank) != rank:
        raise ValueError(f"--rank must be an integer in [1, {2 * P.d}] for d = {P.d}, "
                         f"got {rank}")
    if init not in ("small", "rank", "identity"):
        raise ValueError(f"--init must be small, rank or identity for {solver}, got {init!r}")
    gamma = merit.PAPER_GAMMA if gamma is None else float(gamma)
    rng = np.random.default_rng(seed)
    norm = DEFAULT_INIT_NORM if init_norm is None else init_norm
    U0 = initialize(SymmetricFactor(P.d, rank), init, rng, norm=norm, rank=init_rank)
    U0 = U0.reshape(P.d, rank)
    if solver == "merit-bfgs":
        res = merit.merit_bfgs(P, U0, gamma=gamma, method="L-BFGS-B",
                               max_iter=20_000 if max_iter is None else max_iter,
                               progress=progress)
    else:
        fn = merit.algorithm1 if solver == "merit" else merit.merit_euler
        res = fn(P, U0, gamma=gamma, step=step,
                 max_iter=300_000 if max_iter is None else max_iter,
                 record_every=1000, progress=progress)
    U = res.factors[0]
    cert = P.certificate(U)
    extra = {"objective": cert.objective, "multipliers": cert.multipliers,
             "dual_value": cert.dual_value, "dual_gap": cert.dual_gap,
             "lambda_min": cert.lambda_min, "gap_bound": cert.gap_bound,
             "feasibility": cert.feasibility, "gamma": gamma, "solver": solver}
    if res.info.get("step") is not None:  # merit-bfgs has no step: no key, never a NaN
        extra["step"] = res.info["step"]
    save_result(out, res, model_name="sym", factors={"U": U}, extra=extra)
    return (f"{res}\n‖U‖²_F = {cert.objective:.10g}, bᵀλ = {cert.dual_value:.10g}, "
            f"λ_min(I − A*(λ)) = {cert.lambda_min:.3e}, ‖A(UUᵀ) − b‖ = {cert.feasibility:.2e}")


def _solve_sdp(P: MinNormFactorization, out) -> str:
    from lowranklab.solvers.convex import min_trace_psd

    res = min_trace_psd(P.operator(), P.b)
    value, status, dual = res.info["value"], res.info["status"], res.info["multipliers"]
    data = {"X": res.X, "U": res.factors[0], "value": np.array(value),
            "status": np.array(status), "model": np.array("sdp"),
            "wall_time": np.array(res.wall_time)}
    lmin = None
    if dual is not None:  # no dual (solver failure): the keys are absent, never NaN
        lmin = float(np.linalg.eigvalsh(np.eye(P.d) - P.adjoint(dual)).min())
        data.update(dual=dual, lambda_min=np.array(lmin))
    write_npz(out, data)
    lmin_text = "n/a" if lmin is None else f"{lmin:.3e}"
    return (f"{status}: tr(X) = {value:.10g}, rank {int(np.sum(res.info['eigenvalues'] > 1e-6 * max(res.info['eigenvalues'][0], 1e-300)))}, "  # noqa: E501
            f"λ_min(I − A*(λ)) = {lmin_text} ({res.wall_time:.2f} s)")
