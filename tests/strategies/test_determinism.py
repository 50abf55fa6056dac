"""Same seed, same candidates; another seed, other candidates (random, mcts, smbo, tpe)."""

from __future__ import annotations

import pytest

from search_spaces.mlp import mlp
from tests.strategies.helpers import drive, make_strategy, toy_objective

TRIALS = {"random": 20, "mcts": 20, "smbo": 10, "tpe": 20}


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


@pytest.mark.parametrize("name", ["random", "mcts", "tpe"])
def test_same_seed_same_candidates_tiny(name: str, tiny_space) -> None:
    first = [c.key for c in drive(make_strategy(name, tiny_space, seed=1), toy_objective, 30)]
    second = [c.key for c in drive(make_strategy(name, tiny_space, seed=1), toy_objective, 30)]
    assert first == second


SMBO_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from automl.strategies.base import StrategyContext, TrialResult
from automl.strategies.smbo import SMBOStrategy
from search_spaces.cnn import cnn

strategy = SMBOStrategy()
strategy.setup(cnn, StrategyContext(seed=7, trials=20, options={"initial": 4, "challengers": 300}))
keys = []
for index in range(14):
    proposal = strategy.ask()
    keys.append(proposal.candidate.key)
    strategy.tell(proposal, TrialResult.complete(len(proposal.candidate.key) % 17 / 17))
print(json.dumps(keys))
"""


def test_smbo_same_seed_same_candidates_whatever_the_string_hashing(tmp_path) -> None:
    """No PYTHONHASHSEED requirement: two fresh processes hashing strings differently propose the same."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "smbo_keys.py"
    script.write_text(SMBO_SCRIPT)
    runs = []
    for hash_seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        completed = subprocess.run(
            [sys.executable, str(script), str(root)], capture_output=True, text=True, timeout=300, env=environment
        )
        assert completed.returncode == 0, completed.stderr
        runs.append(json.loads(completed.stdout))
    assert len(runs[0]) == 14 and runs[0] == runs[1]
