"""Multi-fidelity schedulers: wrap any strategy, decide each trial's budget and the promotions."""

from __future__ import annotations

from automl.schedulers.asha import ASHA
from automl.schedulers.base import Rung, Scheduler
from automl.schedulers.hyperband import Hyperband
from automl.schedulers.successive_halving import SuccessiveHalving
from automl.strategies.base import Strategy
from automl.strategies.fidelity import Fidelity

SCHEDULERS: dict[str, type[Scheduler]] = {
    "successive-halving": SuccessiveHalving,
    "hyperband": Hyperband,
    "asha": ASHA,
}


def scheduled(strategy: Strategy, fidelity: Fidelity | None) -> Strategy:
    """``strategy`` wrapped in the scheduler ``fidelity.schedule`` names, unless it schedules budgets itself."""
    if fidelity is None or fidelity.schedule is None or strategy.handles_schedule(fidelity.schedule):
        return strategy
    return SCHEDULERS[fidelity.schedule](strategy, fidelity)


__all__ = ["ASHA", "SCHEDULERS", "Hyperband", "Rung", "Scheduler", "SuccessiveHalving", "scheduled"]
