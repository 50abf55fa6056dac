"""smbo with a Hyperband / successive-halving fidelity: SMAC's own intensifier picks budgets and promotions (BOHB).

The strategy is driven as the engine drives it: proposals numbered in ask order, results told with a synthetic
score that depends on the candidate and the budget (more epochs, a better score; the same ranking at every budget).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from smac.runhistory.enumerations import StatusType

from automl.space import SearchSpace
from automl.strategies.base import Fidelity, Proposal, StrategyContext, TrialResult, TrialStatus
from automl.strategies.smbo import SMBOStrategy
from automl.testing.strategies import TINY_SIZE, StrategyConformance, stable_score, stored, tiny
from search_spaces.mlp import mlp

# fast settings, as the conformance kit's for smbo
FAST: dict[str, Any] = {"initial": 3, "challengers": 50, "local_searches": 1}
RUNGS = [1.0, 3.0, 9.0]


def fidelity(schedule: str = "hyperband", kind: str = "epochs") -> Fidelity:
    return Fidelity(kind=kind, min_budget=1, max_budget=9, eta=3, schedule=schedule)  # type: ignore[arg-type]


def make(
    schedule: str | None = "hyperband", seed: int = 0, space: SearchSpace = mlp, trials: int = 40, kind: str = "epochs"
) -> SMBOStrategy:
    strategy = SMBOStrategy()
    context_fidelity = None if schedule is None else fidelity(schedule, kind)
    strategy.setup(space, StrategyContext(seed=seed, trials=trials, options=dict(FAST), fidelity=context_fidelity))
    return strategy


def score(proposal: Proposal) -> float:
    """Higher with more epochs; candidates rank the same at every budget."""
    budget = 9.0 if proposal.budget is None else proposal.budget
    return stable_score(proposal.candidate) * budget / (budget + 1)


def run(strategy: SMBOStrategy, asks: int, result=None) -> list[tuple[Proposal, TrialResult]]:
    """Sequential ask/tell, numbered from 0 as the engine numbers trials."""
    history = []
    for number in range(asks):
        proposal = strategy.ask()
        assert proposal is not None
        proposal = proposal.numbered(number)
        told = TrialResult.complete(score(proposal)) if result is None else result(proposal)
        strategy.tell(proposal, told)
        history.append((proposal, told))
    return history


def sequence(history: list[tuple[Proposal, TrialResult]]) -> list[tuple[str, float | None]]:
    return [(proposal.candidate.key, proposal.budget) for proposal, _ in history]


def check_continues(history: list[tuple[Proposal, TrialResult]]) -> int:
    """Every ``continues`` points at an earlier complete trial of the same candidate at a lower budget, the one
    at the highest such budget; every proposal of a candidate completed at a lower budget continues one.
    Returns how many proposals continue an earlier trial."""
    by_number = {proposal.number: (proposal, told) for proposal, told in history}
    continued: set[int] = set()
    count = 0
    for index, (proposal, _) in enumerate(history):
        before = [
            earlier
            for earlier, told in history[:index]
            if earlier.candidate == proposal.candidate
            and told.status is TrialStatus.COMPLETE
            and earlier.budget < proposal.budget  # type: ignore[operator]
            and earlier.number not in continued
        ]
        if proposal.continues is None:
            assert not before, f"trial {proposal.number} could continue trial {before[-1].number}"
            continue
        count += 1
        parent, told = by_number[proposal.continues]
        assert parent.number < proposal.number  # type: ignore[operator]
        assert parent.candidate == proposal.candidate
        assert parent.budget < proposal.budget  # type: ignore[operator]
        assert told.status is TrialStatus.COMPLETE
        assert parent.budget == max(earlier.budget for earlier in before)  # type: ignore[type-var]
        assert proposal.continues not in continued, "a checkpoint is continued once (the engine then deletes it)"
        continued.add(proposal.continues)
    return count


def test_handles_its_own_schedules_only() -> None:
    assert SMBOStrategy.handles_schedule("hyperband")
    assert SMBOStrategy.handles_schedule("successive-halving")
    assert not SMBOStrategy.handles_schedule("asha")  # the engine wraps plain smbo in its ASHA


def test_hyperband_budgets_promotions_and_continues() -> None:
    strategy = make("hyperband", seed=0)
    history = run(strategy, 40)
    budgets = [proposal.budget for proposal, _ in history]
    assert set(budgets) <= set(RUNGS) and 9.0 in budgets  # the rungs only, and the full budget is reached
    for proposal, _ in history:
        data = proposal.data
        assert data["schedule"] == {"name": "smbo-hyperband", "rung": RUNGS.index(proposal.budget)}
        assert data["budget"] == pytest.approx(proposal.budget)  # SMAC's own budget, as asked
        assert json.loads(json.dumps(dict(data))) == dict(data)
    # Hyperband's first bracket is successive halving from the lowest rung: 9 configurations at 1 epoch, the best
    # 3 of them at 3 epochs, the best of those at 9, each continuing its trial at the rung below
    first, second, third = history[:9], history[9:12], history[12]
    assert [proposal.budget for proposal, _ in first] == [1.0] * 9
    assert [proposal.budget for proposal, _ in second] == [3.0] * 3
    assert third[0].budget == 9.0
    best = sorted(first, key=lambda item: item[1].score, reverse=True)[:3]  # type: ignore[arg-type, return-value]
    assert {proposal.candidate.key for proposal, _ in second} == {proposal.candidate.key for proposal, _ in best}
    for proposal, _ in second:
        parent = next(earlier for earlier, _ in first if earlier.candidate == proposal.candidate)
        assert proposal.continues == parent.number
    winner = max(second, key=lambda item: item[1].score)  # type: ignore[arg-type, return-value]
    assert third[0].candidate == winner[0].candidate and third[0].continues == winner[0].number
    assert check_continues(history) >= 4
    # the other brackets start higher: new configurations at 3 and 9 epochs, which continue nothing
    assert any(proposal.budget > 1 and proposal.continues is None for proposal, _ in history)
    # SMAC got each result for the trial it asked: nothing left running, one configuration per asked one
    runhistory = strategy.smac.runhistory
    assert runhistory.running == 0 and len(runhistory) == len(history)
    assert all(runhistory[key].status == StatusType.SUCCESS for key in runhistory)


def test_successive_halving_promotes_from_the_lowest_rung() -> None:
    strategy = make("successive-halving", seed=3)
    history = run(strategy, 26)  # two rounds of 9 + 3 + 1, with the forest choosing the second round's nine
    assert [proposal.budget for proposal, _ in history] == ([1.0] * 9 + [3.0] * 3 + [9.0]) * 2
    for index, (proposal, _) in enumerate(history):
        assert proposal.data["schedule"] == {"name": "smbo-successive-halving", "rung": RUNGS.index(proposal.budget)}
        if proposal.budget > 1:  # every one was proposed at the rung below first, and continues that trial
            parent = history[proposal.continues][0]  # type: ignore[index]
            assert parent.candidate == proposal.candidate and parent.budget == RUNGS[RUNGS.index(proposal.budget) - 1]
            assert parent.number < index  # type: ignore[operator]
    assert check_continues(history) == 8


def test_same_seed_same_proposals_other_seed_other_ones() -> None:
    first, again, other = (run(make("hyperband", seed=seed), 24) for seed in (5, 5, 6))
    assert sequence(first) == sequence(again)
    assert [(p.continues, dict(p.data)) for p, _ in first] == [(p.continues, dict(p.data)) for p, _ in again]
    assert sequence(first) != sequence(other)


def test_failed_and_pruned_trials_are_not_promoted_nor_continued() -> None:
    """A pruned trial is told to SMAC as stopped early (CRASHED, the failure cost), not as a success at a budget
    it did not reach: successive halving never promotes it, and no trial continues a failed or pruned one."""
    # the same seed proposes the same first nine whatever they score: rank them by the synthetic score
    reference = run(make("successive-halving", seed=1), 9)
    best = sorted(reference, key=lambda item: item[1].score, reverse=True)  # type: ignore[arg-type, return-value]
    rank = {proposal.candidate.key: index for index, (proposal, _) in enumerate(best)}

    def result(proposal: Proposal) -> TrialResult:
        """The best two of the first nine pruned (with a score), the third failed."""
        if proposal.number is not None and proposal.number < 9 and rank[proposal.candidate.key] < 3:
            if rank[proposal.candidate.key] < 2:
                return TrialResult(TrialStatus.PRUNED, score(proposal))
            return TrialResult.failed("diverged")
        return TrialResult.complete(score(proposal))

    strategy = make("successive-halving", seed=1)
    history = run(strategy, 13, result)
    assert sequence(history[:9]) == sequence(reference)
    promoted = [proposal for proposal, _ in history[9:12]]
    assert [proposal.budget for proposal in promoted] == [3.0] * 3
    assert {rank[proposal.candidate.key] for proposal in promoted} == {3, 4, 5}  # the best three that completed
    check_continues(history)
    statuses = [strategy.smac.runhistory[key].status for key in strategy.smac.runhistory]
    assert statuses.count(StatusType.CRASHED) == 3 and statuses.count(StatusType.SUCCESS) == 10


def test_replay_proposes_the_same_budgets_and_continues() -> None:
    """Resume replays every ask and tell (``resume = "replay"``) with the proposals as stored: the replayed
    strategy proposes the same candidates at the same budgets, continuing the same trials."""
    reference = run(make("hyperband", seed=4, space=tiny), 30)
    resumed = make("hyperband", seed=4, space=tiny)
    for proposal, told in reference[:20]:
        again = resumed.ask()
        assert again is not None
        assert (again.candidate, again.budget, again.continues, dict(again.data)) == (
            proposal.candidate,
            proposal.budget,
            proposal.continues,
            dict(proposal.data),
        )
        resumed.tell(stored(proposal), told)
    for proposal, told in reference[20:]:
        again = resumed.ask()
        assert again is not None
        assert (again.candidate, again.budget, again.continues) == (
            proposal.candidate,
            proposal.budget,
            proposal.continues,
        )
        resumed.tell(again.numbered(proposal.number), told)  # type: ignore[arg-type]


def test_asks_in_flight_and_stored_proposals() -> None:
    """Several asks before their tells, told out of order and through JSON (as after a resume)."""
    strategy = make("hyperband", seed=2, space=tiny)
    asked: list[Proposal] = []
    for _ in range(4):
        batch = [strategy.ask() for _ in range(5)]
        assert all(batch)
        numbered = [proposal.numbered(len(asked) + index) for index, proposal in enumerate(batch)]  # type: ignore[union-attr]
        asked.extend(numbered)
        in_flight = [(proposal.candidate.key, proposal.budget) for proposal in numbered]
        assert len(set(in_flight)) == len(in_flight)  # never the same candidate at the same budget twice in flight
        for proposal in reversed(numbered):
            strategy.tell(stored(proposal), TrialResult.complete(score(proposal)))
    assert {proposal.budget for proposal in asked} <= set(RUNGS)
    assert strategy.smac.runhistory.running == 0
    assert not strategy.pending


def test_rows_fidelity_continues_nothing() -> None:
    history = run(make("successive-halving", kind="rows"), 13)
    assert [proposal.budget for proposal, _ in history] == [1.0] * 9 + [3.0] * 3 + [9.0]
    assert all(proposal.continues is None for proposal, _ in history)


def test_a_small_space_is_used_up_at_the_full_budget() -> None:
    """Once SMAC proposes nothing new (its brackets end with it), the rest of a finite space is proposed at the
    full budget, told to SMAC at its full budget, and ``ask`` returns None only when every candidate was proposed."""
    strategy = make("successive-halving", seed=0, space=tiny, trials=40)
    history: list[tuple[Proposal, TrialResult]] = []
    while (proposal := strategy.ask()) is not None:
        assert len(history) < 400
        proposal = proposal.numbered(len(history))
        told = TrialResult.complete(score(proposal))
        strategy.tell(stored(proposal), told)
        history.append((proposal, told))
    assert strategy.exhausted
    fallbacks = [proposal for proposal, _ in history if proposal.data.get("fallback")]
    assert fallbacks and all(proposal.budget == 9.0 and proposal.continues is None for proposal in fallbacks)
    assert all(proposal.data["schedule"]["rung"] == 2 for proposal in fallbacks)
    assert len({proposal.candidate.key for proposal, _ in history}) == TINY_SIZE
    assert strategy.smac.runhistory.running == 0


@pytest.mark.parametrize("schedule", [None, "asha"])
def test_plain_smbo_proposes_the_full_budget(schedule: str | None) -> None:
    """Without a fidelity, or with one the engine schedules itself (ASHA), smbo proposes full-budget candidates."""
    strategy = make(schedule, seed=0, space=tiny, trials=12)
    assert strategy.fidelity is None
    history = run(strategy, 8)
    for proposal, _ in history:
        assert proposal.budget is None and proposal.continues is None
        assert set(proposal.data) == {"configuration", "seed"}
    assert len({proposal.candidate.key for proposal, _ in history}) == len(history)


class TestSMBOHyperbandConformance(StrategyConformance):
    """The conformance kit on smbo in Hyperband mode (resume by replay, asks in flight, every status, JSON data).

    The kit counts candidates, not (candidate, budget) pairs: in this mode a candidate comes back at higher
    budgets on purpose, so the exhaustion test (every candidate once) does not apply, and a candidate may be in
    flight at two budgets at once. Hyperband's brackets draw their configurations independently, a whole batch
    at a time, and before the forest has data SMAC samples them at random without checking what was drawn
    (``ConfigSelector.__iter__``), so a later bracket can start a configuration that an earlier one is still
    training at a lower budget. Never twice at the same budget: ``test_asks_in_flight_and_stored_proposals``.
    """

    strategy_class = SMBOStrategy
    options: ClassVar[dict[str, Any]] = FAST
    trials = 20
    steps = 10
    rounds = 2
    space_size = None
    distinct_in_flight = False

    def context(self, seed: int | None = None, options: Any = None) -> StrategyContext:
        context = super().context(seed, options)
        context.fidelity = fidelity("hyperband")
        return context
