"""``automl export STUDY [--trial N | --ensemble K] --format onnx``: a real search, a ``model.onnx`` that passes
onnx's checker, takes any batch size and gives the torch model's outputs, and bad input in one line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.engine.test_cli import assert_one_line_error, run

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed: pip install automl[onnx]")
pytest.importorskip("onnxscript", reason="the onnx extra is not installed: pip install automl[onnx]")

ROOT = Path(__file__).resolve().parents[2]
AUTOML = [sys.executable, "-m", "automl.cli.main"]
TOLERANCE = 1e-4


def run_process(*arguments):
    return subprocess.run([*AUTOML, *map(str, arguments)], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wine_study(tmp_path_factory):
    """The study `automl search` makes, made in this process: the export commands below run as real processes."""
    import automl

    study = tmp_path_factory.mktemp("onnx") / "wine.db"
    space = str(ROOT / "search_spaces" / "mlp.py")
    automl.search(space, "wine", trials=4, epochs=2, strategy="random", seed=3, device="cpu", study=study).close()
    return study


@pytest.fixture(scope="module")
def single(wine_study, tmp_path_factory):
    output = tmp_path_factory.mktemp("single") / "model"
    result = run_process("export", wine_study, "--format", "onnx", "-o", output)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stderr.strip() == "", result.stderr  # the exporter's progress lines and notices are not shown
    return output, result.stdout


@pytest.fixture(scope="module")
def ensemble(wine_study, tmp_path_factory):
    output = tmp_path_factory.mktemp("ensemble") / "model"
    result = run_process("export", wine_study, "--ensemble", "3", "--format", "onnx", "-o", output)
    assert result.returncode == 0, result.stderr + result.stdout
    return output, result.stdout


@pytest.fixture(scope="module")
def test_features(wine_study):
    from automl.engine.export import evaluator_of
    from automl.engine.study import Study

    study = Study.open(wine_study)
    try:
        evaluator = evaluator_of(study)
    finally:
        study.close()
    return evaluator, np.ascontiguousarray(evaluator.splits.test.features, dtype=np.float32)


def session_of(path: Path):
    onnxruntime = pytest.importorskip("onnxruntime")
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def assert_valid_with_dynamic_batch(path: Path, features: int, outputs: int) -> None:
    onnx.checker.check_model(str(path), full_check=True)
    graph = onnx.load(str(path)).graph
    assert [value.name for value in graph.input] == ["features"]
    assert [value.name for value in graph.output] == ["outputs"]
    input_shape = graph.input[0].type.tensor_type.shape.dim
    output_shape = graph.output[0].type.tensor_type.shape.dim
    assert input_shape[0].dim_param == "batch" and output_shape[0].dim_param == "batch"
    assert input_shape[1].dim_value == features and output_shape[1].dim_value == outputs


def test_single_model_writes_the_usual_files_and_a_checked_onnx_file(single, test_features):
    output, stdout = single
    evaluator, features = test_features
    assert sorted(path.name for path in output.iterdir()) == [
        "architecture.json",
        "model.onnx",
        "model.pt2",
        "state_dict.pt",
    ]
    assert_valid_with_dynamic_batch(output / "model.onnx", features.shape[1], evaluator.splits.num_outputs)
    assert f"{output / 'model.onnx'}" in stdout and "any batch size" in stdout
    assert f"x a float32 array of shape (rows, {features.shape[1]})" in stdout


def test_single_model_onnx_gives_the_trained_models_outputs(wine_study, single, test_features):
    output, _ = single
    evaluator, features = test_features
    from automl.engine.study import Study

    description = json.loads((output / "architecture.json").read_text())
    study = Study.open(wine_study)
    try:
        trial = study.storage.trial(description["trial"])
    finally:
        study.close()
    module = evaluator.build(trial.candidate, trial.budget).compiled.module
    module.load_state_dict(torch.load(output / "state_dict.pt", weights_only=True))
    module.eval()
    session = session_of(output / "model.onnx")
    for rows in (features, features[:1], features[:7]):
        with torch.no_grad():
            expected = module(torch.from_numpy(rows)).numpy()
        (produced,) = session.run(None, {"features": rows})
        assert produced.shape == expected.shape == (len(rows), evaluator.splits.num_outputs)
        np.testing.assert_allclose(produced, expected, atol=TOLERANCE, rtol=0)


def test_ensemble_onnx_is_checked_and_gives_the_programs_class_probabilities(ensemble, test_features):
    output, stdout = ensemble
    evaluator, features = test_features
    names = {path.name for path in output.iterdir()}
    assert {"model.onnx", "model.pt2", "ensemble.json"} <= names
    assert len([name for name in names if name.startswith("trial-")]) == 3
    assert_valid_with_dynamic_batch(output / "model.onnx", features.shape[1], evaluator.splits.num_outputs)
    assert f"{output / 'model.onnx'}" in stdout

    program = torch.export.load(str(output / "model.pt2")).module()
    session = session_of(output / "model.onnx")
    for rows in (features, features[:1], features[:7]):
        with torch.no_grad():
            expected = program(torch.from_numpy(rows)).numpy()
        (produced,) = session.run(None, {"features": rows})
        assert produced.shape == (len(rows), evaluator.splits.num_outputs)
        np.testing.assert_allclose(produced, expected, atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(produced.sum(axis=1), 1.0, atol=TOLERANCE)  # a mean of class probabilities


def test_the_default_format_writes_no_onnx_file(wine_study, tmp_path):
    result = run("export", wine_study, "-o", tmp_path / "model")
    assert result.returncode == 0, result.stderr + result.stdout
    assert not (tmp_path / "model" / "model.onnx").exists()
    assert (tmp_path / "model" / "model.pt2").exists()


def test_unknown_format_is_one_line_and_writes_nothing(wine_study, tmp_path):
    result = run("export", wine_study, "--format", "tensorflow", "-o", tmp_path / "model")
    assert_one_line_error(result, "Invalid value for '--format'")
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("options", [[], ["--ensemble", "2"]])
def test_missing_onnx_packages_name_the_extra_before_any_work(wine_study, tmp_path, monkeypatch, options):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if it were not installed: importing it fails
    result = run("export", wine_study, *options, "--format", "onnx", "-o", tmp_path / "model")
    assert_one_line_error(result, "pip install automl[onnx]")
    assert "onnxscript" in result.stderr
    assert not (tmp_path / "model").exists()
