"""Greedy ensemble selection (Caruana et al. 2004): never worse than the best member on validation, weights that
sum to 1, and an ensemble of complementary models that beats each of them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.evaluation.ensemble import accuracy, r_squared, select_ensemble


def _probabilities(rng: np.random.Generator, rows: int, classes: int) -> np.ndarray:
    logits = rng.normal(size=(rows, classes)) * rng.uniform(0.1, 5.0)
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    models=st.integers(1, 6),
    rows=st.integers(1, 40),
    classes=st.integers(2, 5),
    rounds=st.integers(0, 30),
    patience=st.one_of(st.none(), st.integers(1, 5)),
)
def test_classification_ensemble_is_never_below_its_best_member(seed, models, rows, classes, rounds, patience):
    rng = np.random.default_rng(seed)
    predictions = [_probabilities(rng, rows, classes) for _ in range(models)]
    truth = rng.integers(0, classes, size=rows)
    selection = select_ensemble(predictions, truth, "classification", rounds=rounds, patience=patience)
    best_single = max(accuracy(prediction, truth) for prediction in predictions)
    assert selection.best_member_score == best_single
    assert selection.score >= best_single
    assert accuracy(selection.average(predictions), truth) == pytest.approx(selection.score)
    assert selection.weights.sum() == pytest.approx(1.0)
    assert np.all(selection.weights >= 0)
    assert selection.counts.sum() <= rounds + 1
    assert np.allclose(selection.weights, selection.counts / selection.counts.sum())


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), models=st.integers(1, 6), rows=st.integers(2, 40), rounds=st.integers(0, 30))
def test_regression_ensemble_is_never_below_its_best_member(seed, models, rows, rounds):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=rows)
    predictions = [truth + rng.normal(scale=rng.uniform(0.1, 3.0), size=rows) for _ in range(models)]
    selection = select_ensemble(predictions, truth, "regression", rounds=rounds)
    best_single = max(r_squared(prediction, truth) for prediction in predictions)
    assert selection.score >= best_single
    assert r_squared(selection.average(predictions), truth) == pytest.approx(selection.score)
    assert selection.weights.sum() == pytest.approx(1.0)


def test_two_complementary_classifiers_beat_either():
    """A is sure and right on the first half, unsure and wrong on the second; B the reverse. Each alone is right on
    half the rows (2 of 4); their average is right on all of them."""
    truth = np.array([0, 0, 1, 1])
    model_a = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    model_b = np.array([[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]])
    weak = np.array([[0.3, 0.7], [0.3, 0.7], [0.7, 0.3], [0.7, 0.3]])  # wrong everywhere: never picked
    selection = select_ensemble([weak, model_a, model_b], truth, "classification", rounds=10)
    assert selection.member_scores.tolist() == [0.0, 0.5, 0.5]
    assert selection.score == 1.0
    assert selection.weights.tolist() == [0.0, 0.5, 0.5]
    assert selection.history[0] == 0.5


def test_averaging_errors_that_cancel_beats_either_regressor():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    over = truth + np.array([1.0, -1.0, 1.0, -1.0])
    under = truth - np.array([1.0, -1.0, 1.0, -1.0])
    selection = select_ensemble([over, under], truth, "regression", rounds=5)
    assert r_squared(over, truth) < 1.0 and r_squared(under, truth) < 1.0
    assert selection.score == pytest.approx(1.0)
    assert selection.weights.tolist() == [0.5, 0.5]


def test_with_replacement_a_strong_model_gets_more_weight():
    """The better model needs the other's help on row 4, but with equal weights the other spoils row 5: only
    an average that counts the better one more often is right on every row."""
    truth = np.array([0, 0, 0, 1, 1, 0])
    strong = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.55, 0.45], [0.9, 0.1]])
    helper = np.array([[0.6, 0.4], [0.6, 0.4], [0.6, 0.4], [0.6, 0.4], [0.1, 0.9], [0.05, 0.95]])
    selection = select_ensemble([strong, helper], truth, "classification", rounds=10)
    assert selection.member_scores.tolist() == pytest.approx([5 / 6, 4 / 6])
    assert selection.score == 1.0
    assert selection.counts[0] > selection.counts[1] >= 1


def test_among_equally_good_models_it_starts_from_the_first_given():
    """Models come best first (the search's order): with equal accuracy the search's choice is the baseline, even
    when a later one is more confident, and a mix that is as accurate but less wrong in probability is kept."""
    truth = np.array([0, 1, 1])
    chosen = np.array([[0.6, 0.4], [0.4, 0.6], [0.45, 0.55]])
    confident = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8]])
    selection = select_ensemble([chosen, confident], truth, "classification", rounds=5)
    assert selection.best_member == 0
    assert selection.member_scores.tolist() == [1.0, 1.0]
    assert selection.score == 1.0
    assert selection.counts[1] >= 1  # as accurate, lower cross-entropy


def test_patience_stops_early_and_keeps_the_best_prefix():
    truth = np.array([0, 1])
    only = np.array([[0.8, 0.2], [0.3, 0.7]])
    selection = select_ensemble([only, only], truth, "classification", rounds=20, patience=2)
    assert len(selection.history) == 3  # the first pick, then two without improvement
    assert selection.counts.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("predictions", "truth", "task", "message"),
    [
        ([], np.array([0]), "classification", "at least one model"),
        ([np.ones((3, 2))], np.array([0, 1]), "classification", "one row per truth row"),
        ([np.ones(3)], np.array([0, 1, 0]), "classification", "(rows, classes)"),
        ([np.array([np.nan, 1.0])], np.array([0.0, 1.0]), "regression", "NaN"),
        ([np.ones(2)], np.array([0.0, 1.0]), "ranking", "task must be"),
    ],
)
def test_bad_predictions_are_refused(predictions, truth, task, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        select_ensemble(predictions, truth, task)
