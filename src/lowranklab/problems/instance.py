"""A recovery instance: operator, measurements and (optionally) the planted truth, with the
PROBLEM.npz file format of the CLI.

PROBLEM.npz holds either a dense `A` of shape (m, d1·d2) (row-major vec) and `b`, or
completion `rows`, `cols`, `values` and `shape`, or rank-one measurements `rank_one_a` (m, d1)
and `rank_one_b` (m, d2; absent for the symmetric kind) and `b`, or a streamed Gaussian
operator by its definition `stream_seed`, `stream_m`, `stream_scale`, `stream_symmetric`,
`shape` and `b` (the numbers are regenerated from the seed, see operators/streamed.py);
optionally the truth as `X_true` (dense) or as factors `U_true`, `V_true`
(X♮ = U_true V_trueᵀ).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowranklab.backend import float_dtype
from lowranklab.lowrank import LowRank, Matrix, as_dense
from lowranklab.operators import (
    DenseSensing,
    EntrySampling,
    MeasurementOperator,
    RankOne,
    StreamedGaussian,
    gaussian,
    rank_one_gaussian,
    symmetric_gaussian,
    uniform_entries,
)
from lowranklab.problems.loss import LeastSquares
from lowranklab.problems.planted import planted_psd, planted_rect


@dataclass
class Problem:
    """b = A(X♮) (+ noise); `symmetric` says whether the truth is symmetric PSD."""

    op: MeasurementOperator
    b: np.ndarray
    truth: Matrix | None = None
    symmetric: bool = False

    def loss(self, *, scale: float = 1.0) -> LeastSquares:
        return LeastSquares(self.op, self.b, scale=scale)

    @property
    def shape(self) -> tuple[int, int]:
        return self.op.shape_in

    def save(self, path: str | Path) -> None:
        data: dict[str, np.ndarray] = {"b": self.b}
        if isinstance(self.op, DenseSensing):
            data["A"] = self.op.A
            data["shape"] = np.array(self.op.shape_in)
        elif isinstance(self.op, EntrySampling):
            data.update(rows=self.op.rows, cols=self.op.cols, values=self.b,
                        shape=np.array(self.op.shape_in))
            del data["b"]
        elif isinstance(self.op, RankOne):
            data["rank_one_a"] = self.op.a
            if not self.op.symmetric:
                data["rank_one_b"] = self.op.b
        elif isinstance(self.op, StreamedGaussian):
            data.update(stream_seed=np.array(self.op.seed), stream_m=np.array(self.op.m),
                        stream_scale=np.array(self.op.scale),
                        stream_symmetric=np.array(self.op.symmetric),
                        stream_dtype=np.array(self.op.dtype.name),
                        shape=np.array(self.op.shape_in))
        else:
            raise TypeError(f"cannot save a problem with a {type(self.op).__name__} operator")
        if isinstance(self.truth, LowRank):
            data.update(U_true=self.truth.L, V_true=self.truth.R)
        elif self.truth is not None:
            data["X_true"] = as_dense(self.truth)
        data["symmetric"] = np.array(self.symmetric)
        with open(path, "wb") as fh:  # np.savez(path) would append ".npz" to a bare name
            np.savez(fh, **data)

    @classmethod
    def load(cls, path: str | Path) -> Problem:
        """Read PROBLEM.npz; raises ValueError with the missing key or wrong shape."""
        try:
            z = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"cannot read problem file {path}: {e}") from e
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError(f"cannot read problem file {path}: not an .npz archive")
        try:
            with z:
                return cls._from_npz(z, path)
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"cannot read problem file {path}: {e}") from e

    @classmethod
    def _from_npz(cls, z, path) -> Problem:
        keys = set(z.files)
        if "A" in keys:
            _need(keys, {"A", "b"}, path)
            A = z["A"]
            if A.ndim != 2:
                raise ValueError(f"{path}: A must be 2-D (m, d1*d2), got shape {A.shape}")
            shape = (_shape(z, path) if "shape" in keys
                     else _square_shape(A.shape[1], path))
            op: MeasurementOperator = DenseSensing(A, shape)
            b = z["b"]
        elif "rows" in keys:
            _need(keys, {"rows", "cols", "values", "shape"}, path)
            op = EntrySampling(z["rows"], z["cols"], _shape(z, path))
            b = z["values"]
        elif "rank_one_a" in keys:
            _need(keys, {"rank_one_a", "b"}, path)
            op = RankOne(z["rank_one_a"], z["rank_one_b"] if "rank_one_b" in keys else None)
            b = z["b"]
        elif "stream_seed" in keys:
            _need(keys, {"stream_seed", "stream_m", "stream_scale", "stream_symmetric", "shape",
                         "b"}, path)
            op = StreamedGaussian(_shape(z, path), int(z["stream_m"]), int(z["stream_seed"]),
                                  symmetric=bool(z["stream_symmetric"]),
                                  scale=float(z["stream_scale"]),
                                  dtype=str(z["stream_dtype"]) if "stream_dtype" in keys
                                  else None)
            b = z["b"]
        else:
            raise ValueError(f"{path}: needs either 'A' and 'b' (sensing), 'rows', 'cols', "
                             f"'values', 'shape' (completion), 'rank_one_a' and 'b' (rank-one "
                             f"sensing) or 'stream_seed', ... (streamed sensing); found "
                             f"{sorted(keys)}")
        b = np.asarray(b)
        b = b.astype(float_dtype(b), copy=False)  # float32 kept as stored
        if b.shape != (op.m,):
            raise ValueError(f"{path}: measurements must have shape ({op.m},), got {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError(f"{path}: measurements contain non-finite values")
        truth: Matrix | None = None
        if "U_true" in keys and "V_true" in keys:
            truth = LowRank(z["U_true"], z["V_true"])
        elif "X_true" in keys:
            truth = np.asarray(z["X_true"], dtype=float)
        if truth is not None and truth.shape != op.shape_in:
            raise ValueError(f"{path}: truth must have shape {op.shape_in}, "
                             f"got {truth.shape}")
        symmetric = bool(z["symmetric"]) if "symmetric" in keys else False
        return cls(op=op, b=b, truth=truth, symmetric=symmetric)


def sensing_problem(
    d: int,
    r: int,
    m: int,
    rng: np.random.Generator,
    *,
    symmetric: bool = True,
    d2: int | None = None,
    noise: float = 0.0,
    operator: str = "dense",
    dtype=None,
) -> Problem:
    """Planted sensing. symmetric=True: PSD trace-1 truth and the papers' symmetric Gaussian
    operator; otherwise a d×d2 truth with unit singular values and N(0, 1/m) sensing.

    operator: "dense" (stored A, m·d·d2 numbers), "streamed" (the same kind of Gaussian A
    regenerated from a seed drawn from rng, `StreamedGaussian`: memory one block of rows) or
    "rank_one" (A_i = a_i b_iᵀ, symmetric a_i a_iᵀ, `rank_one_gaussian`: memory m(d + d2)) —
    the latter two for large d. dtype: the operator's and b's storage dtype (float64 default).
    """
    n2 = d2 or d
    if operator == "dense":
        op = (symmetric_gaussian(d, m, rng, dtype=dtype) if symmetric
              else gaussian(d, n2, m, rng, dtype=dtype))
    elif operator == "streamed":
        op = StreamedGaussian((d, n2), m, int(rng.integers(2**63)), symmetric=symmetric,
                              dtype=dtype)
    elif operator == "rank_one":
        op = rank_one_gaussian(d, n2, m, rng, symmetric=symmetric, dtype=dtype)
    else:
        raise ValueError(f"operator must be 'dense', 'streamed' or 'rank_one', got {operator!r}")
    truth = planted_psd(d, r, rng) if symmetric else planted_rect(d, n2, r, rng)
    return _measure(op, truth, rng, noise, symmetric)


def completion_problem(
    d1: int,
    d2: int,
    r: int,
    fraction: float,
    rng: np.random.Generator,
    *,
    symmetric: bool = False,
    noise: float = 0.0,
) -> Problem:
    """Planted completion: ⌊fraction·d1·d2⌉ entries uniformly without replacement."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if symmetric:
        if d1 != d2:
            raise ValueError("a symmetric completion problem needs d1 == d2")
        truth = planted_psd(d1, r, rng, normalize="fro")
    else:
        truth = planted_rect(d1, d2, r, rng)
    op = uniform_entries((d1, d2), max(int(round(fraction * d1 * d2)), 1), rng)
    return _measure(op, truth, rng, noise, symmetric)


def _measure(op, truth, rng, noise, symmetric) -> Problem:
    b = op.forward(truth)
    if noise:
        b = b + noise * rng.standard_normal(b.shape)
    b = b.astype(op.dtype, copy=False)  # a float32 operator measures in float32
    op.counts.clear()
    return Problem(op=op, b=b, truth=truth, symmetric=symmetric)


def _need(keys: set[str], needed: set[str], path) -> None:
    missing = needed - keys
    if missing:
        raise ValueError(f"{path}: missing key(s) {sorted(missing)}")


def _shape(z, path) -> tuple[int, int]:
    s = np.asarray(z["shape"]).ravel()
    if s.size != 2 or np.any(s < 1):
        raise ValueError(f"{path}: shape must be two positive integers, got {s}")
    return int(s[0]), int(s[1])


def _square_shape(n: int, path) -> tuple[int, int]:
    d = int(round(np.sqrt(n)))
    if d * d != n:
        raise ValueError(f"{path}: A has {n} columns, not a square d*d; add a 'shape' key")
    return d, d
