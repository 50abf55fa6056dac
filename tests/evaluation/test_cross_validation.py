"""The fold logic of ``automl evaluate``: stratified, disjoint folds that cover every row; t-intervals; nested CV."""

import numpy as np
import pytest
from scipy import stats

from automl.evaluation.cross_validation import (
    ResamplingError,
    TrainingFailed,
    cross_validate,
    holdout_plan,
    kfold_plan,
    nested_cross_validation,
    t_interval,
)

# 3 classes of unequal size: 50, 30 and 20 rows, in a shuffled order
TARGET = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [50, 30, 20]))


def test_each_repeat_of_k_fold_splits_every_row_into_exactly_one_test_fold():
    plan = kfold_plan(TARGET, folds=5, repeats=3, seed=7)
    assert len(plan.resamples) == 15 and plan.method == "k-fold"
    for repeat in range(3):
        tests = [resample.test for resample in plan.resamples if resample.repeat == repeat]
        assert len(tests) == 5
        assert sorted(np.concatenate(tests).tolist()) == list(range(TARGET.size))  # disjoint, and covers every row
    for resample in plan.resamples:
        assert np.intersect1d(resample.train, resample.test).size == 0
        assert np.union1d(resample.train, resample.test).tolist() == list(range(TARGET.size))


def test_k_fold_is_stratified_every_fold_keeps_the_class_shares():
    plan = kfold_plan(TARGET, folds=5, repeats=2, seed=1)
    assert plan.stratified
    for resample in plan.resamples:
        counts = np.bincount(TARGET[resample.test], minlength=3)
        assert counts.tolist() == [10, 6, 4]  # 50, 30 and 20 rows over 5 folds


def test_the_repeats_shuffle_differently_and_the_same_seed_gives_the_same_folds():
    first = kfold_plan(TARGET, folds=4, repeats=2, seed=3)
    again = kfold_plan(TARGET, folds=4, repeats=2, seed=3)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(first.resamples, again.resamples, strict=True))
    assert not np.array_equal(first.resamples[0].test, first.resamples[4].test)


def test_a_class_too_small_for_the_folds_or_a_regression_target_is_split_without_stratification():
    small_class = np.array([0] * 30 + [1] * 3)
    plan = kfold_plan(small_class, folds=5)
    assert not plan.stratified
    assert sorted(np.concatenate([r.test for r in plan.resamples]).tolist()) == list(range(33))
    regression = np.linspace(0.0, 1.0, 40)
    assert not kfold_plan(regression, folds=4, classification=False).stratified


def test_repeated_holdout_holds_out_the_share_asked_for_each_time():
    plan = holdout_plan(TARGET, test_share=0.2, repeats=4, seed=0)
    assert plan.method == "holdout" and len(plan.resamples) == 4 and plan.stratified
    for resample in plan.resamples:
        assert resample.test.size == 20 and resample.train.size == 80
        assert np.intersect1d(resample.train, resample.test).size == 0
        assert np.bincount(TARGET[resample.test], minlength=3).tolist() == [10, 6, 4]
    assert plan.describe() == "repeated holdout (4 splits, 20% held out each, stratified)"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: kfold_plan(TARGET, folds=1), "2 or more folds"),
        (lambda: kfold_plan(TARGET, folds=5, repeats=0), "1 or more repeats"),
        (lambda: kfold_plan(TARGET[:7], folds=5), "too few for 5 folds"),
        (lambda: holdout_plan(TARGET, 0.2, repeats=1), "2 or more repeats"),
        (lambda: t_interval([0.5]), "2 or more scores"),
    ],
)
def test_impossible_resampling_is_refused_with_the_reason(call, expected):
    with pytest.raises(ResamplingError, match=expected):
        call()


def test_the_t_interval_of_a_known_sample():
    interval = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, sample sd sqrt(2.5), t(0.975, 4) = 2.7764451...: 3 ± 2.7764451 * sqrt(2.5 / 5)
    assert interval.estimate == pytest.approx(3.0)
    assert interval.low == pytest.approx(3.0 - 1.963243, abs=1e-6)
    assert interval.high == pytest.approx(3.0 + 1.963243, abs=1e-6)
    reference = stats.t.interval(0.95, df=4, loc=3.0, scale=stats.sem([1, 2, 3, 4, 5]))
    assert (interval.low, interval.high) == pytest.approx(reference)


def test_the_corrected_interval_widens_the_variance_by_test_over_train_size():
    scores = [0.80, 0.84, 0.78, 0.86, 0.82]
    plain = t_interval(scores)
    corrected = t_interval(scores, test_size=20, train_size=80)
    # variance factor 1/5 + 20/80 = 0.45 instead of 0.2: the half width grows by sqrt(0.45 / 0.2) = 1.5
    assert (corrected.high - corrected.low) == pytest.approx(1.5 * (plain.high - plain.low))
    assert corrected.estimate == plain.estimate
    clipped = t_interval([0.98, 1.0, 1.0, 0.96], bounds=(0.0, 1.0))
    assert clipped.high == 1.0 and clipped.low < clipped.estimate


# ------------------------------------------------------------------------ a real learner: nearest centroid


def _data(rows=120, seed=0):
    """Feature 0 separates the two classes; feature 1 is noise."""
    generator = np.random.default_rng(seed)
    target = np.repeat([0, 1], rows // 2)
    informative = target * 2.0 + generator.normal(0.0, 0.7, rows)
    noise = generator.normal(0.0, 1.0, rows)
    return np.column_stack([informative, noise]), target


def centroid_learner(features, target, calls=None):
    """fit_and_score: a nearest-centroid classifier on the one feature the candidate names (0 or 1)."""

    def fit_and_score(candidate, train_rows, test_rows, seed):
        if calls is not None:
            calls.append((candidate, train_rows.copy(), test_rows.copy(), seed))
        column = features[:, candidate]
        centroids = [column[train_rows][target[train_rows] == label].mean() for label in (0, 1)]
        predicted = np.abs(column[test_rows, None] - np.array(centroids)[None, :]).argmin(axis=1)
        return float(np.mean(predicted == target[test_rows]))

    return fit_and_score


def test_cross_validate_scores_every_candidate_on_the_same_resamples_with_the_same_seeds():
    features, target = _data()
    calls = []
    plan = kfold_plan(target, folds=4, repeats=2, seed=5)
    results = cross_validate(centroid_learner(features, target, calls), [0, 1], plan)
    assert [result.candidate for result in results] == [0, 1]
    assert all(len(result.scores) == 8 for result in results)
    seeds = {candidate: [seed for name, _, _, seed in calls if name == candidate] for candidate in (0, 1)}
    assert seeds[0] == seeds[1] == list(range(5, 13))
    assert results[0].mean > 0.8 > 0.65 > results[1].mean  # the informative feature, then the noise


def test_a_candidate_that_fails_on_one_resample_keeps_no_partial_scores():
    features, target = _data()
    learner = centroid_learner(features, target)

    def flaky(candidate, train_rows, test_rows, seed):
        if candidate == 1 and seed == 2:
            raise TrainingFailed("loss became nan")
        return learner(candidate, train_rows, test_rows, seed)

    results = cross_validate(flaky, [0, 1], kfold_plan(target, folds=3, seed=0))
    assert len(results[0].scores) == 3 and results[0].failure is None
    assert results[1].scores == () and results[1].mean is None and "loss became nan" in results[1].failure


def test_nested_cv_gives_one_outer_score_per_outer_fold_and_never_selects_on_the_outer_test_rows():
    features, target = _data(rows=90)
    calls = []
    result = nested_cross_validation(
        centroid_learner(features, target, calls), [1, 0], target, outer_folds=3, inner_folds=3, seed=2
    )
    assert len(result.folds) == len(result.scores) == 3
    assert [fold.selected for fold in result.folds] == [0, 0, 0]  # the informative feature wins every inner CV
    learner = centroid_learner(features, target)
    for fold, outer in zip(result.folds, result.outer.resamples, strict=True):
        # the outer score is the selected candidate trained on the whole outer training part
        assert fold.score == learner(0, outer.train, outer.test, 0)
        assert fold.train_rows == outer.train.size and fold.test_rows == outer.test.size
        assert set(fold.inner_means) == {0, 1} and fold.inner_means[0] > fold.inner_means[1]
    # per outer fold, in order: 3 inner folds x 2 candidates, then the retraining of the choice
    assert len(calls) == 3 * (3 * 2 + 1)
    for index, outer in enumerate(result.outer.resamples):
        *inner, retraining = calls[index * 7 : (index + 1) * 7]
        assert np.array_equal(retraining[1], outer.train) and np.array_equal(retraining[2], outer.test)
        for _, train_rows, test_rows, _ in inner:
            assert set(train_rows.tolist()) | set(test_rows.tolist()) == set(outer.train.tolist())
            assert np.intersect1d(test_rows, outer.test).size == 0  # the choice never sees the outer test rows
    assert result.interval.estimate == pytest.approx(np.mean(result.scores))
    reference = stats.t.interval(0.95, df=2, loc=np.mean(result.scores), scale=stats.sem(result.scores))
    assert (result.interval.low, result.interval.high) == pytest.approx(reference)
