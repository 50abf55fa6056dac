"""The search loop through the Python API, with user objectives (no training)."""

import math
import time

import pytest

import automl
from automl import space as s
from automl.api import SearchSetupError


@s.search_space
def toy(x):
    x = s.op.linear(x, units=s.Choice([1, 2, 4, 8], name="width"))
    x = s.Optional(lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5, name="rate")))(x)
    return s.op.linear(x, units=s.OUTPUTS)


def score(candidate):
    return candidate["width"] + candidate.get("rate", 0.0)


def test_search_with_objective_finishes_the_requested_trials(tmp_path):
    study = automl.search(toy, objective=score, trials=12, seed=1, study=tmp_path / "s.db")
    assert len(study.trials) == 12
    assert all(trial.status == "complete" for trial in study.trials)
    assert study.best_trial.score == max(trial.score for trial in study.trials)
    assert study.test_score is None


def test_same_seed_same_candidates(tmp_path):
    first = automl.search(toy, objective=score, trials=8, seed=5, study=tmp_path / "a.db")
    second = automl.search(toy, objective=score, trials=8, seed=5, study=tmp_path / "b.db")
    third = automl.search(toy, objective=score, trials=8, seed=6, study=tmp_path / "c.db")
    keys = [[trial.candidate.key for trial in study.trials] for study in (first, second, third)]
    assert keys[0] == keys[1] != keys[2]


def test_minimize_flips_the_score_for_strategies_but_not_for_users(tmp_path):
    study = automl.search(toy, objective=score, trials=10, seed=2, direction="minimize", study=tmp_path / "m.db")
    best = study.best_trial
    assert study.objective_value(best) == min(score(trial.candidate) for trial in study.trials)


def test_failing_trials_are_recorded_and_the_search_goes_on(tmp_path):
    calls = []

    def flaky(candidate):
        calls.append(candidate)
        if len(calls) == 2:
            raise RuntimeError("the GPU caught fire")
        if len(calls) == 3:
            return math.nan
        if len(calls) == 4:
            return "not a number"
        return 1.0

    study = automl.search(toy, objective=flaky, trials=6, seed=0, study=tmp_path / "f.db")
    statuses = [trial.status for trial in study.trials]
    assert statuses == ["complete", "failed", "failed", "failed", "complete", "complete"]
    errors = [trial.error for trial in study.trials]
    assert "RuntimeError: the GPU caught fire" in errors[1]
    assert "returned nan" in errors[2]
    assert "not a number" in errors[3]


def test_a_trial_past_its_seconds_fails_with_the_reason(tmp_path):
    def slow(candidate):
        if candidate["width"] >= 4:
            time.sleep(5)
        return 1.0

    started = time.monotonic()
    study = automl.search(toy, objective=slow, trials=6, seed=3, trial_seconds=0.3, study=tmp_path / "t.db")
    assert time.monotonic() - started < 5
    timed_out = [trial for trial in study.trials if trial.status == "failed"]
    assert timed_out and all("timed out" in trial.error for trial in timed_out)
    assert len(study.trials) == 6


def test_time_budget_stops_the_search(tmp_path):
    def slow(candidate):
        time.sleep(0.05)
        return 1.0

    study = automl.search(toy, objective=slow, trials=1000, time_budget=0.5, study=tmp_path / "b.db")
    assert 1 <= len(study.trials) < 100


def test_existing_study_needs_resume(tmp_path):
    path = tmp_path / "r.db"
    automl.search(toy, objective=score, trials=3, study=path).close()
    with pytest.raises(ValueError, match="--resume"):
        automl.search(toy, objective=score, trials=5, study=path)
    study = automl.search(toy, objective=score, trials=5, study=path, resume=True)
    assert len(study.trials) == 5


def test_resume_with_another_strategy_or_seed_is_refused(tmp_path):
    path = tmp_path / "r.db"
    automl.search(toy, objective=score, trials=3, seed=1, study=path).close()
    with pytest.raises(ValueError, match=r"seed: 1 -> 2"):
        automl.search(toy, objective=score, trials=5, seed=2, study=path, resume=True)


def test_search_needs_data_or_objective():
    with pytest.raises(SearchSetupError):
        automl.search(toy, trials=2)


def test_event_hooks_see_every_trial(tmp_path):
    from automl.plugins import hookimpl, load_plugins

    seen = []

    class Recorder:
        @hookimpl
        def automl_trial_finished(self, study, trial):
            seen.append(trial.number)

        @hookimpl
        def automl_search_finished(self, study):
            seen.append("done")

    plugins = load_plugins(entry_points=False, extra=[Recorder()])
    automl.search(toy, objective=score, trials=4, study=tmp_path / "e.db", plugins=plugins)
    assert seen == [0, 1, 2, 3, "done"]


def test_a_space_without_decisions_trains_once_and_says_so(tmp_path):
    @s.search_space
    def fixed(x):
        return s.op.linear(x, units=s.OUTPUTS)

    notices = []
    study = automl.search(fixed, "wine", trials=5, epochs=1, study=tmp_path / "f.db", on_notice=notices.append)
    assert len(study.trials) == 1
    assert notices == ["space 'fixed' has no decisions: one trial trains its only network (not 5)"]


def test_show_counts_each_trial_once_by_its_status():
    from automl.cli.search_command import trial_counts
    from automl.engine.storage import Trial
    from automl.space import Candidate
    from automl.strategies.base import TrialStatus

    statuses = [TrialStatus.COMPLETE] * 38 + [TrialStatus.FAILED] * 2 + [TrialStatus.RUNNING]
    trials = [Trial(number, Candidate({}), status, None) for number, status in enumerate(statuses)]
    assert trial_counts(trials) == "38 complete, 2 failed, 1 running"
