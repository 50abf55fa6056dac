"""Helpers for the strategy tests: a tiny tree-shaped space, a toy objective and an ask/tell driver."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from automl import space as s
from automl.space import Candidate, SearchSpace
from automl.strategies.base import Strategy, StrategyContext, TrialResult


@s.search_space
def tiny(x: Any) -> Any:
    """75 candidates: 1-2 layers of (width, activation), or one wide layer."""

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([8, 16, 32, 64]))
        return s.op.activation(x, kind=s.Choice(["relu", "tanh"]))

    def deep(x: Any) -> Any:
        return s.Repeat(layer, times=s.Int(1, 2))(x)

    def wide(x: Any) -> Any:
        return s.op.linear(x, units=s.Choice([128, 256, 512]))

    x = s.Or({"deep": deep, "wide": wide})(x)
    return s.op.linear(x, units=s.OUTPUTS)


TINY_SIZE = 75


def toy_objective(candidate: Mapping[str, Any]) -> float:
    """Deterministic, maximal (1.0) only for two layers of 64 relu units."""
    if candidate["or.branch"] == "wide":
        return 0.3 + 0.1 * math.log2(candidate["or.wide.linear.units"] / 128)
    total = 0.0
    for index in range(candidate["or.deep.repeat.times"]):
        total += math.log2(candidate[f"or.deep.repeat.{index}.linear.units"]) / 6
        total += 0.5 if candidate[f"or.deep.repeat.{index}.activation.kind"] == "relu" else 0.0
    return total / 3


def make_strategy(name: str, space: SearchSpace, seed: int = 0, trials: int = 30, **options: Any) -> Strategy:
    from automl.strategies.mcts import MCTSStrategy
    from automl.strategies.random import RandomStrategy
    from automl.strategies.smbo import SMBOStrategy

    classes = {"random": RandomStrategy, "mcts": MCTSStrategy, "smbo": SMBOStrategy}
    strategy = classes[name]()
    strategy.setup(space, StrategyContext(seed=seed, trials=trials, options=options))
    return strategy


def drive(
    strategy: Strategy, objective: Callable[[Candidate], float], trials: int, stop_at: float | None = None
) -> list[Candidate]:
    """Sequential ask/tell; stops early once the objective reaches ``stop_at``."""
    asked: list[Candidate] = []
    for _ in range(trials):
        candidate = strategy.ask()
        if candidate is None:
            break
        asked.append(candidate)
        score = objective(candidate)
        strategy.tell(candidate, TrialResult("complete", score))
        if stop_at is not None and score >= stop_at - 1e-12:
            break
    return asked
