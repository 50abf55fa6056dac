"""UCT over the decision tree: visit counts, virtual loss, exhaustion, failures, resume."""

from __future__ import annotations

import json

import pytest

from automl.strategies.base import StrategyContext, StrategyOptionError, TrialResult
from automl.strategies.mcts import MCTSStrategy
from search_spaces.mlp import mlp
from tests.strategies.helpers import TINY_SIZE, drive, make_strategy, toy_objective


def _check_counts(strategy: MCTSStrategy) -> None:
    for node in strategy.nodes:
        children = [strategy.nodes[child] for child in node.children.values()]
        assert node.visits >= sum(child.visits for child in children)
        assert node.pending >= sum(child.pending for child in children)
        assert node.completed <= node.visits
        assert node.pending >= 0


def test_visit_counts_add_up(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=0)
    asked = drive(strategy, toy_objective, 40)
    assert len({candidate.key for candidate in asked}) == len(asked)  # no duplicates while the tree has more
    root = strategy.root
    assert root.pending == 0
    # every tell reaches the root once, plus free visits of duplicates met by rollouts
    assert root.visits >= len(asked)
    # each ask stores at least the root's child on its path: the root's children carry the root's visits
    assert sum(child.visits for child in strategy.children_of(root).values()) == root.visits
    _check_counts(strategy)
    assert set(strategy.children_of(root)) == {'"deep"', '"wide"'}


def test_virtual_loss_spreads_parallel_asks(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=0)
    drive(strategy, toy_objective, 10)
    in_flight = [strategy.ask() for _ in range(8)]
    assert len({candidate.key for candidate in in_flight}) == 8
    assert strategy.root.pending == 8
    _check_counts(strategy)
    visits = strategy.root.visits
    for candidate in in_flight:
        strategy.tell(candidate, TrialResult("complete", toy_objective(candidate)))
    assert strategy.root.pending == 0
    assert strategy.root.visits == visits + 8
    _check_counts(strategy)


def test_failed_trials_count_as_worst(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=0)
    for index in range(20):
        candidate = strategy.ask()
        failed = candidate["or.branch"] == "wide"
        result = TrialResult("failed", error="boom") if failed else TrialResult("complete", 0.2 + 0.01 * index)
        strategy.tell(candidate, result)
    children = strategy.children_of(strategy.root)
    wide, deep = children['"wide"'], children['"deep"']
    assert wide.completed == 0 and wide.visits > 0
    assert strategy._mean(wide) == 0.0
    assert strategy._mean(deep) > 0.0


def test_exhausts_a_finite_space_without_repeats(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=2)
    asked = drive(strategy, toy_objective, TINY_SIZE + 10)
    assert len(asked) == TINY_SIZE
    assert len({candidate.key for candidate in asked}) == TINY_SIZE
    assert strategy.root.exhausted
    assert strategy.ask() is None


def test_state_dict_round_trip_continues_identically(tiny_space) -> None:
    uninterrupted = make_strategy("mcts", tiny_space, seed=5)
    reference = [candidate.key for candidate in drive(uninterrupted, toy_objective, 40)]

    first = make_strategy("mcts", tiny_space, seed=5)
    keys = [candidate.key for candidate in drive(first, toy_objective, 15)]
    pending = first.ask()  # resume with an ask in flight, told after the restart
    state = json.loads(json.dumps(first.state_dict()))

    resumed = MCTSStrategy()
    resumed.setup(tiny_space, StrategyContext(seed=999))  # the state, not the seed, decides what follows
    resumed.load_state_dict(state)
    resumed.tell(pending, TrialResult("complete", toy_objective(pending)))
    keys.append(pending.key)
    keys += [candidate.key for candidate in drive(resumed, toy_objective, 24)]
    assert keys == reference
    assert resumed.state_dict() == json.loads(json.dumps(uninterrupted.state_dict()))


def test_binning_of_continuous_ranges() -> None:
    strategy = make_strategy("mcts", mlp, seed=0, bins=3)
    drive(strategy, lambda candidate: float(len(candidate)), 60)
    for node in strategy.nodes:
        if node.decision is not None and node.decision.endswith("dropout.p"):
            assert node.values is not None and len(node.values) == 3
    assert strategy.binned
    json.dumps(strategy.state_dict())


def test_rejects_unknown_options(tiny_space) -> None:
    with pytest.raises(StrategyOptionError, match="exploraton"):
        make_strategy("mcts", tiny_space, exploraton=1.0)
    with pytest.raises(StrategyOptionError):
        make_strategy("mcts", tiny_space, bins=1)


def test_candidate_not_asked_is_credited(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=0)
    drive(strategy, toy_objective, 10)
    enqueued = tiny_space.sample_candidate(__import__("numpy").random.default_rng(7))
    visits = strategy.root.visits
    strategy.tell(enqueued, TrialResult("complete", toy_objective(enqueued)))
    assert strategy.root.visits == visits + 1
    _check_counts(strategy)
