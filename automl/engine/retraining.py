"""Retrain a study's stored candidates on chosen rows of its training and validation data, and score them.

What ``automl evaluate`` resamples: the training and validation rows of the
study's own split, pooled (the test rows are never among them). Each resample
trains a candidate the way the search trained it, through the study's own
:class:`~automl.engine.evaluation.Evaluator` (its training settings, the
space's training decisions, the trial's budget, keep_features), with one
difference that keeps the scored rows out of every choice: the search used
its validation split both to stop early and to score, so here a share of the
resample's training rows (the study's validation share) is set aside for early
stopping, and the score is that of the kept epoch on the resample's test rows,
which took no part in training or stopping.

Features are standardised again for each resample with statistics of its own
training rows (the study's were fitted on its training split, which overlaps
every resample's test rows). Category indices keep the study's encoding,
fitted on its training split: a category seen only in validation rows is
"unknown" there too, which leaks nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from automl.data import DataSplits, Split
from automl.engine.evaluation import Evaluator
from automl.engine.storage import Trial
from automl.evaluation.cross_validation import TrainingFailed
from automl.nn import CompileError
from automl.space import SpaceError
from automl.training import TrialFailure, evaluate, resolve_device, train_model
from automl.training.trainer import as_tensors, target_scaling

FULL_BUDGET_TOLERANCE = 1e-9


def full_budget_trials(trials: Sequence[Trial], evaluator: Evaluator) -> list[Trial]:
    """The complete trials trained at the full budget, one per candidate (its best), best validation score first.

    A trial at a lower budget of a multi-fidelity search is a cheaper, noisier estimate, not a candidate to
    retrain as it was; ties in score go to the earlier trial.
    """
    fidelity = evaluator.fidelity
    best: dict[str, Trial] = {}
    for trial in trials:
        if not trial.finished_ok or trial.score is None:
            continue
        if (
            trial.budget is not None
            and fidelity is not None
            and trial.budget < fidelity.max_budget - FULL_BUDGET_TOLERANCE
        ):
            continue
        key = trial.candidate.to_json()
        kept = best.get(key)
        if kept is None or trial.score > kept.score:
            best[key] = trial
    return sorted(best.values(), key=lambda trial: (-float(trial.score), trial.number))


@dataclass(frozen=True)
class PooledRows:
    """The study's training and validation rows as one table, with features as they were before standardisation."""

    features: np.ndarray
    target: np.ndarray
    validation_share: float  # the share of training-and-validation rows the search validated on
    standardised: bool  # whether the study standardised its features (then each resample does too)
    classification: bool

    @property
    def rows(self) -> int:
        return int(self.target.shape[0])


def pooled_rows(splits: DataSplits) -> PooledRows:
    """The training and validation splits of ``splits`` concatenated, their standardisation undone."""
    features = np.concatenate([splits.train.features, splits.validation.features]).astype(np.float64)
    target = np.concatenate([splits.train.target, splits.validation.target])
    standardised = splits.feature_mean is not None and splits.feature_scale is not None
    if standardised:
        features = features * splits.feature_scale.astype(np.float64) + splits.feature_mean.astype(np.float64)
    share = splits.validation.rows / max(1, splits.train.rows + splits.validation.rows)
    return PooledRows(features, target, share, standardised, splits.task == "classification")


def _standardisation(features: np.ndarray, categorical: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per feature (tabular) or per channel (images) of ``features``; category columns 0 and 1."""
    axes = (0,) if features.ndim == 2 else (0, *range(2, features.ndim))
    mean = features.mean(axis=axes, keepdims=True)
    scale = features.std(axis=axes, keepdims=True)
    scale[~(scale > 1e-12)] = 1.0  # a constant column: kept finite, as the study's own split does
    for column in categorical:
        mean[:, column] = 0.0
        scale[:, column] = 1.0
    return mean[0], scale[0]


class CandidateTrainer:
    """``fit_and_score`` for :mod:`automl.evaluation.cross_validation`: trial ``number``'s candidate trained on
    some pooled rows and scored on others (accuracy, or R² for regression)."""

    def __init__(self, evaluator: Evaluator, trials: Mapping[Hashable, Trial]) -> None:
        if evaluator.splits is None or evaluator.settings is None:
            raise ValueError("the evaluator has no data to retrain candidates on")
        self.evaluator = evaluator
        self.trials = dict(trials)
        self.rows = pooled_rows(evaluator.splits)
        self.device = resolve_device(evaluator.device)
        self.trainings = 0
        self.seconds = 0.0

    def splits_for(self, train_rows: np.ndarray, test_rows: np.ndarray, seed: int) -> DataSplits:
        """The study's splits rebuilt on these rows: training, an early-stopping part of them, and the test rows."""
        from sklearn.model_selection import train_test_split

        pooled = self.rows
        train_rows = np.asarray(train_rows)
        stop_rows: np.ndarray
        try:
            fit_rows, stop_rows = train_test_split(
                train_rows,
                test_size=pooled.validation_share,
                random_state=seed,
                stratify=pooled.target[train_rows] if pooled.classification else None,
            )
        except ValueError:  # a class too small to stratify: a plain shuffle
            fit_rows, stop_rows = train_test_split(train_rows, test_size=pooled.validation_share, random_state=seed)
        fit_rows, stop_rows = np.sort(fit_rows), np.sort(stop_rows)
        splits = self.evaluator.splits
        features = pooled.features
        mean = scale = None
        if pooled.standardised:
            categorical = [column for column, _ in splits.categorical_columns]
            mean, scale = _standardisation(features[fit_rows], categorical)
        table = {}
        for name, rows in (("train", fit_rows), ("validation", stop_rows), ("test", np.asarray(test_rows))):
            part = features[rows] if mean is None else (features[rows] - mean) / scale
            table[name] = Split(np.ascontiguousarray(part, dtype=np.float32), pooled.target[rows])
        return dataclasses.replace(
            splits,
            **table,
            feature_mean=None if mean is None else mean.astype(np.float32),
            feature_scale=None if scale is None else scale.astype(np.float32),
        )

    def __call__(self, number: Hashable, train_rows: np.ndarray, test_rows: np.ndarray, seed: int) -> float:
        """Train trial ``number``'s candidate on ``train_rows`` (seed ``seed``) and score it on ``test_rows``."""
        trial = self.trials[number]
        started = time.monotonic()
        evaluator = dataclasses.replace(self.evaluator, splits=self.splits_for(train_rows, test_rows, seed))
        try:
            torch.manual_seed(seed)  # before building: the initial weights are part of what the seed fixes
            built = evaluator.build(trial.candidate, trial.budget)
            deadline = None if evaluator.trial_seconds is None else started + evaluator.trial_seconds
            train_model(built.compiled.module, built.splits, built.settings, seed, self.device, deadline=deadline)
        except (TrialFailure, SpaceError, CompileError) as error:
            raise TrainingFailed(f"trial {trial.number}: {error}") from None
        except Exception as error:  # out of memory, a shape error: one line, as a search records a crashed trial
            raise TrainingFailed(f"trial {trial.number}: crashed: {type(error).__name__}: {error}") from None
        splits = built.splits
        features, target = as_tensors(splits.test, splits.task, self.device, target_scaling(splits))
        score, _ = evaluate(built.compiled.module, features, target, splits.task)
        self.trainings += 1
        self.seconds += time.monotonic() - started
        return float(score)
