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
    from automl.engine.evaluation import Evaluator


@dataclass
class Finished:
    number: int
    result: TrialResult
    weights: dict[str, Any] | None


class Runner(Protocol):
    capacity: int

    def submit(self, proposal: Proposal, seed: int) -> None: ...

    def wait(self) -> list[Finished]: ...

    def run_job(self, function: Callable[..., Any], *arguments: Any) -> Any: ...

    def close(self) -> None: ...


class InProcessRunner:
    """Runs each trial in the driver's own process, one at a time (the default)."""

    capacity = 1

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self._queue: deque[tuple[Proposal, int]] = deque()

    def submit(self, proposal: Proposal, seed: int) -> None:
        self._queue.append((proposal, seed))

    def wait(self) -> list[Finished]:
        proposal, seed = self._queue.popleft()
        assert proposal.number is not None
        result, weights = self.evaluator(proposal.candidate, seed, proposal.budget)
        return [Finished(proposal.number, result, weights)]

    def run_job(self, function: Callable[..., Any], *arguments: Any) -> Any:
        """Run ``function(*arguments)`` here under the per-trial time limit; any failure is :class:`JobFailed`."""
        from automl.engine.limits import time_limit

        try:
            with time_limit(self.evaluator.trial_seconds):
                return function(*arguments)
        except Exception as error:
            raise JobFailed(_job_failure(error)) from error

    def close(self) -> None:
        self._queue.clear()


def _job_failure(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
