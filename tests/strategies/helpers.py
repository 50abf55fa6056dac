"""Helpers for the strategy tests (contract v2): a tiny tree-shaped space, a toy objective and an ask/tell driver.

``tiny`` and ``TINY_SIZE`` are the conformance kit's (``automl.testing.strategies``), so the kit and these
tests search the same 75 candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from automl.space import Candidate, SearchSpace
from automl.strategies.base import Strategy, StrategyContext, TrialResult
from automl.testing.strategies import TINY_SIZE, tiny

__all__ = ["TINY_SIZE", "drive", "make_strategy", "strategy_classes", "tiny", "toy_objective"]


def toy_objective(candidate: Mapping[str, Any]) -> float:
    """Deterministic, maximal (1.0) only for two layers of 64 relu units."""
    if candidate["or.branch"] == "wide":
        return 0.3 + 0.1 * math.log2(candidate["or.wide.linear.units"] / 128)
    total = 0.0
    for index in range(candidate["or.deep.repeat.times"]):
        total += math.log2(candidate[f"or.deep.repeat.{index}.linear.units"]) / 6
        total += 0.5 if candidate[f"or.deep.repeat.{index}.activation.kind"] == "relu" else 0.0
    return total / 3


def strategy_classes() -> dict[str, type[Strategy]]:
    """The built-in strategies that need no data, by name."""
    from automl.strategies.mcts import MCTSStrategy
    from automl.strategies.random import RandomStrategy
    from automl.strategies.smbo import SMBOStrategy
    from automl.strategies.tpe import TPEStrategy

    return {cls.name: cls for cls in (RandomStrategy, MCTSStrategy, SMBOStrategy, TPEStrategy)}


def make_strategy(name: str, space: SearchSpace, seed: int = 0, trials: int = 30, **options: Any) -> Strategy:
    """A set-up strategy; ``options`` are given as a user would and validated by the strategy's ``Options``
    (an unknown or bad one raises ``StrategyOptionError``)."""
    strategy = strategy_classes()[name]()
    strategy.setup(space, StrategyContext(seed=seed, trials=trials, options=options))
    return strategy


def drive(
    strategy: Strategy, objective: Callable[[Candidate], float], trials: int, stop_at: float | None = None
) -> list[Candidate]:
    """Sequential ask/tell as the engine does it (numbered proposals, ``TrialResult.complete``); returns the
    candidates asked. Stops when the strategy has nothing more to propose, or early once the objective
    reaches ``stop_at``."""
    asked: list[Candidate] = []
    for number in range(trials):
        proposal = strategy.ask()
        if proposal is None:
            break
        proposal = proposal.numbered(number)
        asked.append(proposal.candidate)
        score = objective(proposal.candidate)
        strategy.tell(proposal, TrialResult.complete(score))
        if stop_at is not None and score >= stop_at - 1e-12:
            break
    return asked
