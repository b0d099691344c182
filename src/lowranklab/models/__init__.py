"""Parametrizations X(θ): symmetric U Uᵀ, balanced U Vᵀ (deep products and the fixed-rank
manifold are added by their issues)."""

from lowranklab.models.balanced import BalancedFactor
from lowranklab.models.base import Parametrization
from lowranklab.models.symmetric import SymmetricFactor

__all__ = ["Parametrization", "SymmetricFactor", "BalancedFactor"]
