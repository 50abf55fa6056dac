"""Random search: the tree walk (each decision uniform in traversal order), or uniform over architectures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.space import SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext
from automl.strategies.options import StrategyOptionError, option
from automl.strategies.sampling import ArchitectureCounter, SpaceTooLargeToCount


@dataclass(frozen=True)
class RandomOptions:
    uniform: str = option(
        "decisions",
        "what is uniform: each decision in turn (the tree walk), or each architecture of the space",
        choices=("decisions", "architectures"),
    )
    count_limit: int = option(20_000, "prefixes counted at most for uniform=architectures", minimum=1)


class RandomStrategy(Strategy):
    """Random search, the baseline of DeepArchitect (Negrinho & Gordon, 2017).

    The tree walk (``uniform="decisions"``, as Optuna's and NNI's random samplers
    do) draws each decision uniformly as the space unfolds, so in a tree-shaped
    space an architecture with few decisions is drawn far more often than one
    with many. ``uniform="architectures"`` weights each value by the number of
    architectures below it (counted once, exactly; a continuous decision counts
    as one), so every architecture is equally likely: the honest baseline when
    comparing strategies on a tree.
    """

    name = "random"
    description = "random sampling: each decision in traversal order, or uniform over architectures"
    Options = RandomOptions
    multi_objective = True  # it ignores results, so any number of objectives

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.rng = np.random.default_rng(context.seed)
        self.counter: ArchitectureCounter | None = None
        if self.options.uniform == "architectures":
            self.counter = ArchitectureCounter(space, self.options.count_limit)
            try:
                self.counter.count({})  # once, up front: a space too large to count fails before any trial
            except SpaceTooLargeToCount as error:
                raise StrategyOptionError(f"strategy random: {error}") from None

    def ask(self) -> Proposal:
        if self.counter is not None:
            return Proposal(self.counter.sample(self.rng))
        return Proposal(self.space.sample_candidate(self.rng))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
