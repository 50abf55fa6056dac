"""Rank the features of the training split and train candidates on the top K.

Ranking uses the training split only, so neither validation nor test rows
influence which features a candidate sees (Raschka 2018: keep the roles apart).
The number kept is ``TrainingSettings.keep_features``: a fixed ``--keep K`` or a
decision of the space (``s.training(x, keep_features=s.Int(4, 30))``), so one
search explores feature count and architecture together (OutRank, Škrlj &
Mramor 2023).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from automl.data import DataSplits, Split
from automl.training import TrialFailure


class FeatureSelectionError(ValueError):
    """Feature ranking was asked for data it cannot apply to."""


def rank_training_features(splits: DataSplits, ranker: str, seed: int, rankers: Any = None) -> Any:
    """The ranking of the training split's columns (a ``automl.ranking.Ranking``)."""
    from automl.ranking import rank_frame

    if len(splits.input_shape) != 1:
        raise FeatureSelectionError(
            f"feature ranking needs tabular data (rows, features); this data has input shape {splits.input_shape}"
        )
    target_name = "__target__"
    while target_name in splits.feature_names:
        target_name = "_" + target_name
    columns = {name: splits.train.features[:, index] for index, name in enumerate(splits.feature_names)}
    columns[target_name] = splits.train.target
    return rank_frame(columns, target_name, ranker=ranker, seed=seed, rankers=rankers)


def keep_top_features(splits: DataSplits, order: list[int], keep: int) -> DataSplits:
    """The splits restricted to the ``keep`` best columns, in rank order."""
    if keep < 1:
        raise TrialFailure(f"keep_features must be at least 1, got {keep}")
    chosen = np.asarray(order[: min(keep, len(order))])

    def restrict(split: Split) -> Split:
        return dataclasses.replace(split, features=np.ascontiguousarray(split.features[:, chosen]))

    return dataclasses.replace(
        splits,
        train=restrict(splits.train),
        validation=restrict(splits.validation),
        test=restrict(splits.test),
        input_shape=(len(chosen),),
        feature_names=[splits.feature_names[index] for index in chosen],
        feature_mean=None if splits.feature_mean is None else splits.feature_mean[chosen],
        feature_scale=None if splits.feature_scale is None else splits.feature_scale[chosen],
    )
