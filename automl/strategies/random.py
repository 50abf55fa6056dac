"""Random search: each decision sampled uniformly in traversal order."""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.space import SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext


class RandomStrategy(Strategy):
    """Uniform sampling over the tree of decisions (the baseline of DeepArchitect)."""

    name = "random"
    description = "uniform random sampling of every decision in traversal order"

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.rng = np.random.default_rng(context.seed)

    def ask(self) -> Proposal:
        return Proposal(self.space.sample_candidate(self.rng))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
