"""Asynchronous successive halving (ASHA).

Li, Jamieson, Rostamizadeh, Gonina, Ben-tzur, Hardt, Recht & Talwalkar, "A
System for Massively Parallel Hyperparameter Tuning", MLSys 2020, Algorithm 2:
whenever a worker is free, promote the best trial of the highest rung that is
in the top ``1/eta`` of that rung's finished trials and not promoted yet;
otherwise start a new candidate at the lowest budget. No rung ever waits for
the rest of its trials, so every worker stays busy while a promotion or a new
candidate is possible. A promoted trial continues from its checkpoint.
"""

from __future__ import annotations

from typing import Any

from automl.schedulers.base import Rung, Scheduler
from automl.space import SearchSpace
from automl.strategies.base import Proposal, StrategyContext


class ASHA(Scheduler):
    """One ladder from ``min_budget`` to ``max_budget``; promotions whenever a rung's top 1/eta allows."""

    schedule = "asha"

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.rungs = [Rung(level) for level in range(self.fidelity.top_rung + 1)]

    def ask(self) -> Proposal | None:
        eta = self.fidelity.eta
        for level in range(len(self.rungs) - 2, -1, -1):
            rung = self.rungs[level]
            if rung.best_waiting(rung.finished // eta) is not None:
                parent, candidate = rung.promote_best()
                self.rungs[level + 1].started += 1
                return self._promotion(candidate, parent, 0, level + 1)
        proposal = self._new_candidate(0, 0)
        if proposal is not None:
            self.rungs[0].started += 1
        return proposal

    def _record(self, bracket: int, level: int, number: int, candidate: Any, score: float | None) -> None:
        rung = self.rungs[level]
        if level == len(self.rungs) - 1:
            rung.finished += 1  # the full budget: nothing to promote to, nothing to keep
        else:
            rung.record(number, candidate, score)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._common_state(),
            "rungs": [rung.to_dict() for rung in self.rungs],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._load_common_state(state)
        self.rungs = [Rung.from_dict(rung) for rung in state["rungs"]]
