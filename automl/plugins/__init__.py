"""Plugins: pluggy hook specs, the plugin manager and the built-ins."""

from automl.plugins.hookspecs import hookimpl, hookspec
from automl.plugins.manager import PluginError, PluginFailure, Plugins, Provided, load_plugins

__all__ = ["PluginError", "PluginFailure", "Plugins", "Provided", "hookimpl", "hookspec", "load_plugins"]
