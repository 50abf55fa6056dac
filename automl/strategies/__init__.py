"""Search strategies: propose candidates and learn from results."""

from automl.strategies.base import Strategy, StrategyContext, StrategyOptionError, TrialResult


def builtin_strategies() -> list[type[Strategy]]:
    """The strategies shipped with automl (registered by the built-in plugin)."""
    from automl.strategies.darts import DartsPerturbationStrategy, DartsStrategy
    from automl.strategies.mcts import MCTSStrategy
    from automl.strategies.random import RandomStrategy
    from automl.strategies.smbo import SMBOStrategy

    return [RandomStrategy, MCTSStrategy, SMBOStrategy, DartsStrategy, DartsPerturbationStrategy]


__all__ = ["Strategy", "StrategyContext", "StrategyOptionError", "TrialResult", "builtin_strategies"]
