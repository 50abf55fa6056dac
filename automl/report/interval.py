"""How sure is the best model's test score? A bootstrap interval, or an honest line on why there is none.

A study stores the best trial's test score and weights, not its per-example
test predictions, which the interval resamples. For a classifier they are
recomputed from the stored weights on the rebuilt test split
(:func:`automl.engine.held_out.best_test_predictions`: nothing is retrained),
and the interval is the bootstrap percentile interval of the accuracy over the
test rows (Efron & Tibshirani, 1993; :func:`automl.evaluation.statistics.bootstrap_interval`).
Where they cannot be had (a regression study, a custom objective, no stored
weights, a space file or data that changed) the report says so instead of
inventing an interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from automl.engine.study import Study
from automl.evaluation.statistics import ConfidenceInterval

CONFIDENCE = 0.95
RESAMPLES = 10_000
AGREEMENT = 1e-6  # recomputed and stored test accuracy further apart than this: the report says so


@dataclass(frozen=True)
class TestInterval:
    """The interval of the best model's test score (None when it cannot be computed) and what it rests on."""

    __test__ = False  # not a pytest test class, despite the name

    interval: ConfidenceInterval | None
    note: str
    rows: int | None = None


def not_computed(reason: str) -> TestInterval:
    return TestInterval(None, reason)


def test_interval(study: Study, confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> TestInterval:
    """The bootstrap interval of the best trial's test accuracy, from its recomputed test predictions."""
    import numpy as np

    from automl.cli.errors import is_user_error
    from automl.evaluation.statistics import bootstrap_interval

    needs = "the interval needs the best model's per-example test predictions, which the study does not store"
    meta = study.meta
    best = study.best_trial
    if best is None:
        return not_computed("no complete trial: there is no best model to test")
    if meta.get("input_shape") is None:
        return not_computed("the study scored candidates with a custom objective: no model, no test split, no interval")
    if meta.get("task") != "classification":
        return not_computed(
            f"{needs}; they can be recomputed from the stored weights only for classifiers "
            f"(this is a {meta.get('task', 'non-classification')} study)"
        )
    try:
        from automl.engine.held_out import best_test_predictions

        predictions = best_test_predictions(study)
    except Exception as error:
        if not is_user_error(error):
            raise
        return not_computed(f"{needs}, and recomputing them from its stored weights failed: {error}")
    correct = (np.asarray(predictions.predicted) == np.asarray(predictions.truth)).astype(float)
    if correct.size < 2:
        return not_computed(f"the test split has {correct.size} row; a bootstrap interval needs 2 or more")
    interval = bootstrap_interval(correct, np.mean, confidence=confidence, resamples=resamples, seed=0)
    note = (
        f"bootstrap percentile interval of the test accuracy over the {correct.size} test rows "
        f"({resamples:,} resamples, seed 0), from trial {predictions.trial}'s test predictions recomputed "
        "from its stored weights"
    )
    stored = study.test_score
    if stored is not None and abs(stored - interval.estimate) > AGREEMENT:
        note += f"; the recomputed accuracy {interval.estimate:.4f} differs from the stored test score {stored:.4f}"
    return TestInterval(interval, note, int(correct.size))
