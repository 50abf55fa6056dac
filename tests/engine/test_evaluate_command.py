"""``automl evaluate`` on a real small search: what it prints is what it stores; bad input is one line, exit 2."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

import automl
from automl import space as s
from automl.cli import evaluate_command
from automl.cli.main import cli
from automl.engine.lock import StudyLock
from automl.engine.study import Study
from automl.evaluation import cross_validation

MLP = Path(__file__).resolve().parents[2] / "search_spaces" / "mlp.py"
TRAINING_ROWS = 142  # wine: 178 rows, 20% held out for the test split


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A real search: the MLP space on wine, 5 random trials of 3 epochs."""
    path = tmp_path_factory.mktemp("searched") / "wine.db"
    automl.search(str(MLP), "wine", strategy="random", trials=5, epochs=3, seed=0, study=path).close()
    return path


@pytest.fixture
def study(searched, tmp_path):
    """A copy of the searched study (its file and its stored weights) that a test may write."""
    copy = tmp_path / "wine.db"
    shutil.copy(searched, copy)
    shutil.copytree(searched.with_name(searched.name + ".artifacts"), copy.with_name(copy.name + ".artifacts"))
    return copy


def invoke(*arguments):
    return CliRunner().invoke(cli, ["evaluate", *map(str, arguments)])


def stored(path):
    opened = Study.open(path)
    try:
        return opened.meta, [opened.trial_record(trial) for trial in opened.trials]
    finally:
        opened.close()


def top_trials(path, count):
    opened = Study.open(path)
    try:
        ranked = sorted(opened.completed(), key=lambda trial: (-trial.score, trial.number))
        return [trial.number for trial in ranked][:count], opened.test_score, opened.best_trial.number
    finally:
        opened.close()


def weights_digest(path):
    folder = path.with_name(path.name + ".artifacts")
    return {file.name: hashlib.sha256(file.read_bytes()).hexdigest() for file in sorted(folder.glob("*.pt"))}


def test_evaluate_prints_the_numbers_it_stores_and_changes_nothing_else(study):
    meta_before, trials_before = stored(study)
    weights_before = weights_digest(study)
    result = invoke(study, "--top", 2, "--folds", 3, "--repeats", 2)
    assert result.exit_code == 0, result.output
    meta, trials = stored(study)
    document = meta.pop("evaluation")
    assert meta == meta_before and trials == trials_before and weights_digest(study) == weights_before
    expected_top, test_score, best = top_trials(study, 2)
    candidates = document["candidates"]
    assert [record["trial"] for record in candidates] == expected_top
    assert document["rows"] == TRAINING_ROWS and document["method"] == "k-fold" and document["stratified"]
    assert document["test_size"] == round(TRAINING_ROWS / 3) and document["train_size"] == round(TRAINING_ROWS * 2 / 3)
    rows = [line.split() for line in result.stdout.splitlines() if re.match(r"\s+\d+\s+\d", line)]
    table = {int(row[0]): row for row in rows}
    assert sorted(table) == sorted(expected_top)
    top_scores = np.array(candidates[0]["scores"])
    for record in candidates:
        scores = np.array(record["scores"])
        assert scores.size == 6 and np.all((scores >= 0) & (scores <= 1))
        assert record["mean"] == pytest.approx(scores.mean())
        low, high = stats.t.interval(0.95, df=5, loc=scores.mean(), scale=stats.sem(scores))
        assert record["interval"] == pytest.approx([max(low, 0.0), min(high, 1.0)])
        row = table[record["trial"]]
        assert row[1] == f"{record['validation_score']:.4f}" and row[2] == f"{record['mean']:.4f}"
        assert " ".join(row[3:5]) == f"[{record['interval'][0]:.4f}, {record['interval'][1]:.4f}]"
        assert " ".join(row[5:7]) == f"[{record['corrected_interval'][0]:.4f}, {record['corrected_interval'][1]:.4f}]"
    # the second candidate against the top one: Nadeau & Bengio's corrected resampled t-test on the paired scores
    differences = np.array(candidates[1]["scores"]) - top_scores
    variance = (1 / 6 + document["test_size"] / document["train_size"]) * differences.var(ddof=1)
    expected_p = 1.0 if variance == 0 else 2 * stats.t.sf(abs(differences.mean()) / np.sqrt(variance), df=5)
    assert candidates[1]["against_top"]["p_value"] == pytest.approx(expected_p)
    assert table[candidates[1]["trial"]][7] == f"{candidates[1]['against_top']['p_value']:.4f}"
    assert candidates[1]["against_top"]["reading"] in result.stdout
    test = document["test"]
    assert test["trial"] == best and test["score"] == test_score and test["rows"] == 178 - TRAINING_ROWS
    assert test["interval"][0] <= test_score <= test["interval"][1]
    assert (
        f"(trial {best}, its stored weights, scored once): {test_score:.4f}, 95% bootstrap interval "
        f"[{test['interval'][0]:.4f}, {test['interval'][1]:.4f}] over {test['rows']} test rows" in result.stdout
    )
    assert document["nested"] is None and document["trainings"] == 2 * 6


def test_json_output_is_the_stored_document_and_show_prints_it(study):
    result = invoke(study, "--top", 1, "--holdout", "--repeats", 3, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document == stored(study)[0]["evaluation"]
    assert document["method"] == "holdout" and len(document["candidates"][0]["scores"]) == 3
    assert document["candidates"][0]["against_top"] is None
    shown = CliRunner().invoke(cli, ["show", str(study)])
    assert shown.exit_code == 0, shown.output
    record = document["candidates"][0]
    assert "evaluation (" in shown.stdout and "repeated holdout (3 splits, 20% held out each" in shown.stdout
    low, high = record["interval"]
    assert f"trial {record['trial']}: CV {record['mean']:.4f} [{low:.4f}, {high:.4f}]" in shown.stdout
    as_json = json.loads(CliRunner().invoke(cli, ["show", str(study), "--format", "json"]).stdout)
    assert as_json["evaluation"] == document


def test_nested_cross_validation_reports_one_outer_score_per_fold_and_its_choice(study):
    result = invoke(study, "--top", 2, "--folds", 3, "--repeats", 1, "--nested")
    assert result.exit_code == 0, result.output
    nested = stored(study)[0]["evaluation"]["nested"]
    expected_top, _, _ = top_trials(study, 2)
    assert nested["outer_folds"] == 3 and len(nested["folds"]) == len(nested["scores"]) == 3
    for fold in nested["folds"]:
        means = {int(number): mean for number, mean in fold["inner_means"].items()}
        assert set(means) == set(expected_top)
        assert fold["selected"] == max(expected_top, key=lambda number: (means[number], -expected_top.index(number)))
        assert fold["train_rows"] + fold["test_rows"] == TRAINING_ROWS
        line = f"outer fold {fold['fold']}: selected trial {fold['selected']}, score {fold['score']:.4f}"
        assert line in result.stdout
    assert nested["mean"] == pytest.approx(np.mean(nested["scores"]))
    low, high = nested["interval"]
    assert f"mean {nested['mean']:.4f}, 95% t-interval [{low:.4f}, {high:.4f}]" in result.stdout


def test_the_same_seed_gives_the_same_scores(study):
    runs = []
    for _ in range(2):
        assert invoke(study, "--top", 1, "--folds", 2, "--repeats", 1, "--seed", 4).exit_code == 0
        runs.append(stored(study)[0]["evaluation"]["candidates"][0]["scores"])
    assert runs[0] == runs[1] and len(runs[0]) == 2


def test_above_the_large_data_threshold_it_uses_repeated_holdout_and_refuses_nested(study, monkeypatch):
    assert evaluate_command.LARGE_DATA_ROWS == cross_validation.LARGE_DATA_ROWS
    monkeypatch.setattr(evaluate_command, "LARGE_DATA_ROWS", 100)
    result = invoke(study, "--top", 1, "--repeats", 2)
    assert result.exit_code == 0, result.output
    assert stored(study)[0]["evaluation"]["method"] == "holdout"
    assert_one_line_error(invoke(study, "--top", 1, "--nested"), "nested cross-validation is for small data")


# ---------------------------------------------------------------------------------------------- bad input


def assert_one_line_error(result, expected):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


@s.search_space
def toy(x):
    return s.op.linear(x, units=s.Choice([1, 2, 4], name="width"))


@pytest.fixture(scope="module")
def objective_study(tmp_path_factory):
    path = tmp_path_factory.mktemp("objective") / "objective.db"
    automl.search(toy, objective=lambda candidate: candidate["width"], trials=3, seed=0, study=path).close()
    return path


@pytest.fixture(scope="module")
def changed_data_study(tmp_path_factory):
    """A study searched on a CSV file that was edited afterwards."""
    from sklearn.datasets import load_wine

    tmp_path = tmp_path_factory.mktemp("changed")
    features, target = load_wine(return_X_y=True)
    data = tmp_path / "wine.csv"
    header = ",".join(f"f{index}" for index in range(features.shape[1])) + ",label\n"
    rows = [",".join(f"{value:g}" for value in row) + f",{label}\n" for row, label in zip(features, target)]
    data.write_text(header + "".join(rows))
    path = tmp_path / "csv.db"
    automl.search(str(MLP), str(data), target="label", strategy="random", trials=2, epochs=1, study=path).close()
    data.write_text(header + "".join(rows[:-1]))  # one row fewer
    return path


@pytest.fixture(scope="module")
def low_budget_study(tmp_path_factory):
    """Successive halving with budgets 1, 3 and 9 epochs: 3 trials never reach the full 9."""
    path = tmp_path_factory.mktemp("low_budget") / "halving.db"
    automl.search(
        str(MLP), "wine", strategy="random", multi_fidelity="successive-halving", trials=3, epochs=9, study=path
    ).close()
    return path


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["{missing}", "--top", "1"], "does not exist"),
        (["{study}", "--top", "0"], "--top must be 1 or more"),
        (["{study}", "--top", "99"], "use --top 5 or fewer"),
        (["{study}", "--top", "1", "--folds", "1"], "--folds must be 2 or more"),
        (["{study}", "--top", "1", "--repeats", "0"], "--repeats must be 1 or more"),
        (["{study}", "--top", "1", "--holdout", "--repeats", "1"], "2 or more repeats"),
        (["{study}", "--top", "1", "--folds", "80"], "too few for 80 folds"),
        (["{objective}", "--top", "1"], "custom objective"),
        (["{changed}", "--top", "1"], "changed since the search"),
        (["{not_a_study}", "--top", "1"], "not a study"),
        (["{low_budget}", "--top", "1"], "no complete trial at the full budget (the highest reached is 1 of 9)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_stores_nothing(
    arguments, expected, study, objective_study, changed_data_study, low_budget_study, tmp_path
):
    not_a_study = tmp_path / "notes.db"
    not_a_study.write_text("not a database")
    paths = {
        "study": study,
        "missing": tmp_path / "missing.db",
        "objective": objective_study,
        "changed": changed_data_study,
        "not_a_study": not_a_study,
        "low_budget": low_budget_study,
    }
    assert_one_line_error(invoke(*(argument.format(**paths) for argument in arguments)), expected)
    for path in (study, objective_study, changed_data_study, low_budget_study):
        assert "evaluation" not in stored(path)[0]


def test_a_study_a_search_is_writing_is_refused(study):
    lock = StudyLock(study).acquire()  # this process holds the writer lock, as a running search would
    try:
        assert_one_line_error(invoke(study, "--top", 1), "is being written by process")
    finally:
        lock.release()
    assert "evaluation" not in stored(study)[0]


def test_a_resample_stops_early_on_its_own_training_rows_and_is_standardised_by_them(searched):
    """The rows a resample is scored on take no part in training, early stopping or standardisation."""
    from automl.engine.export import evaluator_of
    from automl.engine.retraining import CandidateTrainer

    opened = Study.open(searched)
    try:
        evaluator = evaluator_of(opened)
        trainer = CandidateTrainer(evaluator, {trial.number: trial for trial in opened.completed()})
    finally:
        opened.close()
    pooled = trainer.rows
    original = evaluator.splits
    assert pooled.rows == original.train.rows + original.validation.rows == TRAINING_ROWS
    # the pooled features are the study's, standardisation undone
    restored = (pooled.features[: original.train.rows] - original.feature_mean) / original.feature_scale
    assert np.allclose(restored, original.train.features, atol=1e-5)
    plan = cross_validation.kfold_plan(pooled.target, folds=4, seed=0)
    resample = plan.resamples[0]
    splits = trainer.splits_for(resample.train, resample.test, seed=0)
    assert splits.test.rows == resample.test.size
    assert splits.train.rows + splits.validation.rows == resample.train.size
    assert splits.validation.rows == pytest.approx(pooled.validation_share * resample.train.size, abs=1)
    assert np.allclose(splits.train.features.mean(axis=0), 0.0, atol=1e-5)  # fitted on the training rows alone
    assert np.allclose(splits.train.features.std(axis=0), 1.0, atol=1e-4)
    expected_test = (pooled.features[resample.test] - splits.feature_mean) / splits.feature_scale
    assert np.allclose(splits.test.features, expected_test, atol=1e-5)
    assert np.array_equal(splits.test.target, pooled.target[resample.test])
    raw_test = original.test.features * original.feature_scale + original.feature_mean
    distances = np.abs(raw_test[:, None, :] - pooled.features[None, :, :]).max(axis=2)
    assert distances.min() > 1e-3  # no row of the study's test split is among the rows resampled
