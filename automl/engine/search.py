"""The search loop: ask the strategy, run trials under the budget, tell, store.

The driver is the only writer of the study and owns the pairing of asks and
tells: it numbers each proposal, keeps the ones in flight, and hands the same
proposal back to ``tell``.

Resume: the strategy's state is saved as a snapshot only when the events since
the last one reach a fraction of all events (``SNAPSHOT_FRACTION``, at least
``SNAPSHOT_MIN_EVENTS``), so saving costs O(1) per trial on average however
large the study grows; resume loads the snapshot and replays the asks and tells
recorded after it (a strategy with ``resume = "replay"`` replays them all).
Trials in flight when the driver died run again; that costs no retry. A trial
can only take the driver down with it in-process (on Dask it runs in a child
process of a worker), so only there is a death ever charged to a trial: at once
when the process died of a fatal signal while the trial ran (``faulthandler``
writes it to ``<study>.crash``), or after ``CRASH_LIMIT`` deaths in a row with
the same trial in flight and no such trace. A SIGKILL leaves no trace, and the
OOM killer's looks exactly like an operator's, so that limit is high: a driver
killed at random moments (the first trial after a restart is the one in flight
at most kills) loses no trial, and a trial that exhausts memory in-process is
failed after that many resumes; ``--trial-memory`` fails it at once instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from automl.engine.evaluation import Evaluator, TrialPlan
from automl.engine.objectives import ObjectiveMetric, objective_values, oriented_values
from automl.engine.pruning import PercentileStopping
from automl.engine.runners import InProcessRunner, Runner
from automl.engine.storage import StudyError, StudyStorage, Trial
from automl.engine.study import Study
from automl.strategies.base import Proposal, Strategy, StrategyContext, TrialResult, TrialStatus
from automl.training import evaluate, resolve_device
from automl.training.trainer import as_tensors, target_scaling

SNAPSHOT_FRACTION = 0.25
SNAPSHOT_MIN_EVENTS = 64
CRASH_LIMIT = 25
STOPPED_WHILE_RUNNING = "the search stopped while it ran"


class StrategyFailure(RuntimeError):
    """A strategy's own code raised in ask or tell: the search stops; the study stays intact and resumable."""


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
    strategy_label: str = ""  # "'mcts' (built-in)", "'evolution' (plugin automl-evolution 0.1.0)"
    previous_runner: str | None = None  # where the trials of the last (perhaps killed) run of this study ran
    pruner: PercentileStopping | None = None  # stops trials whose curve falls behind (--prune)
    max_infeasible: int | None = None  # stop after this many infeasible trials in a row (None: never)
    objectives: tuple[ObjectiveMetric, ...] = ()  # several objectives: their values go with each result
    study: Study = field(init=False)
    stop_reason: str | None = field(default=None, init=False)  # why the search stopped before its budget

    def __post_init__(self) -> None:
        self.study = Study(self.storage)
        self.runner = self.runner or InProcessRunner(self.evaluator)
        if hasattr(self.runner, "on_retry"):
            self.runner.on_retry = self.storage.record_retry  # a worker's death goes into the attempt history
        self._in_flight: dict[int, Trial] = {}  # dispatched, not told yet; trial.proposal goes back to tell
        self._best: tuple[float, float] | None = None  # (budget, score) of the incumbent
        self._finished = 0
        self._next_number = 0
        self._events = 0  # events stored so far
        self._snapshot_event = 0  # the event the last snapshot includes
        self._failure: StrategyFailure | None = None  # the strategy raised: no more asks, tells or snapshots
        self._infeasible_run = 0  # infeasible trials told in a row
        fidelity = self.evaluator.fidelity
        # Checkpoints are kept when a trial may be continued: trained candidates under the epochs fidelity.
        self._checkpoints = fidelity is not None and fidelity.kind == "epochs" and self.evaluator.objective is None

    def _call_strategy(self, method: str, *arguments: Any) -> Any:
        """``strategy.ask()``, ``tell(...)`` or ``state_dict()``; an exception of its own becomes a StrategyFailure."""
        try:
            return getattr(self.strategy, method)(*arguments)
        except Exception as error:
            label = self.strategy_label or repr(self.strategy.name)
            text = (str(error).strip().splitlines() or [""])[0]
            raise StrategyFailure(
                f"strategy {label} failed in {method}(): {type(error).__name__}: {text} "
                f"(the study {self.storage.path} is intact; fix or replace the strategy and --resume)"
            ) from error

    # ------------------------------------------------------------------ resume
    def restore(self) -> list[Trial]:
        """Bring the strategy back to where the study left it; returns the trials in flight then."""
        state, snapshot_event = self.storage.strategy_state()
        if self.strategy.resume == "state" and state is not None:
            self.strategy.load_state_dict(state)
        else:
            snapshot_event = 0
        events = self.storage.events(after=snapshot_event)
        if events:
            numbers = sorted({number for _, number in events})
            trials = {trial.number: trial for trial in self.storage.trials_numbered(numbers)}
            for kind, number in events:
                trial = trials[number]
                if kind == "ask":
                    proposal = self._call_strategy("ask")
                    if proposal is None or proposal.candidate != trial.candidate:
                        raise StudyError(
                            f"resuming {self.storage.path}: strategy {self.strategy.name!r} no longer proposes trial "
                            f"{number}'s candidate (was the space, the seed or the strategy changed?); "
                            "start a fresh study"
                        )
                elif trial.status.finished:
                    self._call_strategy("tell", trial.proposal, self._result_of(trial))
        self._events = self.storage.event_count()
        self._snapshot_event = snapshot_event
        self._best = self.storage.best()
        self._infeasible_run = 0
        for trial in self.storage.trials():
            if trial.status.finished:
                self._infeasible_run = self._infeasible_run + 1 if trial.status is TrialStatus.INFEASIBLE else 0
        if self.pruner is not None:
            for trial in self.storage.trials():
                if trial.status.finished:
                    self.pruner.add(trial.number, trial.curve, trial.continues, trial.status is TrialStatus.COMPLETE)
        return self.storage.trials(TrialStatus.RUNNING)

    def _state_if_due(self) -> Any:
        """The strategy's state when a snapshot is due after the event about to be stored, else None."""
        if self.strategy.resume != "state" or self._failure is not None:
            return None
        since = self._events + 1 - self._snapshot_event
        if since < max(SNAPSHOT_MIN_EVENTS, SNAPSHOT_FRACTION * (self._events + 1)):
            return None
        return self._call_strategy("state_dict")

    def _state_if_due_after_tell(self) -> Any:
        try:
            return self._state_if_due()
        except StrategyFailure as failure:  # keep the result, stop the search
            self._failure = failure
            return None

    def _stored(self, sequence: int, snapshot: Any) -> None:
        self._events = sequence
        if snapshot is not None:
            self._snapshot_event = sequence

    # -------------------------------------------------------------------- loop
    def run(self) -> Study:
        started = time.monotonic()
        in_flight_at_death = self.restore()
        self._finished = self.storage.finished_count()
        self._next_number = self.storage.next_number()
        if self.events is not None:
            self.events.automl_search_started(study=self.study)
        crashed = self._crash_trace()
        for trial in in_flight_at_death:
            history = self.storage.attempt_history(trial.number)
            deaths = 1 + _consecutive_deaths(history)
            if crashed is not None and crashed[0] == trial.number:
                self._tell(trial, TrialResult.failed(f"crashed: {crashed[1]}"), None)
            elif self.previous_runner != "dask" and deaths >= CRASH_LIMIT:
                self._tell(trial, _killed_its_process(deaths), None)
            else:
                self.storage.record_retry(trial.number, STOPPED_WHILE_RUNNING)
                self._dispatch(trial.proposal, trial.seed)
        exhausted = False
        handler_was_enabled = faulthandler.is_enabled()
        crash_log = self._watch_for_crashes()
        try:
            while True:
                out_of_time = self.budget.seconds is not None and time.monotonic() - started > self.budget.seconds
                while (
                    not exhausted
                    and self._failure is None
                    and not out_of_time
                    and not self._too_many_infeasible()
                    and len(self._in_flight) < self.runner.capacity
                    and self._finished + len(self._in_flight) < self.budget.trials
                ):
                    try:
                        proposal = self._call_strategy("ask")
                        snapshot = None if proposal is None else self._state_if_due()
                    except StrategyFailure as failure:
                        self._failure = failure  # the trials in flight still finish and are stored
                        break
                    if proposal is None:
                        # nothing now; with trials in flight a scheduler may have a promotion after their tells
                        exhausted = not self._in_flight
                        break
                    proposal = proposal.numbered(self._next_number)
                    self._next_number += 1
                    seed = self._seed_of(proposal)
                    self._stored(self.storage.record_ask(proposal, seed, snapshot), snapshot)
                    self._dispatch(proposal, seed)
                if not self._in_flight:
                    break
                for done in self.runner.wait():
                    self._tell(self._in_flight.pop(done.number), done.result, done.weights)
        finally:
            self.runner.close()
            if crash_log is not None:
                faulthandler.disable()
                crash_log.close()
                self._crash_path.unlink(missing_ok=True)
                if handler_was_enabled:  # give the process back its own handler (pytest's, a user's)
                    faulthandler.enable(file=sys.__stderr__ or sys.stderr)
        if self._failure is not None:
            raise self._failure
        if self.strategy.resume == "state" and self._snapshot_event < self._events:
            self.storage.save_state(self._call_strategy("state_dict"), self._events)
            self._snapshot_event = self._events
        self._delete_checkpoints()
        if self.events is not None:
            self.events.automl_search_finished(study=self.study)
        return self.study

    def _too_many_infeasible(self) -> bool:
        """Whether the last ``max_infeasible`` trials were all infeasible: the search then stops asking."""
        if self.max_infeasible is None or self._infeasible_run < self.max_infeasible:
            return False
        if self.stop_reason is None:
            self.stop_reason = (
                f"stopped: the last {self._infeasible_run} candidates were all infeasible (they break the "
                "constraints); loosen --constraint or change the space, or --resume with a higher --max-infeasible"
            )
        return True

    # ------------------------------------------------------------ fidelity
    def _seed_of(self, proposal: Proposal) -> int:
        """A continued trial trains on with the seed of the training it continues (its first trial's)."""
        if proposal.continues is not None:
            running = self._in_flight.get(proposal.continues)
            return running.seed if running is not None else self.storage.trial(proposal.continues).seed
        assert proposal.number is not None
        return trial_seed(self.seed, proposal.number)

    def _checkpoint(self, number: int) -> Path:
        return self.study.artifacts / "checkpoints" / f"trial-{number}.pt"

    def _plan(self, proposal: Proposal) -> TrialPlan:
        assert proposal.number is not None
        checkpoint = continue_from = None
        if self._checkpoints:
            self._checkpoint(proposal.number).parent.mkdir(parents=True, exist_ok=True)
            checkpoint = str(self._checkpoint(proposal.number))
            if proposal.continues is not None:
                continue_from = str(self._checkpoint(proposal.continues))
        thresholds, rule = None, ""
        if self.pruner is not None and self.evaluator.settings is not None:
            epochs = proposal.budget if proposal.budget is not None else self.evaluator.settings.epochs
            fidelity = self.evaluator.fidelity
            if fidelity is not None and fidelity.kind == "rows":
                epochs = self.evaluator.settings.epochs
            thresholds, rule = self.pruner.thresholds(max(1, round(epochs))), self.pruner.rule
        return TrialPlan(proposal.budget, checkpoint, continue_from, thresholds, rule)

    def _release(self, running: Trial, status: TrialStatus) -> None:
        """Delete the checkpoints no trial will continue: the one this trial continued, its own when it is at
        the full budget or did not complete, and those the strategy released."""
        if not self._checkpoints:
            return
        numbers = [] if running.continues is None else [running.continues]
        fidelity = self.evaluator.fidelity
        full = running.budget is None or (fidelity is not None and running.budget >= fidelity.max_budget)
        if full or status is not TrialStatus.COMPLETE:
            numbers.append(running.number)
        if self._failure is None:
            try:
                numbers.extend(self._call_strategy("released"))
            except StrategyFailure as failure:
                self._failure = failure
        for number in numbers:
            self._checkpoint(number).unlink(missing_ok=True)

    def _delete_checkpoints(self) -> None:
        """At the end of a search no checkpoint is needed: a later --resume that promotes a trial retrains it
        from the start with its seed, which gives the same weights."""
        directory = self.study.artifacts / "checkpoints"
        if self._checkpoints and directory.is_dir():
            for path in directory.glob("trial-*.pt"):
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                directory.rmdir()

    # ---------------------------------------------------------- fatal crashes
    @property
    def _crash_path(self) -> Path:
        return self.storage.path.with_name(self.storage.path.name + ".crash")

    def _watch_for_crashes(self) -> Any:
        """In-process trials: a fatal signal (segfault, abort) is written to ``<study>.crash`` after the
        number of the trial that was running, so a resume knows which trial took the process down."""
        if not isinstance(self.runner, InProcessRunner):
            return None
        try:
            handle = open(self._crash_path, "w")  # noqa: SIM115 - held open for faulthandler until the run ends
        except OSError:
            return None
        faulthandler.enable(file=handle, all_threads=False)

        def mark(number: int) -> None:
            handle.seek(0)
            handle.truncate()
            handle.write(f"trial {number}\n")
            handle.flush()

        self.runner.before_trial = mark
        return handle

    def _crash_trace(self) -> tuple[int, str] | None:
        """(trial, first line of the fatal error) left by a run that died of a fatal signal, if any."""
        path = self._crash_path
        if not path.exists():
            return None
        with contextlib.suppress(OSError):
            lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
            path.unlink()
            if len(lines) >= 2 and lines[0].startswith("trial "):
                return int(lines[0].split()[1]), f"the process died while this trial ran: {lines[1]}"
        return None

    def _dispatch(self, proposal: Proposal, seed: int) -> None:
        assert proposal.number is not None
        running = Trial(
            proposal.number,
            proposal.candidate,
            TrialStatus.RUNNING,
            None,
            seed=seed,
            started=time.time(),
            budget=proposal.budget,
            proposal_data=dict(proposal.data),
            continues=proposal.continues,
        )
        self._in_flight[proposal.number] = running
        if self.events is not None:
            self.events.automl_trial_started(study=self.study, trial=running)
        self.runner.submit(proposal, seed, self._plan(proposal))

    def _with_objective_values(self, result: TrialResult) -> TrialResult:
        """A complete result with its objective values (stored in its metrics, told as ``values``); one
        missing an objective's metric fails, naming what the trial recorded."""
        if not self.objectives or not result.ok:
            return result
        assert result.score is not None
        score = result.score if self.evaluator.direction == "maximize" else -result.score
        values, missing = objective_values(self.objectives, score, result.metrics)
        if values is None:
            return TrialResult.failed(f"no objective value: {missing}", result.metrics)
        metrics = {**result.metrics, "objectives": values}
        return dataclasses.replace(result, metrics=metrics, values=oriented_values(self.objectives, values))

    def _result_of(self, trial: Trial) -> TrialResult:
        """What the strategy was told of a stored trial (replayed on resume)."""
        values = None
        stored = trial.metrics.get("objectives") if self.objectives else None
        if trial.status is TrialStatus.COMPLETE and isinstance(stored, list) and len(stored) == len(self.objectives):
            values = oriented_values(self.objectives, stored)
        return TrialResult(trial.status, trial.score, trial.metrics, trial.error, values)

    def _tell(self, running: Trial, result: TrialResult, weights: dict[str, Any] | None) -> None:
        """The strategy learns the result, then it is stored (with a snapshot when one is due)."""
        proposal, number = running.proposal, running.number
        result = self._with_objective_values(result)
        if self._failure is None:
            try:
                self._call_strategy("tell", proposal, result)
            except StrategyFailure as failure:
                self._failure = failure  # the result is still stored below: nothing is lost
        status = result.status
        if status is TrialStatus.RUNNING or (status is TrialStatus.COMPLETE and not result.ok):
            status = TrialStatus.FAILED  # a result without a score is no complete trial
        snapshot = self._state_if_due_after_tell()
        sequence = self.storage.record_tell(number, status, result.score, dict(result.metrics), result.error, snapshot)
        self._stored(sequence, snapshot)
        self._finished += 1
        self._infeasible_run = self._infeasible_run + 1 if status is TrialStatus.INFEASIBLE else 0
        if self.pruner is not None:
            curve = list(result.metrics.get("curve") or [])
            self.pruner.add(number, curve, running.continues, status is TrialStatus.COMPLETE)
        self._release(running, status)
        level = 1e308 if running.budget is None else float(running.budget)
        if result.ok and (self._best is None or (level, result.score) > self._best):
            self._best = (level, float(result.score))
            if weights is not None:
                self._save_weights(number, weights)
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


def _consecutive_deaths(history: list[tuple[int, str]]) -> int:
    """How many of the last attempts ended because the search died while they ran."""
    count = 0
    for _, reason in reversed(history):
        if reason != STOPPED_WHILE_RUNNING:
            break
        count += 1
    return count


def _killed_its_process(deaths: int) -> TrialResult:
    return TrialResult.failed(
        f"crashed: the search died {deaths} times in a row while this trial ran; it most likely kills the process "
        "that runs it (a crash in native code, or memory exhausted)"
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
    built = evaluator.build(best.candidate)
    built.compiled.module.load_state_dict(torch.load(path, weights_only=True))
    device = resolve_device(evaluator.device)
    built.compiled.module.to(device)
    splits = built.splits
    features, target = as_tensors(splits.test, splits.task, device, target_scaling(splits))
    score, loss = evaluate(built.compiled.module, features, target, splits.task)
    study.storage.set_meta({"test_score": score, "test_loss": loss, "test_trial": best.number, "model": str(path)})
    return score


def start_context(
    seed: int,
    trials: int,
    options: Any,
    evaluator: Evaluator,
    report: Callable[[str, Any], None],
    run_job: Callable[..., Any] | None = None,
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
        run_job=run_job,
    )
