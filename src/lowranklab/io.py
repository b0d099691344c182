"""RESULT.npz: the file `lowranklab solve` writes and `inspect`/`--init-from` read.

Keys: `U` (and `V` for asymmetric models), `X` when d1·d2 ≤ 10⁷, `model`, `mu`,
`stop_code`, `iterations`, and each trace column as `trace_<name>`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lowranklab.atomic import check_npz, write_npz
from lowranklab.solvers.result import Result

MAX_DENSE_X = 10**7


def save_result(path: str | Path, result: Result, *, model_name: str, factors: dict,
                mu: float = 0.0, extra: dict | None = None) -> None:
    """Write RESULT.npz atomically (`lowranklab.atomic`). Factors, X and the extra values must
    be finite real numbers (ValueError naming the key, raised before anything is written): a
    result never carries NaN as a value. In `trace_*` columns NaN marks only "not recorded at
    this row" (a column a monitor added later, see `Trace.append`)."""
    data: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in factors.items()}
    X = result.X
    d1, d2 = X.shape
    if d1 * d2 <= MAX_DENSE_X:
        data["X"] = X.dense() if hasattr(X, "dense") else np.asarray(X)
    for k, v in (extra or {}).items():
        data[k] = np.asarray(v)
    for k, v in data.items():
        if v.dtype.kind in "fc" and (np.iscomplexobj(v) or not np.all(np.isfinite(v))):
            raise ValueError(f"result {k!r} is not finite and real; refusing to write {path}")
    data.update(model=np.array(model_name), mu=np.array(float(mu)),
                stop_code=np.array(result.stop.value), iterations=np.array(result.iterations),
                wall_time=np.array(result.wall_time))
    for k, v in result.trace.arrays().items():
        data[f"trace_{k}"] = v
    write_npz(path, data)


def load_result(path: str | Path) -> dict[str, np.ndarray]:
    check_npz(path, "result file")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"cannot read result file {path}: {e}") from e
    if "U" not in data:
        raise ValueError(f"{path}: not a lowranklab result (no 'U')")
    return data
