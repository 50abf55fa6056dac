"""Evaluate one candidate: replay, compile, train under its limits, and score.

Everything a trial can raise is turned into a failed result with its reason, so
a crashing, NaN or timed-out trial never stops the search.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from automl.engine.feature_selection import keep_top_features
from automl.engine.limits import time_limit
from automl.nn import CompileError, compile_architecture
from automl.space import Candidate, SearchSpace, SpaceError
from automl.strategies.base import TrialResult, TrialStatus
from automl.training import TrainingSettings, TrialFailure, resolve_device, train_model

Objective = Callable[[Candidate], Any]


@dataclass
class BuiltCandidate:
    """A candidate turned into a model: what search, final test and export all start from."""

    architecture: Any
    settings: TrainingSettings
    splits: Any
    compiled: Any


@dataclass
class Evaluator:
    """What every trial of one search needs; picklable so workers can receive it."""

    space: SearchSpace
    splits: Any = None
    settings: TrainingSettings | None = None
    op_registry: Any = None
    device: str = "auto"
    objective: Objective | None = None
    max_parameters: int | None = None
    trial_seconds: float | None = None
    direction: str = "maximize"
    feature_order: list[int] | None = None  # column indices, best first, when features were ranked

    def data_for(self, settings: TrainingSettings) -> Any:
        """The splits a candidate trains on: all features, or its top ``keep_features``."""
        if settings.keep_features is None:
            return self.splits
        if self.feature_order is None:
            raise TrialFailure("keep_features needs a feature ranking; pass --rank-features (e.g. outrank)")
        return keep_top_features(self.splits, self.feature_order, int(settings.keep_features))

    def build(self, candidate: Candidate, budget: float | None = None) -> BuiltCandidate:
        """Replay, apply the space's training values (and a budget in epochs), pick the data, compile.

        The one way a candidate becomes a model, for a trial, the final test and export alike.
        """
        if self.splits is None or self.settings is None:
            raise TrialFailure("no data to train on: give data, or an objective")
        architecture = self.space.replay(candidate)
        settings = self.settings.updated(architecture.training_values())
        if budget is not None:
            settings = settings.updated({"epochs": max(1, round(budget))})
        splits = self.data_for(settings)
        compiled = compile_architecture(
            architecture, splits.input_shape, num_outputs=splits.num_outputs, registry=self.op_registry
        )
        return BuiltCandidate(architecture, settings, splits, compiled)

    def __call__(
        self, candidate: Candidate, seed: int, budget: float | None = None
    ) -> tuple[TrialResult, dict[str, Any] | None]:
        """The result, and the trained weights (None for user objectives and failures)."""
        started = time.monotonic()
        try:
            with time_limit(self.trial_seconds):
                if self.objective is not None:
                    return self._run_objective(candidate), None
                return self._train(candidate, seed, started, budget)
        except TrialFailure as failure:
            return _failed(str(failure), started), None
        except (SpaceError, CompileError) as error:
            return _failed(f"invalid candidate: {error}", started), None
        except Exception as error:  # a crashing trial is recorded, and the search goes on
            where = traceback.extract_tb(error.__traceback__)[-1]
            detail = f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})"
            return _failed(f"crashed: {detail}", started), None

    def _run_objective(self, candidate: Candidate) -> TrialResult:
        started = time.monotonic()
        returned = self.objective(candidate)
        metrics: dict[str, Any] = {}
        if isinstance(returned, Mapping):
            if "score" not in returned:
                raise TrialFailure("the objective returned a mapping without a 'score'")
            metrics = {key: value for key, value in returned.items() if key != "score"}
            returned = returned["score"]
        try:
            value = float(returned)
        except (TypeError, ValueError):
            raise TrialFailure(f"the objective returned {returned!r}, not a number") from None
        if not math.isfinite(value):
            raise TrialFailure(f"the objective returned {value}")
        metrics.update({"value": value, "seconds": time.monotonic() - started})
        score = value if self.direction == "maximize" else -value
        return TrialResult.complete(score, metrics)

    def _train(
        self, candidate: Candidate, seed: int, started: float, budget: float | None
    ) -> tuple[TrialResult, dict[str, Any] | None]:
        torch.manual_seed(seed)  # the initial weights are part of what a seed fixes
        built = self.build(candidate, budget)
        compiled, settings, splits = built.compiled, built.settings, built.splits
        if self.max_parameters is not None and compiled.parameter_count > self.max_parameters:
            reason = f"too large: {compiled.parameter_count} parameters (limit {self.max_parameters})"
            metrics = {"parameters": compiled.parameter_count, "seconds": time.monotonic() - started}
            return TrialResult(TrialStatus.INFEASIBLE, None, metrics, reason), None
        deadline = None if self.trial_seconds is None else started + self.trial_seconds
        outcome = train_model(compiled.module, splits, settings, seed, resolve_device(self.device), deadline=deadline)
        metrics = {
            "validation_loss": outcome.validation_loss,
            "parameters": compiled.parameter_count,
            "epochs": outcome.epochs,
            "seconds": time.monotonic() - started,
            "metric": "accuracy" if splits.task == "classification" else "r2",
        }
        if settings.keep_features is not None:
            metrics["features"] = splits.input_shape[0]
        return TrialResult.complete(outcome.score, metrics), outcome.state_dict


def _failed(reason: str, started: float) -> TrialResult:
    return TrialResult.failed(reason, {"seconds": time.monotonic() - started})
