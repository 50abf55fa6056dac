"""What every multi-fidelity scheduler shares: it wraps a strategy and owns budgets and promotions.

The wrapped strategy (random, mcts, evolution, smbo, a plugin) proposes
candidates and is told, once per candidate, the result of the candidate's first
evaluation (at its bracket's lowest budget), so it learns as soon as possible
and keeps the one-tell-per-ask contract. A candidate the wrapped strategy
proposes again (random sampling does, on a small space) is not trained again
from scratch: the strategy is told the result of its first evaluation and asked
for another, ``DUPLICATE_ASKS`` times at most. The scheduler decides the budget of
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
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from automl.space import Candidate, SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext, TrialResult, TrialStatus
from automl.strategies.fidelity import Fidelity

DUPLICATE_ASKS = 64


@dataclass
class Rung:
    """The trials of one budget level of a bracket.

    ``ranked`` holds ``(-score, number)`` of the trials that finished with a
    score, best first, and ``waiting`` those of them not promoted yet; both are
    kept sorted on insertion, so finding the best trial that may be promoted
    costs a binary search however many trials the rung holds. ``candidates``
    holds the candidates of the waiting trials.
    """

    level: int  # index on the fidelity's ladder: its budget is ``fidelity.rung_budget(level)``
    quota: int | None = None  # trials this rung takes (synchronous brackets); None: any number (ASHA)
    started: int = 0
    finished: int = 0
    ranked: list[tuple[float, int]] = field(default_factory=list)
    waiting: list[tuple[float, int]] = field(default_factory=list)
    candidates: dict[int, Candidate] = field(default_factory=dict)

    def record(self, number: int, candidate: Candidate, score: float | None) -> None:
        self.finished += 1
        if score is not None:
            bisect.insort(self.ranked, (-score, number))
            bisect.insort(self.waiting, (-score, number))
            self.candidates[number] = candidate

    def best_waiting(self, limit: int) -> int | None:
        """The best trial not promoted yet, if it ranks among the rung's top ``limit`` (ASHA: 1/eta)."""
        if not self.waiting:
            return None
        best = self.waiting[0]
        return best[1] if bisect.bisect_left(self.ranked, best) < limit else None

    def promote_best(self) -> tuple[int, Candidate]:
        _, number = self.waiting.pop(0)
        return number, self.candidates.pop(number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "quota": self.quota,
            "started": self.started,
            "finished": self.finished,
            "ranked": [[score, number] for score, number in self.ranked],
            "waiting": [number for _, number in self.waiting],
            "candidates": {str(number): candidate.to_json() for number, candidate in self.candidates.items()},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Rung:
        ranked = [(float(score), int(number)) for score, number in state["ranked"]]
        waiting = set(state["waiting"])
        return cls(
            level=state["level"],
            quota=state["quota"],
            started=state["started"],
            finished=state["finished"],
            ranked=ranked,
            waiting=[item for item in ranked if item[1] in waiting],
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
        # digest of a candidate's key -> its first evaluation's outcome (None while in flight), and the
        # wrapped strategy's asks of it meanwhile, told with that outcome when it comes
        self.first_results: dict[str, dict[str, Any] | None] = {}
        self.shadows: dict[str, list[dict[str, Any]]] = {}

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        self.space = space
        self.context = context
        self.inner.setup(space, context)
        self.options = self.inner.options

    # ------------------------------------------------------------ proposals
    def _new_candidate(self, bracket: int, level: int) -> Proposal | None:
        """A candidate of the wrapped strategy not scheduled before, at ladder ``level``; None once it has no more.

        After ``DUPLICATE_ASKS`` repeats in a row the last one is trained again (a nearly used-up space).
        """
        for attempt in range(DUPLICATE_ASKS):
            if self.inner_exhausted:
                return None
            proposal = self.inner.ask()
            if proposal is None:
                self.inner_exhausted = True
                return None
            digest = _digest(proposal.candidate)
            inner = {"data": dict(proposal.data), "budget": proposal.budget}
            if digest in self.first_results and attempt < DUPLICATE_ASKS - 1:
                known = self.first_results[digest]
                if known is None:  # its first evaluation is in flight: tell this ask with it
                    self.shadows.setdefault(digest, []).append({**inner, "candidate": proposal.candidate.to_json()})
                else:
                    self.inner.tell(_inner_proposal(proposal.candidate, inner, known["number"]), _outcome(known))
                continue
            self.first_results.setdefault(digest, None)
            data = {"schedule": {"name": self.schedule, "bracket": bracket, "rung": level}, "inner": inner}
            return Proposal(proposal.candidate, self.fidelity.rung_budget(level), data)
        return None  # unreachable: the last attempt returns

    def _promotion(self, candidate: Candidate, parent: int, bracket: int, level: int) -> Proposal:
        """The candidate of trial ``parent`` again at ladder ``level``, continuing its training when it can."""
        continues = parent if self.fidelity.kind == "epochs" else None
        data = {"schedule": {"name": self.schedule, "bracket": bracket, "rung": level, "from": parent}}
        return Proposal(candidate, self.fidelity.rung_budget(level), data, continues=continues)

    # ----------------------------------------------------------------- tell
    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        inner = proposal.data.get("inner")
        if inner is not None:  # the candidate's first evaluation: the wrapped strategy learns of it now
            assert proposal.number is not None
            self.inner.tell(_inner_proposal(proposal.candidate, inner, proposal.number), result)
            digest = _digest(proposal.candidate)
            if self.first_results.get(digest) is None:
                known = {"number": proposal.number, "status": result.status.value, "score": result.score}
                self.first_results[digest] = {**known, "error": result.error}
                for shadow in self.shadows.pop(digest, []):
                    candidate = Candidate.from_json(shadow["candidate"])
                    self.inner.tell(_inner_proposal(candidate, shadow, proposal.number), result)
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
    def _common_state(self) -> dict[str, Any]:
        return {
            "inner": self.inner.state_dict() if self.inner.resume == "state" else None,
            "inner_exhausted": self.inner_exhausted,
            "first_results": self.first_results,
            "shadows": self.shadows,
        }

    def _load_common_state(self, state: dict[str, Any]) -> None:
        if state["inner"] is not None:
            self.inner.load_state_dict(state["inner"])
        self.inner_exhausted = bool(state["inner_exhausted"])
        self.first_results = dict(state["first_results"])
        self.shadows = {digest: list(asks) for digest, asks in state["shadows"].items()}


def _digest(candidate: Candidate) -> str:
    """A short, stable name of a candidate (its key can be long; the state holds one per candidate)."""
    return hashlib.blake2b(candidate.key.encode(), digest_size=10).hexdigest()


def _inner_proposal(candidate: Candidate, inner: dict[str, Any], number: int) -> Proposal:
    """The wrapped strategy's own proposal, as it made it, numbered like the trial that evaluated it."""
    return Proposal(candidate, inner.get("budget"), inner.get("data") or {}, number)


def _outcome(known: dict[str, Any]) -> TrialResult:
    return TrialResult(TrialStatus(known["status"]), known["score"], {}, known.get("error"))
