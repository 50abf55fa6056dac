"""Resampling estimates of how well a candidate generalises: repeated k-fold, repeated holdout, nested CV.

A search's validation score is the score of the candidate that won on that one
validation split, so it is optimistic (Raschka, 2018, "Model Evaluation, Model
Selection, and Algorithm Selection in Machine Learning", arXiv:1811.12808,
section 5). Retraining each of the top candidates on many splits of the
training and validation rows gives a less noisy estimate, and nested
cross-validation estimates the selection step too: in each outer fold the
choice among the candidates is made by an inner cross-validation on the outer
training part alone, so the outer test fold never takes part in choosing.

This module knows nothing of models: it makes the splits (row indices) and
calls ``fit_and_score(candidate, train_rows, test_rows, seed)``, which trains
a candidate on some rows and returns its score on others (higher is better).
Every candidate is scored on the same resamples with the same seed, so their
scores pair up for :func:`automl.evaluation.statistics.corrected_resampled_t_test`.

About the intervals: the scores of the folds of one cross-validation are not
independent (their training sets overlap, and repeats reuse the same rows), so
the plain t-interval over fold scores (:func:`t_interval` without sizes) is too
narrow, and there is no unbiased estimator of the variance of k-fold
cross-validation (Bengio & Grandvalet, 2004, JMLR 5). Read it as a rough
summary of the spread. Nadeau & Bengio's (2003) correction, which widens the
variance by ``1/n + n_test/n_train`` (pass the sizes), is the better heuristic;
to compare two candidates use the corrected resampled t-test on their paired
fold scores, not overlapping intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from automl.evaluation.statistics import ConfidenceInterval

LARGE_DATA_ROWS = 20_000  # above this many rows, repeated holdout instead of repeated k-fold
CONFIDENCE = 0.95

FitAndScore = Callable[[Hashable, np.ndarray, np.ndarray, int], float]
Progress = Callable[[str], None]


class ResamplingError(ValueError):
    """The resampling asked for cannot be made from these rows (too few rows, fewer than 2 folds...)."""


class TrainingFailed(Exception):
    """``fit_and_score`` could not train the candidate on a resample; the message says why."""


@dataclass(frozen=True)
class Resample:
    """One split of the rows: train on ``train``, score on ``test`` (row indices into the data)."""

    train: np.ndarray
    test: np.ndarray
    repeat: int
    fold: int  # the fold within its repeat (0 for holdout)


@dataclass(frozen=True)
class ResamplingPlan:
    """The resamples of one cross-validation and how they were made."""

    resamples: tuple[Resample, ...]
    method: str  # "k-fold" or "holdout"
    folds: int
    repeats: int
    stratified: bool
    seed: int

    @property
    def test_size(self) -> int:
        """The mean number of rows a resample scores on (the ``n_test`` of Nadeau & Bengio's correction)."""
        return max(1, round(float(np.mean([resample.test.size for resample in self.resamples]))))

    @property
    def train_size(self) -> int:
        return max(1, round(float(np.mean([resample.train.size for resample in self.resamples]))))

    def describe(self) -> str:
        """``5-fold cross-validation, repeated 2 times, stratified``, or ``repeated holdout (3 splits, ...)``."""
        how = "stratified" if self.stratified else "not stratified"
        if self.method == "holdout":
            share = self.test_size / (self.test_size + self.train_size)
            return f"repeated holdout ({self.repeats} splits, {share:.0%} held out each, {how})"
        repeated = "" if self.repeats == 1 else f", repeated {self.repeats} times"
        return f"{self.folds}-fold cross-validation{repeated}, {how}"


def can_stratify(target: np.ndarray, classification: bool, folds: int) -> bool:
    """Whether stratified folds can be made: a classification target whose every class has ``folds`` rows."""
    if not classification:
        return False
    _, counts = np.unique(np.asarray(target), return_counts=True)
    return bool(counts.size > 1 and counts.min() >= folds)


def kfold_plan(
    target: np.ndarray, folds: int = 5, repeats: int = 1, seed: int = 0, classification: bool = True
) -> ResamplingPlan:
    """Repeated k-fold splits of ``len(target)`` rows, stratified by class when every class can fill each fold.

    Each repeat shuffles with its own seed (derived from ``seed``); the test folds of one repeat are
    disjoint and cover every row once.
    """
    rows = int(np.asarray(target).shape[0])
    _check_counts(rows, folds, repeats)
    from sklearn.model_selection import KFold, StratifiedKFold  # imported on use: sklearn is slow to import

    stratified = can_stratify(target, classification, folds)
    resamples = []
    for repeat in range(repeats):
        splitter_class = StratifiedKFold if stratified else KFold
        splitter = splitter_class(n_splits=folds, shuffle=True, random_state=seed + repeat)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(rows), target)):
            resamples.append(Resample(np.sort(train), np.sort(test), repeat, fold))
    return ResamplingPlan(tuple(resamples), "k-fold", folds, repeats, stratified, seed)


def holdout_plan(
    target: np.ndarray, test_share: float = 0.2, repeats: int = 3, seed: int = 0, classification: bool = True
) -> ResamplingPlan:
    """``repeats`` random splits holding out ``test_share`` of the rows each (stratified when possible).

    For large data, where one holdout part is big enough to score on and k trainings per candidate cost too much.
    """
    rows = int(np.asarray(target).shape[0])
    if not 0.0 < test_share < 1.0:
        raise ResamplingError(f"the held-out share must be between 0 and 1, got {test_share}")
    if repeats < 2:
        raise ResamplingError(f"repeated holdout needs 2 or more repeats for an interval, got {repeats}")
    folds = max(2, round(1.0 / test_share))
    _check_counts(rows, folds, repeats)
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    stratified = can_stratify(target, classification, 2) and _class_count(target) <= test_share * rows
    splitter_class = StratifiedShuffleSplit if stratified else ShuffleSplit
    splitter = splitter_class(n_splits=repeats, test_size=test_share, random_state=seed)
    resamples = tuple(
        Resample(np.sort(train), np.sort(test), repeat, 0)
        for repeat, (train, test) in enumerate(splitter.split(np.zeros(rows), target))
    )
    return ResamplingPlan(resamples, "holdout", folds, repeats, stratified, seed)


def _class_count(target: np.ndarray) -> int:
    return int(np.unique(np.asarray(target)).size)


def _check_counts(rows: int, folds: int, repeats: int) -> None:
    if isinstance(folds, bool) or int(folds) != folds or folds < 2:
        raise ResamplingError(f"cross-validation needs 2 or more folds, got {folds}; use --folds 5 (or 10)")
    if isinstance(repeats, bool) or int(repeats) != repeats or repeats < 1:
        raise ResamplingError(f"cross-validation needs 1 or more repeats, got {repeats}")
    if rows < 2 * folds:
        raise ResamplingError(f"{rows} rows are too few for {folds} folds; use fewer folds")


def t_interval(
    scores: Sequence[float],
    confidence: float = CONFIDENCE,
    test_size: int | None = None,
    train_size: int | None = None,
    bounds: tuple[float, float] | None = None,
) -> ConfidenceInterval:
    """The t-interval of the mean of ``scores``: ``mean ± t(n - 1) * sqrt(factor * var)``.

    Without sizes ``factor`` is ``1/n``, the textbook interval that treats the
    scores as independent; fold scores are not (see the module's docstring), so
    that interval is too narrow. With ``test_size`` and ``train_size`` it is
    Nadeau & Bengio's corrected ``1/n + test_size/train_size``. ``bounds``: the
    range the score can take (accuracy: 0 to 1); the interval is cut to it, as
    a symmetric interval around a mean near 1 would otherwise promise the impossible.
    """
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ResamplingError(f"a t-interval needs 2 or more scores, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise ResamplingError("a t-interval needs finite scores (a NaN or infinite score was given)")
    if not 0.0 < confidence < 1.0:
        raise ResamplingError(f"confidence must be between 0 and 1, got {confidence}")
    count = values.size
    factor = 1.0 / count
    kind = "t-interval"
    if test_size is not None and train_size is not None:
        if test_size <= 0 or train_size <= 0:
            raise ResamplingError(f"test_size and train_size must be positive, got {test_size} and {train_size}")
        factor += test_size / train_size
        kind = "corrected t-interval (Nadeau & Bengio)"
    mean = float(values.mean())
    half_width = float(stats.t.ppf(0.5 + confidence / 2.0, df=count - 1)) * math.sqrt(factor * values.var(ddof=1))
    low, high = mean - half_width, mean + half_width
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    reading = f"{mean:.4g}, {confidence:.0%} {kind} [{low:.4g}, {high:.4g}] over {count} scores"
    return ConfidenceInterval(mean, low, high, confidence, reading)


@dataclass(frozen=True)
class CandidateScores:
    """One candidate's score on every resample of a plan (``failure``: why it could not be trained on one)."""

    candidate: Hashable
    scores: tuple[float, ...] = ()
    failure: str | None = None

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.scores)) if self.scores and self.failure is None else None


def cross_validate(
    fit_and_score: FitAndScore,
    candidates: Sequence[Hashable],
    plan: ResamplingPlan,
    progress: Progress | None = None,
) -> list[CandidateScores]:
    """Every candidate scored on every resample of ``plan``, in the order given.

    Resample ``i`` trains with seed ``plan.seed + i`` for every candidate, so a
    candidate's scores pair with another's resample by resample. A candidate
    whose training fails on one resample (``TrainingFailed``) keeps no scores,
    only the reason: a partial set would not pair with the others.
    """
    results = []
    for position, candidate in enumerate(candidates, start=1):
        scores: list[float] = []
        failure = None
        for index, resample in enumerate(plan.resamples):
            if progress is not None:
                progress(
                    f"candidate {position}/{len(candidates)} ({candidate}), resample {index + 1}/{len(plan.resamples)}"
                )
            try:
                scores.append(float(fit_and_score(candidate, resample.train, resample.test, plan.seed + index)))
            except TrainingFailed as error:
                failure = f"resample {index + 1}: {error}"
                break
        results.append(CandidateScores(candidate, () if failure else tuple(scores), failure))
    return results


@dataclass(frozen=True)
class OuterFold:
    """One outer fold of nested cross-validation: the candidate its inner CV chose and that choice's outer score."""

    fold: int
    selected: Hashable
    score: float
    inner_means: dict[Hashable, float | None] = field(default_factory=dict)  # None: failed in the inner CV
    train_rows: int = 0
    test_rows: int = 0


@dataclass(frozen=True)
class NestedResult:
    """One score per outer fold, their mean and interval: an estimate of train-then-select as a whole."""

    folds: tuple[OuterFold, ...]
    interval: ConfidenceInterval
    outer: ResamplingPlan
    inner_folds: int

    @property
    def scores(self) -> tuple[float, ...]:
        return tuple(fold.score for fold in self.folds)


def nested_cross_validation(
    fit_and_score: FitAndScore,
    candidates: Sequence[Hashable],
    target: np.ndarray,
    outer_folds: int = 5,
    inner_folds: int = 5,
    seed: int = 0,
    classification: bool = True,
    progress: Progress | None = None,
) -> NestedResult:
    """Nested k-fold cross-validation of choosing among ``candidates``: one outer score per outer fold.

    In each outer fold the candidates are cross-validated (``inner_folds``
    folds) on the outer training rows only; the one with the highest inner mean
    (ties: the earlier in ``candidates``) is trained on all the outer training
    rows and scored on the outer test fold. The outer scores estimate how well
    "pick the best of these candidates by cross-validation" does on unseen rows.
    Only this choice is nested: the candidates themselves came from a search
    that saw all the non-test rows, so that step is not re-run per fold.
    """
    if not candidates:
        raise ResamplingError("nested cross-validation needs 1 or more candidates")
    target = np.asarray(target)
    outer = kfold_plan(target, outer_folds, 1, seed, classification)
    folds = []
    for outer_resample in outer.resamples:
        inner_target = target[outer_resample.train]
        inner = kfold_plan(inner_target, inner_folds, 1, seed + 1000 + outer_resample.fold, classification)
        absolute = ResamplingPlan(
            tuple(
                Resample(outer_resample.train[r.train], outer_resample.train[r.test], r.repeat, r.fold)
                for r in inner.resamples
            ),
            inner.method,
            inner.folds,
            inner.repeats,
            inner.stratified,
            inner.seed,
        )
        step = _prefixed(progress, f"outer fold {outer_resample.fold + 1}/{outer_folds}, inner ")
        inner_scores = cross_validate(fit_and_score, candidates, absolute, step)
        means = {result.candidate: result.mean for result in inner_scores}
        trained = [result for result in inner_scores if result.mean is not None]
        if not trained:
            reasons = "; ".join(f"{result.candidate}: {result.failure}" for result in inner_scores)
            raise TrainingFailed(f"outer fold {outer_resample.fold + 1}: no candidate could be trained ({reasons})")
        best = max(trained, key=lambda result: result.mean)  # max keeps the first of equal means
        if progress is not None:
            progress(f"outer fold {outer_resample.fold + 1}/{outer_folds}: retraining {best.candidate}")
        score = float(
            fit_and_score(best.candidate, outer_resample.train, outer_resample.test, seed + outer_resample.fold)
        )
        folds.append(
            OuterFold(
                outer_resample.fold,
                best.candidate,
                score,
                means,
                int(outer_resample.train.size),
                int(outer_resample.test.size),
            )
        )
    interval = t_interval([fold.score for fold in folds])
    return NestedResult(tuple(folds), interval, outer, inner_folds)


def _prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    if progress is None:
        return None
    return lambda message: progress(prefix + message)
