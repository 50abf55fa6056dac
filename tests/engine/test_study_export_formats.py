"""``automl show --format json`` and ``Study.to_dataframe()`` give every trial of a real search, for scripts."""

import json
import math

import pytest
from click.testing import CliRunner

import automl
from automl import space as s
from automl.cli.main import cli
from automl.engine.study import Study


@s.search_space
def small(x):
    x = s.op.linear(x, units=s.Choice([4, 8], name="width"))
    x = s.Optional(lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5, name="rate")))(x)
    return s.op.linear(x, units=s.OUTPUTS)


@pytest.fixture(scope="module")
def trained_study(tmp_path_factory):
    """Three trials trained for real on wine (a couple of epochs each), and the final test."""
    path = tmp_path_factory.mktemp("study") / "wine.db"
    automl.search(small, "wine", trials=3, epochs=2, seed=4, study=path).close()
    return path


def show_json(*arguments):
    result = CliRunner().invoke(cli, ["show", *map(str, arguments), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_show_json_has_every_trial_with_its_decisions_epochs_and_times(trained_study):
    document = show_json(trained_study)
    study = Study.open(trained_study)
    try:
        assert [trial["number"] for trial in document["trials"]] == [trial.number for trial in study.trials]
        assert document["best_trial"] == study.best_trial.number
        assert document["test_score"] == pytest.approx(study.test_score)
        assert document["config"]["seed"] == 4
        for record, trial in zip(document["trials"], study.trials, strict=True):
            assert record["status"] == "complete"
            assert record["score"] == pytest.approx(trial.score)
            assert record["decisions"] == trial.candidate.to_dict() and "width" in record["decisions"]
            assert record["metrics"]["epochs"] == len(trial.curve) <= 2
            assert record["seconds"] == pytest.approx(trial.finished - trial.started)
            assert record["seed"] == trial.seed
    finally:
        study.close()


def test_show_json_top_keeps_the_best_first(trained_study):
    document = show_json(trained_study, "--top", 2)
    scores = [trial["score"] for trial in document["trials"]]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)
    assert document["trials"][0]["number"] == document["best_trial"]


def test_show_json_of_a_missing_study_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["show", str(tmp_path / "none.db"), "--format", "json"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_to_dataframe_has_one_row_per_trial_and_decision_columns(trained_study):
    study = Study.open(trained_study)
    try:
        frame = study.to_dataframe()
        assert list(frame["number"]) == [trial.number for trial in study.trials]
        assert {"status", "score", "seconds", "metric.epochs", "decision.width"} <= set(frame.columns)
        assert list(frame["decision.width"]) == [trial.candidate["width"] for trial in study.trials]
        assert list(frame["metric.epochs"]) == [len(trial.curve) for trial in study.trials]
        best = frame.loc[frame["score"].idxmax()]
        assert best["number"] == study.best_trial.number
    finally:
        study.close()


def test_to_dataframe_scores_have_the_objective_sign_and_missing_decisions_are_empty(tmp_path):
    def loss(candidate):
        return candidate["width"] + candidate.get("rate", 0.0)

    study = automl.search(small, objective=loss, trials=8, seed=1, direction="minimize", study=tmp_path / "m.db")
    try:
        frame = study.to_dataframe()
        assert len(frame) == 8
        assert list(frame["score"]) == pytest.approx([loss(trial.candidate) for trial in study.trials])
        without_rate = [trial.number for trial in study.trials if "rate" not in trial.candidate]
        assert without_rate and len(without_rate) < 8  # this seed's search met both branches of the Optional
        assert all(math.isnan(frame.loc[frame["number"] == number, "decision.rate"].item()) for number in without_rate)
    finally:
        study.close()


def test_to_dataframe_of_an_empty_study_has_the_trial_columns(tmp_path):
    from automl.engine.storage import StudyStorage

    storage = StudyStorage(tmp_path / "empty.db", create=True)
    frame = Study(storage).to_dataframe()
    storage.close()
    assert frame.empty and {"number", "status", "score"} <= set(frame.columns)
