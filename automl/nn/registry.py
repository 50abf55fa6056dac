"""The op registry: what each op kind of the space language compiles to.

A registry is an ordinary object, built fresh by :func:`automl.nn.ops.default_op_registry`
and extended by plugins through the ``automl_register_ops`` hook, so tests and
searches never share mutable state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

Shape = tuple[int, ...]


class CompileError(ValueError):
    """An architecture cannot be turned into a torch module; names the op's path."""


@dataclass(frozen=True)
class OpSpec:
    """How to build one op kind.

    ``build(input_shapes, **hyperparameters)`` returns an ``nn.Module`` for
    inputs of those shapes (without the batch dimension), or, for ops with no
    parameters that are cheaper as plain functions (add, concat), a callable
    applied to the input tensors. ``arity`` is ``"one"`` or ``"many"``.
    """

    name: str
    build: Callable[..., nn.Module | Callable[..., torch.Tensor]]
    description: str
    arity: str = "one"


class OpRegistry:
    """Op kinds by name."""

    def __init__(self) -> None:
        self._specs: dict[str, OpSpec] = {}

    def register(self, spec: OpSpec, replace: bool = False) -> None:
        if spec.name in self._specs and not replace:
            raise ValueError(f"op {spec.name!r} is already registered; pass replace=True to override it")
        self._specs[spec.name] = spec

    def get(self, name: str) -> OpSpec:
        spec = self._specs.get(name)
        if spec is None:
            raise CompileError(f"unknown op {name!r}; known ops: {', '.join(sorted(self._specs))}")
        return spec

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[OpSpec]:
        return iter(self._specs.values())

    def names(self) -> list[str]:
        return sorted(self._specs)

    def copy(self) -> OpRegistry:
        duplicate = OpRegistry()
        duplicate._specs = dict(self._specs)
        return duplicate


def describe_values(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in values.items())
