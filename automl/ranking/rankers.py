"""The built-in feature rankers: ``mi``, ``outrank`` and ``3mr``.

After "OutRank: Speeding up AutoML-based Model Search for Large Sparse Data sets with
Cardinality-aware Feature Ranking" (Škrlj & Mramor, 2023) and its reference tool.

A ranker is a class with a ``name``, a one-line ``description``, the counts it needs
(``permutations``: noise tables per feature; ``pair_sample_rows``: a row sample for
pairwise terms, 0 for none) and ``rank(statistics) -> Ranking``. The statistics come
from one pass over the data (``automl.ranking.streaming``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from automl.ranking.mutual_information import (
    compact_codes,
    joint_codes,
    mutual_information_from_table,
    sum_x_log_x,
    x_log_x_lookup,
)
from automl.ranking.ranking import Ranking
from automl.ranking.statistics import FeatureStatistics

PAIR_STREAM = 3
LOOKUP_COUNTS = 1 << 16  # counts below this take n log n from a table instead of a logarithm


def _occupied(table: np.ndarray) -> np.ndarray:
    """Indices of the feature codes seen at least once (most of a hashed code space is empty)."""
    return np.flatnonzero(table.any(axis=0))


def mutual_information_scores(statistics: FeatureStatistics) -> np.ndarray:
    """Plug-in I(X;Y) of every feature, from its contingency table."""
    lookup = x_log_x_lookup(LOOKUP_COUNTS)
    return np.array([mutual_information_from_table(table[:, _occupied(table)], lookup) for table in statistics.tables])


def noise_corrected_scores(statistics: FeatureStatistics) -> np.ndarray:
    """I(X;Y) minus the mean I(X';Y) over the noise tables (X' = X shuffled against Y).

    A noise table has the real table's feature histogram (row sums) and class histogram
    (column sums), so in I = (S_xy - S_x - S_y + N log N) / N only the cell term S_xy
    differs: the score is (S_xy - mean S_x'y) / N, one pass over each table.
    """
    lookup = x_log_x_lookup(LOOKUP_COUNTS)
    scores = np.zeros(len(statistics.tables))
    for feature, (table, noise_tables) in enumerate(zip(statistics.tables, statistics.noise_tables, strict=True)):
        occupied = _occupied(table)
        real = table[:, occupied]
        if not noise_tables:
            scores[feature] = mutual_information_from_table(real)
            continue
        total = int(real.sum())
        noise = np.mean([sum_x_log_x(noise_table[:, occupied], lookup) for noise_table in noise_tables])
        scores[feature] = (sum_x_log_x(real, lookup) - noise) / max(total, 1)
    return scores


class MutualInformationRanker:
    """Plain plug-in mutual information with the target.

    Kept as the baseline: its bias grows with cardinality, so high-cardinality noise (ids)
    outranks informative features — the failure OutRank corrects.
    """

    name = "mi"
    description = "Plug-in mutual information with the target (biased towards high-cardinality features)."

    def __init__(self) -> None:
        self.permutations = 0
        self.pair_sample_rows = 0

    def rank(self, statistics: FeatureStatistics) -> Ranking:
        scores = mutual_information_scores(statistics)
        return Ranking.from_scores(statistics.feature_names, scores, statistics.cardinalities, self.name)


class OutRankRanker:
    """Cardinality-aware mutual information: I(X;Y) - mean over permutations of I(X';Y).

    X' has exactly X's value histogram and no relation to Y (a seeded random permutation
    of rows), so I(X';Y) is the mutual information that noise of X's cardinality gets from
    the plug-in estimator's bias; subtracting it ranks ids and other high-cardinality
    noise near zero (Škrlj & Mramor, 2023). Averaging a few permutations (default 3)
    steadies the estimate of that bias.
    """

    name = "outrank"
    description = "Mutual information minus that of a same-histogram noise feature (cardinality-aware, OutRank)."

    def __init__(self, permutations: int = 3) -> None:
        if permutations < 1:
            raise ValueError("outrank needs at least one permutation")
        self.permutations = permutations
        self.pair_sample_rows = 0

    def rank(self, statistics: FeatureStatistics) -> Ranking:
        scores = noise_corrected_scores(statistics)
        return Ranking.from_scores(statistics.feature_names, scores, statistics.cardinalities, self.name)


class _PairTerms:
    """Noise-corrected pairwise information on a row sample (for 3MR).

    With S(A) = sum over values a of n_a log n_a on the N sample rows, H(A) = log N - S(A)/N,
    so a difference of mutual informations that share their marginals reduces to a
    difference of S of two joint variables: I(A;B) - I(A;B') = (S(A,B) - S(A,B')) / N when
    B' is B shuffled. ``n log n`` comes from a lookup table, so each term is a bincount and
    a gather.
    """

    def __init__(self, statistics: FeatureStatistics, features: list[int]) -> None:
        assert statistics.sample_codes is not None and statistics.sample_target is not None
        self.codes: dict[int, np.ndarray] = {}
        self.counts: dict[int, int] = {}
        for feature in features:
            self.codes[feature], self.counts[feature] = compact_codes(statistics.sample_codes[feature])
        target, self.class_count = compact_codes(statistics.sample_target)
        self.target = target
        self.rows = len(target)
        self.x_log_x = x_log_x_lookup(self.rows)
        rng = np.random.default_rng([statistics.seed, PAIR_STREAM])
        self.shuffled_target = target[rng.permutation(self.rows)]
        # A second, independent shuffle of the chosen feature for the redundancy baseline.
        self.permutation = rng.permutation(self.rows)
        self.relevance = {
            feature: self.target_information(self.codes[feature], self.counts[feature]) for feature in features
        }

    def _sum_x_log_x(self, codes: np.ndarray, count: int) -> float:
        return float(self.x_log_x[np.bincount(codes, minlength=count)].sum())

    def target_information(self, codes: np.ndarray, count: int) -> float:
        """I(X;Y) - I(X;Y shuffled) on the sample."""
        real = self._sum_x_log_x(codes * self.class_count + self.target, count * self.class_count)
        noise = self._sum_x_log_x(codes * self.class_count + self.shuffled_target, count * self.class_count)
        return (real - noise) / self.rows

    def redundancy_and_interaction(self, candidate: int, chosen: int) -> tuple[float, float]:
        """(I(C;S) - I(C;S'), I((C,S);Y) - I(C;Y) - I(S;Y)), all noise-corrected."""
        candidate_codes, candidate_count = self.codes[candidate], self.counts[candidate]
        chosen_codes, chosen_count = self.codes[chosen], self.counts[chosen]
        pair, pair_count = joint_codes(candidate_codes, chosen_codes, candidate_count, chosen_count)
        shuffled_pair, shuffled_count = joint_codes(
            candidate_codes, chosen_codes[self.permutation], candidate_count, chosen_count
        )
        shuffled_sum = self._sum_x_log_x(shuffled_pair, shuffled_count)
        redundancy = (self._sum_x_log_x(pair, pair_count) - shuffled_sum) / self.rows
        interaction = self.target_information(pair, pair_count) - self.relevance[candidate] - self.relevance[chosen]
        return redundancy, interaction


class ThreeMRRanker:
    """3MR: greedy minimum-redundancy maximum-relevance order with feature-pair relations.

    After OutRank's 3MR heuristic (Škrlj & Mramor, 2023): start from the most relevant
    feature, then repeatedly pick the feature maximising

        relevance - mean redundancy with the chosen features + mean pair interaction,

    where relevance is the OutRank score on all rows, redundancy is I(X_i;X_j) and the
    pair interaction is I((X_i,X_j);Y) - I(X_i;Y) - I(X_j;Y) (positive when a pair tells
    more together, as in XOR; negative for copies), both measured on a uniform row sample
    and corrected by the same shuffled-noise baseline as OutRank. An exact copy of a
    chosen feature has redundancy equal to its entropy and so falls to the end. Scores
    are the greedy objective when each feature was chosen; the rank is the order chosen.
    """

    name = "3mr"
    description = "Greedy relevance minus redundancy plus pair interaction (OutRank's 3MR, cardinality-aware)."

    def __init__(self, permutations: int = 3, pair_sample_rows: int = 50_000, pool_size: int = 20) -> None:
        self.permutations = permutations
        self.pair_sample_rows = pair_sample_rows
        self.pool_size = pool_size

    def rank(self, statistics: FeatureStatistics) -> Ranking:
        """Greedy order of the ``pool_size`` most relevant features, then the rest by relevance.

        Pairwise terms cost O(pool_size**2) joint counts, so they are computed only for the
        pool; features outside it keep their relevance as score and follow in that order.
        """
        names = statistics.feature_names
        relevance = noise_corrected_scores(statistics)
        by_relevance = sorted(range(len(names)), key=lambda feature: -relevance[feature])
        pool, rest = by_relevance[: self.pool_size], by_relevance[self.pool_size :]
        terms = _PairTerms(statistics, pool)
        redundancy_sum = np.zeros(len(names))
        interaction_sum = np.zeros(len(names))
        remaining = list(pool)
        order: list[int] = []
        objective = relevance.copy()
        with ThreadPoolExecutor(max_workers=max(statistics.workers, 1)) as executor:
            while remaining:
                if order:
                    chosen = [order[-1]] * len(remaining)
                    pairs = list(executor.map(terms.redundancy_and_interaction, remaining, chosen))
                    for candidate, (redundancy, interaction) in zip(remaining, pairs, strict=True):
                        redundancy_sum[candidate] += redundancy
                        interaction_sum[candidate] += interaction
                    selected = len(order)
                    for candidate in remaining:
                        objective[candidate] = (
                            relevance[candidate]
                            - redundancy_sum[candidate] / selected
                            + interaction_sum[candidate] / selected
                        )
                best = max(remaining, key=lambda candidate: (objective[candidate], -candidate))
                order.append(best)
                remaining.remove(best)
        return Ranking.from_order(names, objective, statistics.cardinalities, order + rest, self.name)
