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
