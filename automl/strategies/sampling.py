"""Sampling helpers shared by strategies: a candidate not asked before, uniform over architectures.

Strategies that de-duplicate (``tpe``, ``mcts``, ``smbo``) need a fresh candidate
once their own proposals only repeat old ones, and must tell an exhausted
finite space (every candidate asked: the search ends) from bad luck.
``random`` offers sampling that is uniform over *architectures* rather than
over the tree walk: walking the tree picks each decision uniformly, so in a
tree-shaped space an architecture with few decisions is far more likely than
one with many; weighting each value by the number of architectures below it
(counted once, exactly) makes every architecture equally likely.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Iterator
from typing import Any

import numpy as np

from automl.space import Candidate, SearchSpace
from automl.space.architecture import Architecture

RANDOM_DRAWS = 64  # random draws before a finite space is walked for a candidate not asked yet
WALK_LIMIT = 100_000  # prefixes the walk may visit before it gives up


def unasked_candidate(
    space: SearchSpace,
    rng: np.random.Generator,
    asked: Container[str],
    draws: int = RANDOM_DRAWS,
    walk_limit: int = WALK_LIMIT,
) -> Candidate | None:
    """A candidate whose key is not in ``asked``, or None when none is found (the space is exhausted).

    Random draws first (a continuous space never runs out); then, for a finite space,
    a depth-first walk in a random order of values, which finds the last unasked
    candidate of a small space that random draws would take long to hit.
    """
    for _ in range(draws):
        candidate = space.sample_candidate(rng)
        if candidate.key not in asked:
            return candidate
    for visited, candidate in enumerate(_walk(space, rng), 1):
        if candidate is None or visited > walk_limit:
            return None
        if candidate.key not in asked:
            return candidate
    return None


def _walk(space: SearchSpace, rng: np.random.Generator) -> Iterator[Candidate | None]:
    """Every candidate of the space, depth first, values in a random order; None once a decision is continuous."""
    stack: list[dict[str, Any]] = [{}]
    while stack:
        prefix = stack.pop()
        architecture = _built(space, prefix)
        decision = architecture.next_decision()
        if decision is None:
            yield Candidate(architecture.decisions)
            continue
        path, hyperparameter = decision
        values = hyperparameter.finite_values()
        if values is None:
            yield None  # a continuous decision: random draws are the only way to find a new candidate
            return
        order = rng.permutation(len(values))
        stack.extend({**prefix, path: values[index]} for index in order)


def _built(space: SearchSpace, prefix: dict[str, Any]) -> Architecture:
    architecture = space.new()
    for path, value in prefix.items():
        architecture.assign(path, value)
    return architecture


class SpaceTooLargeToCount(ValueError):
    """Counting the architectures of a space would visit more prefixes than allowed."""


class ArchitectureCounter:
    """The number of architectures below each prefix of a space, counted once by a depth-first walk.

    A continuous decision counts as one structural choice: its value is drawn
    uniformly, and the architectures below it are counted once, at the first value
    met (in the space language a float rarely decides structure; where it does,
    the count is the one at that value). Counting visits every prefix of the
    finite part of the space once; past ``limit`` prefixes it raises
    :class:`SpaceTooLargeToCount`.
    """

    def __init__(self, space: SearchSpace, limit: int) -> None:
        self.space = space
        self.limit = limit
        self.counts: dict[str, int] = {}
        self.continuous: set[str] = set()  # paths of continuous decisions: one structural child each

    def count(self, prefix: dict[str, Any]) -> int:
        """Architectures whose decisions start with ``prefix``."""
        # an explicit stack: deep spaces must not hit Python's recursion limit
        stack: list[tuple[dict[str, Any], list[dict[str, Any]] | None]] = [(prefix, None)]
        while stack:
            current, children = stack.pop()
            key = self._key(current)
            if key in self.counts:
                continue
            if children is None:
                children = self._children(current)
                if not children:
                    self.counts[key] = 1
                    continue
                stack.append((current, children))
                stack.extend((child, None) for child in children if self._key(child) not in self.counts)
                continue
            self.counts[key] = sum(self.counts[self._key(child)] for child in children)
        return self.counts[self._key(prefix)]

    def _key(self, prefix: dict[str, Any]) -> str:
        return json.dumps(
            [[path, "*" if path in self.continuous else value] for path, value in prefix.items()], default=str
        )

    def _children(self, prefix: dict[str, Any]) -> list[dict[str, Any]]:
        if len(self.counts) >= self.limit:
            raise SpaceTooLargeToCount(
                f"space {self.space.name!r} has more than {self.limit:,} prefixes to count; "
                "raise count_limit or sample the tree walk (uniform=false)"
            )
        decision = _built(self.space, prefix).next_decision()
        if decision is None:
            return []
        path, hyperparameter = decision
        values = hyperparameter.finite_values()
        if values is None:
            self.continuous.add(path)
            values = [hyperparameter.default]
        return [{**prefix, path: value} for value in values]

    def sample(self, rng: np.random.Generator) -> Candidate:
        """One architecture, each with the same chance (continuous values uniform within their range)."""
        architecture = self.space.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            values = hyperparameter.finite_values()
            if values is None:
                self.continuous.add(path)
                architecture.assign(path, hyperparameter.sample(rng))
                continue
            prefix = architecture.decisions
            weights = np.array([self.count({**prefix, path: value}) for value in values], dtype=float)
            architecture.assign(path, values[int(rng.choice(len(values), p=weights / weights.sum()))])
        return Candidate(architecture.decisions)


class _TrieNode:
    __slots__ = ("children", "decision", "known")

    def __init__(self) -> None:
        self.known = False
        self.decision: tuple[str, Any] | None = None  # (path, hyperparameter) of the next decision; None: complete
        self.children: dict[Any, _TrieNode] = {}


class DecisionTrie:
    """The decision structure of a space, learnt as it is walked: which decision follows a prefix.

    Strategies that draw many candidates per ask (``tpe``) walk this trie instead of
    building an architecture per draw; a prefix not seen before is built once. A
    float's value is assumed not to change which decisions follow it (true of every
    ready space: floats are rates and learning rates), so the trie keys a float by
    ``"*"``; :meth:`check` replays a candidate built under that assumption and, if the
    space breaks it, the trie is switched off and walks build real architectures.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.root = _TrieNode()
        self.assumed = False  # some walk keyed a float by "*"
        self.trusted = True

    def walk(self, choose: Callable[[str, Any], Any]) -> Candidate:
        """A candidate whose decisions ``choose(path, hyperparameter)`` makes in traversal order."""
        if not self.trusted:
            architecture = self.space.new()
            while (decision := architecture.next_decision()) is not None:
                architecture.assign(decision[0], choose(*decision))
            return Candidate(architecture.decisions)
        node, decisions = self.root, {}
        while True:
            if not node.known:
                try:
                    node.decision = _built(self.space, decisions).next_decision()
                except ValueError:  # a float decided structure: the trie's prefix is not this space's
                    if not self.assumed:
                        raise
                    self.trusted = False
                    return self.walk(choose)
                node.known = True
            if node.decision is None:
                return Candidate(decisions)
            path, hyperparameter = node.decision
            value = choose(path, hyperparameter)  # a value of the domain (a Choice's own object)
            if not isinstance(value, (str, bool, type(None))) and not hasattr(hyperparameter, "values"):
                value = hyperparameter.normalise(value)  # an Int or Float range: cheap to check
            decisions[path] = value
            label = self._label(hyperparameter, value)
            child = node.children.get(label)
            if child is None:
                child = node.children[label] = _TrieNode()
            node = child

    def _label(self, hyperparameter: Any, value: Any) -> Any:
        from automl.space.hyperparameters import Float

        if isinstance(hyperparameter, Float):
            self.assumed = True
            return "*"
        return (type(value).__name__, value)

    def check(self, candidate: Candidate) -> bool:
        """Whether a walked candidate is one of the space's (always, unless a float changed the structure)."""
        if not self.assumed or not self.trusted:
            return True
        try:
            replayed = Candidate(self.space.replay(candidate).decisions)
        except ValueError:
            replayed = None
        if replayed is not None and list(replayed) == list(candidate):
            return True
        self.trusted = False
        return False
