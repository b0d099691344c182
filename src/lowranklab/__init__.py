"""lowranklab: nonconvex low-rank matrix recovery.

The library is built on one split (Manopt's "lift"): a *loss* f(X) lives on the ambient
matrix X, a *parametrization* maps parameters θ to X, and a *solver* moves θ.
"""

from lowranklab.lowrank import LowRank
from lowranklab.objective import Objective

__version__ = "0.1.0"
__all__ = ["LowRank", "MatrixCompletion", "MatrixSensing", "Objective", "Triplets",
           "__version__"]

_ESTIMATORS = ("MatrixCompletion", "MatrixSensing", "Triplets")


def __getattr__(name: str):
    # The estimators load on first use, so `import lowranklab` stays light (no scikit-learn).
    if name in _ESTIMATORS:
        from lowranklab import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'lowranklab' has no attribute {name!r}")
