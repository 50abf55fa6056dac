"""SMAC through ask/tell: valid candidates of a conditional space, failures, asks in flight."""

from __future__ import annotations

import math

import pytest

from automl.strategies.base import StrategyOptionError, TrialResult
from search_spaces.mlp import mlp
from tests.strategies.helpers import make_strategy, toy_objective


def test_valid_candidates_of_a_conditional_space_and_failed_tells() -> None:
    strategy = make_strategy("smbo", mlp, seed=0, trials=12)
    keys = []
    for index in range(12):
        proposal = strategy.ask()
        candidate = proposal.candidate
        architecture = mlp.replay(candidate)  # raises if a decision is missing, extra or out of domain
        assert architecture.is_specified
        keys.append(candidate.key)
        if index % 3 == 0:
            strategy.tell(proposal, TrialResult("failed", error="diverged"))
        else:
            score = candidate["repeat.0.linear.units"] / 256
            strategy.tell(proposal, TrialResult("complete", score))
    assert len(set(keys)) == len(keys)
    assert strategy.worst_cost is not None and strategy._failure_cost() > strategy.worst_cost


def test_several_asks_in_flight(tiny_space) -> None:
    strategy = make_strategy("smbo", tiny_space, seed=1, trials=10, initial=3)
    first = [strategy.ask() for _ in range(4)]
    assert len({proposal.candidate.key for proposal in first}) == 4
    for proposal in reversed(first):  # told out of order
        strategy.tell(proposal, TrialResult("complete", toy_objective(proposal.candidate)))
    more = [strategy.ask() for _ in range(3)]
    seen = {proposal.candidate.key for proposal in first}
    assert all(proposal.candidate.key not in seen for proposal in more)
    strategy.tell(more[0], TrialResult("complete", math.nan))  # a NaN score is a failure
    assert strategy.resume == "replay"  # resume replays asks and tells
    assert not strategy.pending.get(more[0].candidate.key)


def test_rejects_bad_options(tiny_space) -> None:
    with pytest.raises(StrategyOptionError):
        make_strategy("smbo", tiny_space, initial=0)
    with pytest.raises(StrategyOptionError):
        make_strategy("smbo", tiny_space, n_trees=3)
