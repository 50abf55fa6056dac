"""TPE under constraints (c-TPE): infeasible trials teach it where the constraints break, and without any it is the
TPE it was."""

from __future__ import annotations

import json
import math

import pytest

from automl import space as s
from automl.space import Candidate
from automl.strategies.base import Proposal, StrategyContext, TrialResult, TrialStatus
from automl.strategies.tpe import TPEStrategy


@s.search_space
def sized(x):
    """Bigger layers score better, and the biggest breaks the constraint: a size budget's usual shape."""
    x = s.op.linear(x, units=s.Choice([8, 16, 32, 64, 128], name="units"))
    return s.op.dropout(x, p=s.Float(0.0, 1.0, name="rate"))


LIMIT = 64  # units above it break the constraint


def tpe(seed: int = 0, objectives: tuple[str, ...] = (), **options) -> TPEStrategy:
    strategy = TPEStrategy()
    strategy.setup(sized, StrategyContext(seed=seed, trials=100, options=options, objectives=objectives))
    return strategy


def result(candidate: Candidate, several: bool, failures: bool = False) -> TrialResult:
    """The engine's verdict: over the limit is infeasible, with the measured size; else a score (or, with
    ``failures``, a crash for a high rate) and, with several objectives, (score, -units)."""
    units, rate = candidate["units"], candidate["rate"]
    if units > LIMIT and not failures:
        return TrialResult(TrialStatus.INFEASIBLE, None, {"units": units}, f"infeasible: units {units} > {LIMIT}")
    if failures and rate > 0.8:
        return TrialResult.failed("crash")
    score = math.log2(units) / 7 - 0.3 * abs(rate - 0.3)
    values = (score, -float(units)) if several else None
    return TrialResult(TrialStatus.COMPLETE, score, {"units": units}, values=values)


def drive(strategy: TPEStrategy, trials: int, failures: bool = False) -> list[Candidate]:
    several = len(strategy.context.objectives) > 1
    asked = []
    for number in range(trials):
        proposal = strategy.ask()
        assert proposal is not None
        asked.append(proposal.candidate)
        strategy.tell(proposal.numbered(number), result(proposal.candidate, several, failures))
    return asked


def over_the_limit(candidates: list[Candidate]) -> int:
    return sum(candidate["units"] > LIMIT for candidate in candidates)


@pytest.mark.parametrize("multivariate", [True, False])
@pytest.mark.parametrize("objectives", [(), ("score", "size")], ids=["one objective", "MOTPE"])
def test_stops_proposing_a_value_that_is_always_infeasible(multivariate: bool, objectives: tuple[str, ...]) -> None:
    """After a few infeasible trials at ``units=128`` the model gives it a low probability of feasibility: it is
    (almost) never proposed again, far less often than when infeasible trials only count as bad ones."""
    late = {}
    for feasibility in ("joint", "bad"):
        total = 0
        for seed in range(4):
            strategy = tpe(seed, objectives, multivariate=multivariate, feasibility=feasibility)
            total += over_the_limit(drive(strategy, 50)[20:])
        late[feasibility] = total
    assert late["joint"] <= 8, late  # of 4 x 30 asks
    assert late["joint"] < late["bad"], late


@pytest.mark.parametrize("objectives", [(), ("score", "size")], ids=["one objective", "MOTPE"])
def test_without_infeasible_trials_it_proposes_what_tpe_without_the_model_does(objectives: tuple[str, ...]) -> None:
    """Same seed, same candidates: the model is not consulted (and draws nothing) until a trial is infeasible,
    also with failed trials among the observations."""
    with_model = drive(tpe(3, objectives, feasibility="joint"), 40, failures=True)
    without = drive(tpe(3, objectives, feasibility="bad"), 40, failures=True)
    assert [candidate.key for candidate in with_model] == [candidate.key for candidate in without]
    # and with infeasible trials the model does change the proposals
    assert [c.key for c in drive(tpe(3, objectives), 40)] != [
        c.key for c in drive(tpe(3, objectives, feasibility="bad"), 40)
    ]


@pytest.mark.parametrize("objectives", [(), ("score", "size")], ids=["one objective", "MOTPE"])
def test_same_seed_same_candidates_under_constraints(objectives: tuple[str, ...]) -> None:
    first = [candidate.key for candidate in drive(tpe(7, objectives), 30)]
    assert first == [candidate.key for candidate in drive(tpe(7, objectives), 30)]
    assert first != [candidate.key for candidate in drive(tpe(8, objectives), 30)]


@pytest.mark.parametrize("objectives", [(), ("score", "size")], ids=["one objective", "MOTPE"])
def test_resume_proposes_the_same_next_candidates_with_infeasible_trials_and_asks_in_flight(
    objectives: tuple[str, ...],
) -> None:
    first = tpe(5, objectives)
    drive(first, 25)
    in_flight = first.ask()
    state = json.loads(json.dumps(first.state_dict()))
    second = tpe(5, objectives)
    second.load_state_dict(state)
    assert second.checks == first.checks and "n" in second.checks
    assert [first.ask().candidate.key for _ in range(4)] == [second.ask().candidate.key for _ in range(4)]
    assert in_flight.candidate.key in second.pending


def test_a_state_saved_before_the_model_loads_with_scored_trials_as_feasible() -> None:
    """A study saved by an older version has no ``checks``: its scored trials passed the check, the others are
    unknown (they count on neither side of the model), and it goes on asking."""
    first = tpe(2)
    drive(first, 15)
    state = json.loads(json.dumps(first.state_dict()))
    del state["checks"]
    second = tpe(2)
    second.load_state_dict(state)
    assert second.checks == ["y" if score is not None else "?" for score in first.scores]
    assert second.ask() is not None


def test_a_failed_trial_counts_on_neither_side_of_the_model() -> None:
    strategy = tpe(1)
    for number, outcome in enumerate(
        [TrialResult.complete(0.5), TrialResult.failed("crash"), TrialResult(TrialStatus.INFEASIBLE, None)]
    ):
        proposal = Proposal(Candidate({"units": 8 * 2**number, "rate": 0.1 * number}), number=number)
        strategy.tell(proposal, outcome)
    assert strategy.checks == ["y", "?", "n"]
    feasibility = strategy._feasibility()
    assert feasibility is not None and feasibility.feasible.size == 1 and feasibility.infeasible.size == 1
    assert tpe(1, feasibility="bad")._feasibility() is None


SEEDS_IN_FLIGHT = 16  # enough asks that the model's fewer breaches are not one seed's luck


@pytest.mark.parametrize("objectives", [(), ("score", "size")], ids=["one objective", "MOTPE"])
def test_asks_in_flight_under_constraints_stay_apart_and_mostly_feasible(objectives: tuple[str, ...]) -> None:
    """With the constant liar, asks in flight count as bad observations but not as infeasible ones: parallel
    asks are spread (different rates) and few of them break the constraint."""
    breaches = 0
    for seed in range(SEEDS_IN_FLIGHT):
        strategy = tpe(seed, objectives)
        drive(strategy, 40)
        in_flight = [strategy.ask().candidate for _ in range(6)]
        assert len({candidate.key for candidate in in_flight}) == 6
        assert max(candidate["rate"] for candidate in in_flight) - min(c["rate"] for c in in_flight) > 0.05
        breaches += over_the_limit(in_flight)
    assert breaches <= 0.1 * 6 * SEEDS_IN_FLIGHT, breaches


def test_a_constrained_search_resumes_to_the_same_candidates(tmp_path) -> None:
    """Through the engine: a constraint on a metric the objective returns makes trials infeasible, the model
    learns from them, and a search stopped and resumed asks what the whole search asked."""
    import automl

    def objective(candidate):
        return {
            "score": math.log2(candidate["units"]) / 7 - 0.3 * abs(candidate["rate"] - 0.3),
            "units": candidate["units"],
        }

    options = {
        "objective": objective,
        "strategy": "tpe",
        "seed": 2,
        "constraints": [f"units<={LIMIT}"],
        "max_infeasible": 30,
        "on_notice": lambda message: None,
    }
    whole = automl.search(sized, trials=24, study=tmp_path / "whole.db", **options)
    assert any(trial.status is TrialStatus.INFEASIBLE for trial in whole.trials)
    automl.search(sized, trials=12, study=tmp_path / "parts.db", **options).close()
    resumed = automl.search(sized, trials=24, study=tmp_path / "parts.db", resume=True, **options)
    assert [trial.candidate for trial in resumed.trials] == [trial.candidate for trial in whole.trials]
    whole.close()
    resumed.close()
