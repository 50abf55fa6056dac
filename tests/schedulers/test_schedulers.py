"""Schedulers decide budgets and promotions by the papers' rules, keep workers busy, and resume exactly."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from automl.schedulers import ASHA, Hyperband, SuccessiveHalving, scheduled
from automl.strategies.base import Fidelity, Proposal, Strategy, StrategyContext, TrialResult
from automl.strategies.random import RandomStrategy
from automl.testing.strategies import StrategyConformance, tiny


class Loop:
    """The engine's side of ask/tell in miniature: numbers proposals, keeps up to ``capacity`` in flight."""

    def __init__(self, scheduler: Strategy, score, capacity: int = 1, order: str = "fifo", seed: int = 0) -> None:
        self.scheduler, self.score, self.capacity, self.order = scheduler, score, capacity, order
        self.in_flight: list[Proposal] = []
        self.finished: list[tuple[Proposal, TrialResult]] = []
        self.number = 0
        self.rng = np.random.default_rng(seed)
        self.idle_while_possible = 0

    def fill(self) -> None:
        while len(self.in_flight) < self.capacity:
            proposal = self.scheduler.ask()
            if proposal is None:
                break
            self.in_flight.append(proposal.numbered(self.number))
            self.number += 1

    def step(self) -> bool:
        self.fill()
        if not self.in_flight:
            return False
        if len(self.in_flight) < self.capacity:
            self.idle_while_possible += 1
        index = 0 if self.order == "fifo" else int(self.rng.integers(len(self.in_flight)))
        proposal = self.in_flight.pop(index)
        result = self.score(proposal)
        self.scheduler.tell(proposal, result)
        self.finished.append((proposal, result))
        return True

    def run(self, trials: int) -> None:
        while len(self.finished) < trials and self.step():
            pass


FIDELITY = Fidelity("epochs", 1, 27, 3)


def make(scheduler_class, seed: int = 0, fidelity: Fidelity = FIDELITY, inner: Strategy | None = None):
    fidelity = Fidelity(fidelity.kind, fidelity.min_budget, fidelity.max_budget, fidelity.eta, scheduler_class.schedule)
    scheduler = scheduler_class(inner or RandomStrategy(), fidelity)
    scheduler.setup(tiny, StrategyContext(seed=seed, fidelity=fidelity))
    return scheduler


def by_candidate(proposal: Proposal) -> TrialResult:
    """A score fixed by the candidate (so a rung's order is known), growing with the budget."""
    value = (abs(hash(proposal.candidate.key)) % 10_007) / 10_007
    return TrialResult.complete(value + math.log(proposal.budget or 27))


def test_fidelity_ladder():
    assert FIDELITY.budgets() == [1, 3, 9, 27]
    assert Fidelity("epochs", 1, 20, 3).budgets() == [2, 7, 20]  # counted down from the full budget
    assert Fidelity("rows", 1 / 9, 1.0, 3).budgets() == pytest.approx([1 / 9, 1 / 3, 1.0])


def test_successive_halving_promotes_the_top_third_of_each_rung_in_order():
    scheduler = make(SuccessiveHalving)
    loop = Loop(scheduler, by_candidate)
    loop.run(27 + 9 + 3 + 1)
    budgets = [proposal.budget for proposal, _ in loop.finished]
    assert budgets == [1.0] * 27 + [3.0] * 9 + [9.0] * 3 + [27.0]
    for low, high in ((0, 27), (27, 36), (36, 39)):
        rung = loop.finished[low:high]
        ranked = sorted(rung, key=lambda item: (-item[1].score, item[0].number))
        keep = (high - low) // 3
        promoted = [proposal for proposal, _ in loop.finished[high : high + keep]]
        assert [proposal.continues for proposal in promoted] == [item[0].number for item in ranked[:keep]]
        assert all(p.candidate == q.candidate for p, (q, _) in zip(promoted, ranked[:keep], strict=True))
        assert all(p.data["schedule"]["from"] == p.continues for p in promoted)


def test_failed_and_pruned_trials_are_never_promoted_and_their_checkpoints_released():
    failing: set[int] = set()

    def score(proposal: Proposal) -> TrialResult:
        if proposal.number % 4 == 0 and proposal.budget == 1:
            failing.add(proposal.number)
            return TrialResult.failed("crashed")
        return by_candidate(proposal)

    scheduler = make(SuccessiveHalving)
    loop = Loop(scheduler, score)
    loop.run(27)
    released = scheduler.released()
    loop.run(27 + 9)
    promoted = {proposal.continues for proposal, _ in loop.finished[27:]}
    assert not promoted & failing
    assert len(promoted) == 9
    # every rung-0 trial with a score that was not promoted is released once; failed ones are the engine's
    scored = {proposal.number for proposal, result in loop.finished[:27] if result.ok}
    assert sorted(released) == sorted(scored - promoted)


def test_hyperband_brackets_follow_li_et_al():
    """Brackets s = 3, 2, 1, 0 for budgets 1..27, eta 3: n = ceil(4/(s+1) * 3**s) at 27/3**s, a third kept per rung."""
    scheduler = make(Hyperband)
    loop = Loop(scheduler, by_candidate)
    loop.run(40 + 17 + 8 + 4)
    counts = Counter((proposal.data["schedule"]["bracket"], proposal.budget) for proposal, _ in loop.finished)
    assert counts == {
        (0, 1.0): 27, (0, 3.0): 9, (0, 9.0): 3, (0, 27.0): 1,
        (1, 3.0): 12, (1, 9.0): 4, (1, 27.0): 1,
        (2, 9.0): 6, (2, 27.0): 2,
        (3, 27.0): 4,
    }  # fmt: skip
    fresh = [proposal for proposal, _ in loop.finished if "inner" in proposal.data]
    assert len(fresh) == 27 + 12 + 6 + 4  # each bracket's candidates come from the wrapped strategy


def test_asha_promotes_as_soon_as_a_rung_allows_it():
    scores = {0: 0.1, 1: 0.5, 2: 0.3, 4: 0.9, 5: 0.2}

    def score(proposal: Proposal) -> TrialResult:
        return TrialResult.complete(scores.get(proposal.number, 0.0) + proposal.budget)

    scheduler = make(ASHA)
    loop = Loop(scheduler, score)
    loop.run(3)
    assert all(proposal.budget == 1 for proposal, _ in loop.finished)
    proposal = scheduler.ask().numbered(3)  # 3 finished at rung 0: the best of them (trial 1) goes on at once
    assert (proposal.budget, proposal.continues) == (3.0, 1)
    scheduler.tell(proposal, score(proposal))
    following = [scheduler.ask().numbered(number) for number in (4, 5)]
    assert [item.budget for item in following] == [1.0, 1.0]  # trial 2 is not in the top third of three


@pytest.mark.parametrize("scheduler_class", [SuccessiveHalving, Hyperband, ASHA])
def test_two_workers_are_never_idle_while_work_is_possible(scheduler_class):
    """Synchronous brackets open a new bracket rather than wait at a barrier; ASHA never waits."""
    loop = Loop(make(scheduler_class), by_candidate, capacity=2, order="random")
    loop.run(300)
    assert len(loop.finished) == 300
    assert loop.idle_while_possible == 0


@pytest.mark.parametrize("scheduler_class", [SuccessiveHalving, Hyperband, ASHA])
def test_an_exhausted_strategy_ends_the_schedule_after_its_promotions(scheduler_class):
    """On a 75-candidate space the wrapped strategy runs dry; the brackets still finish what they started."""
    from automl.strategies.mcts import MCTSStrategy

    scheduler = make(scheduler_class, inner=MCTSStrategy())
    loop = Loop(scheduler, by_candidate, capacity=3, order="random")
    loop.run(10_000)
    first = [proposal for proposal, _ in loop.finished if "inner" in proposal.data]
    assert len({proposal.candidate.key for proposal in first}) == len(first) == 75
    assert scheduler.ask() is None
    if scheduler_class is not ASHA:
        assert not scheduler.brackets  # every bracket decided to its end


@pytest.mark.parametrize("scheduler_class", [SuccessiveHalving, Hyperband, ASHA])
def test_state_round_trip_continues_identically(scheduler_class):
    import json

    def run(split: int | None) -> list[tuple[str, float, int | None]]:
        scheduler = make(scheduler_class, seed=5)
        loop = Loop(scheduler, by_candidate, capacity=2, order="random", seed=1)
        loop.run(split or 120)
        if split is not None:
            state = json.loads(json.dumps(scheduler.state_dict()))
            restored = make(scheduler_class, seed=99)  # another seed: everything must come from the state
            restored.load_state_dict(state)
            loop.scheduler = restored
            loop.run(120)
        return [(p.candidate.key, p.budget, p.continues) for p, _ in loop.finished]

    assert run(57) == run(None)


def test_rows_fidelity_promotes_without_continuing():
    scheduler = make(Hyperband, fidelity=Fidelity("rows", 1 / 9, 1.0, 3))
    loop = Loop(scheduler, by_candidate)
    loop.run(20)
    promoted = [proposal for proposal, _ in loop.finished if "from" in proposal.data["schedule"]]
    assert promoted and all(proposal.continues is None for proposal in promoted)
    assert scheduler.released() == []  # nothing to keep: no checkpoints with rows


def test_scheduled_wraps_unless_the_strategy_schedules_itself():
    from automl.strategies.smbo import SMBOStrategy

    fidelity = Fidelity("epochs", 1, 9, 3, "hyperband")
    assert isinstance(scheduled(RandomStrategy(), fidelity), Hyperband)
    assert isinstance(scheduled(SMBOStrategy(), fidelity), SMBOStrategy)
    assert isinstance(scheduled(SMBOStrategy(), Fidelity("epochs", 1, 9, 3, "asha")), ASHA)
    assert isinstance(scheduled(RandomStrategy(), None), RandomStrategy)
    assert scheduled(RandomStrategy(), fidelity).name == "random+hyperband"


class _ScheduledConformance(StrategyConformance):
    """The strategy contract, on a scheduler wrapping a strategy: a candidate comes back at higher budgets."""

    strategy_class = RandomStrategy
    scheduler_class: type = Hyperband
    space_size = None
    distinct_in_flight = False
    fresh_processes = False

    def make_strategy(self, seed=None, space=None, options=None):
        fidelity = Fidelity("epochs", 1, 9, 3, self.scheduler_class.schedule)
        strategy = self.scheduler_class(self.strategy_class(), fidelity)
        context = self.context(seed, options)
        context.fidelity = fidelity
        strategy.setup(self.space if space is None else space, context)
        return strategy


class TestHyperbandConformance(_ScheduledConformance):
    scheduler_class = Hyperband


class TestASHAOnMCTSConformance(_ScheduledConformance):
    from automl.strategies.mcts import MCTSStrategy

    strategy_class = MCTSStrategy
    scheduler_class = ASHA


class Counting(RandomStrategy):
    """Random sampling that counts its asks and tells (the contract: every ask is told once)."""

    def setup(self, space, context):
        super().setup(space, context)
        self.asks, self.told = 0, []

    def ask(self):
        self.asks += 1
        return super().ask()

    def tell(self, proposal, result):
        self.told.append((proposal.candidate.key, result.score))


@pytest.mark.parametrize("scheduler_class", [Hyperband, ASHA])
def test_a_candidate_proposed_again_is_not_trained_again_and_every_ask_is_told(scheduler_class, monkeypatch):
    # tiny's branches are far from equally likely: rare candidates can take more than 64 draws to come up
    monkeypatch.setattr("automl.schedulers.base.DUPLICATE_ASKS", 10_000)
    inner = Counting()
    scheduler = make(scheduler_class, inner=inner)
    loop = Loop(scheduler, by_candidate, capacity=3, order="random")
    loop.run(60)  # random sampling of 75 candidates repeats itself soon
    while loop.in_flight:
        proposal = loop.in_flight.pop()
        scheduler.tell(proposal, by_candidate(proposal))
        loop.finished.append((proposal, by_candidate(proposal)))
    first = [proposal.candidate.key for proposal, _ in loop.finished if "inner" in proposal.data]
    assert len(set(first)) == len(first)
    assert inner.asks > len(first)  # repeats were asked, and skipped
    assert len(inner.told) == inner.asks
    first_score = {}
    for proposal, result in loop.finished:
        if "inner" in proposal.data:
            first_score.setdefault(proposal.candidate.key, result.score)
    assert all(score == first_score[key] for key, score in inner.told)  # a repeat learns the first evaluation's
