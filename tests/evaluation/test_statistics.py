"""The statistics match hand computations on fixed numbers, and their readings say what a user needs."""

import math

import numpy as np
import pytest
from scipy import stats

from automl.evaluation.statistics import (
    bootstrap_interval,
    corrected_resampled_t_test,
    five_by_two_cv_f_test,
    mcnemar_from_counts,
    mcnemar_test,
    wilcoxon_signed_rank,
)


def predictions(both_right: int, only_a: int, only_b: int, both_wrong: int):
    """Binary labels and two models' predictions with the given agreement table (all labels 1)."""
    truth = [1] * (both_right + only_a + only_b + both_wrong)
    a = [1] * both_right + [1] * only_a + [0] * only_b + [0] * both_wrong
    b = [1] * both_right + [0] * only_a + [1] * only_b + [0] * both_wrong
    return truth, a, b


def test_mcnemar_chi_squared_matches_the_hand_computation():
    truth, a, b = predictions(both_right=10, only_a=30, only_b=12, both_wrong=8)
    result = mcnemar_test(truth, a, b, names=("cnn", "mlp"))
    # 42 discordant pairs (>= 25): (|30 - 12| - 1)^2 / (30 + 12) = 289 / 42 on 1 degree of freedom
    assert result.statistic == pytest.approx(289 / 42)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(289 / 42 / 2)))  # chi2(1) survival function
    assert result.p_value < 0.01
    assert "continuity" in result.test
    assert "cnn is better than mlp" in result.reading and "30" in result.reading


def test_mcnemar_exact_binomial_when_the_disagreements_are_few():
    truth = [0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1]
    a = [0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1]  # right on 0, 1, 3, 7, 9, 11
    b = [0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0]  # right on 0, 2, 3, 4, 5, 6, 7, 8, 9, 10
    result = mcnemar_test(truth, a, b)
    # only A right: examples 1 and 11 -> b = 2; only B right: examples 2, 4, 5, 6, 8, 10 -> c = 6
    # 8 discordant pairs (< 25): exact two-sided p = 2 * P(X <= 2 | n = 8, p = 1/2)
    assert result.statistic == 2
    assert result.p_value == pytest.approx(2 * (1 + 8 + 28) / 256)
    assert "exact" in result.test
    assert "no significant difference" in result.reading


def test_mcnemar_with_no_disagreement_and_bad_shapes():
    assert mcnemar_from_counts(0, 0).p_value == 1.0
    with pytest.raises(ValueError, match="one prediction per test example"):
        mcnemar_test([1, 0, 1], [1, 0], [1, 0, 1])


def test_five_by_two_cv_f_statistic_matches_the_hand_computation():
    differences = np.array([[0.1, 0.0], [0.05, 0.05], [0.2, 0.0], [0.0, 0.1], [0.1, 0.1]])
    scores_b = np.full((5, 2), 0.5)
    result = five_by_two_cv_f_test(scores_b + differences, scores_b)
    # sum p^2 = 0.085; the variances per replication are 0.005, 0, 0.02, 0.005, 0 (sum 0.03)
    assert result.statistic == pytest.approx(0.085 / (2 * 0.03))
    assert result.p_value == pytest.approx(stats.f.sf(0.085 / 0.06, 10, 5))
    assert result.p_value > 0.05 and "no significant difference" in result.reading


def test_five_by_two_cv_f_test_finds_a_consistent_difference_and_checks_its_shape():
    rng = np.random.default_rng(3)
    scores_b = rng.uniform(0.7, 0.8, size=(5, 2))
    result = five_by_two_cv_f_test(scores_b + 0.1 + rng.normal(0, 0.005, size=(5, 2)), scores_b, names=("new", "old"))
    assert result.p_value < 0.01 and "new is better than old" in result.reading
    with pytest.raises(ValueError, match=r"shape \(5, 2\)"):
        five_by_two_cv_f_test(np.zeros((10, 2)), np.zeros((10, 2)))


def test_corrected_resampled_t_test_matches_the_hand_computation():
    a = [0.80, 0.82, 0.79, 0.85, 0.81]
    b = [0.78, 0.80, 0.80, 0.80, 0.79]
    result = corrected_resampled_t_test(a, b, test_size=20, train_size=80)
    # d = (.02, .02, -.01, .05, .02): mean .02, variance .0018 / 4; corrected factor 1/5 + 20/80
    t = 0.02 / math.sqrt((1 / 5 + 20 / 80) * 0.0018 / 4)
    assert result.statistic == pytest.approx(t)
    assert result.p_value == pytest.approx(2 * stats.t.sf(t, df=4))
    plain = stats.ttest_rel(a, b)  # the uncorrected test is more confident than it should be
    assert plain.pvalue < result.p_value


def test_wilcoxon_on_best_scores_over_seeds():
    b = np.array([0.90, 0.85, 0.88, 0.91, 0.87, 0.86])
    result = wilcoxon_signed_rank(b + np.arange(1, 7) / 100, b, names=("tpe", "random"))
    # every difference positive: the smaller rank sum is 0; exact two-sided p = 2 / 2^6
    assert result.statistic == 0
    assert result.p_value == pytest.approx(2 / 64)
    assert "tpe is better than random" in result.reading and "6 of 6" in result.reading


def test_wilcoxon_says_when_there_are_too_few_seeds_and_when_all_tie():
    few = wilcoxon_signed_rank([1, 2, 3, 4, 5], [0, 1, 2, 3, 4])
    assert few.p_value == pytest.approx(2 / 32)
    assert "cannot go below 0.0625" in few.reading and "more seeds" in few.reading
    with_ties = wilcoxon_signed_rank([1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 6, 7])  # two ties: 5 untied pairs
    assert with_ties.p_value == pytest.approx(2 / 32) and "5 untied pairs" in with_ties.reading
    tied = wilcoxon_signed_rank([0.5, 0.6], [0.5, 0.6])
    assert tied.p_value == 1.0 and "tied" in tied.reading
    with pytest.raises(ValueError, match="same shape"):
        wilcoxon_signed_rank([1, 2], [1, 2, 3])


def test_bootstrap_interval_of_a_large_normal_sample_is_the_normal_interval():
    sample = np.random.default_rng(7).normal(10.0, 2.0, size=4000)
    interval = bootstrap_interval(sample, resamples=4000, seed=1)
    standard_error = sample.std(ddof=1) / math.sqrt(sample.size)
    assert interval.estimate == pytest.approx(sample.mean())
    assert interval.low == pytest.approx(sample.mean() - 1.96 * standard_error, abs=0.15 * standard_error)
    assert interval.high == pytest.approx(sample.mean() + 1.96 * standard_error, abs=0.15 * standard_error)
    assert "95% bootstrap interval" in interval.reading


def test_bootstrap_interval_is_reproducible_with_its_seed_and_narrows_with_more_data():
    sample = np.random.default_rng(0).exponential(size=50)
    first = bootstrap_interval(sample, statistic=np.median, resamples=1000, seed=5)
    again = bootstrap_interval(sample, statistic=np.median, resamples=1000, seed=5)
    other = bootstrap_interval(sample, statistic=np.median, resamples=1000, seed=6)
    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low <= first.estimate <= first.high
    larger = bootstrap_interval(np.random.default_rng(0).exponential(size=5000), resamples=1000, seed=5)
    assert larger.high - larger.low < (first.high - first.low) / 3
    with pytest.raises(ValueError, match="2 or more values"):
        bootstrap_interval([1.0])
