"""The strategy contract: propose candidates, learn from their results.

``setup(space, context)`` once, then any interleaving of ``ask()`` and
``tell(candidate, result)``: several asks may be in flight before their tells
(parallel workers), and failed trials are told too. Scores are always to be
maximised; the engine flips the sign for minimised objectives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from automl.space import Candidate, SearchSpace


@dataclass(frozen=True)
class TrialResult:
    """What a strategy learns about a candidate it asked for."""

    status: str  # "complete" or "failed"
    score: float | None = None  # higher is better; None when failed
    metrics: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "complete" and self.score is not None


@dataclass
class StrategyContext:
    """What a strategy may use besides the space.

    One-shot strategies (DARTS-PT) also get the data and a function that
    trains, so they can train their supernet inside ``setup``/``ask``.
    """

    seed: int = 0
    trials: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    data: Any = None
    training: Any = None
    device: str = "cpu"
    op_registry: Any = None
    report: Callable[[str, Any], None] | None = None  # store extra results (alphas, scores) with the study

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])


class Strategy:
    """Base class of search strategies; subclasses set ``name`` and ``description``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        self.space = space
        self.context = context

    def ask(self) -> Candidate | None:
        """The next candidate, or None when the strategy has nothing more to propose."""
        raise NotImplementedError

    def tell(self, candidate: Candidate, result: TrialResult) -> None:
        """Learn from a finished (or failed) trial of a candidate this strategy asked for."""

    def state_dict(self) -> dict[str, Any] | None:
        """JSON-able state to resume from; None means 'replay my asks and tells instead'."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


class StrategyOptionError(ValueError):
    """A strategy was given an option it does not know or a bad value."""


def option(options: Mapping[str, Any], name: str, default: Any, kind: type = float) -> Any:
    """Read one strategy option with a clear error for a bad value."""
    if name not in options:
        return default
    value = options[name]
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise StrategyOptionError(f"strategy option {name}={value!r} must be a {kind.__name__}") from None
