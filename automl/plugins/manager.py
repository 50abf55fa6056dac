"""The plugin manager: built-ins plus whatever the ``automl`` entry points bring.

``load_plugins()`` returns a fresh :class:`Plugins`; nothing is global, so a
test can build one with exactly the plugins it wants.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from automl.plugins.hookspecs import PROJECT, AutomlHooks


class PluginError(ValueError):
    """Plugins disagree (two claim one name) or a name is unknown."""


@dataclass(frozen=True)
class Provided:
    """Something a plugin provides: a strategy, a ranker, a data set."""

    name: str
    value: Any
    plugin: str
    description: str


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    failures: list[str] = field(default_factory=list)

    def _collect(self, hook_name: str, what: str) -> dict[str, Provided]:
        provided: dict[str, Provided] = {}
        hook = getattr(self.manager.hook, hook_name)
        for implementation in hook.get_hookimpls():
            for value in implementation.function() or []:
                name = value.name
                if name in provided:
                    raise PluginError(
                        f"{what} {name!r} is provided by both plugin {provided[name].plugin!r} and plugin "
                        f"{implementation.plugin_name!r}; uninstall one of them"
                    )
                provided[name] = Provided(name, value, implementation.plugin_name, getattr(value, "description", ""))
        return provided

    def strategies(self) -> dict[str, Provided]:
        return self._collect("automl_strategies", "strategy")

    def feature_rankers(self) -> dict[str, Provided]:
        return self._collect("automl_feature_rankers", "feature ranker")

    def datasets(self) -> dict[str, Any]:
        return {name: entry.value for name, entry in self._collect("automl_datasets", "data set").items()}

    def strategy(self, name: str) -> type:
        strategies = self.strategies()
        if name not in strategies:
            raise PluginError(f"unknown strategy {name!r}; available: {', '.join(sorted(strategies))}")
        return strategies[name].value

    def feature_ranker(self, name: str) -> type:
        rankers = self.feature_rankers()
        if name not in rankers:
            raise PluginError(f"unknown feature ranker {name!r}; available: {', '.join(sorted(rankers))}")
        return rankers[name].value

    def op_registry(self) -> Any:
        from automl.nn.registry import OpRegistry

        registry = OpRegistry()
        self.manager.hook.automl_register_ops(registry=registry)
        return registry

    @property
    def events(self) -> Any:
        return self.manager.hook


def load_plugins(entry_points: bool = True, extra: Iterable[Any] = ()) -> Plugins:
    """Built-ins, then the entry points of group ``automl``; a plugin that fails to import is reported and skipped."""
    from automl.plugins import builtins

    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(AutomlHooks)
    manager.register(builtins, name="automl")
    plugins = Plugins(manager)
    if entry_points:
        for entry_point in importlib.metadata.entry_points(group=PROJECT):
            if manager.has_plugin(entry_point.name):
                continue
            try:
                manager.register(entry_point.load(), name=entry_point.name)
            except Exception as error:  # a broken third-party plugin must not stop the tool
                first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
                plugins.failures.append(
                    f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: {first_line}"
                )
    for plugin in extra:
        manager.register(plugin, name=getattr(plugin, "__name__", type(plugin).__name__))
    return plugins
