"""The fidelity of a search: what a budget measures, its range, and the rungs between.

A budget below the full one is a cheaper, noisier estimate of a candidate's
score: fewer epochs (``epochs``, the default) or a fraction of the training
rows (``rows``; a budget ``b`` trains on ``b / max_budget`` of them). Schedulers
(``automl.schedulers``) place candidates on rungs ``min_budget * eta**k``, the
geometric ladder of successive halving (Jamieson & Talwalkar, AISTATS 2016;
Li et al., "Hyperband", JMLR 2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

FIDELITIES = ("epochs", "rows")
SCHEDULES = ("successive-halving", "hyperband", "asha")


@dataclass(frozen=True)
class Fidelity:
    """What a budget measures and the ladder of budgets a schedule uses."""

    kind: Literal["epochs", "rows"] = "epochs"
    min_budget: float = 1.0
    max_budget: float = 27.0
    eta: int = 3
    schedule: str | None = None  # one of SCHEDULES, or None: every candidate at the full budget

    def __post_init__(self) -> None:
        problems = fidelity_problems(self.kind, self.min_budget, self.max_budget, self.eta, self.schedule)
        if problems:
            raise ValueError(problems[0])

    @property
    def top_rung(self) -> int:
        """The index of the full budget: rungs are 0 .. top_rung."""
        ratio = self.max_budget / self.min_budget
        return int(math.floor(math.log(ratio, self.eta) + 1e-9))

    def rung_budget(self, rung: int) -> float:
        """The budget of ``rung`` counted up from the bottom; the top rung is the full budget.

        Counted down from ``max_budget`` so the last rung is exactly the full
        budget; epochs are whole numbers.
        """
        budget = self.max_budget * float(self.eta) ** -(self.top_rung - rung)
        return float(max(1, round(budget))) if self.kind == "epochs" else budget

    def budgets(self) -> list[float]:
        return [self.rung_budget(rung) for rung in range(self.top_rung + 1)]

    def cost(self, budget: float | None, previous: float | None = None) -> float:
        """The share of one full training that training from ``previous`` up to ``budget`` costs."""
        budget = self.max_budget if budget is None else budget
        return max(0.0, budget - (previous or 0.0)) / self.max_budget

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "min_budget": self.min_budget,
            "max_budget": self.max_budget,
            "eta": self.eta,
            "schedule": self.schedule,
        }


def fidelity_problems(
    kind: str, min_budget: float | None, max_budget: float | None, eta: float, schedule: str | None
) -> list[str]:
    """What is wrong with a fidelity's settings, one line each with the fix (empty when valid)."""
    problems = []
    if kind not in FIDELITIES:
        problems.append(f"fidelity {kind!r} is not one of {', '.join(FIDELITIES)}")
    if schedule is not None and schedule not in SCHEDULES:
        problems.append(f"multi-fidelity schedule {schedule!r} is not one of {', '.join(SCHEDULES)}")
    if min_budget is not None and not min_budget > 0:
        problems.append(f"min budget must be > 0, got {min_budget:g}")
    if min_budget is not None and max_budget is not None and min_budget >= max_budget:
        problems.append(
            f"min budget {min_budget:g} must be below max budget {max_budget:g} (e.g. --min-budget 1 --max-budget 27)"
        )
    if not (isinstance(eta, int) or float(eta).is_integer()) or eta < 2:
        problems.append(f"eta must be a whole number of at least 2 (the factor between rungs), got {eta:g}")
    elif min_budget is not None and max_budget is not None and min_budget < max_budget < min_budget * eta:
        problems.append(
            f"max budget {max_budget:g} is less than eta ({eta:g}) times min budget {min_budget:g}: "
            "there is only one rung; lower --min-budget or --eta"
        )
    return problems
