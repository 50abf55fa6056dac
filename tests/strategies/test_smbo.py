"""SMAC through ask/tell: valid candidates of a conditional space, failures, asks in flight."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import automl
from automl.space import Candidate
from automl.space.configspace import candidate_from_configuration
from automl.strategies.base import StrategyOptionError, TrialResult
from automl.strategies.smbo import SMBOStrategy
from search_spaces.mlp import mlp
from tests.strategies.helpers import make_strategy, tiny, toy_objective


def test_valid_candidates_of_a_conditional_space_and_failed_tells() -> None:
    strategy = make_strategy("smbo", mlp, seed=0, trials=12)
    keys = []
    for index in range(12):
        proposal = strategy.ask()
        candidate = proposal.candidate
        architecture = mlp.replay(candidate)  # raises if a decision is missing, extra or out of domain
        assert architecture.is_specified
        keys.append(candidate.key)
        if index % 3 == 0:
            strategy.tell(proposal, TrialResult("failed", error="diverged"))
        else:
            score = candidate["repeat.0.linear.units"] / 256
            strategy.tell(proposal, TrialResult("complete", score))
    assert len(set(keys)) == len(keys)
    assert strategy.worst_cost is not None and strategy._failure_cost() > strategy.worst_cost


def test_several_asks_in_flight(tiny_space) -> None:
    strategy = make_strategy("smbo", tiny_space, seed=1, trials=10, initial=3)
    first = [strategy.ask() for _ in range(4)]
    assert len({proposal.candidate.key for proposal in first}) == 4
    for proposal in reversed(first):  # told out of order
        strategy.tell(proposal, TrialResult("complete", toy_objective(proposal.candidate)))
    more = [strategy.ask() for _ in range(3)]
    seen = {proposal.candidate.key for proposal in first}
    assert all(proposal.candidate.key not in seen for proposal in more)
    for proposal in more:
        strategy.tell(proposal, TrialResult.complete(toy_objective(proposal.candidate)))
    assert not strategy.pending  # every ask in flight was told


def test_rejects_bad_options(tiny_space) -> None:
    with pytest.raises(StrategyOptionError):
        make_strategy("smbo", tiny_space, initial=0)
    with pytest.raises(StrategyOptionError):
        make_strategy("smbo", tiny_space, n_trees=3)


# ---------------------------------------------------------------------------------------------------------------
# NaN and failed trials: told to SMAC as crashes with a finite cost worse than any score, never as a score.


def smac_history(strategy: SMBOStrategy) -> dict[str, tuple[str, float]]:
    """What SMAC's run history holds for each candidate told: (status name, cost)."""
    history = strategy.smac.runhistory
    told = {}
    for key, value in history.items():
        candidate = candidate_from_configuration(strategy.space, history.get_config(key.config_id))
        told[candidate.key] = (value.status.name, value.cost)
    return told


def test_nan_and_failed_trials_are_told_to_smac_as_crashes_and_the_search_goes_on(tiny_space) -> None:
    """A NaN score must never reach SMAC's forest (it cannot fit on NaN, and the search would stop)."""
    strategy = make_strategy("smbo", tiny_space, seed=1, trials=12, initial=3)
    scores: dict[str, float] = {}  # completed candidates -> score
    crashes: dict[str, float] = {}  # failed candidates -> the worst cost told before them
    for number in range(10):
        proposal = strategy.ask()
        assert proposal is not None, f"smbo stopped proposing after {number} asks"
        proposal = proposal.numbered(number)
        candidate = proposal.candidate
        if number in (3, 6):  # a NaN score, then a crash: both are failures
            crashes[candidate.key] = max(-score for score in scores.values())
            result = TrialResult.complete(math.nan) if number == 3 else TrialResult.failed("CUDA error")
            strategy.tell(proposal, result)
        else:
            scores[candidate.key] = toy_objective(candidate)
            strategy.tell(proposal, TrialResult.complete(scores[candidate.key]))
    told = smac_history(strategy)
    for key, score in scores.items():
        assert told[key] == ("SUCCESS", pytest.approx(-score))  # SMAC minimises cost = -score
    for key, worst_before in crashes.items():
        status, cost = told[key]
        assert status == "CRASHED"
        assert math.isfinite(cost) and cost > worst_before  # worse than every score told before it
    assert strategy.worst_cost == pytest.approx(max(-score for score in scores.values()))  # NaN is no score


def test_a_crash_before_any_score_is_never_modelled_better_than_a_completed_trial(tiny_space) -> None:
    """Otherwise SMAC's expected improvement starts from the crashed candidate, the best one it thinks it has."""
    strategy = make_strategy("smbo", tiny_space, seed=0, trials=12, initial=3)
    first = strategy.ask()
    strategy.tell(first, TrialResult.complete(math.nan))
    for number in range(1, 6):
        proposal = strategy.ask()
        strategy.tell(proposal, TrialResult.complete(-10.0 - number))  # e.g. a loss of 11..15, minimised
    told = smac_history(strategy)
    completed = [cost for status, cost in told.values() if status == "SUCCESS"]
    assert told[first.candidate.key][0] == "CRASHED"
    assert told[first.candidate.key][1] > max(completed)


# ---------------------------------------------------------------------------------------------------------------
# A search through the engine: NaN trials fail, the search runs all its trials, and resume replays to the same ones.


def is_nan_candidate(candidate: Candidate) -> bool:
    """The candidates the toy objective below fails on: a tanh first layer, or the 256-unit wide layer."""
    if candidate["or.branch"] == "wide":
        return candidate["or.wide.linear.units"] == 256
    return candidate["or.deep.repeat.0.activation.kind"] == "tanh"


def nan_for_some(calls: list[str]) -> Any:
    """The toy objective, NaN on ``is_nan_candidate``; logs each call."""

    def objective(candidate: Candidate) -> float:
        calls.append(candidate.key)
        return math.nan if is_nan_candidate(candidate) else toy_objective(candidate)

    return objective


def test_nan_trials_fail_and_resume_proposes_what_an_uninterrupted_search_does(tmp_path: Path) -> None:
    """NaN trials are failed with their reason and the search runs all its trials; resume = "replay": the
    study's asks and tells, NaN failures included, rebuild SMAC to the state of an uninterrupted search."""
    options = {"strategy": "smbo", "seed": 3, "strategy_options": {"initial": 3}}
    calls: list[str] = []
    uninterrupted = automl.search(tiny, objective=nan_for_some(calls), trials=12, study=tmp_path / "u.db", **options)
    trials = uninterrupted.trials
    assert len(trials) == 12
    nan = [is_nan_candidate(trial.candidate) for trial in trials]
    assert any(nan), "the search met no NaN candidate: pick another seed"
    assert [trial.status for trial in trials] == ["failed" if failed else "complete" for failed in nan]
    assert all(trial.error == "the objective returned nan" for trial in trials if trial.status == "failed")
    assert not is_nan_candidate(uninterrupted.best_trial.candidate)

    calls.clear()
    automl.search(tiny, objective=nan_for_some(calls), trials=6, study=tmp_path / "r.db", **options)
    first_part = list(calls)
    resumed = automl.search(
        tiny, objective=nan_for_some(calls), trials=12, study=tmp_path / "r.db", resume=True, **options
    )
    assert [trial.candidate.key for trial in resumed.trials] == [trial.candidate.key for trial in trials]
    assert calls[len(first_part) :] == [trial.candidate.key for trial in trials[6:]]  # nothing evaluated twice
