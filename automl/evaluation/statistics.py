"""Confidence intervals and significance tests for comparing models and search strategies.

Which test answers which question (Raschka, 2018, "Model Evaluation, Model
Selection, and Algorithm Selection in Machine Learning", arXiv:1811.12808):

* how sure is one number (a test accuracy, a mean over seeds)? the bootstrap
  percentile interval (Efron & Tibshirani, 1993): :func:`bootstrap_interval`;
* two trained models, one shared test set: McNemar's test on the pairs where
  exactly one of them is right (McNemar, 1947; Edwards' continuity correction,
  or the exact binomial test when those pairs are few): :func:`mcnemar_test`;
* two learning algorithms, data to retrain them on: the 5x2cv paired F-test
  (Alpaydin, 1999), which fixes the high false-positive rate of Dietterich's
  (1998) 5x2cv t-test: :func:`five_by_two_cv_f_test`;
* two algorithms scored on k resamples (k-fold or repeated holdout): the
  corrected resampled t-test (Nadeau & Bengio, 2003), whose variance term
  ``1/k + n_test/n_train`` accounts for the overlap of the training sets:
  :func:`corrected_resampled_t_test`;
* two search strategies run over the same seeds: the paired Wilcoxon
  signed-rank test on their best scores (Wilcoxon, 1945; no assumption of
  normality, which best-of-n scores rarely meet): :func:`wilcoxon_signed_rank`.

Every test returns a :class:`TestResult` whose ``reading`` says in one line
what the numbers mean. Scores are taken as "higher is better".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

SIGNIFICANCE = 0.05
EXACT_MCNEMAR_BELOW = 25  # fewer discordant pairs than this: the exact binomial test (Raschka 2018, section 4.2)


@dataclass(frozen=True)
class TestResult:
    """The outcome of one significance test: its statistic, two-sided p value, and a plain reading."""

    __test__ = False  # not a pytest test class, despite the name

    test: str
    statistic: float
    p_value: float
    reading: str


@dataclass(frozen=True)
class ConfidenceInterval:
    """A statistic of a sample with its bootstrap percentile interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    reading: str


def _verdict(p_value: float, first: str, second: str, first_better: bool | None) -> str:
    """``p = 0.012: A is better than B; a difference this large is unlikely (< 5%) by chance alone``."""
    if first_better is None or p_value >= SIGNIFICANCE:
        return (
            f"p = {p_value:.3g}: no significant difference between {first} and {second} "
            f"at the {SIGNIFICANCE:.0%} level (this is not evidence that they are equal)"
        )
    better, worse = (first, second) if first_better else (second, first)
    return (
        f"p = {p_value:.3g}: {better} is better than {worse}; a difference this large would arise "
        f"by chance alone less than {SIGNIFICANCE:.0%} of the time"
    )


def _paired(scores_a: Sequence[float], scores_b: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"{name} needs paired scores of the same shape, got {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError(f"{name} needs finite scores (a NaN or infinite score was given)")
    return a, b


def bootstrap_interval(
    sample: Sequence[float],
    statistic: Callable[..., float] = np.mean,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> ConfidenceInterval:
    """The bootstrap percentile interval of ``statistic`` over ``sample``; the same seed gives the same interval.

    ``statistic`` must accept an ``axis`` keyword (as numpy's reductions do) so
    all resamples are computed at once. Percentile intervals can undercover on
    small samples; with fewer than about 20 values read them as rough.
    """
    values = np.asarray(sample, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"a bootstrap interval needs a one-dimensional sample of 2 or more values, got {values.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    result = stats.bootstrap(
        (values,),
        statistic,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    estimate = float(statistic(values))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    reading = (
        f"{estimate:.4g}, {confidence:.0%} bootstrap interval [{low:.4g}, {high:.4g}] "
        f"from {values.size} values ({resamples} resamples, seed {seed})"
    )
    return ConfidenceInterval(estimate, low, high, confidence, reading)


def mcnemar_from_counts(
    only_a_right: int, only_b_right: int, names: tuple[str, str] = ("A", "B"), exact: bool | None = None
) -> TestResult:
    """McNemar's test from the discordant pairs: test examples only A got right, and only B got right.

    ``exact=None`` picks the exact binomial test (statistic: ``only_a_right``)
    when there are fewer than 25 discordant pairs, else the chi-squared test
    with continuity correction, ``(|b - c| - 1)^2 / (b + c)`` on 1 degree of freedom.
    """
    b, c = int(only_a_right), int(only_b_right)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts cannot be negative, got {b} and {c}")
    first, second = names
    discordant = b + c
    if exact is None:
        exact = discordant < EXACT_MCNEMAR_BELOW
    counts = f"only {first} right on {b} test examples, only {second} right on {c}"
    if discordant == 0:
        return TestResult("McNemar", 0.0, 1.0, f"{first} and {second} are right on exactly the same test examples")
    if exact:
        statistic = float(b)
        p_value = float(stats.binomtest(b, discordant, 0.5).pvalue)
        name = "McNemar (exact binomial)"
    else:
        statistic = (abs(b - c) - 1) ** 2 / discordant
        p_value = float(stats.chi2.sf(statistic, df=1))
        name = "McNemar (chi-squared, continuity corrected)"
    return TestResult(
        name,
        float(statistic),
        min(p_value, 1.0),
        f"{counts}; " + _verdict(p_value, first, second, b > c if b != c else None),
    )


def mcnemar_test(
    truth: Sequence[object],
    predictions_a: Sequence[object],
    predictions_b: Sequence[object],
    names: tuple[str, str] = ("A", "B"),
    exact: bool | None = None,
) -> TestResult:
    """McNemar's test for two classifiers' predictions on the same test examples (see :func:`mcnemar_from_counts`)."""
    truth_array = np.asarray(truth)
    a = np.asarray(predictions_a)
    b = np.asarray(predictions_b)
    if not truth_array.shape == a.shape == b.shape or truth_array.ndim != 1:
        raise ValueError(
            f"McNemar's test needs one prediction per test example from each model, "
            f"got shapes {truth_array.shape}, {a.shape} and {b.shape}"
        )
    right_a = a == truth_array
    right_b = b == truth_array
    return mcnemar_from_counts(int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b)), names, exact)


def five_by_two_cv_f_test(
    scores_a: Sequence[Sequence[float]], scores_b: Sequence[Sequence[float]], names: tuple[str, str] = ("A", "B")
) -> TestResult:
    """Alpaydin's (1999) combined 5x2cv F-test from each algorithm's scores, shape (5 replications, 2 folds).

    Replication i splits the data in two halves at random; each algorithm is
    trained on one half and scored on the other, both ways. With ``p_ij`` the
    difference of scores on fold j of replication i and ``s_i^2`` its variance
    within replication i, ``f = sum p_ij^2 / (2 sum s_i^2)`` follows F(10, 5).
    """
    a, b = _paired(scores_a, scores_b, "the 5x2cv F-test")
    if a.shape != (5, 2):
        raise ValueError(f"the 5x2cv F-test needs scores of shape (5, 2), got {a.shape}")
    differences = a - b
    variances = np.sum((differences - differences.mean(axis=1, keepdims=True)) ** 2, axis=1)
    numerator = float(np.sum(differences**2))
    denominator = 2.0 * float(np.sum(variances))
    if denominator == 0.0:
        statistic, p_value = (0.0, 1.0) if numerator == 0.0 else (float("inf"), 0.0)
    else:
        statistic = numerator / denominator
        p_value = float(stats.f.sf(statistic, 10, 5))
    mean = float(differences.mean())
    reading = f"mean difference {mean:+.4g} ({names[0]} - {names[1]}); " + _verdict(
        p_value, *names, mean > 0 if mean != 0 else None
    )
    return TestResult("5x2cv paired F-test", statistic, p_value, reading)


def corrected_resampled_t_test(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    test_size: int,
    train_size: int,
    names: tuple[str, str] = ("A", "B"),
) -> TestResult:
    """Nadeau & Bengio's (2003) corrected resampled t-test over k paired resamples (k-fold or repeated holdout).

    ``t = mean(d) / sqrt((1/k + test_size/train_size) * var(d))`` on k - 1
    degrees of freedom: the plain paired t-test's ``1/k`` ignores that the
    training sets overlap and finds differences far too often.
    """
    a, b = _paired(scores_a, scores_b, "the corrected resampled t-test")
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"the corrected resampled t-test needs 2 or more paired scores, got shape {a.shape}")
    if test_size <= 0 or train_size <= 0:
        raise ValueError(f"test_size and train_size must be positive, got {test_size} and {train_size}")
    differences = a - b
    k = differences.size
    mean = float(differences.mean())
    variance = float(differences.var(ddof=1))
    scale = np.sqrt((1.0 / k + test_size / train_size) * variance)
    if scale == 0.0:
        statistic, p_value = (0.0, 1.0) if mean == 0.0 else (float("inf") if mean > 0 else float("-inf"), 0.0)
    else:
        statistic = mean / scale
        p_value = float(2.0 * stats.t.sf(abs(statistic), df=k - 1))
    reading = f"mean difference {mean:+.4g} ({names[0]} - {names[1]}) over {k} resamples; " + _verdict(
        p_value, *names, mean > 0 if mean != 0 else None
    )
    return TestResult("corrected resampled t-test", float(statistic), p_value, reading)


def wilcoxon_signed_rank(
    best_a: Sequence[float], best_b: Sequence[float], names: tuple[str, str] = ("A", "B")
) -> TestResult:
    """The paired Wilcoxon signed-rank test on two strategies' best scores, one pair per seed (scipy.stats.wilcoxon).

    Pairs with equal scores carry no sign and are dropped (Wilcoxon's
    convention). With few pairs the test cannot reach 5%: the smallest
    two-sided p of n pairs is ``2 / 2**n`` (0.0625 for 5 seeds), which the
    reading says when it matters.
    """
    a, b = _paired(best_a, best_b, "the Wilcoxon signed-rank test")
    if a.ndim != 1 or a.size < 1:
        raise ValueError(f"the Wilcoxon signed-rank test needs one or more pairs, got shape {a.shape}")
    differences = a - b
    used = int(np.count_nonzero(differences))
    median = float(np.median(differences))
    first, second = names
    wins = int(np.sum(differences > 0))
    losses = int(np.sum(differences < 0))
    counts = f"{first} higher on {wins} of {a.size} pairs, {second} on {losses}, median difference {median:+.4g}"
    if used == 0:
        return TestResult("Wilcoxon signed-rank", 0.0, 1.0, f"{counts}; every pair is tied: no difference to test")
    # The tied pairs are dropped before the call, so scipy's exact distribution of the untied
    # ones applies (with zeros present it falls back to the normal approximation, poor for few seeds).
    result = stats.wilcoxon(differences[differences != 0], alternative="two-sided")
    p_value = float(result.pvalue)
    reading = f"{counts}; " + _verdict(p_value, first, second, wins > losses if wins != losses else None)
    smallest = 2.0 / 2**used
    if p_value >= SIGNIFICANCE and smallest >= SIGNIFICANCE:
        reading += f"; with {used} untied pairs p cannot go below {smallest:.3g}: run more seeds"
    return TestResult("Wilcoxon signed-rank", float(result.statistic), p_value, reading)
