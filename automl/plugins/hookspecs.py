"""Hook specifications: how built-ins and third-party plugins extend automl.

A plugin is a module (or object) with functions marked ``@hookimpl``, found
through the entry-point group ``automl``. Built-ins register through the same
hooks (``automl.plugins.builtins``).
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "automl"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class AutomlHooks:
    @hookspec
    def automl_strategies(self) -> list[type]:
        """Strategy classes (subclasses of ``automl.strategies.base.Strategy``) this plugin provides."""

    @hookspec
    def automl_feature_rankers(self) -> list[type]:
        """Feature ranker classes with ``name``, ``description`` and ``rank(...)``."""

    @hookspec
    def automl_register_ops(self, registry: Any) -> None:
        """Add ops to the op registry (``registry.register(OpSpec(...))``)."""

    @hookspec
    def automl_datasets(self) -> list[Any]:
        """Built-in data sets (``automl.data.BuiltinDataset``) this plugin provides."""

    @hookspec
    def automl_search_started(self, study: Any) -> None:
        """A search starts (or resumes) on ``study``."""

    @hookspec
    def automl_trial_started(self, study: Any, trial: Any) -> None:
        """A trial was dispatched."""

    @hookspec
    def automl_trial_finished(self, study: Any, trial: Any) -> None:
        """A trial finished, complete or failed, and is stored."""

    @hookspec
    def automl_search_finished(self, study: Any) -> None:
        """The search ended (budget spent or strategy exhausted)."""
