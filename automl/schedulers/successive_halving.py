"""Synchronous successive halving: brackets of rungs with a barrier at each rung.

Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and
Hyperparameter Optimization", AISTATS 2016; Li et al., "Hyperband", JMLR 2018
(the bracket as its inner loop). A bracket starts ``n`` candidates at its
lowest budget; when every trial of a rung has finished, the top ``1/eta`` (best
score first, ties by trial number; failed and pruned trials never) are promoted
to the next rung, ``eta`` times the budget, up to the full budget. The others
can no longer be promoted: their checkpoints are released.

While every open bracket waits at a barrier, a worker that asks for work starts
a new bracket, so parallel workers are never idle for a barrier; brackets are
served oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automl.schedulers.base import Rung, Scheduler
from automl.space import SearchSpace
from automl.strategies.base import Proposal, StrategyContext


@dataclass
class Bracket:
    index: int
    rungs: list[Rung]  # rung i is ladder level ``rungs[0].level + i``; quotas fixed when it opens
    queue: list[tuple[int, int]] = field(default_factory=list)  # (trial to promote, position of its next rung)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "rungs": [rung.to_dict() for rung in self.rungs],
            "queue": [list(item) for item in self.queue],
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Bracket:
        return cls(
            index=state["index"],
            rungs=[Rung.from_dict(rung) for rung in state["rungs"]],
            queue=[(int(number), int(position)) for number, position in state["queue"]],
        )


class SuccessiveHalving(Scheduler):
    """Every bracket the same: ``eta ** top`` candidates at ``min_budget``, one reaches ``max_budget``."""

    schedule = "successive-halving"

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.opened = 0
        self.brackets: list[Bracket] = []  # open ones, oldest first

    def bracket_plan(self, index: int) -> tuple[int, list[int]]:
        """(ladder level of the bracket's first rung, how many trials each of its rungs takes)."""
        eta, top = self.fidelity.eta, self.fidelity.top_rung
        first = eta**top
        return 0, [first // eta**position for position in range(top + 1)]

    # ------------------------------------------------------------------ ask
    def ask(self) -> Proposal | None:
        while True:
            exhausted_before = self.inner_exhausted
            for bracket in self.brackets:
                proposal = self._next_in(bracket)
                if proposal is not None:
                    return proposal
                if self.inner_exhausted and not exhausted_before:
                    break  # the wrapped strategy just ran out: rungs were closed, look again from the oldest
            else:
                if self.inner_exhausted:
                    return None
                self._open_bracket()
                continue
            self._close_first_rungs()

    def _next_in(self, bracket: Bracket) -> Proposal | None:
        if bracket.queue:
            parent, position = bracket.queue.pop(0)
            below, rung = bracket.rungs[position - 1], bracket.rungs[position]
            rung.started += 1
            return self._promotion(below.candidates.pop(parent), parent, bracket.index, rung.level)
        first = bracket.rungs[0]
        if first.quota is not None and first.started < first.quota:
            proposal = self._new_candidate(bracket.index, first.level)
            if proposal is not None:
                first.started += 1
            return proposal
        return None

    def _open_bracket(self) -> None:
        level, quotas = self.bracket_plan(self.opened)
        rungs = [Rung(level + position, quota) for position, quota in enumerate(quotas)]
        self.brackets.append(Bracket(self.opened, rungs))
        self.opened += 1

    def _close_first_rungs(self) -> None:
        """The wrapped strategy has no more candidates: first rungs take what they started, and may decide."""
        for bracket in list(self.brackets):
            bracket.rungs[0].quota = bracket.rungs[0].started
            self._decide(bracket, 0)

    # ----------------------------------------------------------------- tell
    def _record(self, bracket_index: int, level: int, number: int, candidate: Any, score: float | None) -> None:
        bracket = next((item for item in self.brackets if item.index == bracket_index), None)
        if bracket is None:  # a trial of a bracket already decided (cannot happen in one consistent study)
            return
        position = level - bracket.rungs[0].level
        bracket.rungs[position].record(number, candidate, score)
        self._decide(bracket, position)

    def _decide(self, bracket: Bracket, position: int) -> None:
        """At a rung's barrier, promote its top 1/eta (as many as the next rung takes) and release the rest."""
        rung = bracket.rungs[position]
        if rung.quota is None or rung.finished < rung.quota:
            return
        if position == len(bracket.rungs) - 1:
            self.brackets.remove(bracket)  # the full budget was reached: the bracket is done
            return
        following = bracket.rungs[position + 1]
        winners = [number for _, number in rung.ranked[: following.quota]]
        following.quota = len(winners)
        bracket.queue.extend((number, position + 1) for number in winners)  # their candidates stay until asked
        rung.waiting.clear()
        losers = [number for number in rung.candidates if number not in set(winners)]
        for number in losers:
            del rung.candidates[number]
        if self.fidelity.kind == "epochs":
            self._released.extend(sorted(losers))
        if not winners:
            self.brackets.remove(bracket)  # nothing finished with a score: the bracket ends here

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            **self._common_state(),
            "opened": self.opened,
            "brackets": [bracket.to_dict() for bracket in self.brackets],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._load_common_state(state)
        self.opened = int(state["opened"])
        self.brackets = [Bracket.from_dict(bracket) for bracket in state["brackets"]]
