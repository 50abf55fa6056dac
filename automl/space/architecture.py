"""An architecture: one instance of a search space, unfolding as decisions are made.

The architecture owns everything that changes during a search: the modules built
so far, the values of the decisions, the open (unassigned) decisions in
traversal order, and the current naming scope. Nothing is global, so any number
of architectures of one space can be built side by side.

Traversal order is depth first: the decisions created by an expansion take the
place of the decision that triggered it, so the children of a choice come right
after it. That makes the list of decisions a walk down a tree (what MCTS needs),
and each step costs only the modules it creates, not a walk over the whole graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import networkx as nx

from automl.space.errors import InvalidDecisionError, SpaceError
from automl.space.hyperparameters import Derived, Hyperparameter
from automl.space.modules import ExpandFunction, OpModule, Output, SubstitutionModule


class Architecture:
    """A (partially) specified architecture of a search space."""

    def __init__(self, space_name: str = "space") -> None:
        self.space_name = space_name
        self.inputs: dict[str, Output] = {}
        self.outputs: list[Output] = []
        self.training: dict[str, Any] = {}
        self._ops: dict[str, OpModule] = {}
        self._substitutions: dict[str, SubstitutionModule] = {}
        self._scope: list[str] = []
        self._taken_paths: set[str] = set()
        self._hyperparameters: dict[str, Hyperparameter] = {}
        self._path_of: dict[int, str] = {}
        self._values: dict[str, Any] = {}
        self._pending: list[str] = []
        self._batches: list[list[str]] = []
        self._waiting: dict[str, list[SubstitutionModule]] = {}
        self._decisions: dict[str, Any] = {}

    # ------------------------------------------------------------------ building
    def add_input(self, name: str) -> Output:
        if name in self._taken_paths:
            raise SpaceError(f"input name {name!r} is used twice")
        self._taken_paths.add(name)
        output = Output(self, None, name)
        self.inputs[name] = output
        return output

    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Name what is built inside ``name`` (``repeat.0``, ``or.conv`` ...)."""
        name = str(name)
        if not name or "." in name:
            raise SpaceError(f"scope name {name!r} must be non-empty and without '.'")
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    @contextmanager
    def _scope_at(self, path: str) -> Iterator[None]:
        saved = self._scope
        self._scope = path.split(".")
        try:
            yield
        finally:
            self._scope = saved

    def _new_path(self, name: str) -> str:
        if not name or "." in name:
            raise SpaceError(f"module name {name!r} must be non-empty and without '.'")
        prefix = ".".join(self._scope)
        base = f"{prefix}.{name}" if prefix else name
        path, suffix = base, 0
        while path in self._taken_paths:
            suffix += 1
            path = f"{base}_{suffix}"
        self._taken_paths.add(path)
        return path

    def _check_inputs(self, what: str, inputs: Sequence[Any]) -> list[Output]:
        checked = []
        for value in inputs:
            if not isinstance(value, Output):
                raise SpaceError(
                    f"{what} got {value!r} as an input; inputs are outputs of other modules, "
                    "hyperparameters are keyword arguments"
                )
            if value.architecture is not self:
                raise SpaceError(f"{what} mixes wires of two different architectures")
            checked.append(value.resolve())
        return checked

    def _register(self, value: Any, default_path: str) -> None:
        """Make the hyperparameters inside ``value`` decisions of this architecture."""
        if isinstance(value, Derived):
            for argument, inner in value.inputs.items():
                self._register(inner, f"{default_path}.{argument}")
            return
        if not isinstance(value, Hyperparameter) or id(value) in self._path_of:
            return
        path = value.name or default_path
        if path in self._hyperparameters:
            raise SpaceError(
                f"two different hyperparameters are named {path!r}; a name is one decision: "
                "create it once and use that object everywhere, or leave it unnamed"
            )
        self._hyperparameters[path] = value
        self._path_of[id(value)] = path
        (self._batches[-1] if self._batches else self._pending).append(path)

    def _open_paths(self, values: Sequence[Any]) -> list[str]:
        open_paths = []
        for value in values:
            if isinstance(value, Derived):
                open_paths.extend(self._open_paths(list(value.inputs.values())))
            elif isinstance(value, Hyperparameter):
                path = self._path_of[id(value)]
                if path not in self._values:
                    open_paths.append(path)
        return open_paths

    def open_decisions_of(self, module: SubstitutionModule) -> list[str]:
        """The paths of the undecided hyperparameters a substitution module waits for."""
        return self._open_paths(list(module.hyperparameters.values()))

    def add_op(
        self, kind: str, /, inputs: Sequence[Any], hyperparameters: dict[str, Any], name: str | None = None
    ) -> Output:
        checked = self._check_inputs(f"op {kind}", inputs)
        path = self._new_path(name or kind)
        module = OpModule(self, path, kind, checked, dict(hyperparameters))
        for argument, value in hyperparameters.items():
            self._register(value, f"{path}.{argument}")
        self._ops[path] = module
        return module.outputs[0]

    def add_substitution(
        self,
        kind: str,
        inputs: Sequence[Any],
        hyperparameters: dict[str, Any],
        expand: ExpandFunction,
        details: dict[str, Any] | None = None,
        name: str | None = None,
        output_count: int = 1,
    ) -> list[Output]:
        checked = self._check_inputs(kind, inputs)
        path = self._new_path(name or kind)
        module = SubstitutionModule(self, path, kind, checked, dict(hyperparameters), expand, details, output_count)
        for argument, value in hyperparameters.items():
            self._register(value, f"{path}.{argument}")
        self._substitutions[path] = module
        open_paths = self._open_paths(list(hyperparameters.values()))
        if not open_paths:
            self._expand(module)
        for open_path in open_paths:
            self._waiting.setdefault(open_path, []).append(module)
        return module.outputs

    def add_training(self, settings: dict[str, Any]) -> None:
        """Training hyperparameters (learning rate, batch size...) read by the trainer."""
        for argument, value in settings.items():
            if argument in self.training:
                raise SpaceError(f"training setting {argument!r} is given twice")
            self._register(value, f"training.{argument}")
            self.training[argument] = value

    def _expand(self, module: SubstitutionModule) -> None:
        values = {argument: self.value_of(value) for argument, value in module.hyperparameters.items()}
        inputs = [wire.resolve() for wire in module.inputs]
        with self._scope_at(module.path):
            produced = module.expand(module, inputs, values)
        if isinstance(produced, Output):
            produced = [produced]
        produced = list(produced)
        if len(produced) != len(module.outputs):
            raise SpaceError(
                f"{module.kind} at {module.path} built {len(produced)} outputs, not the {len(module.outputs)} declared"
            )
        for placeholder, output in zip(module.outputs, self._check_inputs(module.kind, produced)):
            placeholder.forward_to = output
        module.expanded = True
        del self._substitutions[module.path]

    # ---------------------------------------------------------------- deciding
    def value_of(self, value: Any) -> Any:
        """The value of a hyperparameter, derived value or constant."""
        if isinstance(value, Derived):
            return value.function(**{argument: self.value_of(inner) for argument, inner in value.inputs.items()})
        if isinstance(value, Hyperparameter):
            path = self._path_of.get(id(value))
            if path is None or path not in self._values:
                raise SpaceError(f"hyperparameter {value!r} has no value yet")
            return self._values[path]
        return value

    def next_decision(self) -> tuple[str, Hyperparameter] | None:
        """The next open decision in traversal order, or None when fully specified."""
        if not self._pending:
            return None
        path = self._pending[0]
        return path, self._hyperparameters[path]

    def open_decisions(self) -> list[tuple[str, Hyperparameter]]:
        return [(path, self._hyperparameters[path]) for path in self._pending]

    def assign(self, path: str, value: Any) -> Any:
        """Decide ``path``; expands every substitution module this completes."""
        hyperparameter = self._hyperparameters.get(path)
        if hyperparameter is None:
            open_now = ", ".join(self._pending) or "none"
            raise InvalidDecisionError(f"no decision at path {path!r}; the open decisions are: {open_now}")
        if path in self._values:
            raise InvalidDecisionError(f"decision {path!r} is already made ({self._values[path]!r})")
        try:
            value = hyperparameter.normalise(value)
        except (ValueError, TypeError):
            raise InvalidDecisionError(
                f"{path}: {value!r} is outside its domain, {hyperparameter.describe()}"
            ) from None
        self._values[path] = value
        self._decisions[path] = value
        position = self._pending.index(path)
        del self._pending[position]
        batch: list[str] = []
        self._batches.append(batch)
        try:
            for module in self._waiting.pop(path, []):
                if not module.expanded and not self._open_paths(list(module.hyperparameters.values())):
                    self._expand(module)
        finally:
            self._batches.pop()
        self._pending[position:position] = batch
        return value

    @property
    def is_specified(self) -> bool:
        return not self._pending and not self._substitutions

    @property
    def decisions(self) -> dict[str, Any]:
        """The decisions made so far, in the order they were made."""
        return dict(self._decisions)

    def hyperparameter_at(self, path: str) -> Hyperparameter:
        return self._hyperparameters[path]

    @property
    def ops(self) -> list[OpModule]:
        return list(self._ops.values())

    @property
    def unexpanded(self) -> list[SubstitutionModule]:
        return list(self._substitutions.values())

    def training_values(self) -> dict[str, Any]:
        return {argument: self.value_of(value) for argument, value in self.training.items()}

    # ----------------------------------------------------------------- exports
    def to_networkx(self) -> nx.DiGraph:
        """The computational graph of a fully specified architecture.

        Nodes are the architecture inputs and the op modules, with attributes
        ``kind``, ``hyperparameters`` (values) and ``inputs`` (ordered source
        nodes); graph attributes ``inputs``, ``outputs`` and ``training``.
        """
        if not self.is_specified:
            open_now = ", ".join(self._pending)
            raise SpaceError(f"the architecture is not fully specified; open decisions: {open_now}")
        graph = nx.DiGraph(
            name=self.space_name,
            inputs=list(self.inputs),
            outputs=[wire.source for wire in self.outputs],
            training=self.training_values(),
        )
        for name in self.inputs:
            graph.add_node(name, kind="input", hyperparameters={}, inputs=[])
        for path, module in self._ops.items():
            sources = [wire.source for wire in module.inputs]
            values = {argument: self.value_of(value) for argument, value in module.hyperparameters.items()}
            graph.add_node(path, kind=module.kind, hyperparameters=values, inputs=sources)
        for path, attributes in list(graph.nodes(data=True)):
            for position, source in enumerate(attributes["inputs"]):
                if graph.has_edge(source, path):
                    graph.edges[source, path]["positions"].append(position)
                else:
                    graph.add_edge(source, path, positions=[position])
        return graph
