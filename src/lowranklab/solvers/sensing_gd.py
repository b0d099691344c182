"""GD (3) of ez2021 for symmetric dense sensing,

    U_{k+1} = U_k − η ∇‖A(U_kU_kᵀ) − b‖²₂ = (I − 4η S(U_k)) U_k,    S(U) = A*(A(UUᵀ) − b),

which is the engine's constant-step GD on `sensing_objective(inst)` (LeastSquares with
scale 2 on `SymmetricFactor`); the dense operator's half-coordinate products (symmetric A_i:
A(X) and A*(r) over the d(d+1)/2 upper-triangle entries) keep it at two half passes over A.

preserve_rowspace=True runs the *factored* update U = L R₀ with R₀ ∈ R^{k×p} an orthonormal basis
of row(U₀): since R₀R₀ᵀ = I, X = UUᵀ = LLᵀ and L ← (I − 4ηS(U))L is GD on L ∈ R^{d×k} — exactly
GD (3) in exact arithmetic (the update is a left multiplication, so row(U_k) ⊆ row(U₀), ez2021
Lemma C.1), but immune to the round-off that lets the plain iteration leave a repelling low-rank
set (spec §6 G5, test T9).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lowranklab.backend import require_numpy
from lowranklab.lowrank import LowRank
from lowranklab.models.symmetric import SymmetricFactor
from lowranklab.objective import Objective
from lowranklab.problems.ez2021 import MACHINE_EPS, SymmetricSensing
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.engine import Stop, run
from lowranklab.solvers.result import Result
from lowranklab.solvers.rules import Constant


def rowspace_factor(U0: np.ndarray, tol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(L₀, R₀) with U₀ = L₀R₀, R₀ (k×p) orthonormal rows spanning row(U₀), k = rank U₀."""
    P, s, Qt = np.linalg.svd(U0, full_matrices=False)
    tol = max(U0.shape) * MACHINE_EPS if tol is None else tol
    k = max(int(np.sum(s > tol * s[0])), 1)
    return P[:, :k] * s[:k], Qt[:k]


def sensing_objective(inst: SymmetricSensing, p: int | None = None) -> Objective:
    """U ↦ ‖A(UUᵀ) − b‖², U ∈ R^{d×p} (p = d by default), as an engine `Objective`."""
    return Objective(inst.loss(), SymmetricFactor(inst.d, inst.d if p is None else p))


def sensing_monitors(inst: SymmetricSensing) -> list[mon.Monitor]:
    """train_error = ‖A(UUᵀ) − b‖² and, with a truth, test_error = ‖UUᵀ − X♮‖²_F."""
    out = [mon.training_error(inst.loss())]
    if inst.truth is not None:
        out.append(mon.test_error(inst.truth, relative=False))
    return out


def sensing_gd(
    inst: SymmetricSensing,
    U0: np.ndarray,
    *,
    step: float,
    max_iter: int = 100_000,
    tol: float | None = MACHINE_EPS,
    blowup: float = 1e8,
    preserve_rowspace: bool = False,
    record_every: int = 1,
    dense_until: int = 0,
    callbacks: Sequence[mon.Callback] = (),
    hooks: Sequence = (),
    progress: bool = False,
) -> Result:
    """GD (3) of ez2021 from U₀ with constant step η = `step` on f(U) = ‖A(UUᵀ) − b‖²₂.

    Stops with `converged` when f(U_k) ≤ tol (default machine eps 2⁻⁵², the papers' stop; None
    disables it), `diverged` when f becomes non-finite or exceeds blowup·max(f(U₀), 1) (the last
    finite iterate is returned and `info["diverged_at"]` names the iteration),
    `interrupted` when a callback returns True, else `max_iter`. No stall test (the papers run
    to their iteration budget). The trace has columns iter, train_error and (when the instance
    has a truth) test_error, recorded at k ≤ dense_until, every `record_every`-th k, and the last
    iterate. info: final_train_error, final_test_error.
    """
    require_numpy(U0, "sensing_gd")
    U0 = np.array(U0, dtype=float)
    if U0.ndim != 2 or U0.shape[0] != inst.d:
        raise ValueError(f"U0 must have shape ({inst.d}, p), got {U0.shape}")
    if not np.all(np.isfinite(U0)):
        raise ValueError("U0 must be finite")
    F0, R0 = rowspace_factor(U0) if preserve_rowspace else (U0, None)
    objective = sensing_objective(inst, F0.shape[1])
    stop = Stop(max_iter=max_iter, tol=tol, ftol=None, blowup=blowup)
    res = run(objective, F0.ravel(), Constant(step), stop=stop, monitors=sensing_monitors(inst),
              callbacks=callbacks, hooks=hooks, record_every=record_every,
              dense_until=dense_until, progress=progress, name="sensing_gd",
              info={"step": float(step), "preserve_rowspace": bool(preserve_rowspace)})
    if R0 is not None:
        U = res.theta.reshape(inst.d, -1) @ R0
        res.theta, res.X, res.factors = U.ravel(), LowRank(U, U), (U,)
    last = {k: v[-1] for k, v in res.trace.columns.items()}
    res.info.update(final_train_error=last["train_error"],
                    final_test_error=last.get("test_error", float("nan")))
    return res

