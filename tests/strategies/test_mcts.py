"""UCT over the decision tree: visit counts, virtual loss, exhaustion, failures, resume."""

from __future__ import annotations

import json

import pytest

from automl.strategies.base import Proposal, StrategyContext, StrategyOptionError, TrialResult
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
    assert len({proposal.candidate.key for proposal in in_flight}) == 8
    assert strategy.root.pending == 8
    _check_counts(strategy)
    visits = strategy.root.visits
    for proposal in in_flight:
        strategy.tell(proposal, TrialResult("complete", toy_objective(proposal.candidate)))
    assert strategy.root.pending == 0
    assert strategy.root.visits == visits + 8
    _check_counts(strategy)


def test_failed_trials_count_as_worst(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=0)
    for index in range(20):
        proposal = strategy.ask()
        failed = proposal.candidate["or.branch"] == "wide"
        result = TrialResult("failed", error="boom") if failed else TrialResult("complete", 0.2 + 0.01 * index)
        strategy.tell(proposal, result)
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
    stored = json.loads(json.dumps(dict(pending.data)))  # the engine stores a proposal's data with the trial

    resumed = MCTSStrategy()
    resumed.setup(tiny_space, StrategyContext(seed=999))  # the state, not the seed, decides what follows
    resumed.load_state_dict(state)
    resumed.tell(Proposal(pending.candidate, data=stored), TrialResult("complete", toy_objective(pending.candidate)))
    keys.append(pending.candidate.key)
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
    strategy.tell(Proposal(enqueued), TrialResult("complete", toy_objective(enqueued)))
    assert strategy.root.visits == visits + 1
    _check_counts(strategy)


def test_rank_normalisation_ignores_the_scale_of_an_outlier(tiny_space) -> None:
    """One diverged score far below the rest changes no rank: the values depend on the order only."""

    def run(outlier: float) -> MCTSStrategy:
        strategy = make_strategy("mcts", tiny_space, seed=3)
        for index in range(25):
            proposal = strategy.ask()
            score = outlier if index == 4 else toy_objective(proposal.candidate)
            strategy.tell(proposal, TrialResult("complete", score))
        return strategy

    near, far = run(-0.1), run(-1e6)
    assert [node.rank_sum for node in near.nodes] == [node.rank_sum for node in far.nodes]
    assert all(0.0 <= near._mean(node) <= 1.0 and 0.0 <= near._best(node) <= 1.0 for node in near.nodes)
    # the min-max normalisation squeezes every other score to ~1 instead
    squeezed = make_strategy("mcts", tiny_space, seed=3, normalise="minmax")
    for index in range(25):
        proposal = squeezed.ask()
        squeezed.tell(proposal, TrialResult("complete", -1e6 if index == 4 else toy_objective(proposal.candidate)))
    children = [child for child in squeezed.children_of(squeezed.root).values() if child.completed == child.visits >= 3]
    assert children and all(squeezed._mean(child) > 0.9 for child in children)


def test_quantile_of_a_told_score() -> None:
    strategy = MCTSStrategy()
    strategy.scores = [0.1, 0.5, 0.5, 0.9]
    assert strategy._quantile(0.9, told=True) == 1.0
    assert strategy._quantile(0.1, told=True) == 0.0
    assert strategy._quantile(0.5, told=True) == (1 + 0.5) / 3
    strategy.scores = [0.7]
    assert strategy._quantile(0.7, told=True) == 0.5


def test_max_backup_keeps_the_best_score_below_each_node(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=0)
    asked = drive(strategy, toy_objective, 30)
    assert strategy.root.best == max(toy_objective(candidate) for candidate in asked)
    assert strategy._best(strategy.root) == 1.0
    for node in strategy.nodes:
        for child in (strategy.nodes[index] for index in node.children.values()):
            if child.best is not None:
                assert node.best is not None and child.best <= node.best
    # max_weight blends the mean and the best; 0 is plain UCT on the mean
    child = next(iter(strategy.children_of(strategy.root).values()))
    assert strategy._value(child) == pytest.approx(0.5 * strategy._mean(child) + 0.5 * strategy._best(child))
    plain = make_strategy("mcts", tiny_space, seed=0, max_weight=0.0)
    drive(plain, toy_objective, 10)
    assert all(plain._value(node) == plain._mean(node) for node in plain.nodes)


@pytest.mark.parametrize("options", [{"normalise": "minmax"}, {"max_weight": 1.0}, {"max_weight": 0.0}])
def test_variants_search_without_repeats(options, tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=1, **options)
    asked = drive(strategy, toy_objective, TINY_SIZE + 5)
    assert len(asked) == TINY_SIZE == len({candidate.key for candidate in asked})
    _check_counts(strategy)


def test_rejects_bad_new_options(tiny_space) -> None:
    with pytest.raises(StrategyOptionError, match="normalise"):
        make_strategy("mcts", tiny_space, normalise="zscore")
    with pytest.raises(StrategyOptionError, match="max_weight"):
        make_strategy("mcts", tiny_space, max_weight=1.5)
    with pytest.raises(StrategyOptionError, match="max_weight"):
        make_strategy("mcts", tiny_space, max_weight=-0.1)


def test_refuses_a_state_of_another_version(tiny_space) -> None:
    strategy = make_strategy("mcts", tiny_space, seed=4)
    drive(strategy, toy_objective, 5)
    state = json.loads(json.dumps(strategy.state_dict()))
    assert state["version"] == 4
    with pytest.raises(ValueError, match="version"):
        make_strategy("mcts", tiny_space).load_state_dict({**state, "version": 2})


def test_a_version_3_state_resumes_without_shared_statistics(tiny_space) -> None:
    """A study saved before RAVE (state version 3) resumes: its tree is kept, the shared statistics start empty."""
    strategy = make_strategy("mcts", tiny_space, seed=4)
    drive(strategy, toy_objective, 12)
    state = json.loads(json.dumps(strategy.state_dict()))
    old = {key: value for key, value in state.items() if key not in ("amaf", "finite_paths")}
    resumed = make_strategy("mcts", tiny_space, seed=4)
    resumed.load_state_dict({**old, "version": 3})
    assert len(resumed.nodes) == len(strategy.nodes) and resumed.amaf == {}
    assert resumed.ask() is not None
