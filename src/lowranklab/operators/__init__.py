"""Linear measurement operators A: R^{d1×d2} → R^m."""

from lowranklab.operators.base import MeasurementOperator
from lowranklab.operators.dense import DenseSensing, gaussian, symmetric_gaussian
from lowranklab.operators.identity import Identity
from lowranklab.operators.rank_one import RankOne, rank_one_gaussian
from lowranklab.operators.sampling import EntrySampling, bernoulli_entries, uniform_entries
from lowranklab.operators.streamed import StreamedGaussian, seeded_gaussian

__all__ = [
    "MeasurementOperator",
    "DenseSensing",
    "EntrySampling",
    "Identity",
    "RankOne",
    "StreamedGaussian",
    "gaussian",
    "symmetric_gaussian",
    "uniform_entries",
    "bernoulli_entries",
    "rank_one_gaussian",
    "seeded_gaussian",
]
