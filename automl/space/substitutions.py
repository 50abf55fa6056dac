"""Substitution modules: Or, Repeat, Optional, InputChoice and ``substitute``.

Each holds hyperparameters and a function given as a thunk; when its
hyperparameters are decided it calls the function, which builds the sub-graph
that replaces it (DeepArchitect, Negrinho & Gordon 2017). An unchosen branch is
never called, so its hyperparameters never appear.

Usage follows the functional style of the ops: build the substitution with its
options, then call it on its inputs::

    x = Or({"conv": conv_block, "pool": pool_block})(x)
    x = Repeat(layer, times=Int(1, 4))(x)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from automl.space.errors import SpaceError
from automl.space.hyperparameters import Bool, Choice, Hyperparameter, Int
from automl.space.modules import Output, SubstitutionModule
from automl.space.ops import architecture_of, flatten_inputs, make_op

Builder = Callable[..., Any]


def _as_outputs(result: Any, what: str) -> list[Output]:
    if isinstance(result, Output):
        return [result]
    if isinstance(result, (list, tuple)) and all(isinstance(item, Output) for item in result):
        return list(result)
    raise SpaceError(f"{what} must return the output wire(s) it built, got {result!r}")


def _single_or_tuple(outputs: list[Output]) -> Output | tuple[Output, ...]:
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


class Or:
    """One of several sub-spaces; the decision is ``<path>.branch``.

    ``branches`` is a list (decided by index) or a mapping of names to builders
    (decided by name, which reads better in a candidate).
    """

    def __init__(
        self,
        branches: Sequence[Builder] | Mapping[str, Builder],
        name: str | None = None,
        branch: Hyperparameter | None = None,
        outputs: int = 1,
    ) -> None:
        if isinstance(branches, Mapping):
            self.branches: dict[Any, Builder] = dict(branches)
        else:
            self.branches = dict(enumerate(branches))
        if not self.branches:
            raise SpaceError("Or needs at least one branch")
        for key, builder in self.branches.items():
            if not callable(builder):
                raise SpaceError(f"Or branch {key!r} must be a function that builds the branch")
        self.branch = branch
        self.name = name
        self.output_count = outputs

    def __call__(self, *inputs: Any) -> Output | tuple[Output, ...]:
        flat = flatten_inputs(inputs)
        architecture = architecture_of("Or", flat)

        def expand(module: SubstitutionModule, wires: list[Output], values: dict[str, Any]) -> list[Output]:
            key = values["branch"]
            if key not in self.branches:
                raise SpaceError(f"{module.path}.branch is {key!r}, which names no branch")
            with module.architecture.scope(str(key)):
                return _as_outputs(self.branches[key](*wires), f"branch {key!r} of {module.path}")

        outputs = architecture.add_substitution(
            "or",
            flat,
            {"branch": self.branch if self.branch is not None else Choice(list(self.branches))},
            expand,
            {"branches": self.branches},
            self.name,
            self.output_count,
        )
        return _single_or_tuple(outputs)


class Repeat:
    """``times`` copies of a block in a chain; copy ``i`` is named ``<path>.<i>``.

    ``times`` is an int or a hyperparameter (an ``Int`` or a ``Choice`` of ints).
    The block takes and returns as many wires as the Repeat is given.
    """

    def __init__(self, block: Builder, times: int | Hyperparameter, name: str | None = None) -> None:
        if not callable(block):
            raise SpaceError("Repeat needs a function that builds one copy of the block")
        if isinstance(times, int) and times < 0:
            raise SpaceError(f"Repeat times must be >= 0, got {times}")
        if isinstance(times, Int) and times.low < 0:
            raise SpaceError(f"Repeat times must be >= 0, got a range from {times.low}")
        self.block = block
        self.times = times
        self.name = name

    def __call__(self, *inputs: Any) -> Output | tuple[Output, ...]:
        flat = flatten_inputs(inputs)
        architecture = architecture_of("Repeat", flat)

        def expand(module: SubstitutionModule, wires: list[Output], values: dict[str, Any]) -> list[Output]:
            times = values["times"]
            if not isinstance(times, int) or times < 0:
                raise SpaceError(f"{module.path}.times must be an int >= 0, got {times!r}")
            for copy in range(times):
                with module.architecture.scope(str(copy)):
                    wires = _as_outputs(self.block(*wires), f"the block repeated at {module.path}")
                if len(wires) != len(flat):
                    raise SpaceError(f"the block repeated at {module.path} must return {len(flat)} wire(s)")
            return wires

        outputs = architecture.add_substitution(
            "repeat", flat, {"times": self.times}, expand, {"block": self.block}, self.name, len(flat)
        )
        return _single_or_tuple(outputs)


class Optional:
    """A block that is there or not; the decision is ``<path>.present``."""

    def __init__(self, block: Builder, name: str | None = None, present: Hyperparameter | None = None) -> None:
        if not callable(block):
            raise SpaceError("Optional needs a function that builds the optional block")
        self.block = block
        self.name = name
        self.present = present

    def __call__(self, *inputs: Any) -> Output | tuple[Output, ...]:
        flat = flatten_inputs(inputs)
        architecture = architecture_of("Optional", flat)

        def expand(module: SubstitutionModule, wires: list[Output], values: dict[str, Any]) -> list[Output]:
            if not values["present"]:
                return wires
            built = _as_outputs(self.block(*wires), f"the optional block at {module.path}")
            if len(built) != len(wires):
                raise SpaceError(f"the optional block at {module.path} must return {len(wires)} wire(s)")
            return built

        outputs = architecture.add_substitution(
            "optional",
            flat,
            {"present": self.present if self.present is not None else Bool()},
            expand,
            {"block": self.block},
            self.name,
            len(flat),
        )
        return _single_or_tuple(outputs)


class InputChoice:
    """``k`` of the given inputs, combined; the decision is ``<path>.inputs``.

    Each chosen input ``i`` first goes through ``transform(wire, i)`` (built in
    scope ``<path>.input_<i>``, e.g. an Or over the operations of a DARTS
    edge), then the results are combined by ``"add"``, ``"concat"`` or a
    function. The decision's value is the sorted tuple of chosen input
    positions; pass ``inputs=`` (a Choice over such tuples) to share it.
    """

    def __init__(
        self,
        k: int = 1,
        combine: str | Builder = "add",
        transform: Builder | None = None,
        name: str | None = None,
        inputs: Hyperparameter | None = None,
    ) -> None:
        if not isinstance(k, int) or k < 1:
            raise SpaceError(f"InputChoice needs k >= 1, got {k!r}")
        if isinstance(combine, str) and combine not in ("add", "concat"):
            raise SpaceError(f"InputChoice combine must be 'add', 'concat' or a function, got {combine!r}")
        self.k = k
        self.combine = combine
        self.transform = transform
        self.name = name
        self.inputs = inputs

    def __call__(self, *inputs: Any) -> Output:
        flat = flatten_inputs(inputs)
        architecture = architecture_of("InputChoice", flat)
        if len(flat) < self.k:
            raise SpaceError(f"InputChoice of {self.k} needs at least {self.k} inputs, got {len(flat)}")
        subsets = list(itertools.combinations(range(len(flat)), self.k))

        def expand(module: SubstitutionModule, wires: list[Output], values: dict[str, Any]) -> list[Output]:
            transformed = []
            for position in values["inputs"]:
                wire = wires[position]
                if self.transform is not None:
                    with module.architecture.scope(f"input_{position}"):
                        wire = _as_outputs(self.transform(wire, position), f"the transform at {module.path}")[0]
                transformed.append(wire)
            return [self.combine_wires(transformed)]

        details = {"k": self.k, "transform": self.transform, "combine": self.combine, "candidates": len(flat)}
        decision = self.inputs if self.inputs is not None else Choice(subsets)
        outputs = architecture.add_substitution("input_choice", flat, {"inputs": decision}, expand, details, self.name)
        return outputs[0]

    def combine_wires(self, wires: list[Output]) -> Output:
        """Combine the (transformed) chosen inputs; shared with the supernet compiler."""
        if callable(self.combine):
            return _as_outputs(self.combine(*wires), "the combine function of an InputChoice")[0]
        if len(wires) == 1:
            return wires[0]
        return make_op(self.combine, *wires)


def substitute(
    builder: Builder, name: str | None = None, outputs: int = 1, **hyperparameters: Any
) -> Callable[..., Output | tuple[Output, ...]]:
    """A user-defined substitution module.

    ``substitute(block, width=Int(8, 64))(x)`` calls ``block(x, width=<value>)``
    once ``width`` is decided; ``block`` may itself use any substitution module.
    """
    if not callable(builder):
        raise SpaceError("substitute needs a function that builds the sub-graph")
    label = name or (builder.__name__ if builder.__name__.isidentifier() else "substitute")

    def call(*inputs: Any) -> Output | tuple[Output, ...]:
        flat = flatten_inputs(inputs)
        architecture = architecture_of("substitute", flat)

        def expand(module: SubstitutionModule, wires: list[Output], values: dict[str, Any]) -> list[Output]:
            return _as_outputs(builder(*wires, **values), f"the function substituted at {module.path}")

        built = architecture.add_substitution(
            "substitute", flat, hyperparameters, expand, {"builder": builder}, label, outputs
        )
        return _single_or_tuple(built)

    return call
