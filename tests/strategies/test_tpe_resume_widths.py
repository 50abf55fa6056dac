"""A resumed tpe asks what the uninterrupted one asks, on a tree whose samples walk into branches nobody was told,
and a study saved before Scott's rule and the feasibility model goes on as it began."""

from __future__ import annotations

import json

import pytest

from automl import space as s
from automl.space import Candidate
from automl.strategies.base import StrategyContext, TrialResult
from automl.strategies.tpe import TPEStrategy

BRANCHES = 40


def _branch(index: int):
    def build(x):
        return s.op.linear(x, units=s.Int(4, 64, log=True, name=f"width{index}"))

    return build


@s.search_space
def branchy(x):
    """Forty branches, each with its own numeric decision: most samples of an ask reach a branch no told trial
    took, so the paths seen by samples outnumber the paths told."""
    x = s.Or([_branch(index) for index in range(BRANCHES)], name="branch")(x)
    return s.op.dropout(x, p=s.Float(0.0, 0.9, name="rate"))


def score(candidate: Candidate) -> float:
    width = next(value for path, value in candidate.items() if path.startswith("width"))
    return width / 64 - abs(candidate["rate"] - 0.2) + 0.1 * int(candidate["branch.branch"] == 3)


def tpe(seed: int, **options) -> TPEStrategy:
    strategy = TPEStrategy()
    strategy.setup(branchy, StrategyContext(seed=seed, trials=100, options=options))
    return strategy


def drive(strategy: TPEStrategy, trials: int, start: int = 0) -> list[Candidate]:
    asked = []
    for number in range(start, start + trials):
        proposal = strategy.ask()
        assert proposal is not None
        asked.append(proposal.candidate)
        strategy.tell(proposal.numbered(number), TrialResult.complete(score(proposal.candidate)))
    return asked


@pytest.mark.parametrize("seed", range(10))
def test_a_resume_asks_what_the_whole_search_asks_on_a_branchy_tree(seed: int) -> None:
    whole = tpe(seed)
    expected = drive(whole, 24)
    first = tpe(seed)
    asked = drive(first, 16)
    resumed = tpe(seed)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert asked + drive(resumed, 8, start=16) == expected


def test_a_state_saved_before_the_rule_and_the_model_keeps_the_neighbour_rule_and_no_model() -> None:
    strategy = tpe(0)
    drive(strategy, 20)
    state = strategy.state_dict()
    old = {key: value for key, value in state.items() if key not in ("checks", "bandwidth_rule", "feasibility")}
    assert state["bandwidth_rule"] == "scott" and state["feasibility"] == "joint"
    loaded = tpe(0)
    loaded.load_state_dict(json.loads(json.dumps(old)))
    assert (loaded.bandwidth_rule_in_effect, loaded.feasibility_in_effect) == ("neighbours", "bad")
    explicit = tpe(0, bandwidth_rule="scott")
    explicit.load_state_dict(json.loads(json.dumps(old)))
    assert explicit.bandwidth_rule_in_effect == "scott"  # what the user asked for then, kept
    # it goes on exactly as a study with those settings would
    assert drive(loaded, 5, start=20) == drive(
        tpe_loaded(old, bandwidth_rule="neighbours", feasibility="bad"), 5, start=20
    )


def tpe_loaded(state, **options) -> TPEStrategy:
    strategy = tpe(0, **options)
    strategy.load_state_dict(json.loads(json.dumps(state)))
    return strategy
