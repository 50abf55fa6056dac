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
re-mutating (``attempts`` times), which matters on small, finite spaces; with
several objectives a candidate still repeated after that is replaced by one never
asked (``automl.strategies.sampling.unasked_candidate``) while the space has one.

Several objectives (``--objective accuracy:max --objective latency_ms:min``):
NSGA-II's selection (Deb, Pratap, Agarwal & Meyarivan, "A Fast and Elitist
Multiobjective Genetic Algorithm: NSGA-II", IEEE TEC 6(2), 2002), steady-state
(one child per tell, as in this strategy's single-objective form). Members are
ranked by non-dominated sorting and, within a front, by crowding distance;
parents are chosen by binary tournament on that order (the crowded-comparison
operator), and when a result comes back the population keeps its best ``P``
members on that order: the worst front's most crowded member leaves, failed
members first. Elitism replaces aging here: a member on the front stays until
better ones crowd it out, which is what keeps a front spread.

As in NSGA-II, a child there is usually bred from two parents (each the winner
of its own binary tournament) by uniform crossover (Syswerda, "Uniform Crossover
in Genetic Algorithms", ICGA 1989): the space is walked again and each decision
takes, with even odds, the value of one parent or the other where both have
it, the value of the one parent that has it, or a random value where neither
has it (the space unfolds lazily, so a branch or repeat count taken from one
parent decides which decisions follow). The one-decision mutation is then
applied with probability ``mutation_after_crossover``; the children not bred
by crossover (``1 - crossover``) are one-decision mutations of one parent.
The defaults, crossover 0.9 as in Deb et al. and mutation after it 0.5, are
what ``benchmarks/multi_objective.py`` measured best over 80 seeds (mutating
every crossover child, or a quarter of them, did worse at 50 and 100 trials). Crossover lets two
members strong on different objectives pass their good parts to one child,
which a one-decision mutation of either cannot. The single-objective form has
no crossover: it is Real et al.'s algorithm, and gives the same candidates as
before crossover existed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.evaluation.pareto import crowding_distances, non_dominated_ranks
from automl.space import Candidate, SearchSpace
from automl.strategies import Proposal, Strategy, StrategyContext, TrialResult, option
from automl.strategies.sampling import unasked_candidate

Member = tuple[Candidate, float | None, tuple[float, ...] | None]  # candidate, score, objective values (maximised)


@dataclass(frozen=True)
class EvolutionOptions:
    population: int = option(20, "members kept (P); the first P asks are random", minimum=1)
    sample: int = option(5, "tournament size (S)", minimum=1)
    attempts: int = option(16, "re-mutations to avoid a candidate already asked", minimum=1)
    crossover: float = option(
        0.9,
        "several objectives only: chance that a child is a uniform crossover of two parents (else a mutation of one)",
        minimum=0.0,
        maximum=1.0,
    )
    mutation_after_crossover: float = option(
        0.5,
        "several objectives only: chance that a crossover child then has one decision mutated",
        minimum=0.0,
        maximum=1.0,
    )


class EvolutionStrategy(Strategy):
    """Regularised evolution (one objective: tournament, one-decision mutation, the oldest dies) or steady-state
    NSGA-II (several: crowded binary tournaments, uniform crossover and mutation, the worst most crowded dies)."""

    name = "evolution"
    description = (
        "one objective: regularised evolution (Real et al., 2019), tournament of S, mutate one decision, "
        "age out the oldest; several: steady-state NSGA-II (Deb et al., 2002), crowded tournaments, "
        "uniform crossover then mutation, the worst front's most crowded member leaves"
    )
    Options = EvolutionOptions
    multi_objective = True  # NSGA-II selection when the search has several objectives

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.population_size: int = self.options.population
        self.sample_size: int = self.options.sample
        self.attempts: int = self.options.attempts
        self.crossover_probability: float = self.options.crossover
        self.mutation_after_crossover: float = self.options.mutation_after_crossover
        self.rng = np.random.default_rng(context.seed)
        self.population: deque[Member] = deque()  # oldest first
        self.objectives = len(context.objectives)  # 0 or 1: one score; 2 or more: NSGA-II
        self.asked = 0
        self.seen: set[str] = set()

    # ----------------------------------------------------------------- asking
    def ask(self) -> Proposal:
        candidate = self._propose()
        for _ in range(self.attempts - 1):
            if candidate.key not in self.seen:
                break
            candidate = self._propose()
        if self.objectives > 1 and candidate.key in self.seen:  # the single-objective form keeps its old choice
            candidate = unasked_candidate(self.space, self.rng, self.seen) or candidate
        self.asked += 1
        self.seen.add(candidate.key)
        return Proposal(candidate)

    def _propose(self) -> Candidate:
        if self.asked < self.population_size or not self.population:
            return self.space.sample_candidate(self.rng)
        if self.objectives > 1 and self.crossover_probability > 0 and self.rng.random() < self.crossover_probability:
            child = self.crossover(self._tournament(), self._tournament())
            if self.rng.random() < self.mutation_after_crossover:
                child = self.mutate(child)
            return child
        return self.mutate(self._tournament())

    def _tournament(self) -> Candidate:
        """The best of ``S`` members drawn without replacement (failed members rank last); with several
        objectives the better of two by front, then crowding distance (NSGA-II's binary tournament)."""
        if self.objectives > 1:
            order = self._crowded_order()
            size = min(2, len(self.population))
            drawn = self.rng.choice(len(self.population), size=size, replace=False)
            winner = min((int(index) for index in drawn), key=lambda index: order[index])
            return self.population[winner][0]
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

    def crossover(self, first: Candidate, second: Candidate) -> Candidate:
        """Uniform crossover over the tree of decisions (Syswerda 1989): walk the space, each decision from a
        parent drawn with even odds among those that have it (with a value its domain here allows), else random."""
        child = self.space.new()
        while (decision := child.next_decision()) is not None:
            path, hyperparameter = decision
            values = [
                parent[path] for parent in (first, second) if path in parent and hyperparameter.contains(parent[path])
            ]
            if len(values) == 2:
                child.assign(path, values[int(self.rng.integers(2))])
            elif values:
                child.assign(path, values[0])
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
        values = None
        if self.objectives > 1 and result.ok and result.values is not None:
            values = tuple(float(value) for value in result.values)
            if not all(np.isfinite(values)):
                values = None
        self.population.append((proposal.candidate, score, values))
        if len(self.population) > self.population_size:
            if self.objectives > 1:
                order = self._crowded_order()
                del self.population[max(range(len(self.population)), key=lambda index: order[index])]
            else:
                self.population.popleft()  # aging: the oldest dies, not the worst

    def _crowded_order(self) -> list[tuple[int, float, int]]:
        """Each member's place in NSGA-II's order, smaller is better: (front, -crowding distance, -age);
        members without values (failed) come after every front, the oldest of them last."""
        scored = [index for index, member in enumerate(self.population) if member[2] is not None]
        last = len(self.population)
        order: list[tuple[int, float, int]] = [(last, 0.0, -index) for index in range(last)]
        if not scored:
            return order
        points = np.array([self.population[index][2] for index in scored])
        ranks = non_dominated_ranks(points, ["max"] * points.shape[1])
        for front in np.unique(ranks):
            members = np.flatnonzero(ranks == front)
            distances = crowding_distances(points[members], ["max"] * points.shape[1])
            for position, distance in zip(members, distances):
                index = scored[int(position)]
                order[index] = (int(front), -float(distance), -index)  # ties: the newer member is kept
        return order

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": 2,
            "rng": self.rng.bit_generator.state,
            "population": [
                [candidate.to_dict(), score, None if values is None else list(values)]
                for candidate, score, values in self.population
            ],
            "asked": self.asked,
            "seen": sorted(self.seen),
            "crossover": self.crossover_probability,  # absent: saved before crossover existed
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") not in (1, 2):  # version 1 kept no objective values
            raise ValueError(f"unknown evolution state version {state.get('version')!r}")
        self.rng.bit_generator.state = state["rng"]
        self.population = deque(
            (Candidate(member[0]), member[1], None if len(member) < 3 or member[2] is None else tuple(member[2]))
            for member in state["population"]
        )
        self.asked = int(state["asked"])
        self.seen = set(state["seen"])
        # a study saved before crossover existed goes on as it began: mutation only
        self.crossover_probability = float(state.get("crossover", 0.0))
