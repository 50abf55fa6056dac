"""Regularised ("aging") evolution over the tree of decisions.

Real, Aggarwal, Huang & Le, "Regularized Evolution for Image Classifier
Architecture Search", AAAI 2019. A population of ``P`` evaluated candidates is
kept in order of arrival. Each new candidate is a mutation of the best of ``S``
members drawn at random (a tournament), and when a result comes back the oldest
member dies, whatever its score. Aging instead of killing the worst keeps the
population young, so a lucky evaluation cannot stay forever, and the search
keeps exploring; the paper found it matched reinforcement learning on NASNet's
space with less compute and more robustly.

A mutation changes exactly one decision: a decision of the parent chosen
uniformly gets a new value different from its current one; the space is then
walked again, keeping the parent's value wherever its path still exists and
sampling the decisions the change creates (a new branch, extra repeated layers).

The first ``P`` asks are random; several asks may be in flight (each tell adds
one member, in the order of tells). Candidates already asked are avoided by
re-mutating (``attempts`` times), which matters on small, finite spaces.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.space import Candidate, SearchSpace
from automl.strategies import Proposal, Strategy, StrategyContext, TrialResult, option


@dataclass(frozen=True)
class EvolutionOptions:
    population: int = option(20, "members kept (P); the first P asks are random", minimum=1)
    sample: int = option(5, "tournament size (S)", minimum=1)
    attempts: int = option(16, "re-mutations to avoid a candidate already asked", minimum=1)


class EvolutionStrategy(Strategy):
    """Regularised evolution: tournament selection, one-decision mutation, remove the oldest."""

    name = "evolution"
    description = "regularised evolution (Real et al., 2019): tournament of S, mutate one decision, age out the oldest"
    Options = EvolutionOptions

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.population_size: int = self.options.population
        self.sample_size: int = self.options.sample
        self.attempts: int = self.options.attempts
        self.rng = np.random.default_rng(context.seed)
        self.population: deque[tuple[Candidate, float | None]] = deque()  # oldest first
        self.asked = 0
        self.seen: set[str] = set()

    # ----------------------------------------------------------------- asking
    def ask(self) -> Proposal:
        candidate = self._propose()
        for _ in range(self.attempts - 1):
            if candidate.key not in self.seen:
                break
            candidate = self._propose()
        self.asked += 1
        self.seen.add(candidate.key)
        return Proposal(candidate)

    def _propose(self) -> Candidate:
        if self.asked < self.population_size or not self.population:
            return self.space.sample_candidate(self.rng)
        return self.mutate(self._tournament())

    def _tournament(self) -> Candidate:
        """The best of ``S`` members drawn without replacement (failed members rank last)."""
        size = min(self.sample_size, len(self.population))
        drawn = self.rng.choice(len(self.population), size=size, replace=False)
        members = [self.population[int(index)] for index in drawn]
        best = max(members, key=lambda member: -np.inf if member[1] is None else member[1])
        return best[0]

    def mutate(self, parent: Candidate) -> Candidate:
        """Change exactly one decision of ``parent``; keep the rest where it still exists."""
        architecture = self.space.replay(parent)
        mutable = []
        for path in parent:
            values = architecture.hyperparameter_at(path).finite_values()
            if values is None or len(values) > 1:
                mutable.append(path)
        if not mutable:  # a space with a single candidate
            return self.space.sample_candidate(self.rng)
        chosen = mutable[int(self.rng.integers(len(mutable)))]
        new_value = self._different_value(architecture.hyperparameter_at(chosen), parent[chosen])
        child = self.space.new()
        while (decision := child.next_decision()) is not None:
            path, hyperparameter = decision
            if path == chosen:
                child.assign(path, new_value)
            elif path in parent and hyperparameter.contains(parent[path]):
                child.assign(path, parent[path])
            else:
                child.assign(path, hyperparameter.sample(self.rng))
        return Candidate(child.decisions)

    def _different_value(self, hyperparameter: Any, current: Any) -> Any:
        values = hyperparameter.finite_values()
        current = hyperparameter.normalise(current)
        if values is not None:
            others = [value for value in values if value != current or type(value) is not type(current)]
            return others[int(self.rng.integers(len(others)))]
        for _ in range(100):
            value = hyperparameter.sample(self.rng)
            if value != current:
                return value
        return value

    # ----------------------------------------------------------------- telling
    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        score = float(result.score) if result.ok and result.score is not None else None
        if score is not None and not np.isfinite(score):
            score = None
        self.population.append((proposal.candidate, score))
        if len(self.population) > self.population_size:
            self.population.popleft()  # aging: the oldest dies, not the worst

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "rng": self.rng.bit_generator.state,
            "population": [[candidate.to_dict(), score] for candidate, score in self.population],
            "asked": self.asked,
            "seen": sorted(self.seen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != 1:
            raise ValueError(f"unknown evolution state version {state.get('version')!r}")
        self.rng.bit_generator.state = state["rng"]
        self.population = deque((Candidate(decisions), score) for decisions, score in state["population"])
        self.asked = int(state["asked"])
        self.seen = set(state["seen"])
