"""Runners execute trials. The driver submits up to ``capacity`` trials and waits for any to finish."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from automl.space import Candidate
from automl.strategies.base import TrialResult

if TYPE_CHECKING:  # kept out of import time: Dask workers import this module and should not need torch
    from automl.engine.evaluation import Evaluator


@dataclass
class Finished:
    number: int
    result: TrialResult
    weights: dict[str, Any] | None


class Runner(Protocol):
    capacity: int

    def submit(self, number: int, candidate: Candidate, seed: int) -> None: ...

    def wait(self) -> list[Finished]: ...

    def close(self) -> None: ...


class InProcessRunner:
    """Runs each trial in the driver's own process, one at a time (the default)."""

    capacity = 1

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self._queue: deque[tuple[int, Candidate, int]] = deque()

    def submit(self, number: int, candidate: Candidate, seed: int) -> None:
        self._queue.append((number, candidate, seed))

    def wait(self) -> list[Finished]:
        number, candidate, seed = self._queue.popleft()
        result, weights = self.evaluator(candidate, seed)
        return [Finished(number, result, weights)]

    def close(self) -> None:
        self._queue.clear()
