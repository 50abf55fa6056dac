"""Several objectives: NSGA-II's elitist selection keeps the front, the crowded tournament prefers it, uniform
crossover mixes two parents; one objective stays regularised evolution, candidate for candidate."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest
from automl_evolution import EvolutionStrategy

from automl import space as s
from automl.evaluation.pareto import crowding_distances, non_dominated_ranks
from automl.space import Candidate
from automl.strategies.base import Proposal, StrategyContext, StrategyOptionError, TrialResult


@s.search_space
def tiny(x: Any) -> Any:
    """48 candidates of two layers."""
    x = s.op.linear(x, units=s.Choice([8, 16, 32, 64]))
    x = s.op.activation(x, kind=s.Choice(["relu", "tanh", "gelu"]))
    x = s.op.linear(x, units=s.Choice([8, 16, 32, 64]))
    return s.op.linear(x, units=s.OUTPUTS)


def make(seed: int = 0, **options: Any) -> EvolutionStrategy:
    strategy = EvolutionStrategy()
    strategy.setup(tiny, StrategyContext(seed=seed, trials=40, options=options, objectives=("score", "size")))
    return strategy


def tell(strategy: EvolutionStrategy, values: tuple[float, float] | None) -> Proposal:
    proposal = strategy.ask()
    if values is None:
        strategy.tell(proposal, TrialResult("failed", error="crashed"))
    else:
        strategy.tell(proposal, TrialResult("complete", values[0], values=values))
    return proposal


def best_by_crowded_order(points: list[tuple[float, float] | None], keep: int) -> list[int]:
    """Brute force of NSGA-II's environmental selection, one removal at a time (steady state)."""
    alive = list(range(len(points)))
    while len(alive) > keep:
        failed = [index for index in alive if points[index] is None]
        if failed:
            alive.remove(failed[0])  # the oldest failure leaves first
            continue
        matrix = np.array([points[index] for index in alive])
        ranks = non_dominated_ranks(matrix, ["max", "max"])
        worst = np.flatnonzero(ranks == ranks.max())
        distances = crowding_distances(matrix[worst], ["max", "max"])
        alive.remove(alive[int(worst[int(np.argmin(distances))])])
    return alive


def test_the_population_keeps_the_front_and_drops_dominated_and_failed_members() -> None:
    strategy = make(0, population=4)
    # values are (score, -size): maximised both; the two dominated members and the failure must go
    told = [(0.5, -10.0), None, (0.9, -50.0), (0.4, -20.0), (0.7, -30.0), (0.2, -5.0), (0.6, -40.0)]
    proposals = [tell(strategy, values) for values in told]
    kept = {member[0].key for member in strategy.population}
    expected = set()
    # replay the steady-state selection after every tell, as the strategy does
    alive: list[int] = []
    for index in range(len(told)):
        alive.append(index)
        if len(alive) > 4:
            survivors = best_by_crowded_order([told[i] for i in alive], 4)
            alive = [alive[i] for i in survivors]
    expected = {proposals[index].candidate.key for index in alive}
    assert kept == expected
    points = [told[index] for index in alive]
    assert None not in points  # the failure left first
    assert (0.4, -20.0) not in points  # dominated by (0.5, -10): gone
    assert (0.6, -40.0) not in points  # dominated by (0.7, -30): gone


def test_a_front_member_wins_the_binary_tournament_against_a_dominated_one() -> None:
    strategy = make(1, population=2)
    tell(strategy, (0.9, -1.0))  # dominates the next one
    tell(strategy, (0.1, -9.0))
    order = strategy._crowded_order()
    assert order[0] < order[1]
    # a tournament of the two is always won by the dominating member
    parents = {strategy._tournament().key for _ in range(20)}
    assert parents == {strategy.population[0][0].key}


def test_single_objective_searches_still_age_out_the_oldest() -> None:
    strategy = EvolutionStrategy()
    strategy.setup(tiny, StrategyContext(seed=0, trials=40, options={"population": 3}))
    asked = []
    for score in (0.9, 0.1, 0.2, 0.3):
        proposal = strategy.ask()
        strategy.tell(proposal, TrialResult("complete", score))
        asked.append(proposal.candidate.key)
    assert [member[0].key for member in strategy.population] == asked[-3:]  # the best (first) aged out


def test_the_state_with_objective_values_resumes_to_the_same_asks() -> None:
    first = make(3, population=5)
    for values in itertools.islice(itertools.cycle([(0.5, -1.0), (0.7, -3.0), (0.2, -0.5)]), 9):
        tell(first, values)
    state = first.state_dict()
    second = make(3, population=5)
    second.load_state_dict(state)
    assert [second.ask().candidate.key for _ in range(5)] == [first.ask().candidate.key for _ in range(5)]


# ----------------------------------------------------------------------------------------------- crossover
@s.search_space
def branching(x: Any) -> Any:
    """A tree: one or two (width, activation) layers, or one wide layer; later decisions depend on earlier ones."""

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([8, 16, 32, 64]))
        return s.op.activation(x, kind=s.Choice(["relu", "tanh"]))

    x = s.Or(
        {
            "deep": lambda x: s.Repeat(layer, times=s.Int(1, 2))(x),
            "wide": lambda x: s.op.linear(x, units=s.Choice([128, 256, 512])),
        }
    )(x)
    return s.op.linear(x, units=s.OUTPUTS)


@s.search_space
def cell(x: Any) -> Any:
    """A flat cell of six edges of five operations (NAS-Bench-201's shape): 15,625 candidates."""
    for _ in range(6):
        x = s.op.activation(x, kind=s.Choice(["none", "skip", "conv1", "conv3", "pool"]))
    return s.op.linear(x, units=s.OUTPUTS)


def candidate_of(space: Any, decisions: dict[str, Any]) -> Candidate:
    return Candidate(space.replay(decisions).decisions)


def test_a_crossover_child_takes_each_decision_from_a_parent_that_has_it() -> None:
    strategy = EvolutionStrategy()
    strategy.setup(branching, StrategyContext(seed=5, trials=40, objectives=("score", "size")))
    one_layer = candidate_of(
        branching,
        {
            "or.branch": "deep",
            "or.deep.repeat.times": 1,
            "or.deep.repeat.0.linear.units": 8,
            "or.deep.repeat.0.activation.kind": "relu",
        },
    )
    two_layers = candidate_of(
        branching,
        {
            "or.branch": "deep",
            "or.deep.repeat.times": 2,
            "or.deep.repeat.0.linear.units": 64,
            "or.deep.repeat.0.activation.kind": "tanh",
            "or.deep.repeat.1.linear.units": 32,
            "or.deep.repeat.1.activation.kind": "tanh",
        },
    )
    wide = candidate_of(branching, {"or.branch": "wide", "or.wide.linear.units": 256})
    mixed = 0
    for first, second in [(one_layer, two_layers), (two_layers, one_layer), (one_layer, wide), (wide, two_layers)]:
        for _ in range(40):
            child = strategy.crossover(first, second)
            assert candidate_of(branching, dict(child)) == child  # a whole candidate of the space
            for path, value in child.items():
                had = [parent[path] for parent in (first, second) if path in parent]
                assert had, f"{path} is in neither parent, yet each path of this space is in one of them"
                assert value in had, f"{path}={value!r} is not a parent's value {had}"
            mixed += child not in (first, second)
    assert mixed > 0  # the values of two parents do meet in one child


def test_crossover_samples_the_decisions_neither_parent_has() -> None:
    strategy = EvolutionStrategy()
    strategy.setup(branching, StrategyContext(seed=2, trials=40, objectives=("score", "size")))
    wide = candidate_of(branching, {"or.branch": "wide", "or.wide.linear.units": 128})
    other = Candidate({"or.branch": "deep"})  # a parent that stops where the deep branch begins
    children = {strategy.crossover(wide, other) for _ in range(60)}
    deep = [child for child in children if child["or.branch"] == "deep"]
    assert deep and all(candidate_of(branching, dict(child)) == child for child in deep)
    assert len({child["or.deep.repeat.0.linear.units"] for child in deep}) > 1  # drawn, not a fixed default


def hamming_to_nearest(child: Candidate, members: list[Candidate]) -> int:
    return min(sum(child[path] != member[path] for path in child) for member in members)


def drive_cell(strategy: EvolutionStrategy, trials: int, several: bool) -> list[int]:
    """Ask and tell on the cell; each child's distance to the nearest member of the population it was bred from."""
    distances = []
    for _ in range(trials):
        members = [member[0] for member in strategy.population]
        proposal = strategy.ask()
        if strategy.asked > strategy.population_size:
            distances.append(hamming_to_nearest(proposal.candidate, members))
        convs = sum(value.startswith("conv") for value in proposal.candidate.values())
        score = convs / 6 + 0.1 * sum(value == "skip" for value in proposal.candidate.values())
        if several:
            strategy.tell(proposal, TrialResult("complete", score, values=(score, -float(convs))))
        else:
            strategy.tell(proposal, TrialResult("complete", score))
    return distances


def test_several_objectives_breed_children_by_crossover_one_objective_only_mutates() -> None:
    several = EvolutionStrategy()
    several.setup(cell, StrategyContext(seed=0, trials=80, options={"population": 10}, objectives=("score", "size")))
    one = EvolutionStrategy()
    one.setup(cell, StrategyContext(seed=0, trials=80, options={"population": 10, "crossover": 1.0}))
    # one objective: every child is one decision away from a member (Real et al.'s mutation), whatever crossover says
    assert set(drive_cell(one, 80, several=False)) == {1}
    # several: crossover then (by default) a mutation, so some children are further from every member
    assert max(drive_cell(several, 80, several=True)) > 1


class ReferenceRegularisedEvolution:
    """Real et al. (2019) as this plugin ran it before crossover existed, draw for draw of the generator:
    the first P asks sampled, then the best of S drawn without replacement, one decision changed, the oldest dies.
    It pins the single-objective path: any draw added to it (crossover's included) changes the candidates."""

    def __init__(self, space: Any, seed: int, population: int, sample: int, attempts: int = 16) -> None:
        self.space, self.population_size, self.sample, self.attempts = space, population, sample, attempts
        self.rng = np.random.default_rng(seed)
        self.population: list[tuple[Candidate, float]] = []
        self.asked, self.seen = 0, set()

    def ask(self) -> Candidate:
        candidate = self.propose()
        for _ in range(self.attempts - 1):
            if candidate.key not in self.seen:
                break
            candidate = self.propose()
        self.asked += 1
        self.seen.add(candidate.key)
        return candidate

    def propose(self) -> Candidate:
        if self.asked < self.population_size or not self.population:
            return self.space.sample_candidate(self.rng)
        size = min(self.sample, len(self.population))
        drawn = self.rng.choice(len(self.population), size=size, replace=False)
        parent = max((self.population[int(index)] for index in drawn), key=lambda member: member[1])[0]
        architecture = self.space.replay(parent)
        mutable = [path for path in parent if len(architecture.hyperparameter_at(path).finite_values()) > 1]
        chosen = mutable[int(self.rng.integers(len(mutable)))]
        values = architecture.hyperparameter_at(chosen).finite_values()
        others = [value for value in values if value != parent[chosen]]
        return Candidate({**dict(parent), chosen: others[int(self.rng.integers(len(others)))]})  # a flat space

    def tell(self, candidate: Candidate, score: float) -> None:
        self.population.append((candidate, score))
        if len(self.population) > self.population_size:
            self.population.pop(0)


@pytest.mark.parametrize("options", [{}, {"crossover": 1.0, "mutation_after_crossover": 0.0}])
def test_one_objective_proposes_what_regularised_evolution_without_crossover_did(options: dict[str, Any]) -> None:
    strategy = EvolutionStrategy()
    strategy.setup(cell, StrategyContext(seed=11, trials=120, options={"population": 8, "sample": 3, **options}))
    reference = ReferenceRegularisedEvolution(cell, seed=11, population=8, sample=3)
    for _ in range(120):
        proposal = strategy.ask()
        expected = reference.ask()
        assert proposal.candidate == expected
        score = sum(value == "conv3" for value in expected.values()) / 6
        strategy.tell(proposal, TrialResult("complete", score))
        reference.tell(expected, score)


def test_several_objectives_same_seed_same_candidates_other_seed_others() -> None:
    def run(seed: int) -> list[str]:
        strategy = EvolutionStrategy()
        strategy.setup(cell, StrategyContext(seed=seed, trials=60, options={"population": 8}, objectives=("a", "b")))
        asked = []
        for _ in range(60):
            proposal = strategy.ask()
            convs = sum(value.startswith("conv") for value in proposal.candidate.values())
            strategy.tell(proposal, TrialResult("complete", convs / 6, values=(convs / 6, -float(convs))))
            asked.append(proposal.candidate.key)
        return asked

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_several_objectives_never_repeat_a_candidate_while_unasked_ones_remain() -> None:
    strategy = make(0, population=4, crossover=1.0, mutation_after_crossover=0.0)  # tiny: 48 candidates
    asked = [tell(strategy, (float(index % 5), -float(index % 3))).candidate.key for index in range(48)]
    assert len(set(asked)) == 48


def test_the_state_resumes_to_the_same_crossover_children() -> None:
    first = EvolutionStrategy()
    first.setup(
        cell, StrategyContext(seed=7, trials=60, options={"population": 6, "crossover": 1.0}, objectives=("a", "b"))
    )
    for index in range(20):
        proposal = first.ask()
        first.tell(proposal, TrialResult("complete", index / 20, values=(index / 20, -float(index % 7))))
    second = EvolutionStrategy()
    second.setup(
        cell, StrategyContext(seed=7, trials=60, options={"population": 6, "crossover": 1.0}, objectives=("a", "b"))
    )
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert [second.ask().candidate.key for _ in range(8)] == [first.ask().candidate.key for _ in range(8)]


@pytest.mark.parametrize("options", [{"crossover": 1.5}, {"mutation_after_crossover": -0.1}])
def test_crossover_probabilities_outside_zero_to_one_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(StrategyOptionError, match="must be in"):
        make(0, **options)


def test_a_study_saved_before_crossover_existed_goes_on_mutating_only() -> None:
    """A multi-objective study begun without crossover resumes as it began: the same next children as a study with
    crossover off, none bred from two parents."""

    def cell_strategy(**options: Any) -> EvolutionStrategy:
        strategy = EvolutionStrategy()
        strategy.setup(
            cell,
            StrategyContext(seed=4, trials=80, options={"population": 10, **options}, objectives=("score", "size")),
        )
        return strategy

    started = cell_strategy(crossover=0.0)
    drive_cell(started, 30, several=True)
    old_state = {key: value for key, value in started.state_dict().items() if key != "crossover"}
    resumed = cell_strategy()  # today's default breeds by crossover
    resumed.load_state_dict(json.loads(json.dumps(old_state)))
    assert drive_cell(resumed, 30, several=True) == drive_cell(started, 30, several=True)
    assert resumed.state_dict()["crossover"] == 0.0
