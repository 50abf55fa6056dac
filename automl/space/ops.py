"""``op``: functional wiring of basic modules.

``op.linear(x, units=64)`` adds a ``linear`` op module fed by ``x`` and returns
its output. Positional arguments are inputs (wires, or lists of wires for
multi-input ops such as ``add`` and ``concat``); keyword arguments are
hyperparameters or constants; ``name=`` names the module. Which op kinds exist
is the op registry's business (``automl.nn``), checked when compiling, so the
space language stays free of torch and plugins can add ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automl.space.errors import SpaceError
from automl.space.modules import Output


def flatten_inputs(inputs: tuple[Any, ...]) -> list[Any]:
    flat: list[Any] = []
    for item in inputs:
        if isinstance(item, (list, tuple)):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def architecture_of(what: str, inputs: list[Any]) -> Any:
    for item in inputs:
        if isinstance(item, Output):
            return item.architecture
    raise SpaceError(f"{what} needs at least one input wire (the output of another module)")


def make_op(op_kind: str, /, *inputs: Any, name: str | None = None, **hyperparameters: Any) -> Output:
    flat = flatten_inputs(inputs)
    architecture = architecture_of(f"op {op_kind}", flat)
    return architecture.add_op(op_kind, flat, hyperparameters, name=name)


class OpNamespace:
    """``op.<kind>(...)`` for any op kind; the registry validates kinds at compile time."""

    def __getattr__(self, op_kind: str) -> Callable[..., Output]:
        if op_kind.startswith("__"):
            raise AttributeError(op_kind)

        def build(*inputs: Any, name: str | None = None, **hyperparameters: Any) -> Output:
            return make_op(op_kind, *inputs, name=name, **hyperparameters)

        build.__name__ = op_kind
        return build


op = OpNamespace()


def training(wire: Output, **settings: Any) -> Output:
    """Declare training hyperparameters (``learning_rate=Float(1e-4, 1e-1, log=True)``).

    Returns ``wire`` unchanged, so it reads as one more step of the space.
    """
    if not isinstance(wire, Output):
        raise SpaceError("training(...) takes a wire of the space as its first argument")
    wire.architecture.add_training(settings)
    return wire
