"""Counts gathered in one pass over the data, from which every ranker computes scores.

Two accumulators, both of bounded size whatever the number of rows:

* ``ContingencyCounts``: per feature, the (codes x classes) table of joint counts with the
  target, and one table per noise permutation. A noise table counts the feature against
  the target shuffled by a seeded random permutation within the chunk — the same as
  shuffling the feature, since only the pairing of rows matters: it has the feature's
  exact value histogram and no relation to the target (OutRank's noise feature, Škrlj &
  Mramor, 2023). A random permutation, unlike the reference tool's shift of row indices,
  also breaks the relation on data sorted by label.
* ``RowReservoir``: a uniform random sample without replacement of rows' codes (the rows
  with the smallest seeded random keys), for row sampling and for pairwise terms (3MR).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

# Streams of random numbers are keyed by (seed, purpose, chunk, permutation) so a run is
# reproducible and no two uses share a stream.
NOISE_STREAM = 1
RESERVOIR_STREAM = 2


def noise_targets(target_codes: np.ndarray, permutations: int, seed: int, chunk_index: int) -> list[np.ndarray]:
    """The target shuffled by ``permutations`` independent seeded permutations."""
    return [
        np.random.default_rng([seed, NOISE_STREAM, chunk_index, permutation]).permutation(target_codes)
        for permutation in range(permutations)
    ]


class ContingencyCounts:
    """Per-feature contingency tables with the target, real and noise, summed over chunks."""

    def __init__(self, code_counts: Sequence[int], permutations: int, seed: int) -> None:
        self.code_counts = [int(count) for count in code_counts]
        self.permutations = permutations
        self.seed = seed
        self.class_count = 0
        self.row_count = 0
        self.tables = [np.zeros((0, count), dtype=np.int64) for count in self.code_counts]
        self.noise_tables = [[table.copy() for _ in range(permutations)] for table in self.tables]

    def _grow_classes(self, class_count: int) -> None:
        """Add rows for target classes first seen in this chunk (codes of old classes never change)."""
        if class_count <= self.class_count:
            return
        extra = class_count - self.class_count

        def grow(table: np.ndarray) -> np.ndarray:
            if table.shape[0] == 0:
                return np.zeros((class_count, table.shape[1]), dtype=table.dtype)
            return np.concatenate([table, np.zeros((extra, table.shape[1]), dtype=table.dtype)])

        self.tables = [grow(table) for table in self.tables]
        self.noise_tables = [[grow(table) for table in tables] for tables in self.noise_tables]
        self.class_count = class_count

    def add(
        self,
        feature_codes: Sequence[np.ndarray],
        target_codes: np.ndarray,
        class_count: int,
        chunk_index: int,
        executor: Executor | None = None,
    ) -> None:
        """Count one chunk: ``feature_codes[f]`` and ``target_codes`` are aligned row by row."""
        self._grow_classes(class_count)
        classes = self.class_count
        shuffled = noise_targets(target_codes, self.permutations, self.seed, chunk_index)

        # Tables are (classes x codes): the index is class * codes + code, so every class is
        # one contiguous row and sums over classes are fast row additions.
        scaled_targets = [target_codes, *shuffled]

        def count_feature(feature: int) -> None:
            code_count = self.code_counts[feature]
            size = code_count * classes
            codes = feature_codes[feature]
            for index, scaled_target in enumerate(scaled_targets):
                counts = np.bincount(scaled_target * code_count + codes, minlength=size).reshape(classes, code_count)
                if index == 0:
                    self.tables[feature] += counts
                else:
                    self.noise_tables[feature][index - 1] += counts

        features = range(len(self.code_counts))
        if executor is None:
            for feature in features:
                count_feature(feature)
        else:
            list(executor.map(count_feature, features))
        self.row_count += len(target_codes)


class RowReservoir:
    """A uniform sample of at most ``capacity`` rows of codes, in a single pass.

    Every row gets a seeded random key; the sample is the rows with the smallest keys, so
    memory stays at ``capacity`` rows and every row has the same chance to be kept
    wherever it is in the file (sorted files are sampled fairly).
    """

    def __init__(self, capacity: int, feature_count: int, seed: int) -> None:
        self.capacity = capacity
        self.seed = seed
        self.keys = np.empty(0, dtype=np.float64)
        self.codes = np.empty((feature_count, 0), dtype=np.int32)
        self.target = np.empty(0, dtype=np.int64)

    def add(self, feature_codes: Sequence[np.ndarray], target_codes: np.ndarray, chunk_index: int) -> None:
        keys = np.random.default_rng([self.seed, RESERVOIR_STREAM, chunk_index]).random(len(target_codes))
        codes = np.stack([np.asarray(codes, dtype=np.int32) for codes in feature_codes])
        if keys.size > self.capacity:
            # Only this chunk's smallest keys can enter the sample; drop the rest before concatenating.
            kept = np.argpartition(keys, self.capacity - 1)[: self.capacity]
            keys, codes, target_codes = keys[kept], codes[:, kept], target_codes[kept]
        self.keys = np.concatenate([self.keys, keys])
        self.codes = np.concatenate([self.codes, codes], axis=1)
        self.target = np.concatenate([self.target, target_codes])
        if self.keys.size > self.capacity:
            kept = np.argpartition(self.keys, self.capacity - 1)[: self.capacity]
            self.keys, self.codes, self.target = self.keys[kept], self.codes[:, kept], self.target[kept]

    def sample(self, rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(codes of shape (features, n), target codes) of the ``rows`` rows with the smallest keys."""
        order = np.argsort(self.keys, kind="stable")[: (self.keys.size if rows is None else rows)]
        return self.codes[:, order].astype(np.int64), self.target[order]


@dataclass
class FeatureStatistics:
    """Everything a ranker needs, from one pass over the data.

    ``tables[f]`` holds the joint counts of the target classes (rows) and feature ``f``'s
    codes (columns),
    ``noise_tables[f][p]`` the same against the ``p``-th shuffled target. ``sample_codes``
    (features x rows) and ``sample_target`` are a uniform row sample, present when the
    ranker asked for pairwise terms.
    """

    feature_names: list[str]
    tables: list[np.ndarray]
    noise_tables: list[list[np.ndarray]]
    row_count: int
    class_count: int
    seed: int
    workers: int
    sample_codes: np.ndarray | None = None
    sample_target: np.ndarray | None = None

    @property
    def cardinalities(self) -> list[int]:
        """Distinct codes seen per feature."""
        return [int(np.count_nonzero(table.any(axis=0))) for table in self.tables]
