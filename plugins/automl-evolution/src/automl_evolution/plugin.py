"""The plugin module named by the ``automl`` entry point: it registers the strategy through the public hook."""

from __future__ import annotations

from automl.plugins import hookimpl


@hookimpl
def automl_strategies() -> list[type]:
    from automl_evolution.strategy import EvolutionStrategy

    return [EvolutionStrategy]
