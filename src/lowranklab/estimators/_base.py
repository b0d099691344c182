"""scikit-learn's estimator base classes when scikit-learn is installed, a minimal stand-in
otherwise, so that the estimators import (and fit) without it.

With scikit-learn (the `sklearn` extra) the estimators are real `BaseEstimator`s: `clone`,
pipelines, grid search and `check_estimator` work. Without it they keep the same
conventions: parameters stored untouched by `__init__`, `get_params`/`set_params`.
"""

from __future__ import annotations

import inspect

try:  # pragma: no cover - which branch runs depends on the installation
    from sklearn.base import BaseEstimator, TransformerMixin

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover
    HAVE_SKLEARN = False

    class BaseEstimator:  # type: ignore[no-redef]
        """get_params/set_params from the `__init__` signature (scikit-learn's contract)."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep: bool = True) -> dict:
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}; "
                                     f"valid parameters: {valid}")
                setattr(self, key, value)
            return self

        def __repr__(self) -> str:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class TransformerMixin:  # type: ignore[no-redef]
        def fit_transform(self, X, y=None, **fit_params):
            return self.fit(X, y, **fit_params).transform(X)


class NotFittedError(ValueError, AttributeError):
    """Raised when a method needs a fitted estimator (scikit-learn's when it is installed)."""


try:  # pragma: no cover
    from sklearn.exceptions import NotFittedError  # type: ignore[no-redef,assignment]  # noqa: F811
except ImportError:  # pragma: no cover
    pass


def check_fitted(est, attribute: str) -> None:
    if not hasattr(est, attribute):
        raise NotFittedError(f"this {type(est).__name__} is not fitted yet; call fit first")


__all__ = ["BaseEstimator", "TransformerMixin", "NotFittedError", "HAVE_SKLEARN",
           "check_fitted"]
