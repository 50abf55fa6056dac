"""Runners execute trials. The driver submits up to ``capacity`` trials and waits for any to finish.

A runner also runs *jobs*: a one-shot strategy's heavy phase (a supernet's
training), under the same limits as a trial, so it is bounded in time (and, on
Dask, in memory and off the driver's process) like any trial.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from automl.strategies.base import JobFailed, Proposal, TrialResult

if TYPE_CHECKING:  # kept out of import time: Dask workers import this module and should not need torch
    from automl.engine.evaluation import Evaluator, TrialPlan


@dataclass
class Finished:
    number: int
    result: TrialResult
    weights: dict[str, Any] | None


class Runner(Protocol):
    capacity: int

    def submit(self, proposal: Proposal, seed: int, plan: TrialPlan | None = None) -> None: ...

    def wait(self) -> list[Finished]: ...

    def run_job(self, function: Callable[..., Any], *arguments: Any) -> Any: ...

    def close(self) -> None: ...


class InProcessRunner:
    """Runs each trial in the driver's own process, one at a time (the default)."""

    capacity = 1

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self._queue: deque[tuple[Proposal, int, TrialPlan | None]] = deque()
        self.before_trial: Callable[[int], None] | None = None  # the driver marks the trial about to run

    def submit(self, proposal: Proposal, seed: int, plan: TrialPlan | None = None) -> None:
        self._queue.append((proposal, seed, plan))

    def wait(self) -> list[Finished]:
        proposal, seed, plan = self._queue.popleft()
        assert proposal.number is not None
        if self.before_trial is not None:
            self.before_trial(proposal.number)
        result, weights = self.evaluator(proposal.candidate, seed, plan)
        return [Finished(proposal.number, result, weights)]

    def run_job(self, function: Callable[..., Any], *arguments: Any) -> Any:
        """Run ``function(*arguments)`` in the driver's own process under the per-trial seconds; return its value.

        Unlike on Dask there is no memory limit and no isolation from a crash in native code, and the
        time limit is SIGALRM: it holds only when called from the main thread. Any exception becomes
        :class:`JobFailed` with the one-line reason a trial would get (``timed out: ...``, ``crashed: Type: ...``).
        """
        from automl.engine.limits import time_limit
        from automl.engine.resources import job_failure

        try:
            with time_limit(self.evaluator.trial_seconds):
                return function(*arguments)
        except Exception as error:
            raise JobFailed(job_failure(error)) from error

    def close(self) -> None:
        self._queue.clear()
