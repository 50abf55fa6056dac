"""The `automl` command: bad input gives one line and exit status 2; a small search works end to end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AUTOML = [sys.executable, "-m", "automl.cli.main"]


def run_process(*arguments, cwd=ROOT):
    return subprocess.run([*AUTOML, *map(str, arguments)], cwd=cwd, capture_output=True, text=True, timeout=240)


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(*arguments):
    """In-process (fast); the end-to-end test below runs a real process."""
    from click.testing import CliRunner

    from automl.cli.main import cli

    previous = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(cli, list(map(str, arguments)), catch_exceptions=False)
    finally:
        os.chdir(previous)
    return Result(result.exit_code, result.stdout, result.stderr)


def assert_one_line_error(result, expected):
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    return path


def test_missing_space_file(tmp_path):
    assert_one_line_error(
        run("search", tmp_path / "nope.py", "--data", "wine", "--study", tmp_path / "s.db"), "not found"
    )


def test_malformed_space_file(tmp_path):
    space = tmp_path / "broken.py"
    space.write_text("from automl import space as s\n@s.search_space\ndef f(x:\n    return x\n")
    assert_one_line_error(run("search", space, "--data", "wine", "--study", tmp_path / "s.db"), "syntax error")


def test_space_file_without_a_space(tmp_path):
    space = tmp_path / "empty.py"
    space.write_text("x = 1\n")
    assert_one_line_error(run("search", space, "--data", "wine", "--study", tmp_path / "s.db"), "no @search_space")


def test_unknown_strategy(tmp_path):
    result = run(
        "search", "search_spaces/mlp.py", "--data", "wine", "--strategy", "genetic", "--study", tmp_path / "s.db"
    )
    assert_one_line_error(result, "unknown strategy 'genetic'")


def test_unknown_data_set(tmp_path):
    assert_one_line_error(
        run("search", "search_spaces/mlp.py", "--data", "cifar10", "--study", tmp_path / "s.db"), "cifar10"
    )


def test_missing_target_column(tmp_path, csv_file):
    result = run(
        "search", "search_spaces/mlp.py", "--data", csv_file, "--target", "lable", "--study", tmp_path / "s.db"
    )
    assert_one_line_error(result, "lable")


def test_a_non_numeric_column_is_categorical(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("name,b,label\n" + "".join(f"n{i % 3},{i},{i % 2}\n" for i in range(30)))
    arguments = ["--data", path, "--target", "label", "--trials", "1", "--epochs", "1", "--study", tmp_path / "s.db"]
    result = run("search", "search_spaces/tabular.py", *arguments)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "1 categorical features" in result.stdout + result.stderr


def test_empty_data_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = run("search", "search_spaces/mlp.py", "--data", path, "--target", "label", "--study", tmp_path / "s.db")
    assert_one_line_error(result, "empty")


def test_study_file_that_is_not_a_study(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database")
    assert_one_line_error(run("show", path), "not a study")
    result = run("search", "search_spaces/mlp.py", "--data", "wine", "--study", path)
    assert_one_line_error(result, "not a study")
    assert path.read_text() == "these are my notes, not a database"


def test_sqlite_file_that_is_not_a_study(tmp_path):
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER)")
    assert_one_line_error(run("show", path), "not an automl study")


def test_bad_strategy_option(tmp_path):
    result = run(
        "search", "search_spaces/mlp.py", "--data", "wine", "--strategy-option", "c", "--study", tmp_path / "s.db"
    )
    assert_one_line_error(result, "KEY=VALUE")


@pytest.mark.slow
def test_search_show_and_export_end_to_end(tmp_path):
    study = tmp_path / "wine.db"
    result = run_process(
        "search", "search_spaces/mlp.py", "--data", "wine", "--trials", "2", "--epochs", "3", "--study", study, "-q"
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    shown = run_process("show", study)
    assert shown.returncode == 0 and "complete" in shown.stdout
    exported = run_process("export", study, "-o", tmp_path / "model")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "model" / "model.pt2").exists()
    assert (tmp_path / "model" / "architecture.json").exists()


def test_strategies_lists_random():
    result = run("strategies")
    assert result.returncode == 0 and "random" in result.stdout


def test_config_file_supplies_options(tmp_path):
    config = tmp_path / "search.toml"
    config.write_text(
        f'space = "search_spaces/tabular.py"\ndata = "wine"\ntrials = 2\nepochs = 2\nstudy = "{tmp_path / "c.db"}"\n'
    )
    result = run("search", "--config", config, "-q", "--trials", "1")
    assert result.returncode == 0, result.stderr
    from automl.engine.study import Study

    assert len(Study.open(tmp_path / "c.db").trials) == 1  # the command line wins over the file


def test_unknown_config_key(tmp_path):
    config = tmp_path / "search.toml"
    config.write_text("trails = 3\n")
    assert_one_line_error(run("search", "search_spaces/mlp.py", "--config", config), "trails")


def test_a_real_process_reports_bad_input_without_traceback(tmp_path):
    assert_one_line_error(run_process("search", "search_spaces/mlp.py", "--data", "cifar10"), "cifar10")


def test_plot_writes_a_png(tmp_path):
    import automl
    from automl import space as s

    @s.search_space
    def tiny(x):
        return s.op.linear(x, units=s.Choice([1, 2, 3]))

    automl.search(tiny, objective=lambda candidate: candidate["linear.units"], trials=4, study=tmp_path / "p.db")
    result = run("plot", tmp_path / "p.db", "-o", tmp_path / "plot.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"


# -- start-up: --help imports no heavy module; user errors are recognised lazily ---------------------------------

HEAVY_MODULES = (
    "torch", "dask", "distributed", "numpy", "pandas", "pyarrow", "sklearn", "scipy", "ConfigSpace", "smac",
    "networkx", "matplotlib", "rich", "automl.engine", "automl.api", "automl.nn", "automl.ranking",
)  # fmt: skip

STARTUP_PROBE = """
import json, os, sys
os.execv = os.execve = None  # the command must not re-execute itself
from click.testing import CliRunner
from automl.cli.main import cli
helps = [["--help"], *([name, "--help"] for name in cli.list_commands(None))]
codes = [CliRunner().invoke(cli, arguments, catch_exceptions=False).exit_code for arguments in helps]
heavy = sorted({h for h in HEAVY for name in sys.modules if name == h or name.startswith(h + ".")})
print(json.dumps({"commands": [arguments[0] for arguments in helps], "codes": codes, "heavy": heavy}))
"""


def test_help_imports_no_heavy_module():
    """``automl --help`` and every ``automl COMMAND --help`` start without torch, dask, pandas... (issue 10)."""
    import json

    environment = {key: value for key, value in os.environ.items() if key != "PYTHONHASHSEED"}
    probe = f"HEAVY = {HEAVY_MODULES!r}\n{STARTUP_PROBE}"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"search", "strategies", "rank", "show", "plot", "export"} <= set(report["commands"])
    assert set(report["codes"]) == {0}, report
    assert report["heavy"] == [], f"--help imported {report['heavy']}: import them inside the command that needs them"


def test_every_user_error_class_is_named_correctly():
    """The lazy user-error check names classes by module; a renamed or moved class would slip through."""
    from automl.cli.errors import USER_ERROR_NAMES, all_user_errors, is_user_error

    classes = all_user_errors()
    assert len(classes) == len(USER_ERROR_NAMES)
    for error_class in classes:
        assert issubclass(error_class, Exception), error_class
        assert is_user_error(error_class("x"))
    assert not is_user_error(RuntimeError("a bug"))


def test_a_bug_is_not_reported_as_a_user_error(monkeypatch):
    from click.testing import CliRunner

    import automl.plugins
    from automl.cli.main import cli

    def broken():
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(automl.plugins, "load_plugins", broken)
    with pytest.raises(RuntimeError, match="a bug of ours"):
        CliRunner().invoke(cli, ["strategies"], catch_exceptions=False)


def test_strategies_name_shows_description_package_and_options():
    from automl.strategies.mcts import MCTSStrategy
    from automl.strategies.options import describe_options

    result = run("strategies", "mcts")
    assert result.returncode == 0, result.stderr
    assert "Monte Carlo tree search" in result.stdout
    assert "provided by: automl (built-in)" in result.stdout
    for header in ("option", "type", "default", "allowed", "help"):
        assert header in result.stdout
    for info in describe_options(MCTSStrategy.Options):
        assert info.name in result.stdout
    assert "--strategy-option" in result.stdout


def test_strategies_name_without_options(monkeypatch):
    from dataclasses import dataclass

    from click.testing import CliRunner

    import automl.plugins
    from automl.cli.main import cli
    from automl.plugins import hookimpl, load_plugins
    from automl.strategies.random import RandomStrategy

    class Plain(RandomStrategy):
        """A plugin's strategy that declares an Options class with no fields."""

        name = "plain"

        @dataclass(frozen=True)
        class Options:
            pass

    class PlainPlugin:
        @hookimpl
        def automl_strategies(self):
            return [Plain]

    monkeypatch.setattr(automl.plugins, "load_plugins", lambda: load_plugins(entry_points=False, extra=[PlainPlugin()]))
    result = CliRunner().invoke(cli, ["strategies", "plain"], catch_exceptions=False)
    assert result.exit_code == 0 and "options: none" in result.stdout, result.output


def test_strategies_unknown_name_suggests_the_closest():
    result = run("strategies", "smbbo")
    assert_one_line_error(result, "unknown strategy 'smbbo' (did you mean 'smbo'?)")


def test_strategies_name_of_an_installed_plugin_names_its_distribution():
    import importlib.metadata

    try:
        version = importlib.metadata.version("automl-evolution")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("plugins/automl-evolution is not installed")
    result = run("strategies", "evolution")
    assert result.returncode == 0, result.stderr
    assert f"provided by: automl-evolution {version}" in result.stdout
    assert "population" in result.stdout
