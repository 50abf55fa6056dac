"""``SearchSpace``: a Python function that builds a space, with replay and sampling."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from automl.space.architecture import Architecture
from automl.space.candidate import Candidate
from automl.space.errors import InvalidDecisionError, SpaceError
from automl.space.modules import Output


class SearchSpace:
    """A space defined by a function of its input wires.

    The function's positional parameters become the architecture's inputs and
    it returns the output wire(s). Keyword-only parameters are options, bound
    with :meth:`bind` (``cnn.bind(max_blocks=6)``).
    """

    def __init__(self, function: Callable[..., Any], name: str | None = None, options: Mapping[str, Any] | None = None):
        self.function = function
        self.name = name or getattr(function, "__name__", "space")
        self.options = dict(options or {})
        parameters = inspect.signature(function).parameters.values()
        self.input_names = [
            parameter.name
            for parameter in parameters
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        ]
        if not self.input_names:
            raise SpaceError(f"search space {self.name!r} needs at least one input parameter, e.g. def {self.name}(x)")
        functools.update_wrapper(self, function)

    def bind(self, **options: Any) -> SearchSpace:
        return SearchSpace(self.function, self.name, {**self.options, **options})

    def new(self) -> Architecture:
        """A fresh, undecided architecture of this space."""
        architecture = Architecture(self.name)
        wires = [architecture.add_input(name) for name in self.input_names]
        result = self.function(*wires, **self.options)
        if isinstance(result, Output):
            result = [result]
        if not isinstance(result, (list, tuple)) or not result or not all(isinstance(item, Output) for item in result):
            raise SpaceError(f"search space {self.name!r} must return its output wire(s), got {result!r}")
        architecture.outputs = [wire for wire in result]
        return architecture

    def replay(self, candidate: Mapping[str, Any]) -> Architecture:
        """Rebuild exactly the architecture a candidate describes.

        Decisions are looked up by path while walking the space, so their order
        in ``candidate`` does not matter; a missing or extra path is an error.
        """
        decisions = dict(candidate)
        architecture = self.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            if path not in decisions:
                raise InvalidDecisionError(f"the candidate has no value for {path!r} ({hyperparameter.describe()})")
            architecture.assign(path, decisions.pop(path))
        if decisions:
            raise InvalidDecisionError(
                f"the candidate decides {', '.join(map(repr, decisions))}, which this architecture does not have"
            )
        return architecture

    def sample(self, rng: np.random.Generator) -> Architecture:
        """A uniformly random architecture: each decision sampled in traversal order."""
        architecture = self.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            architecture.assign(path, hyperparameter.sample(rng))
        return architecture

    def default(self) -> Architecture:
        """The architecture where every decision takes its default."""
        architecture = self.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            architecture.assign(path, hyperparameter.default)
        return architecture

    def sample_candidate(self, rng: np.random.Generator) -> Candidate:
        return Candidate(self.sample(rng).decisions)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **{**self.options, **kwargs})

    def __repr__(self) -> str:
        return f"<SearchSpace {self.name}>"


def search_space(function: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Decorator: ``@search_space`` or ``@search_space(name="mlp")``."""
    if function is None:
        return lambda inner: SearchSpace(inner, name=name)
    return SearchSpace(function, name=name)
