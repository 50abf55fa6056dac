"""The best model of a study, predicting its test split again: what McNemar's test compares.

Studies store the best trial's weights, not its test predictions; the
predictions are recomputed here from those weights, on the test split rebuilt
from the stored configuration (the same checks as export: the space file and
the data must be the ones searched). Nothing is retrained: a trial without
stored weights is refused, so the predictions are those of the model the study
reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from automl.engine.export import evaluator_of
from automl.engine.search import weights_path
from automl.engine.storage import StudyError
from automl.engine.study import Study
from automl.training import resolve_device
from automl.training.trainer import as_tensors, target_scaling


@dataclass(frozen=True)
class TestPredictions:
    """The test split's features and labels, and the class the best trial's model predicts for each row."""

    __test__ = False  # not a pytest test class, despite the name

    trial: int
    features: np.ndarray
    truth: np.ndarray
    predicted: np.ndarray


def best_test_predictions(study: Study) -> TestPredictions:
    """The best trial's predicted classes on the test split (classification only)."""
    best = study.best_trial
    if best is None:
        raise StudyError(f"study {study.path} has no complete trial")
    if study.meta.get("input_shape") is None:
        raise StudyError(f"study {study.path} scored candidates with a custom objective; it has no model to test")
    stored = weights_path(study, best.number)
    if not stored.exists():
        raise StudyError(
            f"study {study.path} kept no weights for its best trial {best.number}; "
            "McNemar's test needs the model that made the study's test score"
        )
    evaluator = evaluator_of(study)
    built = evaluator.build(best.candidate, best.budget)
    splits = built.splits
    if splits.task != "classification":
        raise StudyError(f"study {study.path} is a {splits.task} study; McNemar's test compares classifiers")
    module = built.compiled.module
    module.load_state_dict(torch.load(stored, weights_only=True))
    device = resolve_device(evaluator.device)
    module.to(device).eval()
    features, target = as_tensors(splits.test, splits.task, device, target_scaling(splits))
    with torch.no_grad():
        predicted = torch.cat(
            [module(features[start : start + 1024]).argmax(dim=1) for start in range(0, len(features), 1024)]
        )
    return TestPredictions(best.number, np.asarray(splits.test.features), target.cpu().numpy(), predicted.cpu().numpy())
