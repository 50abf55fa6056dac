"""Plugins: built-ins through the public hooks, broken plugins skipped by name, clashes reported."""

import importlib.metadata

import pytest

from automl.plugins import PluginError, hookimpl, load_plugins
from automl.strategies.random import RandomStrategy


def test_builtins_register_through_the_hooks():
    plugins = load_plugins(entry_points=False)
    assert plugins.strategies()["random"].plugin == "automl"
    assert "digits" in plugins.datasets()
    assert "conv2d" in plugins.op_registry()
    assert "outrank" in plugins.feature_rankers()


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(monkeypatch):
    broken = importlib.metadata.EntryPoint(name="broken", value="no_such_module_anywhere", group="automl")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [broken])
    plugins = load_plugins()
    assert len(plugins.failures) == 1
    assert "plugin 'broken'" in plugins.failures[0] and "no_such_module_anywhere" in plugins.failures[0]
    assert "random" in plugins.strategies()


def test_two_plugins_claiming_one_strategy_name_is_an_error():
    class Copycat(RandomStrategy):
        description = "another random"

    class Clashing:
        @hookimpl
        def automl_strategies(self):
            return [Copycat]

    plugins = load_plugins(entry_points=False, extra=[Clashing()])
    with pytest.raises(PluginError, match=r"strategy .random. is provided by both plugin .automl. and plugin"):
        plugins.strategies()


def test_unknown_strategy_lists_the_available_ones():
    with pytest.raises(PluginError, match=r"available: .*random"):
        load_plugins(entry_points=False).strategy("annealing")


# -- isolation: a broken plugin is reported by name and skipped; everything else keeps working ------------------


class BrokenStrategies:
    """A plugin whose strategy module cannot be imported (a missing dependency)."""

    @hookimpl
    def automl_strategies(self):
        import automl_no_such_dependency  # noqa: F401

        return []


class NamelessStrategies:
    @hookimpl
    def automl_strategies(self):
        return [object()]


def tiny_space():
    from automl import space as s

    @s.search_space
    def tiny(x):
        return s.op.linear(x, units=s.Choice([1, 2, 3]))

    return tiny


def test_a_plugin_whose_hook_raises_is_skipped_and_recorded():
    plugins = load_plugins(entry_points=False, extra=[BrokenStrategies()])
    strategies = plugins.strategies()
    assert {"random", "mcts", "smbo"} <= set(strategies)
    assert plugins.broken == {
        "BrokenStrategies": "failed to load: automl_strategies() raised "
        "ModuleNotFoundError: No module named 'automl_no_such_dependency'"
    }
    (failure,) = plugins.failures
    assert failure.startswith("plugin 'BrokenStrategies' (registered in-process) failed to load")
    plugins.strategies()
    assert len(plugins.failures) == 1  # recorded once, however often the hook is collected
    assert "digits" in plugins.datasets() and "outrank" in plugins.feature_rankers()


def test_builtins_still_run_next_to_a_broken_plugin(tmp_path):
    import automl

    plugins = load_plugins(entry_points=False, extra=[BrokenStrategies()])
    study = automl.search(
        tiny_space(),
        objective=lambda candidate: candidate["linear.units"],
        plugins=plugins,
        strategy="random",
        trials=3,
        study=tmp_path / "s.db",
    )
    assert [trial.status.value for trial in study.trials] == ["complete"] * 3


def test_unknown_strategy_names_the_broken_plugin():
    plugins = load_plugins(entry_points=False, extra=[BrokenStrategies()])
    with pytest.raises(PluginError) as raised:
        plugins.strategy("evolutionary")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("unknown strategy 'evolutionary'; plugin 'BrokenStrategies' (registered in-process)")
    assert "failed to load: automl_strategies() raised ModuleNotFoundError" in message
    assert "available: darts, darts-pt, mcts, random, smbo" in message


def test_unknown_strategy_suggests_the_closest_name():
    with pytest.raises(PluginError, match=r"unknown strategy 'mtcs' \(did you mean 'mcts'\?\)"):
        load_plugins(entry_points=False).strategy("mtcs")


def test_a_strategy_without_a_name_breaks_only_its_plugin():
    plugins = load_plugins(entry_points=False, extra=[NamelessStrategies()])
    assert "random" in plugins.strategies()
    assert "NamelessStrategies" in plugins.broken


def test_an_event_hook_that_raises_does_not_end_the_search(tmp_path):
    import automl

    finished = []

    class Crashing:
        @hookimpl
        def automl_trial_finished(self, study, trial):
            raise RuntimeError("logger server down")

    class Recorder:
        @hookimpl
        def automl_trial_finished(self, study, trial):
            finished.append(trial.number)

    plugins = load_plugins(entry_points=False, extra=[Crashing(), Recorder()])
    with pytest.warns(RuntimeWarning, match=r"plugin 'Crashing' .*automl_trial_finished\(\) raised RuntimeError"):
        study = automl.search(
            tiny_space(), objective=lambda c: c["linear.units"], plugins=plugins, trials=3, study=tmp_path / "s.db"
        )
    assert len(study.trials) == 3 and finished == [0, 1, 2]
    assert list(plugins.broken) == ["Crashing"]


def test_an_op_hook_that_raises_leaves_the_builtin_ops():
    class BadOps:
        @hookimpl
        def automl_register_ops(self, registry):
            raise ValueError("bad op spec")

    plugins = load_plugins(entry_points=False, extra=[BadOps()])
    with pytest.warns(RuntimeWarning, match="BadOps"):
        registry = plugins.op_registry()
    assert "conv2d" in registry and "linear" in registry


def test_sources_name_the_package():
    plugins = load_plugins(entry_points=False, extra=[BrokenStrategies()])
    assert plugins.source("automl") == "automl (built-in)"
    assert plugins.source("BrokenStrategies") == "registered in-process"


def test_entry_point_failure_names_the_distribution(monkeypatch):
    from types import SimpleNamespace

    class BrokenEntryPoint:
        name, value = "broken", "automl_broken.plugin"
        dist = SimpleNamespace(metadata={"Name": "automl-broken"}, version="1.2.3")

        def load(self):
            raise ImportError("cannot import name 'Strategy' from 'automl.strategies'")

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [BrokenEntryPoint()])
    plugins = load_plugins()
    assert plugins.failures == [
        "plugin 'broken' (automl-broken 1.2.3, entry point automl_broken.plugin) failed to load: "
        "ImportError: cannot import name 'Strategy' from 'automl.strategies'"
    ]
    assert plugins.source("broken") == "automl-broken 1.2.3"


def test_strategies_command_shows_broken_plugins(monkeypatch):
    from click.testing import CliRunner

    import automl.plugins
    from automl.cli.main import cli

    monkeypatch.setattr(
        automl.plugins, "load_plugins", lambda: load_plugins(entry_points=False, extra=[BrokenStrategies()])
    )
    result = CliRunner().invoke(cli, ["strategies"], catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "random" in result.stdout and "automl (built-in)" in result.stdout
    assert "broken plugins" in result.stdout and "BrokenStrategies" in result.stdout
    assert "automl_no_such_dependency" in result.stdout
    result = CliRunner().invoke(cli, ["strategies", "genetic"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown strategy 'genetic'; plugin 'BrokenStrategies'")
    assert len(result.stderr.splitlines()) == 1


# -- a real installed plugin package (a dist-info directory on sys.path), in real processes ----------------------


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    """A site directory with the distribution ``automl-broken 0.3.0``: two entry points, both broken.

    ``broken-import``: its module raises on import; ``broken-hook``: imports, but its
    ``automl_strategies()`` imports a module that is not installed.
    """
    site = tmp_path_factory.mktemp("site")
    info = site / "automl_broken-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: automl-broken\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(
        "[automl]\nbroken-import = automl_broken_import\nbroken-hook = automl_broken_hook\n"
    )
    (site / "automl_broken_import.py").write_text("raise RuntimeError('automl_broken_import needs CUDA 13')\n")
    (site / "automl_broken_hook.py").write_text(
        "from automl.plugins import hookimpl\n\n\n"
        "@hookimpl\ndef automl_strategies():\n    import automl_broken_dependency\n\n    return []\n"
    )
    return site


def run_with_site(site, *arguments):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "automl.cli.main", *map(str, arguments)],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_installed_broken_plugin_is_listed_by_strategies(broken_site):
    result = run_with_site(broken_site, "strategies")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "random" in result.stdout and "broken plugins" in result.stdout
    assert "broken-import" in result.stdout and "broken-hook" in result.stdout
    assert "automl-broken 0.3.0" in result.stdout


def test_installed_broken_plugin_does_not_stop_a_search(broken_site, tmp_path):
    result = run_with_site(
        broken_site,
        "search", "search_spaces/mlp.py", "--data", "wine", "--trials", "1", "--epochs", "1", "-q",
        "--study", tmp_path / "s.db",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_installed_broken_plugin_is_named_when_its_strategy_is_asked_for(broken_site, tmp_path):
    result = run_with_site(
        broken_site,
        "search", "search_spaces/mlp.py", "--data", "wine", "--strategy", "broken", "--study", tmp_path / "s.db",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: unknown strategy 'broken'")
    assert (
        "plugin 'broken-import' (automl-broken 0.3.0, entry point automl_broken_import) failed to load: "
        "RuntimeError: automl_broken_import needs CUDA 13" in lines[0]
    )
    assert (
        "plugin 'broken-hook' (automl-broken 0.3.0) failed to load: automl_strategies() raised "
        "ModuleNotFoundError: No module named 'automl_broken_dependency'" in lines[0]
    )
    assert not (tmp_path / "s.db").exists()
