"""Plugins: pluggy hook specs, the plugin manager and the built-ins."""

from automl.plugins.hookspecs import hookimpl, hookspec
from automl.plugins.manager import PluginError, Plugins, Provided, load_plugins

__all__ = ["PluginError", "Plugins", "Provided", "hookimpl", "hookspec", "load_plugins"]
