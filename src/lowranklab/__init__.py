"""lowranklab: nonconvex low-rank matrix recovery.

The library is built on one split (Manopt's "lift"): a *loss* f(X) lives on the ambient
matrix X, a *parametrization* maps parameters θ to X, and a *solver* moves θ.
"""

from lowranklab.lowrank import LowRank
from lowranklab.objective import Objective

__version__ = "0.1.0"
__all__ = ["LowRank", "Objective", "__version__"]
