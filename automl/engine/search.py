"""The search loop: ask the strategy, run trials under the budget, tell, store.

The driver is the only writer of the study. Resume: the strategy gets back its
saved state (or, for strategies without one, replays its recorded asks and
tells in order), trials that were in flight when the driver died are run again
once, and the loop goes on until the requested number of trials has finished.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from automl.engine.evaluation import Evaluator
from automl.engine.runners import InProcessRunner, Runner
from automl.engine.storage import COMPLETE, FAILED, RUNNING, StudyError, StudyStorage, Trial
from automl.engine.study import Study
from automl.nn import compile_architecture
from automl.space import Candidate
from automl.strategies.base import Strategy, StrategyContext, TrialResult
from automl.training import evaluate, resolve_device
from automl.training.trainer import as_tensors, target_scaling


@dataclass
class Budget:
    """When the search stops: trials finished, or wall-clock seconds for the whole search."""

    trials: int = 20
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"the number of trials must be at least 1, got {self.trials}")


def trial_seed(seed: int, number: int) -> int:
    return (seed * 1_000_003 + number * 7_919) % (2**31 - 1)


@dataclass
class SearchDriver:
    storage: StudyStorage
    strategy: Strategy
    evaluator: Evaluator
    budget: Budget
    seed: int = 0
    runner: Runner | None = None
    events: Any = None  # the plugin manager's hook relay, for event hooks
    on_trial: Callable[[Trial, Study], None] | None = None
    retries: int = 1
    study: Study = field(init=False)

    def __post_init__(self) -> None:
        self.study = Study(self.storage)
        self.runner = self.runner or InProcessRunner(self.evaluator)
        self._in_flight: dict[int, tuple[Candidate, int]] = {}
        self._best_score: float | None = None
        self._dispatched: dict[int, Trial] = {}
        self._finished = 0
        self._next_number = 0

    # ------------------------------------------------------------------ resume
    def restore(self) -> list[Trial]:
        """Bring the strategy back to where the study left it; returns trials to run again."""
        trials = {trial.number: trial for trial in self.storage.trials()}
        state = self.storage.strategy_state()
        if state is not None:
            self.strategy.load_state_dict(state)
        else:
            for kind, number in self.storage.events():
                trial = trials[number]
                if kind == "ask":
                    asked = self.strategy.ask()
                    if asked is not None and asked != trial.candidate:
                        raise StudyError(
                            f"resuming {self.storage.path}: the strategy no longer proposes trial {number}'s candidate "
                            "(was the space, the seed or the strategy changed?); start a fresh study"
                        )
                elif trial.status != RUNNING:
                    self.strategy.tell(trial.candidate, _result_of(trial))
        completed = [trial for trial in trials.values() if trial.status == COMPLETE]
        if completed:
            self._best_score = max(trial.score for trial in completed)
        return [trial for trial in trials.values() if trial.status == RUNNING]

    # -------------------------------------------------------------------- loop
    def run(self) -> Study:
        started = time.monotonic()
        requeue = self.restore()
        self._finished = self.storage.finished_count()
        self._next_number = self.storage.next_number()
        if self.events is not None:
            self.events.automl_search_started(study=self.study)
        for trial in requeue:
            if trial.attempts > self.retries:
                self._store(trial.number, trial.candidate, _lost(trial), None)
            else:
                self.storage.record_retry(trial.number)
                self._dispatch(trial.number, trial.candidate, trial.seed)
        exhausted = False
        while True:
            out_of_time = self.budget.seconds is not None and time.monotonic() - started > self.budget.seconds
            while (
                not exhausted
                and not out_of_time
                and len(self._in_flight) < self.runner.capacity
                and self._finished + len(self._in_flight) < self.budget.trials
            ):
                candidate = self.strategy.ask()
                if candidate is None:
                    exhausted = True
                    break
                number = self._next_number
                self._next_number += 1
                seed = trial_seed(self.seed, number)
                self.storage.record_ask(number, candidate, seed, self.strategy.state_dict())
                self._dispatch(number, candidate, seed)
            if not self._in_flight:
                break
            for done in self.runner.wait():
                candidate, _ = self._in_flight.pop(done.number)
                self.strategy.tell(candidate, done.result)
                self._store(done.number, candidate, done.result, done.weights)
        self.runner.close()
        if self.events is not None:
            self.events.automl_search_finished(study=self.study)
        return self.study

    def _dispatch(self, number: int, candidate: Candidate, seed: int) -> None:
        self._in_flight[number] = (candidate, seed)
        self._dispatched[number] = Trial(number, candidate, RUNNING, None, seed=seed, started=time.time())
        if self.events is not None:
            self.events.automl_trial_started(study=self.study, trial=self._dispatched[number])
        self.runner.submit(number, candidate, seed)

    def _store(self, number: int, candidate: Candidate, result: TrialResult, weights: dict[str, Any] | None) -> None:
        status = COMPLETE if result.ok else FAILED
        self.storage.record_tell(
            number, status, result.score, dict(result.metrics), result.error, self.strategy.state_dict()
        )
        self._finished += 1
        if result.ok and (self._best_score is None or result.score > self._best_score):
            self._best_score = result.score
            if weights is not None:
                self._save_weights(number, weights)
        running = self._dispatched.pop(number, None) or Trial(number, candidate, RUNNING, None)
        trial = dataclasses.replace(
            running,
            status=status,
            score=result.score,
            metrics=dict(result.metrics),
            error=result.error,
            finished=time.time(),
        )
        if self.events is not None:
            self.events.automl_trial_finished(study=self.study, trial=trial)
        if self.on_trial is not None:
            self.on_trial(trial, self.study)

    def _save_weights(self, number: int, weights: dict[str, Any]) -> None:
        directory = self.study.artifacts
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"trial-{number}.pt"
        temporary = target.with_suffix(".tmp")
        torch.save({key: value.cpu() for key, value in weights.items()}, temporary)
        temporary.replace(target)
        for old in directory.glob("trial-*.pt"):
            if old != target:
                old.unlink(missing_ok=True)


def _result_of(trial: Trial) -> TrialResult:
    return TrialResult(trial.status, trial.score, trial.metrics, trial.error)


def _lost(trial: Trial) -> TrialResult:
    return TrialResult(
        FAILED, None, {}, f"lost: the trial was in flight when the search stopped {trial.attempts} times"
    )


def weights_path(study: Study, number: int) -> Path:
    return study.artifacts / f"trial-{number}.pt"


def final_test(study: Study, evaluator: Evaluator) -> float | None:
    """Score the best trial once on the test split, with the weights its trial trained."""
    best = study.best_trial
    if best is None or evaluator.splits is None or evaluator.objective is not None:
        return None
    meta = study.meta
    if meta.get("test_trial") == best.number and meta.get("test_score") is not None:
        return meta["test_score"]
    path = weights_path(study, best.number)
    if not path.exists():
        return None
    architecture = evaluator.space.replay(best.candidate)
    splits = evaluator.data_for(evaluator.settings.updated(architecture.training_values()))
    compiled = compile_architecture(architecture, splits.input_shape, splits.num_outputs, evaluator.op_registry)
    compiled.module.load_state_dict(torch.load(path, weights_only=True))
    device = resolve_device(evaluator.device)
    compiled.module.to(device)
    features, target = as_tensors(splits.test, splits.task, device, target_scaling(splits))
    score, loss = evaluate(compiled.module, features, target, splits.task)
    study.storage.set_meta({"test_score": score, "test_loss": loss, "test_trial": best.number, "model": str(path)})
    return score


def start_context(
    seed: int, trials: int, options: dict[str, Any], evaluator: Evaluator, report: Callable[[str, Any], None]
) -> StrategyContext:
    return StrategyContext(
        seed=seed,
        trials=trials,
        options=options,
        data=evaluator.splits,
        training=evaluator.settings,
        device=evaluator.device,
        op_registry=evaluator.op_registry,
        report=report,
    )
