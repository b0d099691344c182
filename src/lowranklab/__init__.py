"""lowranklab: nonconvex low-rank matrix recovery.

The library is built on one split (Manopt's "lift"): a *loss* f(X) lives on the ambient
matrix X, a *parametrization* maps parameters θ to X, and a *solver* moves θ.

`LowRank` and `Objective` are imported on first use (PEP 562), so `import lowranklab` — and
with it `lowranklab --help` — does not pay for NumPy and SciPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["LowRank", "MatrixCompletion", "MatrixSensing", "Objective", "Triplets",
           "__version__"]

_ESTIMATORS = ("MatrixCompletion", "MatrixSensing", "Triplets")

if TYPE_CHECKING:
    from lowranklab.estimators import MatrixCompletion, MatrixSensing, Triplets
    from lowranklab.lowrank import LowRank
    from lowranklab.objective import Objective


def __getattr__(name: str):
    # everything loads on first use: `import lowranklab` stays light (no NumPy, no sklearn)
    if name == "LowRank":
        from lowranklab.lowrank import LowRank

        return LowRank
    if name == "Objective":
        from lowranklab.objective import Objective

        return Objective
    if name in _ESTIMATORS:
        from lowranklab import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'lowranklab' has no attribute {name!r}")
