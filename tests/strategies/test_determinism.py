"""Same seed, same candidates; another seed, other candidates (random, mcts, smbo)."""

from __future__ import annotations

import pytest

from search_spaces.mlp import mlp
from tests.strategies.helpers import drive, make_strategy, toy_objective

TRIALS = {"random": 20, "mcts": 20, "smbo": 10}


def _mlp_objective(candidate) -> float:
    layers = candidate["repeat.times"]
    return sum(candidate[f"repeat.{index}.linear.units"] for index in range(layers)) / (256 * layers) - 0.1 * layers


@pytest.mark.parametrize("name", sorted(TRIALS))
def test_same_seed_same_candidates(name: str, tiny_space) -> None:
    trials = TRIALS[name]
    first = [c.key for c in drive(make_strategy(name, mlp, seed=3, trials=trials), _mlp_objective, trials)]
    second = [c.key for c in drive(make_strategy(name, mlp, seed=3, trials=trials), _mlp_objective, trials)]
    other = [c.key for c in drive(make_strategy(name, mlp, seed=4, trials=trials), _mlp_objective, trials)]
    assert len(first) == trials
    assert first == second
    assert first != other


@pytest.mark.parametrize("name", ["random", "mcts"])
def test_same_seed_same_candidates_tiny(name: str, tiny_space) -> None:
    first = [c.key for c in drive(make_strategy(name, tiny_space, seed=1), toy_objective, 30)]
    second = [c.key for c in drive(make_strategy(name, tiny_space, seed=1), toy_objective, 30)]
    assert first == second
