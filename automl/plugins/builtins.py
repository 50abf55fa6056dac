"""The built-in strategies, rankers, ops and data sets, registered through the public hooks."""

from __future__ import annotations

from typing import Any

from automl.plugins.hookspecs import hookimpl


@hookimpl
def automl_strategies() -> list[type]:
    from automl.strategies import builtin_strategies

    return builtin_strategies()


@hookimpl
def automl_feature_rankers() -> list[type]:
    from automl.ranking import builtin_rankers

    return builtin_rankers()


@hookimpl
def automl_register_ops(registry: Any) -> None:
    from automl.nn.ops import builtin_op_specs

    for spec in builtin_op_specs():
        registry.register(spec)


@hookimpl
def automl_datasets() -> list[Any]:
    from automl.data import builtin_datasets

    return list(builtin_datasets().values())
