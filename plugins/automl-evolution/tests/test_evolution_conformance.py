"""The strategy conformance kit (``automl.testing.strategies``) run on the evolution plugin."""

from __future__ import annotations

from typing import Any, ClassVar

from automl_evolution import EvolutionStrategy

from automl.testing.strategies import StrategyConformance


class TestEvolutionConformance(StrategyConformance):
    strategy_class = EvolutionStrategy
    # a small population: mutation starts within the kit's short runs
    options: ClassVar[dict[str, Any]] = {"population": 6, "sample": 3}
