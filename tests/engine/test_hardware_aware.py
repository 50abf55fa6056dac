"""Hardware-aware search: costs measured per trial, constraints checked before training."""

from __future__ import annotations

import json
import sqlite3

import pytest

import automl
from automl.engine.storage import StudyError
from automl.strategies.base import TrialStatus
from tests.engine.test_cli import assert_one_line_error, run

SPACE = "search_spaces/mlp.py"


def search(path, **options):
    options = {"trials": 3, "epochs": 1, "strategy": "random", "study": path, "device": "cpu", **options}
    return automl.search(SPACE, "wine", on_notice=options.pop("on_notice", None), **options)


def test_every_trained_trial_stores_its_costs_and_latency_only_when_asked(tmp_path):
    study = search(tmp_path / "s.db", trials=2)
    for trial in study.trials:
        assert trial.status is TrialStatus.COMPLETE
        costs = trial.metrics["costs"]
        assert costs["params"] == trial.metrics["parameters"] and costs["flops"] > 0 and costs["memory_mb"] > 0
        assert "latency_ms" not in costs  # no constraint names it: not measured
    study.close()
    timed = search(tmp_path / "t.db", trials=1, constraints=["latency_ms<=60000"])
    costs = timed.trials[0].metrics["costs"]
    assert 0 < costs["latency_ms"] < 60000 and 0 < costs["latency_batch_ms"] < 60000
    timed.close()


def test_a_violating_candidate_is_infeasible_and_never_trained(tmp_path):
    study = search(tmp_path / "s.db", constraints=["params<=10"])
    assert [trial.status for trial in study.trials] == [TrialStatus.INFEASIBLE] * 3
    for trial in study.trials:
        assert trial.metrics["epochs"] == 0 and "curve" not in trial.metrics
        assert trial.error.startswith(f"infeasible: params {trial.metrics['costs']['params']:,} breaks params<=10")
    assert not any(study.artifacts.glob("trial-*.pt"))  # no weights file
    events = sqlite3.connect(tmp_path / "s.db").execute("SELECT kind FROM events").fetchall()
    assert [kind for (kind,) in events].count("tell") == 3  # the strategy was told of each
    study.close()


def test_feasible_candidates_train_and_infeasible_ones_do_not(tmp_path):
    study = search(tmp_path / "s.db", trials=8, constraints=["params<=5k"])
    statuses = {trial.status for trial in study.trials}
    assert statuses <= {TrialStatus.COMPLETE, TrialStatus.INFEASIBLE}
    for trial in study.trials:
        trained = trial.status is TrialStatus.COMPLETE
        assert (trial.metrics["costs"]["params"] <= 5000) == trained
        assert (trial.metrics["epochs"] > 0) == trained
    study.close()


def test_a_candidate_over_a_cheap_bound_is_never_timed(tmp_path):
    study = search(tmp_path / "s.db", trials=2, constraints=["params<=10", "latency_ms<=60000"])
    for trial in study.trials:
        assert trial.status is TrialStatus.INFEASIBLE and "params<=10" in trial.error
        assert "latency_ms" not in trial.metrics["costs"]
    study.close()


def test_the_search_stops_after_too_many_infeasible_candidates_in_a_row(tmp_path):
    notices = []
    study = search(tmp_path / "s.db", trials=6, constraints=["params<=10"], max_infeasible=2, on_notice=notices.append)
    assert len(study.trials) == 2
    assert any(notice.startswith("stopped: the last 2 candidates were all infeasible") for notice in notices)
    study.close()


def test_resume_refuses_other_constraints_and_accepts_another_infeasible_limit(tmp_path):
    path = tmp_path / "s.db"
    search(path, trials=2, constraints=["params<=10"]).close()
    with pytest.raises(StudyError, match=r"constraints: \('params<=10',\) -> \('params<=20',\)"):
        search(path, trials=3, constraints=["params<=20"], resume=True)
    study = search(path, trials=3, constraints=["params<=10"], max_infeasible=10, resume=True)
    assert len(study.trials) == 3
    study.close()


def test_a_study_from_before_constraints_still_resumes(tmp_path):
    path = tmp_path / "s.db"
    search(path, trials=1).close()
    connection = sqlite3.connect(path)
    config = json.loads(connection.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    for name in ("constraints", "max_infeasible"):
        del config[name]
    connection.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))
    connection.commit()
    connection.close()
    study = search(path, trials=2, resume=True)
    assert [trial.status for trial in study.trials] == [TrialStatus.COMPLETE] * 2
    study.close()


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("params=100", "is not COST OP NUMBER"),
        ("params<=10x", "is not COST OP NUMBER"),
        ("weights<=100", "unknown cost 'weights'; the measured costs are params, flops, latency_ms"),
    ],
)
def test_a_bad_constraint_is_one_line_and_stores_nothing(tmp_path, constraint, expected):
    path = tmp_path / "s.db"
    result = run("search", SPACE, "--data", "wine", "--constraint", constraint, "--study", path, "-q")
    assert_one_line_error(result, expected)
    assert not path.exists()


def test_a_bad_constraint_on_resume_leaves_the_study_as_it_was(tmp_path):
    path = tmp_path / "s.db"
    search(path, trials=1).close()
    before = path.read_bytes()
    result = run("search", SPACE, "--data", "wine", "--constraint", "flops<", "--study", path, "--resume", "-q")
    assert_one_line_error(result, "is not COST OP NUMBER")
    assert path.read_bytes() == before


def test_show_prints_the_costs_of_the_best_trial(tmp_path):
    path = tmp_path / "s.db"
    search(path, trials=2).close()
    shown = run("show", path)
    assert shown.returncode == 0, shown.stderr
    assert "costs" in shown.stdout and "flops" in shown.stdout and "memory_mb" in shown.stdout
