"""The errors that are the user's to fix: reported as one line with exit status 2.

This module imports nothing heavy: the ``automl`` command must start fast, and
most of these error classes live in modules that import torch, pandas or dask.
They are named here by module and class, and :func:`is_user_error` checks an
exception only against the classes whose module is already imported. That is
exact, not a shortcut: an exception cannot be an instance of a class (or of a
subclass of it) whose module was never imported.
"""

from __future__ import annotations

import sys


class UsageProblem(ValueError):
    """A bad option value or combination on the command line."""


# (module that defines the class, class name). A subclass (e.g. SupernetError of
# CompileError) is covered by its base; tests/engine/test_cli.py checks every name.
USER_ERROR_NAMES: tuple[tuple[str, str], ...] = (
    ("automl.cli.errors", "UsageProblem"),
    ("automl.engine.config", "SearchSetupError"),
    ("automl.data.errors", "DataError"),
    ("automl.engine.storage", "StudyError"),
    ("automl.engine.lock", "StudyLockedError"),
    ("automl.engine.feature_selection", "FeatureSelectionError"),
    ("automl.engine.dask_runner", "ClusterError"),
    ("automl.engine.resources", "MemoryLimitError"),
    ("automl.engine.search", "StrategyFailure"),  # a strategy's ask/tell raised: one line naming it, study intact
    ("automl.nn.registry", "CompileError"),
    ("automl.plugins.manager", "PluginError"),
    ("automl.ranking.errors", "RankingInputError"),
    ("automl.space.errors", "SpaceError"),
    ("automl.strategies.options", "StrategyOptionError"),
    ("automl.training.settings", "TrainingSettingsError"),
)


def loaded_user_errors() -> tuple[type[BaseException], ...]:
    """The user-error classes whose modules are imported now (without importing any)."""
    classes = []
    for module_name, class_name in USER_ERROR_NAMES:
        module = sys.modules.get(module_name)
        error_class = getattr(module, class_name, None) if module is not None else None
        if isinstance(error_class, type) and issubclass(error_class, BaseException):
            classes.append(error_class)
    return tuple(classes)


def is_user_error(error: BaseException) -> bool:
    return isinstance(error, loaded_user_errors())


def one_line(error: BaseException) -> str:
    """The first line of the error's message (its class name when it has none)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def all_user_errors() -> tuple[type[BaseException], ...]:
    """Every user-error class, importing their modules (slow: torch, pandas, dask; for tests)."""
    import importlib

    return tuple(getattr(importlib.import_module(module), name) for module, name in USER_ERROR_NAMES)


def __getattr__(name: str) -> object:
    if name == "USER_ERRORS":  # the former eager tuple, kept for callers; imports every module
        return all_user_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
