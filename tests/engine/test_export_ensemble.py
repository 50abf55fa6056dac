"""``automl export STUDY --ensemble K``: a real search, an ensemble chosen on validation, one program that gives
the weighted mean of the members' class probabilities, a study left as it was, and bad input in one line."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.engine.test_cli import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[2]
AUTOML = [sys.executable, "-m", "automl.cli.main"]


def run_process(*arguments):
    return subprocess.run([*AUTOML, *map(str, arguments)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def wine_study(tmp_path_factory):
    """The study `automl search` makes, made in this process: the export commands below run as real processes."""
    import automl

    study = tmp_path_factory.mktemp("ensemble") / "wine.db"
    space = str(ROOT / "search_spaces" / "mlp.py")
    automl.search(space, "wine", trials=5, epochs=3, strategy="random", seed=3, study=study).close()
    return study


@pytest.fixture(scope="module")
def exported(wine_study, tmp_path_factory):
    before = digest(wine_study)
    artifacts_before = sorted(path.name for path in Path(f"{wine_study}.artifacts").iterdir())
    output = tmp_path_factory.mktemp("exported") / "ensemble"
    result = run_process("export", wine_study, "--ensemble", "3", "-o", output)
    assert result.returncode == 0, result.stderr + result.stdout
    assert digest(wine_study) == before, "export --ensemble changed the study"
    assert sorted(path.name for path in Path(f"{wine_study}.artifacts").iterdir()) == artifacts_before
    return output, result.stdout


def test_the_program_gives_the_weighted_mean_of_the_members_probabilities(wine_study, exported):
    from automl.engine.export import evaluator_of
    from automl.engine.study import Study

    output, _ = exported
    document = json.loads((output / "ensemble.json").read_text())
    assert len(document["members"]) == 3
    weights = np.array([member["weight"] for member in document["members"]])
    assert weights.sum() == pytest.approx(1.0)
    assert np.all(weights >= 0)

    study = Study.open(wine_study)
    evaluator = evaluator_of(study)
    features = torch.as_tensor(evaluator.splits.test.features, dtype=torch.float32)
    expected = torch.zeros((len(features), evaluator.splits.num_outputs), dtype=torch.float64)
    for member in document["members"]:
        folder = output / member["folder"]
        description = json.loads((folder / "architecture.json").read_text())
        assert description["trial"] == member["trial"]
        assert description["ensemble_weight"] == member["weight"]
        trial = study.storage.trial(member["trial"])
        module = evaluator.build(trial.candidate, trial.budget).compiled.module
        module.load_state_dict(torch.load(folder / "state_dict.pt", weights_only=True))
        module.eval()
        with torch.no_grad():
            expected += member["weight"] * torch.softmax(module(features), dim=1).double()
    study.close()

    program = torch.export.load(str(output / "model.pt2")).module()
    with torch.no_grad():
        produced = program(features)
    assert produced.shape == expected.shape
    assert torch.allclose(produced.double(), expected, atol=1e-5)
    assert torch.allclose(produced.sum(dim=1), torch.ones(len(features)), atol=1e-5)
    truth = np.asarray(evaluator.splits.test.target)
    assert document["test_score"] == pytest.approx(float(np.mean(produced.argmax(dim=1).numpy() == truth)))
    low, high = document["test_interval"]
    assert low <= document["test_score"] <= high


def test_members_without_stored_weights_are_retrained_to_the_same_model(exported):
    """The search kept the best trial's weights only; the others, retrained from their seeds, score as stored."""
    output, _ = exported
    members = json.loads((output / "ensemble.json").read_text())["members"]
    assert [member["retrained"] for member in members].count(False) == 1
    for member in members:
        assert member["validation_score"] == pytest.approx(member["stored_validation_score"], abs=1e-6)


def test_the_ensemble_is_not_worse_than_its_best_member_on_validation(exported):
    output, stdout = exported
    document = json.loads((output / "ensemble.json").read_text())
    best = max(member["validation_score"] for member in document["members"])
    assert document["best_member_validation_score"] == best
    assert document["validation_score"] >= best
    assert "validation accuracy: ensemble" in stdout
    assert "best single member" in stdout and "95% bootstrap interval" in stdout
    for member in document["members"]:
        assert any(line.split()[:1] == [str(member["trial"])] for line in stdout.splitlines())


def test_a_batch_of_any_size_goes_through_the_program(wine_study, exported):
    output, _ = exported
    program = torch.export.load(str(output / "model.pt2")).module()
    for rows in (1, 7):
        assert program(torch.zeros((rows, 13))).shape == (rows, 3)


@pytest.mark.parametrize("size", ["1", "0"])
def test_fewer_than_two_members_is_refused(wine_study, tmp_path, size):
    assert_one_line_error(run("export", wine_study, "--ensemble", size, "-o", tmp_path / "out"), "2 or more")
    assert not (tmp_path / "out").exists()


def test_more_members_than_complete_trials_is_refused(wine_study, tmp_path):
    result = run("export", wine_study, "--ensemble", "6", "-o", tmp_path / "out")
    assert_one_line_error(result, "--ensemble 6 asks for more members")
    assert not (tmp_path / "out").exists()


def test_a_missing_study_is_refused(tmp_path):
    assert_one_line_error(run("export", tmp_path / "none.db", "--ensemble", "3", "-o", tmp_path / "out"), "not exist")


def test_trial_and_ensemble_together_are_refused(wine_study, tmp_path):
    result = run("export", wine_study, "--ensemble", "3", "--trial", "1", "-o", tmp_path / "out")
    assert_one_line_error(result, "exclude each other")


def test_a_folder_that_is_not_empty_is_refused(wine_study, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert_one_line_error(run("export", wine_study, "--ensemble", "2", "-o", tmp_path / "out"), "not empty")
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_a_custom_objective_study_is_refused(tmp_path):
    import automl

    study = tmp_path / "objective.db"
    automl.search(str(ROOT / "search_spaces/mlp.py"), objective=lambda candidate: 1.0, trials=3, study=study)
    assert_one_line_error(run("export", study, "--ensemble", "2", "-o", tmp_path / "out"), "custom objective")


def test_a_regression_ensemble_averages_the_members_predictions(tmp_path):
    from automl.engine.export import evaluator_of
    from automl.engine.study import Study

    study_path = tmp_path / "regression.db"
    arguments = ["--data", "synthetic-regression", "--trials", "3", "--epochs", "2", "--strategy", "random"]
    assert run("search", "search_spaces/mlp.py", *arguments, "--study", study_path, "-q").returncode == 0
    result = run("export", study_path, "--ensemble", "2", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "validation R²: ensemble" in result.stdout
    document = json.loads((tmp_path / "out" / "ensemble.json").read_text())
    assert document["validation_score"] >= document["best_member_validation_score"]
    study = Study.open(study_path)
    evaluator = evaluator_of(study)
    features = torch.as_tensor(evaluator.splits.test.features, dtype=torch.float32)
    expected = torch.zeros(len(features), dtype=torch.float64)
    for member in document["members"]:
        trial = study.storage.trial(member["trial"])
        module = evaluator.build(trial.candidate, trial.budget).compiled.module
        module.load_state_dict(torch.load(tmp_path / "out" / member["folder"] / "state_dict.pt", weights_only=True))
        module.eval()
        with torch.no_grad():
            expected += member["weight"] * module(features).reshape(-1).double()
    study.close()
    produced = torch.export.load(str(tmp_path / "out" / "model.pt2")).module()(features)
    assert torch.allclose(produced.reshape(-1).double(), expected, atol=1e-5)
    low, high = document["test_interval"]
    assert low <= document["test_score"] <= high


def test_members_trained_on_their_top_features_read_them_from_the_full_feature_vector(tmp_path):
    from automl.engine.export import evaluator_of
    from automl.engine.study import Study

    study_path = tmp_path / "kept.db"
    arguments = ["--data", "wine", "--trials", "3", "--epochs", "2", "--rank-features", "mi", "--keep", "5"]
    result = run("search", "search_spaces/mlp.py", *arguments, "--study", study_path, "-q")
    assert result.returncode == 0, result.stderr + result.stdout
    assert run("export", study_path, "--ensemble", "3", "-o", tmp_path / "out").returncode == 0
    document = json.loads((tmp_path / "out" / "ensemble.json").read_text())
    study = Study.open(study_path)
    evaluator = evaluator_of(study)
    assert all(member["columns"] == evaluator.feature_order[:5] for member in document["members"])
    features = torch.as_tensor(evaluator.splits.test.features, dtype=torch.float32)
    assert features.shape[1] == 13
    expected = torch.zeros((len(features), 3), dtype=torch.float64)
    for member in document["members"]:
        trial = study.storage.trial(member["trial"])
        module = evaluator.build(trial.candidate, trial.budget).compiled.module
        module.load_state_dict(torch.load(tmp_path / "out" / member["folder"] / "state_dict.pt", weights_only=True))
        module.eval()
        with torch.no_grad():
            expected += member["weight"] * torch.softmax(module(features[:, member["columns"]]), dim=1).double()
    study.close()
    produced = torch.export.load(str(tmp_path / "out" / "model.pt2")).module()(features)
    assert torch.allclose(produced.double(), expected, atol=1e-5)
