"""Cardinality-aware feature ranking (OutRank, Škrlj & Mramor, 2023).

``rank_file`` / ``rank_frame`` rank the columns of a file or an in-memory frame against
a target with one of the rankers of ``builtin_rankers()`` (``outrank``, ``mi``, ``3mr``).
"""

from automl.ranking.api import builtin_rankers, rank_file, rank_frame, resolve_ranker
from automl.ranking.errors import RankingInputError
from automl.ranking.rankers import MutualInformationRanker, OutRankRanker, ThreeMRRanker
from automl.ranking.ranking import RankedFeature, Ranking

__all__ = [
    "MutualInformationRanker",
    "OutRankRanker",
    "RankedFeature",
    "Ranking",
    "RankingInputError",
    "ThreeMRRanker",
    "builtin_rankers",
    "rank_file",
    "rank_frame",
    "resolve_ranker",
]
