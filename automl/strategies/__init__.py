"""Search strategies: propose candidates and learn from results."""

from automl.strategies.base import (
    JobFailed,
    Proposal,
    Strategy,
    StrategyContext,
    StrategyOptionError,
    TrialResult,
    TrialStatus,
)
from automl.strategies.options import option


def builtin_strategies() -> list[type[Strategy]]:
    """The strategies shipped with automl (registered by the built-in plugin)."""
    from automl.strategies.darts import DartsPerturbationStrategy, DartsStrategy
    from automl.strategies.mcts import MCTSStrategy
    from automl.strategies.random import RandomStrategy
    from automl.strategies.smbo import SMBOStrategy
    from automl.strategies.tpe import TPEStrategy

    return [RandomStrategy, MCTSStrategy, SMBOStrategy, TPEStrategy, DartsStrategy, DartsPerturbationStrategy]


__all__ = [
    "JobFailed",
    "Proposal",
    "Strategy",
    "StrategyContext",
    "StrategyOptionError",
    "TrialResult",
    "TrialStatus",
    "builtin_strategies",
    "option",
]
