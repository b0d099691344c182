"""A tight gradient-descent loop for symmetric dense sensing: GD (3) of ez2021,

    U_{k+1} = U_k − η ∇‖A(U_kU_kᵀ) − b‖²₂ = (I − 4η S(U_k)) U_k,    S(U) = A*(A(UUᵀ) − b),

which is `gradient_descent` on `SymmetricSensing.objective()` (LeastSquares with scale 2) without
the generic per-iteration overhead: two GEMVs per step with the (m, d(d+1)/2) matrix of A on
symmetric matrices (`SymmetricKernel`); cross-checked against the generic path in the tests.

preserve_rowspace=True runs the *factored* update U = L R₀ with R₀ ∈ R^{k×p} an orthonormal basis
of row(U₀) and L ← (I − 4ηS(U))L: exactly GD (3) in exact arithmetic (the update is a left
multiplication, so row(U_k) ⊆ row(U₀), ez2021 Lemma C.1), but immune to the round-off that lets
the plain iteration leave a repelling low-rank set (spec §6 G5, test T9).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from lowranklab.lowrank import LowRank
from lowranklab.objective import Evaluation
from lowranklab.problems.ez2021 import MACHINE_EPS, SymmetricSensing
from lowranklab.solvers import monitors as mon
from lowranklab.solvers.result import Result, StopCode, Trace

Callback = Callable[[mon.State], bool | None]


class Recorder:
    """Per-iteration columns in preallocated arrays: iterations k ≤ dense_until, every
    `every`-th one after that, and any forced record (the last iterate, restarts)."""

    def __init__(self, names: Sequence[str], every: int = 1, dense_until: int = 0) -> None:
        if int(every) != every or every < 1:
            raise ValueError(f"record_every must be a positive integer, got {every}")
        self.names = list(names)
        self.every, self.dense_until = int(every), int(dense_until)
        self.rows: list[tuple[float, ...]] = []
        self.last_k = -1

    def wants(self, k: int) -> bool:
        return k <= self.dense_until or k % self.every == 0

    def add(self, k: int, *values: float) -> None:
        if k == self.last_k:
            return
        self.rows.append((float(k), *values))
        self.last_k = k

    def trace(self) -> Trace:
        arr = np.array(self.rows, dtype=float).reshape(-1, len(self.names))
        return Trace({n: arr[:, i].tolist() for i, n in enumerate(self.names)})


class SymmetricKernel:
    """A and A* restricted to symmetric matrices in half coordinates: with the N = d(d+1)/2
    upper-triangle entries x_ij (i ≤ j) of X, A(X) = Σ_{i≤j} w_ij A_i[i,j] x_ij (w = 1 on the
    diagonal, 2 off it) and A*(r) is the symmetric matrix with upper entries Σ_i r_i A_i[i,j].
    Half the flops of the (m, d²) products (X = FFᵀ and A*(r) are symmetric)."""

    def __init__(self, inst: SymmetricSensing) -> None:
        d = inst.d
        iu, ju = np.triu_indices(d)
        upper = inst.A[:, iu, ju]
        self.d = d
        self.b = inst.b
        self.M = upper * np.where(iu == ju, 1.0, 2.0)  # (m, N): A(X) = M x
        self.Mt = np.ascontiguousarray(upper.T)  # (N, m): upper entries of A*(r) = Mt r
        self.flat, self.flat_t = iu * d + ju, ju * d + iu

    def residual(self, X: np.ndarray) -> np.ndarray:
        """A(X) − b for symmetric X."""
        return self.M @ X.ravel()[self.flat] - self.b

    def adjoint(self, res: np.ndarray) -> np.ndarray:
        """S = A*(res) (symmetric d×d)."""
        s = self.Mt @ res
        S = np.empty(self.d * self.d)
        S[self.flat] = s
        S[self.flat_t] = s
        return S.reshape(self.d, self.d)


def evaluate(kern: SymmetricKernel, F: np.ndarray, truth: np.ndarray | None):
    """For X = FFᵀ: (residual, f = ‖res‖², test error ‖X − X♮‖²_F or nan)."""
    X = F @ F.T
    res = kern.residual(X)
    test = float(np.sum((X - truth) ** 2)) if truth is not None else float("nan")
    return res, float(res @ res), test


def gd_update(kern: SymmetricKernel, res: np.ndarray, F: np.ndarray, eta: float) -> np.ndarray:
    """F − 4η A*(res) F  (ez2021 eq. (3), ∇‖A(UUᵀ) − b‖² = 4A*(res)U for symmetric A_i)."""
    return F - (4.0 * eta) * (kern.adjoint(res) @ F)


def callback_state(k: int, U: np.ndarray, kern: SymmetricKernel, res: np.ndarray, f: float,
                   elapsed: float, eta: float) -> mon.State:
    """The generic solver `State` (as `gradient_descent` passes it) for the iterate U."""
    S = kern.adjoint(res)
    ev = Evaluation(f, f, (4.0 * S @ U).ravel(), LowRank(U, U), 2.0 * S)
    return mon.State(k, U.ravel(), ev, elapsed, eta)


def rowspace_factor(U0: np.ndarray, tol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(L₀, R₀) with U₀ = L₀R₀, R₀ (k×p) orthonormal rows spanning row(U₀), k = rank U₀."""
    P, s, Qt = np.linalg.svd(U0, full_matrices=False)
    tol = max(U0.shape) * MACHINE_EPS if tol is None else tol
    k = max(int(np.sum(s > tol * s[0])), 1)
    return P[:, :k] * s[:k], Qt[:k]


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
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> Result:
    """GD (3) of ez2021 from U₀ with constant step η = `step` on f(U) = ‖A(UUᵀ) − b‖²₂.

    Stops with `converged` when f(U_k) ≤ tol (default machine eps 2⁻⁵², the papers' stop; None
    disables it), `diverged` when f becomes non-finite or exceeds blowup·max(f(U₀), 1) (the last
    finite iterate is returned and `info["diverged_at"]` names the iteration),
    `interrupted` when a callback returns True, else `max_iter`. The trace has columns iter,
    train_error and (when the instance has a truth) test_error, recorded at k ≤ dense_until,
    every `record_every`-th k, and the last iterate.
    """
    U0 = np.array(U0, dtype=float)
    if U0.ndim != 2 or U0.shape[0] != inst.d:
        raise ValueError(f"U0 must have shape ({inst.d}, p), got {U0.shape}")
    if not np.all(np.isfinite(U0)):
        raise ValueError("U0 must be finite")
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite number > 0, got {step}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter}")
    kern, truth = SymmetricKernel(inst), inst.truth
    if preserve_rowspace:
        F, R0 = rowspace_factor(U0)
    else:
        F, R0 = U0, None
    names = ["iter", "train_error"] + (["test_error"] if truth is not None else [])
    rec = Recorder(names, record_every, dense_until)

    def full(F: np.ndarray) -> np.ndarray:
        return F if R0 is None else F @ R0

    t0 = time.perf_counter()
    last_report = t0
    stop, message, k = StopCode.MAX_ITER, "", 0
    res, f, test = evaluate(kern, F, truth)
    if not np.isfinite(f):
        raise ValueError("f(U0) is not finite")
    f_ref = max(f, 1.0)
    F_prev, f_prev, test_prev = F, f, test
    info: dict = {"step": float(step), "preserve_rowspace": bool(preserve_rowspace)}
    try:
        for k in range(max_iter + 1):
            if k > 0:
                res, f, test = evaluate(kern, F, truth)
                if not np.isfinite(f) or f > blowup * f_ref or not np.all(np.isfinite(F)):
                    stop = StopCode.DIVERGED
                    message = (f"f = {f:.3e} at iteration {k} (f0 = {f_ref:.3e}); "
                               "last finite iterate returned")
                    info["diverged_at"] = k
                    F, f, test, k = F_prev, f_prev, test_prev, k - 1
                    break
            if rec.wants(k):
                rec.add(k, *((f, test) if truth is not None else (f,)))
            if tol is not None and f <= tol:
                stop, message = StopCode.CONVERGED, f"training error <= {tol:g}"
                break
            if k == max_iter:
                break
            if callbacks:
                state = callback_state(k, full(F), kern, res, f, time.perf_counter() - t0, step)
                if any(cb(state) for cb in callbacks):
                    stop, message = StopCode.INTERRUPTED, "stopped by callback"
                    break
            if progress and time.perf_counter() - last_report > 1.0:
                last_report = time.perf_counter()
                print(f"  sensing_gd iter {k}/{max_iter}  f={f:.3e}", file=sys.stderr)
            F_prev, f_prev, test_prev = F, f, test
            F = gd_update(kern, res, F, step)
    except KeyboardInterrupt:
        stop, message = StopCode.INTERRUPTED, "interrupted (Ctrl-C)"
    rec.add(k, *((f, test) if truth is not None else (f,)))
    U = full(F)
    info.update(final_train_error=f, final_test_error=test)
    n = k + 1
    return Result(theta=U.ravel(), X=LowRank(U, U), stop=stop, iterations=k, trace=rec.trace(),
                  counts={"grad_evals": n, "forward": n, "adjoint": k},
                  wall_time=time.perf_counter() - t0, message=message, info=info)


def eta_rule(rho: float, *, base: float = 1e-4, c: float = 5e-4) -> float:
    """η(ρ) = min(10⁻⁴, 5·10⁻⁴/ρ²) (spec §2.2, proposed): the paper's 10⁻⁴ for ‖U₀‖_F ≤ 1,
    the paper's Fig.-5 value 5·10⁻⁶ at ρ = 10, and 5·10⁻¹⁰ at ρ = 10³, where the paper's 10⁻⁴
    overflows within a few iterations (ez2021 Fig. 3; erratum §7.7)."""
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho}")
    return float(min(base, c / rho**2))
