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
        candidate = strategy.ask()
        architecture = mlp.replay(candidate)  # raises if a decision is missing, extra or out of domain
        assert architecture.is_specified
        keys.append(candidate.key)
        if index % 3 == 0:
            strategy.tell(candidate, TrialResult("failed", error="diverged"))
        else:
            score = candidate["repeat.0.linear.units"] / 256
            strategy.tell(candidate, TrialResult("complete", score))
    assert len(set(keys)) == len(keys)
    assert strategy.worst_cost is not None and strategy._failure_cost() > strategy.worst_cost


def test_several_asks_in_flight(tiny_space) -> None:
    strategy = make_strategy("smbo", tiny_space, seed=1, trials=10, initial=3)
    first = [strategy.ask() for _ in range(4)]
    assert len({candidate.key for candidate in first}) == 4
    for candidate in reversed(first):  # told out of order
        strategy.tell(candidate, TrialResult("complete", toy_objective(candidate)))
    more = [strategy.ask() for _ in range(3)]
    seen = {candidate.key for candidate in first}
    assert all(candidate.key not in seen for candidate in more)
    strategy.tell(more[0], TrialResult("complete", math.nan))  # a NaN score is a failure
    assert strategy.state_dict() is None  # resume replays asks and tells


def test_rejects_bad_options(tiny_space) -> None:
    with pytest.raises(StrategyOptionError):
        make_strategy("smbo", tiny_space, initial=0)
    with pytest.raises(StrategyOptionError):
        make_strategy("smbo", tiny_space, n_trees=3)
