"""TPE: what its densities model, asks in flight (constant liar), no repeats, and its option values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from automl import space as s
from automl.space import Candidate
from automl.strategies.base import Proposal, StrategyContext, TrialResult
from automl.strategies.options import StrategyOptionError
from automl.strategies.tpe import TPEStrategy
from tests.strategies.helpers import TINY_SIZE, drive, make_strategy, toy_objective


@s.search_space
def one_rate(x):
    """A single float decision: where TPE's proposals go is easy to see."""
    return s.op.dropout(x, p=s.Float(0.0, 1.0, name="rate"))


@s.search_space
def branches(x):
    """``width`` exists only in the ``deep`` branch; ``rate`` everywhere (so candidates are distinct)."""

    def deep(x):
        return s.op.linear(x, units=s.Choice([16, 64], name="width"))

    x = s.Or({"deep": deep, "narrow": lambda x: s.op.identity(x)}, name="branch")(x)
    return s.op.dropout(x, p=s.Float(0.0, 1.0, name="rate"))


def tpe(space, seed: int = 0, **options) -> TPEStrategy:
    strategy = TPEStrategy()
    strategy.setup(space, StrategyContext(seed=seed, trials=100, options=options))
    return strategy


def tell_all(strategy: TPEStrategy, observations: list[tuple[dict, float | None]]) -> None:
    for number, (decisions, score) in enumerate(observations):
        proposal = Proposal(Candidate(decisions), number=number)
        strategy.tell(proposal, TrialResult.complete(score) if score is not None else TrialResult.failed("crash"))


def peaked_observations(count: int = 30) -> list[tuple[dict, float]]:
    """Rates spread over [0, 1], scored best near 0.3."""
    rates = np.linspace(0.0, 1.0, count)
    return [({"rate": float(rate)}, float(1.0 - abs(rate - 0.3))) for rate in rates]


@pytest.mark.parametrize("multivariate", [True, False])
def test_proposals_go_where_the_good_trials_are(multivariate: bool) -> None:
    strategy = tpe(one_rate, multivariate=multivariate)
    tell_all(strategy, peaked_observations())
    rates = []
    for _ in range(10):
        proposal = strategy.ask()
        rates.append(proposal.candidate["rate"])
        strategy.tell(proposal, TrialResult.complete(1.0 - abs(proposal.candidate["rate"] - 0.3)))
    assert abs(float(np.median(rates)) - 0.3) < 0.1, rates


def test_the_constant_liar_spreads_asks_in_flight() -> None:
    """With asks in flight and no tells, each pending candidate counts as a bad observation: the next asks move
    away from it. Without the liar they crowd the same spot."""

    def spread(liar: bool) -> float:
        strategy = tpe(one_rate, seed=3, constant_liar=liar)
        tell_all(strategy, peaked_observations())
        return float(np.std([strategy.ask().candidate["rate"] for _ in range(8)]))

    assert spread(True) > 1.5 * spread(False)


def test_a_pending_ask_is_a_bad_observation_until_told() -> None:
    strategy = tpe(one_rate, seed=1)
    tell_all(strategy, peaked_observations())
    proposal = strategy.ask()
    assert proposal.candidate.key in strategy.pending
    strategy.tell(proposal.numbered(99), TrialResult.complete(0.5))
    assert proposal.candidate.key not in strategy.pending
    assert strategy.scores[-1] == 0.5


def test_a_decision_is_modelled_only_on_the_trials_that_reached_it() -> None:
    """``width`` exists only in the deep branch: its densities are built from the deep trials alone, not from
    narrow trials with a made-up value for it."""
    observations = []
    for index in range(6):
        observations.append(({"branch.branch": "narrow", "rate": index / 10}, 0.9))
    for index in range(4):
        observations.append(({"branch.branch": "deep", "width": 64, "rate": index / 10}, 0.8))
    for index in range(10):
        observations.append(({"branch.branch": "deep", "width": 16, "rate": index / 10}, 0.1))
    for multivariate in (True, False):
        strategy = tpe(branches, gamma=0.5, multivariate=multivariate)
        tell_all(strategy, observations)
        good, _bad = strategy._split([row for row, score in enumerate(strategy.scores) if score is not None])
        good_kernels = strategy._kernels(good, [])
        assert good_kernels.size == 10 and good_kernels.count("width") == 4  # the 4 deep trials among the good
        widths = [
            proposal.candidate["width"]
            for proposal in (strategy.ask() for _ in range(20))
            if proposal.candidate["branch.branch"] == "deep"
        ]
        assert widths and widths.count(64) > widths.count(16), (multivariate, widths)


def test_failed_trials_are_avoided() -> None:
    """A region where every trial crashed is a bad region, as a low score would be."""
    observations = [({"rate": float(rate)}, None if rate > 0.5 else 0.5) for rate in np.linspace(0, 1, 21)]
    strategy = tpe(one_rate, seed=2)
    tell_all(strategy, observations)
    rates = [strategy.ask().candidate["rate"] for _ in range(10)]
    assert sum(rate > 0.5 for rate in rates) <= 2, rates


@pytest.mark.parametrize("multivariate", [True, False])
def test_never_proposes_a_candidate_twice_and_stops_when_the_space_is_exhausted(tiny_space, multivariate) -> None:
    strategy = make_strategy("tpe", tiny_space, seed=5, startup=3, multivariate=multivariate)
    asked = drive(strategy, toy_objective, TINY_SIZE + 5)
    assert len(asked) == TINY_SIZE
    assert len({candidate.key for candidate in asked}) == TINY_SIZE
    assert strategy.ask() is None


def test_resumes_from_its_state_with_asks_in_flight(tiny_space) -> None:
    first = make_strategy("tpe", tiny_space, seed=8, startup=3)
    drive(first, toy_objective, 12)
    in_flight = first.ask()
    state = json.loads(json.dumps(first.state_dict()))
    second = make_strategy("tpe", tiny_space, seed=8, startup=3)
    second.load_state_dict(state)
    assert [first.ask().candidate.key for _ in range(3)] == [second.ask().candidate.key for _ in range(3)]
    assert in_flight.candidate.key in second.pending


def test_a_float_that_changes_the_structure_is_walked_by_building_architectures() -> None:
    """The walk's trie assumes floats decide no structure; a space that breaks the assumption is still searched
    correctly (every proposal replays)."""

    @s.search_space
    def float_decides(x):
        rate = s.Float(0.0, 1.0, name="rate")

        def build(x, rate):
            if rate > 0.5:
                return s.op.linear(x, units=s.Choice([8, 16], name="wide"))
            return s.op.linear(x, units=s.Choice([2, 4], name="narrow"))

        return s.substitute(build, rate=rate)(x)

    strategy = tpe(float_decides, seed=4, startup=2)
    for number in range(25):
        proposal = strategy.ask()
        float_decides.replay(proposal.candidate)  # raises if the walk made up a candidate of another structure
        strategy.tell(proposal.numbered(number), TrialResult.complete(proposal.candidate["rate"]))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"gamma": 0.0}, "gamma"),
        ({"bandwidth_rule": "silverman"}, "bandwidth_rule"),
        ({"candidates": 0}, "candidates"),
        ({"startup": "many"}, "startup"),
    ],
)
def test_bad_options_are_refused_by_name(tiny_space, options, message) -> None:
    with pytest.raises(StrategyOptionError, match=message):
        make_strategy("tpe", tiny_space, **options)
