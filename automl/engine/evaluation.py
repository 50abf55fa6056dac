"""Evaluate one candidate: replay, compile, train under its limits, and score.

Everything a trial can raise is turned into a failed result with its reason, so
a crashing, NaN or timed-out trial never stops the search.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from automl.engine.constraints import Constraint, first_violation, needs_latency
from automl.engine.costs import Costs, measure_costs, with_latency
from automl.engine.feature_selection import keep_top_features
from automl.engine.limits import time_limit
from automl.nn import CompileError, compile_architecture
from automl.space import Candidate, SearchSpace, SpaceError
from automl.strategies.base import TrialResult, TrialStatus
from automl.strategies.fidelity import Fidelity
from automl.training import TrainingSettings, TrialFailure, resolve_device, train_model

Objective = Callable[..., Any]  # objective(candidate), or objective(candidate, budget) with a fidelity


@dataclass(frozen=True)
class TrialPlan:
    """What the engine asks of one trial besides its candidate and seed; picklable for Dask workers.

    ``checkpoint``: where the trial keeps its checkpoint, written every epoch
    (multi-fidelity with epochs), so a promotion or a rerun after a crash goes
    on from it. ``continue_from``: the checkpoint of the trial this one
    continues. ``prune_below[e - 1]``: the score a trial must have reached by
    epoch ``e`` to go on (None: no rule at that epoch yet).
    """

    budget: float | None = None
    checkpoint: str | None = None
    continue_from: str | None = None
    prune_below: tuple[float | None, ...] | None = None
    prune_rule: str = ""  # how the thresholds were made, for the pruned trial's reason


def takes_budget(objective: Callable[..., Any]) -> bool:
    """Whether ``objective`` can be called as ``objective(candidate, budget)``."""
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):
        return True  # a builtin or C callable: let the call tell
    try:
        signature.bind(object(), 1.0)
    except TypeError:
        return False
    return True


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
    fidelity: Fidelity | None = None  # what a proposal's budget means; None: budgets are epochs
    constraints: tuple[Constraint, ...] = ()  # bounds on measured costs, checked before training
    measure_latency: bool | None = None  # None: only when a constraint names a latency
    _costs: dict[str, Costs] = field(default_factory=dict, init=False, repr=False, compare=False)

    def costs_of(self, candidate: Candidate, built: BuiltCandidate) -> Costs:
        """The measured costs of a built candidate, measured once per candidate (a promotion reuses them).

        Latency (timed passes) is measured only when asked for, and not for a candidate whose other
        costs already break a constraint.
        """
        key = candidate.to_json()
        costs = self._costs.get(key)
        latency = needs_latency(self.constraints) if self.measure_latency is None else self.measure_latency
        if costs is not None and (costs.latency_ms is not None or not latency):
            return costs
        features = built.splits.train.features[: max(1, int(built.settings.batch_size))]
        batch = torch.as_tensor(np.ascontiguousarray(features), dtype=torch.float32)
        device = resolve_device(self.device)
        if costs is None:
            costs = measure_costs(built.compiled.module, batch, device)
        if latency and first_violation(self.constraints, costs.as_metrics()) is None:
            costs = with_latency(costs, built.compiled.module, batch, device)
        self._costs[key] = costs
        return costs

    def data_for(self, settings: TrainingSettings) -> Any:
        """The splits a candidate trains on: all features, or its top ``keep_features``."""
        if settings.keep_features is None:
            return self.splits
        if self.feature_order is None:
            raise TrialFailure("keep_features needs a feature ranking; pass --rank-features (e.g. outrank)")
        return keep_top_features(self.splits, self.feature_order, int(settings.keep_features))

    def build(self, candidate: Candidate, budget: float | None = None) -> BuiltCandidate:
        """Replay, apply the space's training values and the budget, pick the data, compile.

        The one way a candidate becomes a model, for a trial, the final test and export alike.
        A budget is epochs, or with the rows fidelity the share ``budget / max_budget`` of the training rows.
        """
        if self.splits is None or self.settings is None:
            raise TrialFailure("no data to train on: give data, or an objective")
        architecture = self.space.replay(candidate)
        settings = self.settings.updated(architecture.training_values())
        rows = self.fidelity is not None and self.fidelity.kind == "rows"
        if budget is not None and not rows:
            settings = settings.updated({"epochs": max(1, round(budget))})
        splits = self.data_for(settings)
        if budget is not None and rows:
            splits = training_rows(splits, budget / self.fidelity.max_budget)
        compiled = compile_architecture(
            architecture, splits.input_shape, num_outputs=splits.num_outputs, registry=self.op_registry
        )
        return BuiltCandidate(architecture, settings, splits, compiled)

    def __call__(
        self, candidate: Candidate, seed: int, plan: TrialPlan | None = None
    ) -> tuple[TrialResult, dict[str, Any] | None]:
        """The result, and the trained weights (None for user objectives and failures)."""
        plan = plan or TrialPlan()
        started = time.monotonic()
        try:
            with time_limit(self.trial_seconds):
                if self.objective is not None:
                    return self._run_objective(candidate, plan.budget), None
                return self._train(candidate, seed, started, plan)
        except TrialFailure as failure:
            return _failed(str(failure), started), None
        except (SpaceError, CompileError) as error:
            return _failed(f"invalid candidate: {error}", started), None
        except Exception as error:  # a crashing trial is recorded, and the search goes on
            where = traceback.extract_tb(error.__traceback__)[-1]
            detail = f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})"
            return _failed(f"crashed: {detail}", started), None

    def _run_objective(self, candidate: Candidate, budget: float | None) -> TrialResult:
        started = time.monotonic()
        if self.fidelity is None:
            returned = self.objective(candidate)
        else:
            budget = self.fidelity.max_budget if budget is None else budget
            returned = self.objective(candidate, budget)
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
        if self.fidelity is not None:
            metrics.setdefault("cost", self.fidelity.cost(budget))  # it trained from scratch, unless it says
        score = value if self.direction == "maximize" else -value
        if self.constraints:  # bounds on the metrics it returned: known only once it ran
            missing = [constraint.cost for constraint in self.constraints if constraint.cost not in metrics]
            if missing:
                raise TrialFailure(f"the objective returned no {missing[0]!r}, which a constraint bounds")
            violation = first_violation(self.constraints, metrics)
            if violation is not None:
                return TrialResult(TrialStatus.INFEASIBLE, None, metrics, f"infeasible: {violation}")
        return TrialResult.complete(score, metrics)

    def _train(
        self, candidate: Candidate, seed: int, started: float, plan: TrialPlan
    ) -> tuple[TrialResult, dict[str, Any] | None]:
        torch.manual_seed(seed)  # the initial weights are part of what a seed fixes
        built = self.build(candidate, plan.budget)
        compiled, settings, splits = built.compiled, built.settings, built.splits
        costs = self.costs_of(candidate, built).as_metrics()
        reason = None
        if self.max_parameters is not None and compiled.parameter_count > self.max_parameters:
            reason = f"too large: {compiled.parameter_count} parameters (limit {self.max_parameters})"
        violation = first_violation(self.constraints, costs)
        if reason is None and violation is not None:
            reason = f"infeasible: {violation}"
        if reason is not None:  # refused before any training: no epochs, no weights
            metrics = {
                "parameters": compiled.parameter_count,
                "epochs": 0,
                "costs": costs,
                "seconds": time.monotonic() - started,
            }
            return TrialResult(TrialStatus.INFEASIBLE, None, metrics, reason), None
        deadline = None if self.trial_seconds is None else started + self.trial_seconds
        resume_from = None
        if plan.checkpoint is not None and os.path.exists(plan.checkpoint):
            resume_from = plan.checkpoint  # an earlier attempt of this trial got this far: go on from there
        elif plan.continue_from is not None and os.path.exists(plan.continue_from):
            resume_from = plan.continue_from
        outcome = train_model(
            compiled.module,
            splits,
            settings,
            seed,
            resolve_device(self.device),
            deadline=deadline,
            checkpoint=plan.checkpoint,
            resume_from=resume_from,
            prune=_pruning_rule(plan),
        )
        metrics = {
            "validation_loss": outcome.validation_loss,
            "parameters": compiled.parameter_count,
            "epochs": outcome.epochs,
            "seconds": time.monotonic() - started,
            "metric": "accuracy" if splits.task == "classification" else "r2",
            "curve": outcome.history,
            "costs": costs,
        }
        rows = self.fidelity is not None and self.fidelity.kind == "rows"
        share = len(splits.train.target) / len(self.splits.train.target) if rows else 1.0
        metrics["cost"] = share * outcome.epochs / max(1, int(self.settings.epochs))  # in full trainings
        if settings.keep_features is not None:
            metrics["features"] = splits.input_shape[0]
        if outcome.pruned:
            reason = f"pruned after epoch {outcome.last_epoch}: {plan.prune_rule}".rstrip(": ")
            return TrialResult(TrialStatus.PRUNED, outcome.score, metrics, reason), outcome.state_dict
        return TrialResult.complete(outcome.score, metrics), outcome.state_dict


def _pruning_rule(plan: TrialPlan) -> Callable[[int, float], bool] | None:
    """``prune(epoch, best score so far)`` from the plan's thresholds: below the threshold of its epoch stops."""
    thresholds = plan.prune_below
    if not thresholds:
        return None

    def prune(epoch: int, best: float) -> bool:
        threshold = thresholds[epoch - 1] if epoch <= len(thresholds) else None
        return threshold is not None and best < threshold

    return prune


def training_rows(splits: Any, share: float) -> Any:
    """The splits with ``share`` of the training rows: a prefix of one fixed shuffle, so a larger
    share holds every row of a smaller one, and every candidate sees the same rows at one budget."""
    rows = len(splits.train.target)
    keep = min(rows, max(1, math.ceil(share * rows)))
    if keep == rows:
        return splits
    order = np.random.default_rng(0).permutation(rows)[:keep]
    order.sort()
    train = splits.train
    subset = dataclasses.replace(
        train, features=np.ascontiguousarray(train.features[order]), target=np.ascontiguousarray(train.target[order])
    )
    return dataclasses.replace(splits, train=subset)


def _failed(reason: str, started: float) -> TrialResult:
    return TrialResult.failed(reason, {"seconds": time.monotonic() - started})
