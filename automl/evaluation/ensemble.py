"""Greedy ensemble selection with replacement: which stored models to average, and how often each.

Caruana, Niculescu-Mizil, Crew & Ksikes (2004), "Ensemble Selection from
Libraries of Models", ICML. A search leaves a library of trained candidates;
averaging several of them is often better than the best one alone, but
averaging all of them lets the weak ones drag the average down. The paper's
answer is forward stepwise selection on a held-out (here: the validation) set:

1. start from the best single model (the paper's "sorted initialisation" with
   one model), so the ensemble can only do as well as it or better;
2. each round, add the model (any of them, including one already in: *with
   replacement*) whose addition gives the averaged prediction the best
   validation score;
3. stop after a fixed number of rounds, or after ``patience`` rounds without
   improvement, and keep the prefix of the additions that scored best (the
   shortest among equals).

A model picked ``c`` times out of ``n`` picks has weight ``c / n``: selection
with replacement is what turns a subset into weights, and it keeps the
validation score from falling as later rounds overfit (section 2.1 and
figure 2 of the paper). The score is computed on the same validation rows the
selection looked at, so it is optimistic; a test split gives the honest number.

Classification averages predicted class probabilities and scores accuracy;
regression averages the predictions and scores R². The starting model is the
first of those with the best score: callers list the models best first, so
among equals it is the one the search chose, and "better than the best single
model" compares with that model. Among additions, ties in accuracy (common on
small validation sets) go to the lower cross-entropy, then to the earlier
model. Only numpy: the predictions are computed elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Score = Callable[[np.ndarray, np.ndarray], float]  # score(averaged predictions, truth): higher is better
TASKS = ("classification", "regression")
PROBABILITY_FLOOR = 1e-12  # log(0) would make every cross-entropy infinite, and the tie-break useless


@dataclass(frozen=True)
class EnsembleSelection:
    """The outcome of ensemble selection over ``len(weights)`` models, in the order they were given."""

    weights: np.ndarray  # one per model, summing to 1 (0 for a model never picked)
    counts: np.ndarray  # how many times each model was picked
    score: float  # the validation score of the weighted average
    member_scores: np.ndarray  # the validation score of each model alone
    history: tuple[float, ...]  # the score after each pick (the first is the best single model's)
    best_member: int  # the first model with the best score alone: what the selection started from

    @property
    def best_member_score(self) -> float:
        return float(self.member_scores[self.best_member])

    def average(self, predictions: Sequence[np.ndarray]) -> np.ndarray:
        """The weighted average of ``predictions`` (one array per model, as given to the selection)."""
        return weighted_average(predictions, self.weights)


def accuracy(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The share of rows whose most probable class is the true one."""
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(truth)))


def cross_entropy(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The mean negative log probability of the true class (lower is better)."""
    chosen = probabilities[np.arange(len(truth)), np.asarray(truth, dtype=int)]
    return float(-np.mean(np.log(np.maximum(chosen, PROBABILITY_FLOOR))))


def r_squared(predictions: np.ndarray, truth: np.ndarray) -> float:
    """1 - mean squared error / variance of the truth (0 when the truth is constant)."""
    truth = np.asarray(truth, dtype=float)
    predictions = np.asarray(predictions, dtype=float).reshape(truth.shape)
    variance = float(np.var(truth))
    if variance <= 0:
        return 0.0
    return 1.0 - float(np.mean((predictions - truth) ** 2)) / variance


def weighted_average(predictions: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """``sum_i weights[i] * predictions[i]``, in float64."""
    stacked = np.stack([np.asarray(prediction, dtype=np.float64) for prediction in predictions])
    return np.tensordot(np.asarray(weights, dtype=np.float64), stacked, axes=1)


def _checked(predictions: Sequence[np.ndarray], truth: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if len(predictions) == 0:
        raise ValueError("ensemble selection needs the predictions of at least one model")
    stacked = np.stack([np.asarray(prediction, dtype=np.float64) for prediction in predictions])
    truth = np.asarray(truth)
    if stacked.shape[1] != truth.shape[0] or stacked.shape[1] == 0:
        raise ValueError(
            f"each model's predictions need one row per truth row ({truth.shape[0]}), got shape {stacked.shape[1:]}"
        )
    if task == "classification" and stacked.ndim != 3:
        raise ValueError(f"classification needs (rows, classes) probabilities per model, got shape {stacked.shape[1:]}")
    if not np.all(np.isfinite(stacked)):
        raise ValueError("the predictions hold a NaN or an infinite value")
    return stacked, truth


def select_ensemble(
    predictions: Sequence[np.ndarray],
    truth: np.ndarray,
    task: str = "classification",
    rounds: int = 50,
    patience: int | None = None,
) -> EnsembleSelection:
    """Greedy selection with replacement (Caruana et al. 2004) of models to average, on validation predictions.

    ``predictions[i]``: model i's predicted class probabilities, shape (rows,
    classes), for classification; its predictions, shape (rows,), for
    regression. ``truth``: the validation rows' classes or targets. ``rounds``:
    picks after the first (the best single model); ``patience``: stop once this
    many picks in a row did not improve the score (None: make all ``rounds``).
    The weights are those of the best-scoring prefix of picks, so the
    ensemble's validation score is never below the best single model's.
    """
    if rounds < 0:
        raise ValueError(f"rounds must be 0 or more, got {rounds}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be 1 or more (or None), got {patience}")
    stacked, truth = _checked(predictions, truth, task)
    classification = task == "classification"
    score: Score = accuracy if classification else r_squared

    def key(average: np.ndarray) -> tuple[float, float]:
        """What a pick maximises: the score, then (classification) the negative cross-entropy."""
        return score(average, truth), (-cross_entropy(average, truth) if classification else 0.0)

    models = len(stacked)
    member_keys = [key(stacked[index]) for index in range(models)]
    first = max(range(models), key=lambda index: (member_keys[index][0], -index))
    counts = np.zeros(models, dtype=int)
    counts[first] = 1
    total = stacked[first].copy()
    best_key, best_counts = member_keys[first], counts.copy()
    history = [best_key[0]]
    since_improvement = 0
    for _ in range(rounds):
        picks = len(history)
        trials = [key((total + stacked[index]) / (picks + 1)) for index in range(models)]
        chosen = max(range(models), key=lambda index: (trials[index], -index))
        counts[chosen] += 1
        total += stacked[chosen]
        history.append(trials[chosen][0])
        if trials[chosen] > best_key:
            best_key, best_counts = trials[chosen], counts.copy()
            since_improvement = 0
        else:
            since_improvement += 1
            if patience is not None and since_improvement >= patience:
                break
    weights = best_counts / best_counts.sum()
    return EnsembleSelection(
        weights=weights,
        counts=best_counts,
        score=best_key[0],
        member_scores=np.array([member_key[0] for member_key in member_keys]),
        history=tuple(history),
        best_member=first,
    )
