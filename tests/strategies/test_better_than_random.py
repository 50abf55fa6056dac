"""On a toy objective of a tiny space, mcts, smbo and tpe reach the optimum sooner than random (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.strategies.helpers import drive, make_strategy, toy_objective

BUDGET = 40


def _trials_to_optimum(name: str, space, seeds: range) -> float:
    counts = []
    for seed in seeds:
        asked = drive(make_strategy(name, space, seed=seed, trials=BUDGET), toy_objective, BUDGET, stop_at=1.0)
        found = bool(asked) and toy_objective(asked[-1]) >= 1.0 - 1e-12
        counts.append(len(asked) if found else BUDGET + 1)
    return float(np.mean(counts))


@pytest.mark.parametrize("name,seeds", [("mcts", range(10)), ("smbo", range(3)), ("tpe", range(10))])
def test_finds_the_optimum_sooner_than_random(name: str, seeds: range, tiny_space) -> None:
    random_mean = _trials_to_optimum("random", tiny_space, seeds)
    strategy_mean = _trials_to_optimum(name, tiny_space, seeds)
    assert strategy_mean < random_mean - 5, (name, strategy_mean, random_mean)
