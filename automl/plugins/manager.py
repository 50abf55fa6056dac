"""The plugin manager: built-ins plus whatever the ``automl`` entry points bring.

``load_plugins()`` returns a fresh :class:`Plugins`; nothing is global, so a
test can build one with exactly the plugins it wants.

Plugins are isolated from each other: a plugin whose module fails to import,
or whose hook raises (its ``automl_strategies()`` imports a module that is
missing, say), is recorded as a :class:`PluginFailure` under its name and
skipped; the built-ins and every other plugin keep working. ``automl
strategies`` lists the broken ones with their error, and asking for a name
nobody provides names them too (the name may be one the broken plugin would
have provided). Two plugins claiming one name stay an error
(:class:`PluginError`): which one would win is not for us to guess.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from automl.plugins.hookspecs import PROJECT, AutomlHooks

BUILTIN = "automl"  # the plugin name of the built-ins
IMPORT = "import"  # the stage of a failure while loading an entry point


class PluginError(ValueError):
    """Plugins disagree (two claim one name) or a name is unknown."""


@dataclass(frozen=True)
class Provided:
    """Something a plugin provides: a strategy, a ranker, a data set."""

    name: str
    value: Any
    plugin: str
    description: str


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded (``stage == "import"``) or whose hook ``stage`` raised."""

    plugin: str
    source: str  # the package that provides it: "automl-evolution 0.1.0", or where it comes from
    stage: str
    reason: str  # "ExceptionType: first line of its message"

    @property
    def problem(self) -> str:
        if self.stage == IMPORT:
            return f"failed to load: {self.reason}"
        return f"failed to load: {self.stage}() raised {self.reason}"

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.source}) {self.problem}"


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _entry_point_package(entry_point: importlib.metadata.EntryPoint) -> str | None:
    """``name version`` of the distribution that declares an entry point, when it has one."""
    distribution = getattr(entry_point, "dist", None)
    if distribution is None:
        return None
    try:
        return f"{distribution.metadata['Name']} {distribution.version}"
    except Exception:  # unreadable metadata: the entry point's target still says where it comes from
        return None


def _distribution_of(plugin: Any) -> str | None:
    """``name version`` of the installed distribution whose top-level package holds ``plugin``, if any."""
    if isinstance(plugin, types.ModuleType):
        module = plugin.__name__
    else:
        module = getattr(plugin, "__module__", None) or getattr(type(plugin), "__module__", None)
    if not module:
        return None
    try:
        names = importlib.metadata.packages_distributions().get(module.partition(".")[0], [])
        return f"{names[0]} {importlib.metadata.version(names[0])}" if names else None
    except Exception:
        return None


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    sources: dict[str, str] = field(default_factory=dict)  # plugin name -> package, where known at load
    extras: dict[str, Any] = field(default_factory=dict)  # plugin name -> object registered in-process
    _failures: dict[tuple[str, str], PluginFailure] = field(default_factory=dict)

    # -- failures ---------------------------------------------------------------------------------

    @property
    def failures(self) -> list[str]:
        """One line per broken plugin (and hook): ``plugin 'p' (package) failed to load: reason``."""
        return [str(failure) for failure in self._failures.values()]

    def broken_plugins(self, hook_name: str | None = None) -> list[PluginFailure]:
        """The failures recorded so far: all, or those that matter to ``hook_name`` (its own and imports)."""
        return [
            failure for failure in self._failures.values() if hook_name is None or failure.stage in (IMPORT, hook_name)
        ]

    @property
    def broken(self) -> dict[str, str]:
        """Plugin name -> why it is broken (its first failure)."""
        broken: dict[str, str] = {}
        for failure in self._failures.values():
            broken.setdefault(failure.plugin, failure.problem)
        return broken

    def _record(self, plugin: str, stage: str, error: BaseException, source: str | None = None) -> PluginFailure | None:
        """Record a failure; returns it when it is new (not seen at an earlier call of the same hook)."""
        key = (plugin, stage)
        if key in self._failures:
            return None
        failure = PluginFailure(plugin, source or self.source(plugin), stage, _reason(error))
        self._failures[key] = failure
        return failure

    def source(self, plugin: str) -> str:
        """The package that provides ``plugin``: ``automl (built-in)``, ``automl-evolution 0.1.0``..."""
        if plugin == BUILTIN:
            return "automl (built-in)"
        if plugin not in self.sources:
            distribution = _distribution_of(self.extras[plugin]) if plugin in self.extras else None
            self.sources[plugin] = distribution or "registered in-process"
        return self.sources[plugin]

    # -- guarded calls ------------------------------------------------------------------------------

    def _implementations(self, hook_name: str) -> list[Any]:
        return list(getattr(self.manager.hook, hook_name).get_hookimpls())

    def _call_one(self, implementation: Any, arguments: dict[str, Any]) -> Any:
        if getattr(implementation, "hookwrapper", False) or getattr(implementation, "wrapper", False):
            raise PluginError("hook wrappers are not supported by automl's hooks")
        return implementation.function(*(arguments[name] for name in implementation.argnames))

    def _call_each(self, hook_name: str, arguments: dict[str, Any], warn: bool = True) -> list[Any]:
        """Call every implementation of a hook (in pluggy's order: last registered first), each guarded."""
        results = []
        for implementation in reversed(self._implementations(hook_name)):
            try:
                results.append(self._call_one(implementation, arguments))
            except Exception as error:  # one plugin's bug must not end the search of every other one
                failure = self._record(implementation.plugin_name, hook_name, error)
                if failure is not None and warn:
                    warnings.warn(f"{failure}; its {hook_name} hook is skipped", RuntimeWarning, stacklevel=3)
        return results

    def _collect(self, hook_name: str, what: str) -> dict[str, Provided]:
        """What each plugin's ``hook_name`` returns, by name; a plugin whose hook raises is skipped whole."""
        provided: dict[str, Provided] = {}
        for implementation in self._implementations(hook_name):
            plugin = implementation.plugin_name
            try:
                values = list(self._call_one(implementation, {}) or [])
                names = [value.name for value in values]
                for name in names:
                    if not isinstance(name, str) or not name:
                        raise PluginError(f"it returned a {what} whose name is {name!r}, not a non-empty string")
            except Exception as error:  # a broken plugin is recorded and skipped, not fatal to the others
                self._record(plugin, hook_name, error)
                continue
            for name, value in zip(names, values, strict=True):
                if name in provided:
                    raise PluginError(
                        f"{what} {name!r} is provided by both plugin {provided[name].plugin!r} and plugin "
                        f"{plugin!r}; uninstall one of them"
                    )
                provided[name] = Provided(name, value, plugin, getattr(value, "description", ""))
        return provided

    def _unknown(self, what: str, name: str, known: Iterable[str], hook_name: str) -> PluginError:
        """One line: the unknown name, the closest known one, the broken plugins, the known names."""
        known = sorted(known)
        message = f"unknown {what} {name!r}"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        parts = [message, *(str(failure) for failure in self.broken_plugins(hook_name))]
        parts.append(f"available: {', '.join(known) or 'none'}")
        return PluginError("; ".join(parts))

    # -- what plugins provide ----------------------------------------------------------------------

    def strategies(self) -> dict[str, Provided]:
        return self._collect("automl_strategies", "strategy")

    def feature_rankers(self) -> dict[str, Provided]:
        return self._collect("automl_feature_rankers", "feature ranker")

    def datasets(self) -> dict[str, Any]:
        return {name: entry.value for name, entry in self._collect("automl_datasets", "data set").items()}

    def strategy(self, name: str) -> type:
        strategies = self.strategies()
        if name not in strategies:
            raise self._unknown("strategy", name, strategies, "automl_strategies")
        return strategies[name].value

    def feature_ranker(self, name: str) -> type:
        rankers = self.feature_rankers()
        if name not in rankers:
            raise self._unknown("feature ranker", name, rankers, "automl_feature_rankers")
        return rankers[name].value

    def op_registry(self) -> Any:
        from automl.nn.registry import OpRegistry

        registry = OpRegistry()
        self._call_each("automl_register_ops", {"registry": registry})
        return registry

    @property
    def events(self) -> Any:
        """The event hooks (``events.automl_trial_finished(study=..., trial=...)``), each plugin guarded."""
        return _GuardedEvents(self)


class _GuardedEvents:
    """Calls an event hook of every plugin; one that raises is warned about once and the others still run."""

    def __init__(self, plugins: Plugins) -> None:
        self._plugins = plugins

    def __getattr__(self, hook_name: str) -> Callable[..., list[Any]]:
        if not hook_name.startswith("automl_") or not hasattr(self._plugins.manager.hook, hook_name):
            raise AttributeError(hook_name)

        def call(**arguments: Any) -> list[Any]:
            return self._plugins._call_each(hook_name, arguments)

        return call


def load_plugins(entry_points: bool = True, extra: Iterable[Any] = ()) -> Plugins:
    """Built-ins, then the entry points of group ``automl``, then ``extra`` objects; broken ones are skipped."""
    from automl.plugins import builtins

    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(AutomlHooks)
    manager.register(builtins, name=BUILTIN)
    plugins = Plugins(manager)
    if entry_points:
        for entry_point in importlib.metadata.entry_points(group=PROJECT):
            if manager.has_plugin(entry_point.name):
                continue
            package = _entry_point_package(entry_point)
            plugins.sources[entry_point.name] = package or f"entry point {entry_point.value}"
            try:
                manager.register(entry_point.load(), name=entry_point.name)
            except Exception as error:  # a broken third-party plugin must not stop the tool
                where = f"{package}, entry point {entry_point.value}" if package else f"entry point {entry_point.value}"
                plugins._record(entry_point.name, IMPORT, error, source=where)
    for plugin in extra:
        name = getattr(plugin, "__name__", type(plugin).__name__)
        plugins.extras[name] = plugin
        manager.register(plugin, name=name)
    return plugins
