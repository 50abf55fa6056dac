"""Several objectives: NSGA-II's elitist selection keeps the front, the crowded tournament prefers it."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from automl_evolution import EvolutionStrategy

from automl import space as s
from automl.evaluation.pareto import crowding_distances, non_dominated_ranks
from automl.strategies.base import Proposal, StrategyContext, TrialResult


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
