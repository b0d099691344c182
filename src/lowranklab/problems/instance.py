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

from lowranklab.atomic import check_npz, write_npz
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

    def __post_init__(self) -> None:
        """The API boundary: measurements real, finite, of length m; the truth (if any) real,
        finite and of the operator's input shape. No dtype is changed here."""
        if not isinstance(self.op, MeasurementOperator):
            raise TypeError(f"op must be a MeasurementOperator, got {type(self.op).__name__}")
        _real_finite(self.b, "b (measurements)")
        if tuple(np.shape(self.b)) != (self.op.m,):
            raise ValueError(f"b must have shape ({self.op.m},), got {np.shape(self.b)}")
        if self.truth is not None:
            if tuple(self.truth.shape) != tuple(self.op.shape_in):
                raise ValueError(f"truth must have shape {self.op.shape_in}, "
                                 f"got {tuple(self.truth.shape)}")
            if isinstance(self.truth, LowRank):
                _real_finite(self.truth.L, "truth factor U_true")
                _real_finite(self.truth.R, "truth factor V_true")
            elif not hasattr(self.truth, "tocsr"):
                _real_finite(self.truth, "truth X_true")

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
        write_npz(path, data)

    @classmethod
    def load(cls, path: str | Path) -> Problem:
        """Read PROBLEM.npz; raises ValueError with the missing key or wrong shape."""
        check_npz(path, "problem file")
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
        except (ValueError, TypeError) as e:  # e.g. an object array under allow_pickle=False
            if str(e).startswith(str(path)):
                raise
            raise ValueError(f"{path}: {e}") from e

    @classmethod
    def _from_npz(cls, z, path) -> Problem:
        keys = set(z.files)
        if "A" in keys:
            _need(keys, {"A", "b"}, path)
            A = _array(z, "A", path)
            if A.ndim != 2:
                raise ValueError(f"{path}: A must be 2-D (m, d1*d2), got shape {A.shape}")
            if A.shape[0] == 0:
                raise ValueError(f"{path}: A has no rows (m = 0): nothing was measured")
            shape = (_shape(z, path) if "shape" in keys
                     else _square_shape(A.shape[1], path))
            if A.shape[1] != shape[0] * shape[1]:
                raise ValueError(f"{path}: A must have {shape[0] * shape[1]} columns for shape "
                                 f"{shape}, got {A.shape[1]}")
            op: MeasurementOperator = DenseSensing(A, shape)
            b = _array(z, "b", path)
        elif "rows" in keys:
            _need(keys, {"rows", "cols", "values", "shape"}, path)
            shape = _shape(z, path)
            rows, cols = z["rows"], z["cols"]
            for name, idx in (("rows", rows), ("cols", cols)):
                if idx.ndim != 1 or idx.dtype.kind not in "iu":
                    raise ValueError(f"{path}: {name} must be a 1-D integer array, got "
                                     f"{idx.dtype} of shape {idx.shape}")
            if rows.shape != cols.shape:
                raise ValueError(f"{path}: rows and cols must have equal length, got "
                                 f"{rows.size} and {cols.size}")
            if rows.size == 0:
                raise ValueError(f"{path}: no observed entries (rows is empty)")
            if (rows.min() < 0 or rows.max() >= shape[0] or cols.min() < 0
                    or cols.max() >= shape[1]):
                raise ValueError(f"{path}: rows/cols out of range for shape {shape}")
            b = _array(z, "values", path)
            if b.shape != rows.shape:
                raise ValueError(f"{path}: values must have shape {rows.shape} (one per "
                                 f"observed entry), got {b.shape}")
            _no_conflicting_duplicates(rows, cols, b, shape, path)
            op = EntrySampling(rows, cols, shape)
        elif "rank_one_a" in keys:
            _need(keys, {"rank_one_a", "b"}, path)
            op = RankOne(_array(z, "rank_one_a", path),
                         _array(z, "rank_one_b", path) if "rank_one_b" in keys else None)
            b = _array(z, "b", path)
        elif "stream_seed" in keys:
            _need(keys, {"stream_seed", "stream_m", "stream_scale", "stream_symmetric", "shape",
                         "b"}, path)
            op = StreamedGaussian(_shape(z, path), int(z["stream_m"]), int(z["stream_seed"]),
                                  symmetric=bool(z["stream_symmetric"]),
                                  scale=float(z["stream_scale"]),
                                  dtype=str(z["stream_dtype"]) if "stream_dtype" in keys
                                  else None)
            b = _array(z, "b", path)
        else:
            raise ValueError(f"{path}: needs either 'A' and 'b' (sensing), 'rows', 'cols', "
                             f"'values', 'shape' (completion), 'rank_one_a' and 'b' (rank-one "
                             f"sensing) or 'stream_seed', ... (streamed sensing); found "
                             f"{sorted(keys)}")
        b = np.asarray(b)
        if np.iscomplexobj(b):
            raise ValueError(f"{path}: measurements must be real, got complex")
        b = b.astype(float_dtype(b), copy=False)  # float32 kept as stored
        if b.shape != (op.m,):
            raise ValueError(f"{path}: measurements must have shape ({op.m},), got {b.shape}")
        truth: Matrix | None = None
        if ("U_true" in keys) != ("V_true" in keys):
            raise ValueError(f"{path}: U_true and V_true go together; found only one")
        if "U_true" in keys and "X_true" in keys:
            raise ValueError(f"{path}: give the truth as X_true or as U_true, V_true, not both")
        if "U_true" in keys:
            L, R = _array(z, "U_true", path), _array(z, "V_true", path)
            if L.ndim != 2 or R.ndim != 2 or L.shape[1] != R.shape[1]:
                raise ValueError(f"{path}: U_true, V_true must be 2-D with equal columns, got "
                                 f"{L.shape} and {R.shape}")
            truth = LowRank(L.astype(float, copy=False), R.astype(float, copy=False))
        elif "X_true" in keys:
            truth = _array(z, "X_true", path).astype(float, copy=False)
        if truth is not None and truth.shape != op.shape_in:
            raise ValueError(f"{path}: truth must have shape {op.shape_in}, "
                             f"got {truth.shape}")
        symmetric = False
        if "symmetric" in keys:
            flag = z["symmetric"]
            if flag.shape != () or flag.dtype.kind not in "biu" or int(flag) not in (0, 1):
                raise ValueError(f"{path}: symmetric must be a scalar true/false, got {flag!r}")
            symmetric = bool(flag)
            if symmetric and op.shape_in[0] != op.shape_in[1]:
                raise ValueError(f"{path}: symmetric is true but the shape {op.shape_in} is "
                                 "not square")
        if isinstance(op, DenseSensing) and not np.any(op.A):
            raise ValueError(f"{path}: A is all zeros: the measurements carry no information")
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


MAX_DIM = 10**8  # the factors are dense d×r arrays: 10⁸ rows are 0.8 GB per column


def _shape(z, path) -> tuple[int, int]:
    s = np.asarray(z["shape"])
    if s.dtype.kind not in "iu":
        raise ValueError(f"{path}: shape must be two positive integers, got {s} ({s.dtype})")
    s = s.ravel()
    if s.size != 2 or np.any(s < 1):
        raise ValueError(f"{path}: shape must be two positive integers, got {s}")
    if np.any(s > MAX_DIM):
        raise ValueError(f"{path}: shape {tuple(int(v) for v in s)} is too large (each "
                         f"dimension at most {MAX_DIM:.0e}: the factors are dense d×r arrays)")
    return int(s[0]), int(s[1])


def _array(z, key: str, path) -> np.ndarray:
    """z[key] as a real, finite numeric array (ValueError naming the key otherwise)."""
    a = z[key]
    if np.iscomplexobj(a):
        raise ValueError(f"{path}: {key} must be real, got complex values")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {key} must be numeric, got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ValueError(f"{path}: {key} contains non-finite values (NaN or inf)")
    return a


def _real_finite(a, name: str) -> None:
    if np.iscomplexobj(a):
        raise TypeError(f"{name} must be real, got complex values")
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")


def _no_conflicting_duplicates(rows, cols, values, shape, path) -> None:
    """An entry observed twice must carry the same value (duplicates add in A*; two different
    values of one entry are a corrupt file, not a sampling with replacement)."""
    flat = rows.astype(np.int64) * shape[1] + cols.astype(np.int64)
    order = np.argsort(flat, kind="stable")
    f, v = flat[order], values[order]
    dup = np.flatnonzero(f[1:] == f[:-1])
    bad = dup[v[dup + 1] != v[dup]]
    if bad.size:
        k = int(order[bad[0]])
        raise ValueError(f"{path}: entry ({int(rows[k])}, {int(cols[k])}) is observed more than "
                         "once with different values")


def _square_shape(n: int, path) -> tuple[int, int]:
    d = int(round(np.sqrt(n)))
    if d * d != n:
        raise ValueError(f"{path}: A has {n} columns, not a square d*d; add a 'shape' key")
    return d, d
