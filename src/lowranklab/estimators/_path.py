"""The fitting logic the estimators share: a fixed rank, or the validated rank path.

`LowRankFitMixin._fit_operator(op, b, restrict)` fits ½‖A(X) − b‖² at rank `self.rank` or, for
rank="auto", along the rank path with early stopping on held-out measurements (the
`MatrixCompletion` docstring has the rule); `restrict(idx)` builds the operator of the
measurements idx. The estimator provides the parameters rank, max_rank, early_stopping,
validation_fraction, n_iter_no_change, rank_patience, max_iter, tol, refit, random_state and
verbose.
"""

from __future__ import annotations

import math

import numpy as np

from lowranklab.estimators._solver import Fit, fit_fixed_rank
from lowranklab.lowrank import LowRank


class LowRankFitMixin:
    def _check_common_params(self) -> None:
        r = self.rank
        if isinstance(r, str):
            if r != "auto":
                raise ValueError(f"rank must be a positive integer or 'auto', got {r!r}")
        elif isinstance(r, bool) or not isinstance(r, int | np.integer) or r < 1:
            raise ValueError(f"rank must be a positive integer or 'auto', got {r!r}")
        if self.max_rank is not None and (not isinstance(self.max_rank, int | np.integer)
                                          or self.max_rank < 1):
            raise ValueError(f"max_rank must be a positive integer or None, got "
                             f"{self.max_rank!r}")
        if not (isinstance(self.validation_fraction, float | int)
                and 0 < self.validation_fraction < 1):
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{self.validation_fraction!r}")
        for name in ("n_iter_no_change", "rank_patience", "max_iter"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not (isinstance(self.tol, float | int) and self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")

    def _fit_operator(self, op, b: np.ndarray, restrict):
        """(X, last Fit, iterations of the final fit, {rank: validation RMSE})."""
        auto = self.rank == "auto"
        validate = (auto or self.early_stopping) and b.size >= 2
        path: dict[int, float] = {}
        if validate:
            train, val = _split(b.size, self.validation_fraction, self.random_state)
            op_t, op_v = restrict(train), restrict(val)
            if auto:
                ranks = self._rank_grid(op.shape_in, train.size)
            else:  # the same growth up to the given rank, which is kept
                r = self._fixed_rank(op.shape_in)
                ranks = [k for k in self._rank_grid(op.shape_in, None) if k < r] + [r]
            schedule, path, best_X, best_fit = self._path(op_t, b[train], ranks,
                                                          (op_v, b[val]), fixed=not auto)
            if not self.refit:
                return best_X, best_fit, sum(it for _, it in schedule), path
        else:
            schedule = [(self._fixed_rank(op.shape_in), self.max_iter)]
        X, fit, n_iter = None, None, 0
        for r, iters in schedule:
            fit = fit_fixed_rank(op, b, r, x0=X, max_iter=iters, tol=self.tol,
                                 direction=self._direction())
            X = fit.X
            n_iter += fit.result.iterations
        return X, fit, n_iter, path

    def _direction(self) -> str:
        """The fixed-rank solver's direction: "gradient" for method="rgd", else "cg"."""
        return "gradient" if getattr(self, "method", "rcg") == "rgd" else "cg"

    def _set_factors(self, X: LowRank) -> None:
        P, s, Q = _svd_lowrank(X)
        self.U_ = P * np.sqrt(s)
        self.V_ = Q * np.sqrt(s)
        self.singular_values_ = s
        self.rank_ = int(s.size)

    def _set_fit_attributes(self, fit: Fit, n_iter: int, path: dict) -> None:
        self.n_iter_ = int(n_iter)
        self.stop_code_ = fit.stop
        self.stop_message_ = fit.reason
        self.result_ = fit.result
        self.validation_rmse_ = path

    def _fixed_rank(self, shape) -> int:
        r = int(self.rank)
        if r > min(shape):
            raise ValueError(f"rank must be <= min(d1, d2) = {min(shape)} for a {shape[0]}×"
                             f"{shape[1]} matrix, got {r}")
        return r

    def _rank_grid(self, shape, m_train: int | None) -> list[int]:
        """1, 2, …, growing about 15 % a step, up to max_rank and (given m_train) the largest
        r with r(d1 + d2 − r) ≤ m_train: beyond it the model interpolates the data."""
        d1, d2 = shape
        s = d1 + d2
        disc = s * s - 4.0 * m_train if m_train is not None else -1.0
        cap = int((s - math.sqrt(disc)) / 2) if disc > 0 else min(d1, d2)
        cap = max(1, min(cap, d1, d2))
        if self.max_rank is not None and m_train is not None:
            cap = min(cap, int(self.max_rank))
        ranks, r = [], 1
        while r <= cap:
            ranks.append(r)
            r = max(r + 1, math.ceil(1.15 * r))
        return ranks

    def _path(self, op, b, ranks, validation, fixed: bool = False):
        """Fit along `ranks` (each warm-started from the last) with early stopping on the
        validation entries; stop after `rank_patience` ranks without improvement and keep the
        best rank, or (fixed) go to the last rank and keep it."""
        schedule, path, X = [], {}, None
        best = (np.inf, None, None, 0)  # rmse, X, fit, index in schedule
        worse = 0
        # a validation RMSE below 1e-6 of the data's RMS is an exact fit: a larger rank that
        # lowers it further is not better (noiseless data pick the true rank)
        floor = 1e-6 * float(np.sqrt(np.mean(b * b)))
        for r in ranks:
            fit = fit_fixed_rank(op, b, r, x0=X, max_iter=self.max_iter, tol=self.tol,
                                 validation=validation, patience=self.n_iter_no_change,
                                 direction=self._direction())
            X = fit.X
            schedule.append((r, max(fit.best_iter, 1)))
            path[r] = fit.val_rmse
            if self.verbose:
                print(f"  rank {r:4d}: validation RMSE {fit.val_rmse:.5g} after "
                      f"{fit.best_iter} iterations ({fit.reason})")
            if fixed:
                best = (fit.val_rmse, X, fit, len(schedule))
            elif fit.val_rmse < best[0] * (1.0 - 1e-4) - floor:
                best, worse = (fit.val_rmse, X, fit, len(schedule)), 0
            else:
                worse += 1
                if worse >= self.rank_patience:
                    break
        return schedule[: best[3]], path, best[1], best[2]



def _split(m: int, fraction: float, random_state) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a random (train, validation) split of m entries, both sorted, each ≥ 1."""
    rng = random_state if isinstance(random_state, np.random.Generator) else \
        np.random.default_rng(random_state)
    n_val = min(max(1, int(round(fraction * m))), m - 1)
    perm = rng.permutation(m)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _svd_lowrank(X: LowRank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P, s, Q with X = P diag(s) Qᵀ (thin QRs and an SVD of the small core); zero singular
    values are dropped."""
    QL, RL = np.linalg.qr(X.L)
    QR_, RR = np.linalg.qr(X.R)
    a, s, bt = np.linalg.svd(RL @ RR.T)
    keep = s > 1e-12 * max(s[0] if s.size else 0.0, 1e-300)
    keep[0] = True
    return QL @ a[:, keep], s[keep], QR_ @ bt[keep].T
