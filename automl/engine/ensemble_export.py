"""Export an ensemble of a study's best candidates: one ``torch.export`` program that averages them.

``automl export STUDY --ensemble K -o DIR``. The K best complete full-budget
trials (one per distinct candidate, best validation score first, as
``automl evaluate`` takes them) are loaded with their weights, or retrained
from their own seed where the study kept none (a search keeps the best
trial's weights only; :func:`automl.engine.export.trained_model`, exactly as a
single export does). Their validation predictions choose the ensemble by
greedy selection with replacement (Caruana et al. 2004,
:func:`automl.evaluation.ensemble.select_ensemble`); the test split is used
once, afterwards, for the ensemble's test score and its bootstrap interval.

The program takes the full feature vector of the study's data (a member
trained on its top ``keep_features`` columns picks them itself) and returns
the weighted mean of the selected members' class probabilities (the softmax
of each member's outputs), or of their predictions for regression (in the
standardised target units a single export gives too). The study is only read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from automl.engine.evaluation import BuiltCandidate, Evaluator
from automl.engine.export import describe, evaluator_of, refuse_non_empty, save_program, trained_model
from automl.engine.retraining import full_budget_trials
from automl.engine.search import weights_path
from automl.engine.storage import StudyError, Trial
from automl.engine.study import Study
from automl.evaluation.ensemble import EnsembleSelection, accuracy, r_squared, select_ensemble
from automl.evaluation.statistics import ConfidenceInterval, bootstrap_interval
from automl.training.trainer import as_tensors, target_scaling

ROUNDS = 50  # picks after the first; the paper's libraries need more, K models rarely need as many
CONFIDENCE = 0.95
RESAMPLES = 10_000
AGREEMENT = 1e-6  # a recomputed member validation score further than this from the stored one is reported


class AveragedEnsemble(nn.Module):
    """The weighted mean of its members' class probabilities (classification) or predictions (regression).

    ``columns[i]``: the input columns member i was trained on (None: all), so
    every member reads the same full feature vector.
    """

    def __init__(
        self,
        members: Sequence[nn.Module],
        weights: Sequence[float],
        columns: Sequence[Sequence[int] | None],
        classification: bool,
    ) -> None:
        super().__init__()
        if not (len(members) == len(weights) == len(columns)) or not members:
            raise ValueError("an ensemble needs one weight and one column choice per member, and a member")
        self.members = nn.ModuleList(members)
        self.register_buffer("weights", torch.tensor(list(weights), dtype=torch.float32))
        self.columns = [None if chosen is None else list(chosen) for chosen in columns]
        for index, chosen in enumerate(self.columns):
            if chosen is not None:
                self.register_buffer(f"columns_{index}", torch.tensor(chosen, dtype=torch.long))
        self.classification = classification

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor | None = None
        for index, member in enumerate(self.members):
            inputs = x if self.columns[index] is None else x.index_select(1, getattr(self, f"columns_{index}"))
            output = member(inputs)
            output = torch.softmax(output, dim=1) if self.classification else output
            part = self.weights[index] * output
            total = part if total is None else total + part
        return total


@dataclass
class EnsembleMember:
    """One of the top K trials: its model, and its predictions on the validation and test splits."""

    trial: Trial
    built: BuiltCandidate
    retrained: bool
    columns: list[int] | None  # the full data's columns it reads (None: all of them)
    validation: np.ndarray  # class probabilities (rows, classes), or predictions (rows,)
    test: np.ndarray
    validation_score: float  # recomputed from ``validation``

    @property
    def module(self) -> nn.Module:
        return self.built.compiled.module


@dataclass
class EnsembleExport:
    """What ``export_ensemble`` chose and wrote."""

    members: list[EnsembleMember]
    selection: EnsembleSelection
    task: str
    metric: str
    test_score: float
    best_member_test_score: float
    test: ConfidenceInterval | None  # the interval of the ensemble's test score (None: fewer than 2 test rows)
    best_member_test: ConfidenceInterval | None
    test_rows: int
    validation_rows: int
    written: dict[str, Path]

    @property
    def best_member(self) -> EnsembleMember:
        return self.members[self.selection.best_member]


def _outputs(module: nn.Module, features: np.ndarray, classification: bool) -> np.ndarray:
    batches = []
    with torch.no_grad():
        tensor = torch.as_tensor(np.ascontiguousarray(features), dtype=torch.float32)
        for start in range(0, len(tensor), 1024):
            output = module(tensor[start : start + 1024])
            if classification:
                output = torch.softmax(output, dim=1)
            elif output.dim() == 2 and output.shape[1] == 1:
                output = output.squeeze(-1)
            batches.append(output)
    return torch.cat(batches).double().numpy()


def truth_of(split: Any, splits: Any) -> np.ndarray:
    """A split's classes, or its regression targets standardised as the members were trained on them."""
    _, target = as_tensors(split, splits.task, torch.device("cpu"), target_scaling(splits))
    return target.numpy()


def _score(task: str) -> Callable[[np.ndarray, np.ndarray], float]:
    return accuracy if task == "classification" else r_squared


def score_interval(
    predictions: np.ndarray, truth: np.ndarray, task: str, resamples: int = RESAMPLES
) -> ConfidenceInterval | None:
    """The 95% bootstrap percentile interval of the test score over the test rows (accuracy, or R²)."""
    rows = len(truth)
    if rows < 2:
        return None
    if task == "classification":
        correct = (np.argmax(predictions, axis=1) == truth).astype(float)
        return bootstrap_interval(correct, np.mean, confidence=CONFIDENCE, resamples=resamples, seed=0)

    def resampled_r_squared(indices: np.ndarray, axis: int = -1) -> np.ndarray | float:
        chosen = np.moveaxis(np.asarray(indices), axis, -1).astype(int)
        sample_truth, sample_predictions = truth[chosen], predictions[chosen]
        variance = sample_truth.var(axis=-1)
        error = ((sample_predictions - sample_truth) ** 2).mean(axis=-1)
        result = np.where(variance > 0, 1.0 - error / np.where(variance > 0, variance, 1.0), 0.0)
        return float(result) if result.ndim == 0 else result

    return bootstrap_interval(
        np.arange(rows, dtype=float), resampled_r_squared, confidence=CONFIDENCE, resamples=resamples, seed=0
    )


def ensemble_candidates(study: Study, size: int, evaluator: Evaluator) -> list[Trial]:
    """The ``size`` best complete full-budget trials, one per distinct candidate; one line when there are fewer."""
    if size < 2:
        raise StudyError(f"an ensemble needs 2 or more members, got --ensemble {size}; e.g. --ensemble 5")
    candidates = full_budget_trials(study.trials, evaluator)
    if size > len(candidates):
        raise StudyError(
            f"--ensemble {size} asks for more members than study {study.path} has: {len(candidates)} complete "
            f"full-budget trial{'s' if len(candidates) != 1 else ''} with distinct candidates; "
            f"use --ensemble {len(candidates)} or fewer"
        )
    return candidates[:size]


def ensemble_members(
    study: Study,
    evaluator: Evaluator,
    trials: Sequence[Trial],
    on_member: Callable[[Trial, bool], None] | None = None,
) -> list[EnsembleMember]:
    """Each trial's model (stored weights, or retrained from its seed) and its validation and test predictions."""
    splits = evaluator.splits
    classification = splits.task == "classification"
    order = evaluator.feature_order
    validation_truth = truth_of(splits.validation, splits)
    members = []
    for trial in trials:
        if on_member is not None:
            on_member(trial, not weights_path(study, trial.number).exists())
        built, retrained = trained_model(study, evaluator, trial)
        keep = built.settings.keep_features
        columns = None if keep is None else [int(column) for column in order[: min(int(keep), len(order))]]
        validation = _outputs(built.compiled.module, built.splits.validation.features, classification)
        test = _outputs(built.compiled.module, built.splits.test.features, classification)
        score = _score(splits.task)(validation, validation_truth)
        members.append(EnsembleMember(trial, built, retrained, columns, validation, test, score))
    return members


def export_ensemble(
    study: Study,
    size: int,
    output: Path,
    evaluator: Evaluator | None = None,
    rounds: int = ROUNDS,
    on_member: Callable[[Trial, bool], None] | None = None,
) -> EnsembleExport:
    """Select an ensemble of the top ``size`` trials on validation, write it to ``output``, score it on test."""
    meta = study.meta
    if meta.get("input_shape") is None:
        raise StudyError(f"study {study.path} scored candidates with a custom objective; there is no model to export")
    if size < 2:  # before the data is loaded
        raise StudyError(f"an ensemble needs 2 or more members, got --ensemble {size}; e.g. --ensemble 5")
    refuse_non_empty(output)
    evaluator = evaluator or evaluator_of(study)
    trials = ensemble_candidates(study, size, evaluator)
    members = ensemble_members(study, evaluator, trials, on_member)
    splits = evaluator.splits
    task = splits.task
    validation_truth, test_truth = truth_of(splits.validation, splits), truth_of(splits.test, splits)
    selection = select_ensemble([member.validation for member in members], validation_truth, task, rounds=rounds)
    test_predictions = selection.average([member.test for member in members])
    best = members[selection.best_member]

    output.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for member, weight, count in zip(members, selection.weights, selection.counts, strict=True):
        folder = output / f"trial-{member.trial.number}"
        folder.mkdir()
        written[f"trial {member.trial.number} weights"] = folder / "state_dict.pt"
        torch.save(member.module.state_dict(), folder / "state_dict.pt")
        description = describe(study, member.trial, member.built)
        description.update({"ensemble_weight": float(weight), "ensemble_picks": int(count)})
        (folder / "architecture.json").write_text(json.dumps(description, indent=1, default=str))
        written[f"trial {member.trial.number} architecture"] = folder / "architecture.json"
    chosen = [index for index, weight in enumerate(selection.weights) if weight > 0]
    ensemble = AveragedEnsemble(
        [members[index].module for index in chosen],
        [float(selection.weights[index]) for index in chosen],
        [members[index].columns for index in chosen],
        task == "classification",
    ).eval()
    written["program"] = output / "model.pt2"
    save_program(ensemble, tuple(splits.input_shape), "x", written["program"])
    score = _score(task)
    test_score, best_test_score = score(test_predictions, test_truth), score(best.test, test_truth)
    test = score_interval(test_predictions, test_truth, task)
    best_test = score_interval(best.test, test_truth, task)
    metric = "accuracy" if task == "classification" else "R²"
    document = {
        "space": meta["space"],
        "task": task,
        "metric": metric,
        "output": "class probabilities" if task == "classification" else "predictions (standardised target units)",
        "input_shape": list(splits.input_shape),
        "feature_names": list(splits.feature_names),
        "selection": {
            "method": "greedy ensemble selection with replacement (Caruana et al. 2004), on the validation split",
            "rounds": rounds,
            "history": list(selection.history),
        },
        "members": [
            {
                "trial": member.trial.number,
                "weight": float(weight),
                "picks": int(count),
                "columns": member.columns,
                "validation_score": member.validation_score,
                "stored_validation_score": member.trial.score,
                "retrained": member.retrained,
                "folder": f"trial-{member.trial.number}",
            }
            for member, weight, count in zip(members, selection.weights, selection.counts, strict=True)
        ],
        "validation_score": selection.score,
        "best_member": best.trial.number,
        "best_member_validation_score": selection.best_member_score,
        "test_score": test_score,
        "test_interval": None if test is None else [test.low, test.high],
        "best_member_test_score": best_test_score,
        "best_member_test_interval": None if best_test is None else [best_test.low, best_test.high],
        "test_rows": len(test_truth),
    }
    written["ensemble"] = output / "ensemble.json"
    written["ensemble"].write_text(json.dumps(document, indent=1, default=str))
    return EnsembleExport(
        members,
        selection,
        task,
        metric,
        test_score,
        best_test_score,
        test,
        best_test,
        len(test_truth),
        len(validation_truth),
        written,
    )
