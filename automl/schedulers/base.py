"""What every multi-fidelity scheduler shares: it wraps a strategy and owns budgets and promotions.

The wrapped strategy (random, mcts, evolution, smbo, a plugin) proposes
candidates and is told, once per candidate, the result of the candidate's first
evaluation (at its bracket's lowest budget), so it learns as soon as possible
and keeps the one-tell-per-ask contract. The scheduler decides the budget of
each trial and which candidates are promoted to the next rung; a promotion is a
new trial of the same candidate at a higher budget that, with the epochs
fidelity, continues from the promoted trial's checkpoint (``Proposal.continues``).

A scheduler is itself a :class:`~automl.strategies.base.Strategy` to the
engine, so resume (snapshots of its state, replay of the asks and tells after
them) works as for any strategy; it resumes like the strategy it wraps
(``resume = "replay"`` for smbo).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, ClassVar

from automl.space import Candidate, SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext, TrialResult
from automl.strategies.fidelity import Fidelity


@dataclass
class Rung:
    """The trials of one budget level of a bracket.

    ``ranked`` holds ``(-score, number)`` of the trials that finished with a
    score, best first (kept sorted on insertion, so a ranking costs no sort);
    ``candidates`` those finished trials that may still be promoted.
    """

    level: int  # index on the fidelity's ladder: its budget is ``fidelity.rung_budget(level)``
    quota: int | None = None  # trials this rung takes (synchronous brackets); None: any number (ASHA)
    started: int = 0
    finished: int = 0
    ranked: list[tuple[float, int]] = field(default_factory=list)
    promoted: set[int] = field(default_factory=set)
    candidates: dict[int, Candidate] = field(default_factory=dict)

    def record(self, number: int, candidate: Candidate, score: float | None) -> None:
        self.finished += 1
        if score is not None:
            bisect.insort(self.ranked, (-score, number))
            self.candidates[number] = candidate

    def best_unpromoted(self, limit: int) -> int | None:
        """The best trial among the top ``limit`` that is not promoted yet (top 1/eta in ASHA)."""
        if len(self.promoted) >= limit:
            return None
        for _, number in self.ranked[:limit]:
            if number not in self.promoted:
                return number
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "quota": self.quota,
            "started": self.started,
            "finished": self.finished,
            "ranked": [[score, number] for score, number in self.ranked],
            "promoted": sorted(self.promoted),
            "candidates": {str(number): candidate.to_json() for number, candidate in self.candidates.items()},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Rung:
        return cls(
            level=state["level"],
            quota=state["quota"],
            started=state["started"],
            finished=state["finished"],
            ranked=[(float(score), int(number)) for score, number in state["ranked"]],
            promoted={int(number) for number in state["promoted"]},
            candidates={int(number): Candidate.from_json(text) for number, text in state["candidates"].items()},
        )


class Scheduler(Strategy):
    """Base of the schedulers: wraps ``inner``, decides budgets and promotions (subclasses: ``ask``)."""

    schedule: ClassVar[str] = ""

    def __init__(self, inner: Strategy, fidelity: Fidelity) -> None:
        self.inner = inner
        self.fidelity = fidelity
        self.name = f"{inner.name}+{self.schedule}"  # type: ignore[misc]  # per instance: names the pair
        self.resume = inner.resume  # type: ignore[misc]
        self.inner_exhausted = False
        self._released: list[int] = []

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        self.space = space
        self.context = context
        self.inner.setup(space, context)
        self.options = self.inner.options

    # ------------------------------------------------------------ proposals
    def _new_candidate(self, bracket: int, level: int) -> Proposal | None:
        """A fresh candidate of the wrapped strategy at ladder ``level``; None once it has no more."""
        if self.inner_exhausted:
            return None
        proposal = self.inner.ask()
        if proposal is None:
            self.inner_exhausted = True
            return None
        data = {
            "schedule": {"name": self.schedule, "bracket": bracket, "rung": level},
            "inner": {"data": dict(proposal.data), "budget": proposal.budget},
        }
        return Proposal(proposal.candidate, self.fidelity.rung_budget(level), data)

    def _promotion(self, candidate: Candidate, parent: int, bracket: int, level: int) -> Proposal:
        """The candidate of trial ``parent`` again at ladder ``level``, continuing its training when it can."""
        continues = parent if self.fidelity.kind == "epochs" else None
        data = {"schedule": {"name": self.schedule, "bracket": bracket, "rung": level, "from": parent}}
        return Proposal(candidate, self.fidelity.rung_budget(level), data, continues=continues)

    # ----------------------------------------------------------------- tell
    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        inner = proposal.data.get("inner")
        if inner is not None:  # the candidate's first evaluation: the wrapped strategy learns of it now
            asked = Proposal(proposal.candidate, inner.get("budget"), inner.get("data") or {}, proposal.number)
            self.inner.tell(asked, result)
        schedule = proposal.data["schedule"]
        assert proposal.number is not None
        score = result.score if result.ok else None
        self._record(int(schedule["bracket"]), int(schedule["rung"]), proposal.number, proposal.candidate, score)

    def _record(self, bracket: int, level: int, number: int, candidate: Candidate, score: float | None) -> None:
        raise NotImplementedError

    def released(self) -> list[int]:
        released, self._released = self._released, []
        return released

    # ---------------------------------------------------------------- state
    def _inner_state(self) -> Any:
        return self.inner.state_dict() if self.inner.resume == "state" else None

    def _load_inner_state(self, state: Any) -> None:
        if state is not None:
            self.inner.load_state_dict(state)
