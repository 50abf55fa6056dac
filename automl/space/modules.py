"""Modules and the wires between them.

A module has ordered inputs (outputs of other modules), outputs, and
hyperparameters. Op modules name an entry of the op registry and compile to torch
later; substitution modules hold a function that replaces them by a sub-graph
once their hyperparameters have values (DeepArchitect's lazy expansion).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.space.architecture import Architecture


class Output:
    """A wire: one output of a module, or an input of the architecture.

    The output of a substitution module is a placeholder until the module
    expands; it then forwards to the output of the sub-graph that replaced it.
    """

    __slots__ = ("architecture", "forward_to", "module", "name")

    def __init__(self, architecture: Architecture, module: Module | None, name: str) -> None:
        self.architecture = architecture
        self.module = module
        self.name = name
        self.forward_to: Output | None = None

    def resolve(self) -> Output:
        output = self
        while output.forward_to is not None:
            output = output.forward_to
        return output

    @property
    def source(self) -> str:
        """The path of the module (or architecture input) that produces this wire."""
        resolved = self.resolve()
        return resolved.module.path if resolved.module is not None else resolved.name

    def __repr__(self) -> str:
        return f"<Output {self.source}>"


class Module:
    """A node of the architecture: inputs, outputs and hyperparameters."""

    def __init__(
        self,
        architecture: Architecture,
        path: str,
        kind: str,
        inputs: Sequence[Output],
        hyperparameters: dict[str, Any],
        output_count: int = 1,
    ) -> None:
        self.architecture = architecture
        self.path = path
        self.kind = kind
        self.inputs = list(inputs)
        self.hyperparameters = hyperparameters
        self.outputs = [Output(architecture, self, f"out{position}") for position in range(output_count)]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} at {self.path}>"


class OpModule(Module):
    """A basic module: one entry of the op registry (linear, conv2d, add...)."""


ExpandFunction = Callable[["SubstitutionModule", list[Output], dict[str, Any]], Sequence[Output]]


class SubstitutionModule(Module):
    """A module that replaces itself by a sub-graph once its decisions are made.

    ``expand(module, inputs, values)`` builds the sub-graph (inside the scope of
    this module's path) and returns its outputs. ``details`` keeps what built it
    (branches, the repeated function, candidate inputs) so that other layers,
    such as the supernet compiler, can build every branch at once.
    """

    def __init__(
        self,
        architecture: Architecture,
        path: str,
        kind: str,
        inputs: Sequence[Output],
        hyperparameters: dict[str, Any],
        expand: ExpandFunction,
        details: dict[str, Any] | None = None,
        output_count: int = 1,
    ) -> None:
        super().__init__(architecture, path, kind, inputs, hyperparameters, output_count)
        self.expand = expand
        self.details = details or {}
        self.expanded = False
