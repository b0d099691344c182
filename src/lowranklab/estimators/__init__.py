"""The practitioner's face: scikit-learn-style estimators.

    from lowranklab import MatrixCompletion
    X_filled = MatrixCompletion(rank="auto", random_state=0).fit_transform(X_with_nan)

`MatrixCompletion` fills missing entries; `MatrixSensing` recovers a low-rank matrix from
linear measurements y = A(X). Both run without scikit-learn and are scikit-learn estimators
when it is installed (the `sklearn` extra).
"""

from lowranklab.estimators.completion import MatrixCompletion
from lowranklab.estimators.data import Triplets
from lowranklab.estimators.sensing import MatrixSensing

__all__ = ["MatrixCompletion", "MatrixSensing", "Triplets"]
