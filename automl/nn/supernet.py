"""Compile a search space into a weight-sharing supernet (DARTS, Liu et al. 2019).

The lazy space is walked once with every searched choice opened up at the same
time instead of decided:

* every ``Or`` becomes a *mixed op*: all of its branches are built (each in its
  own scope, so their paths are the paths a chosen branch has in a candidate)
  and summed with the weights ``softmax(alpha)``. There is ONE alpha vector per
  Or *decision path*, so an Or whose decision is shared by several cells shares
  its alpha, as the cell genotype of DARTS does;
* every ``InputChoice`` (combine ``"add"``) becomes the sum of ALL its candidate
  inputs, each through its transform, as the nodes of the DARTS supernet are;
  the topology (which k inputs) is selected afterwards;
* every other decision (Repeat counts, Optional, sizes, training settings) is
  fixed to the value given in ``fixed`` or to its default.

The result is a ``torch.fx`` module (straight-line code, like
``automl.nn.compile``) plus masks that DARTS-PT (Wang et al. 2021) needs: mask
any op of any mixed op, freeze an edge to one op, drop an input edge. Those
are buffers, so they move with ``.to(device)`` and are saved in ``state_dict``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from automl.nn.compile import count_parameters, emit_graph_module, shapes_by_input
from automl.nn.mixed_ops import expected_cost, input_sum, mixed_sum, operation_weights
from automl.nn.ops import default_op_registry
from automl.nn.registry import CompileError, OpRegistry, Shape
from automl.space import Architecture, Candidate, Derived, Hyperparameter, SearchSpace, SpaceError
from automl.space.modules import OpModule, Output, SubstitutionModule

_MIXED_KIND = "supernet_mixed_op"
_INPUTS_KIND = "supernet_input_sum"


class SupernetError(CompileError):
    """A space cannot become a supernet; the message names the decision to fix."""


@dataclass(frozen=True)
class OperationDecision:
    """An Or decision searched by the supernet: one alpha vector for every Or that uses it."""

    path: str
    candidates: tuple[Any, ...]
    zero_candidates: tuple[Any, ...]  # branches that are DARTS' 'none' (a zero op); never selected by magnitude
    places: tuple[str, ...]  # paths of the Or modules sharing the decision

    def position(self, candidate: Any) -> int:
        for index, value in enumerate(self.candidates):
            if type(value) is type(candidate) and value == candidate:
                return index
        raise SupernetError(f"{candidate!r} is not a candidate of decision {self.path!r}: {list(self.candidates)}")


@dataclass(frozen=True)
class InputDecision:
    """An InputChoice decision searched by the supernet: which k of ``positions`` inputs a node keeps."""

    path: str
    k: int
    positions: int
    allowed: tuple[tuple[int, ...], ...]  # the subsets in the decision's domain
    edge_operations: tuple[tuple[str, ...], ...]  # per input position: the operation decisions on that edge
    places: tuple[str, ...]


@dataclass(frozen=True)
class Selection:
    """Values chosen for the searched decisions (from alphas or from perturbation)."""

    operations: dict[str, Any]
    inputs: dict[str, tuple[int, ...]]


class _Walk:
    """Expand a space with every Or and InputChoice opened up (see the module docstring)."""

    def __init__(self, space: SearchSpace, fixed: Mapping[str, Any]) -> None:
        self.architecture: Architecture = space.new()
        self.fixed = dict(fixed)
        self.assigned: dict[str, Any] = {}
        self.searched: dict[str, str] = {}  # decision path -> "or" | "input_choice"
        self.operation_places: dict[str, list[SubstitutionModule]] = {}
        self.operation_candidates: dict[str, tuple[Any, ...]] = {}
        self.branch_outputs: dict[str, dict[Any, list[Output]]] = {}  # Or path -> candidate -> outputs
        self.input_places: dict[str, list[SubstitutionModule]] = {}
        self.input_allowed: dict[str, tuple[tuple[int, ...], ...]] = {}
        self.handled: set[str] = set()
        self.seen: set[str] = set()

    @contextmanager
    def _scope(self, path: str) -> Iterator[None]:
        with ExitStack() as stack:
            for part in path.split("."):
                stack.enter_context(self.architecture.scope(part))
            yield

    def _open_paths(self, value: Any, path_of: Mapping[int, str]) -> list[str]:
        if isinstance(value, Derived):
            return [path for inner in value.inputs.values() for path in self._open_paths(inner, path_of)]
        if isinstance(value, Hyperparameter) and id(value) in path_of:
            return [path_of[id(value)]]
        return []

    def run(self) -> None:
        while True:
            progressed = False
            for module in self.architecture.unexpanded:
                if module.expanded or module.path in self.handled:
                    continue
                self._handle(module)
                progressed = True
            if progressed:
                continue
            remaining = [
                (path, hyperparameter)
                for path, hyperparameter in self.architecture.open_decisions()
                if path not in self.searched
            ]
            if not remaining:
                break
            for path, hyperparameter in remaining:
                self.seen.add(path)
                if path in {open_path for open_path, _ in self.architecture.open_decisions()}:
                    self._fix(path, hyperparameter, "an op or training setting")
        unknown = sorted(set(self.fixed) - self.seen - set(self.assigned))
        if unknown:
            raise SupernetError(f"fixed values name decisions the supernet does not have: {', '.join(unknown)}")

    def _handle(self, module: SubstitutionModule) -> None:
        path_of = {id(hyperparameter): path for path, hyperparameter in self.architecture.open_decisions()}
        argument = {"or": "branch", "input_choice": "inputs"}.get(module.kind)
        if argument is not None:
            value = module.hyperparameters[argument]
            if isinstance(value, Hyperparameter) and id(value) in path_of:
                path = path_of[id(value)]
                self.seen.add(path)
                if path not in self.fixed:
                    if module.kind == "or":
                        self._mix(module, path, value)
                    else:
                        self._sum_inputs(module, path, value)
                    return
        for name, value in module.hyperparameters.items():
            for path in self._open_paths(value, path_of):
                self.seen.add(path)
                if path in {open_path for open_path, _ in self.architecture.open_decisions()}:
                    self._fix(path, self.architecture.hyperparameter_at(path), f"{name} of {module.kind} {module.path}")

    def _fix(self, path: str, hyperparameter: Hyperparameter, user: str) -> None:
        if path in self.searched:
            raise SupernetError(
                f"decision {path!r} is searched by the supernet (an {self.searched[path]}) and also sets the {user}; "
                f"fix it with fixed={{{path!r}: ...}}"
            )
        value = self.fixed.get(path, hyperparameter.default)
        self.assigned[path] = self.architecture.assign(path, value)

    def _mix(self, module: SubstitutionModule, path: str, hyperparameter: Hyperparameter) -> None:
        branches = module.details.get("branches", {})
        values = hyperparameter.finite_values()
        if values is None:
            raise SupernetError(f"decision {path!r} of the Or at {module.path} is not a finite choice; fix it")
        missing = [value for value in values if value not in branches]
        if missing:
            raise SupernetError(
                f"decision {path!r} offers {missing!r}, which name no branch of the Or at {module.path}"
            )
        known = self.operation_candidates.setdefault(path, tuple(values))
        self.searched[path] = "or"
        self.operation_places.setdefault(path, []).append(module)
        wires = [wire.resolve() for wire in module.inputs]
        outputs: dict[Any, list[Output]] = {}
        with self._scope(module.path):
            for value in known:
                produced = list(module.expand(module, wires, {"branch": value}))
                if len(produced) != len(module.outputs):
                    raise SupernetError(
                        f"branch {value!r} of the Or at {module.path} built {len(produced)} outputs, "
                        f"not {len(module.outputs)}"
                    )
                outputs[value] = produced
            for position, placeholder in enumerate(module.outputs):
                name = "mixed" if len(module.outputs) == 1 else f"mixed{position}"
                wires_in = [outputs[value][position] for value in known]
                placeholder.forward_to = self.architecture.add_op(_MIXED_KIND, wires_in, {"decision": path}, name=name)
        self.branch_outputs[module.path] = outputs
        module.expanded = True
        self.handled.add(module.path)

    def _sum_inputs(self, module: SubstitutionModule, path: str, hyperparameter: Hyperparameter) -> None:
        combine = module.details.get("combine")
        count = int(module.details.get("candidates", len(module.inputs)))
        if combine != "add":
            raise SupernetError(
                f"the InputChoice at {module.path} combines with {combine!r}; a supernet sums all candidate inputs, "
                f"which only 'add' allows: fix decision {path!r} with fixed={{{path!r}: ...}}"
            )
        values = hyperparameter.finite_values()
        if values is None:
            raise SupernetError(f"decision {path!r} of the InputChoice at {module.path} is not a finite choice")
        allowed = tuple(tuple(value) if isinstance(value, tuple) else (value,) for value in values)
        self.searched[path] = "input_choice"
        self.input_places.setdefault(path, []).append(module)
        self.input_allowed.setdefault(path, allowed)
        wires = [wire.resolve() for wire in module.inputs]
        edges = []
        with self._scope(module.path):
            for position in range(count):
                edges.append(module.expand(module, wires, {"inputs": (position,)})[0])
            module.outputs[0].forward_to = self.architecture.add_op(
                _INPUTS_KIND, edges, {"decision": path}, name="inputs"
            )
        module.expanded = True
        self.handled.add(module.path)


def _is_zero_branch(outputs: Sequence[Output]) -> bool:
    resolved = [wire.resolve() for wire in outputs]
    return all(isinstance(wire.module, OpModule) and wire.module.kind == "zero" for wire in resolved)


class Supernet(nn.Module):
    """A supernet compiled from a space; ``forward`` runs the fx-generated network.

    The searched decisions are ``operation_decisions`` (Or: one alpha each) and
    ``input_decisions`` (InputChoice). Masks change what ``forward`` computes
    without recompiling; ``candidate(selection)`` turns chosen values back into a
    normal candidate of the space.
    """

    def __init__(
        self,
        network: fx.GraphModule,
        space: SearchSpace,
        operation_decisions: list[OperationDecision],
        input_decisions: list[InputDecision],
        fixed_values: dict[str, Any],
        input_shapes: dict[str, Shape],
        output_shapes: list[Shape],
    ) -> None:
        super().__init__()
        self.network = network
        self.space = space
        self.operation_decisions = operation_decisions
        self.input_decisions = input_decisions
        self.fixed_values = fixed_values
        self.input_shapes = input_shapes
        self.output_shapes = output_shapes
        self._operation_index = {decision.path: index for index, decision in enumerate(operation_decisions)}
        self._input_index = {decision.path: index for index, decision in enumerate(input_decisions)}

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.network(*inputs)

    # ------------------------------------------------------------- parameters
    def operation_decision(self, path: str) -> OperationDecision:
        if path not in self._operation_index:
            raise SupernetError(f"no searched Or decision {path!r}; known: {', '.join(self._operation_index)}")
        return self.operation_decisions[self._operation_index[path]]

    def input_decision(self, path: str) -> InputDecision:
        if path not in self._input_index:
            raise SupernetError(f"no searched InputChoice decision {path!r}; known: {', '.join(self._input_index)}")
        return self.input_decisions[self._input_index[path]]

    def alpha(self, path: str) -> nn.Parameter:
        """The architecture parameters of one Or decision (shared by all places using it)."""
        self.operation_decision(path)
        return getattr(self.network, f"alpha_{self._operation_index[path]}")

    def _mask(self, path: str) -> torch.Tensor:
        self.operation_decision(path)
        return getattr(self.network, f"mask_{self._operation_index[path]}")

    def _frozen(self, path: str) -> torch.Tensor:
        self.operation_decision(path)
        return getattr(self.network, f"frozen_{self._operation_index[path]}")

    def _edge_mask(self, path: str) -> torch.Tensor:
        self.input_decision(path)
        return getattr(self.network, f"edge_mask_{self._input_index[path]}")

    def architecture_parameters(self) -> list[nn.Parameter]:
        """The alphas, trained on the second half of the training data (bilevel DARTS)."""
        return [self.alpha(decision.path) for decision in self.operation_decisions]

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the alphas, trained on the first half."""
        alphas = {id(parameter) for parameter in self.architecture_parameters()}
        return [parameter for parameter in self.parameters() if id(parameter) not in alphas]

    @torch.no_grad()
    def operation_weights(self, path: str) -> torch.Tensor:
        """The current branch weights of a decision (softmax of alpha with masks, or one-hot once frozen)."""
        return operation_weights(self.alpha(path), self._mask(path), self._frozen(path)).detach().cpu()

    def expected_cost(self, costs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The expected cost of the supernet: per searched decision, its branch weights times its branch costs.

        ``costs`` maps decision paths to one cost per candidate (for a decision
        shared by several Or places, the sum over the places). Differentiable in
        the alphas: the cost term of the architecture loss (FBNet, ProxylessNAS).
        """
        terms = []
        for path, vector in costs.items():
            weights = operation_weights(self.alpha(path), self._mask(path), self._frozen(path))
            terms.append(expected_cost(weights, vector.to(weights.device)))
        return torch.stack(terms).sum() if terms else torch.zeros(())

    def alphas(self) -> dict[str, dict[str, float]]:
        """JSON-able softmax(alpha) per Or decision (masks not applied), keyed by ``str(candidate)``."""
        result = {}
        for decision in self.operation_decisions:
            weights = torch.softmax(self.alpha(decision.path).detach().cpu(), dim=-1).tolist()
            result[decision.path] = {str(value): weight for value, weight in zip(decision.candidates, weights)}
        return result

    # ------------------------------------------------------------------ masks
    @torch.no_grad()
    def mask_operation(self, path: str, candidate: Any) -> None:
        """Force one op of a mixed op to weight 0, leaving the other weights unchanged."""
        self._mask(path)[self.operation_decision(path).position(candidate)] = 0.0

    @torch.no_grad()
    def restore_operation(self, path: str, candidate: Any) -> None:
        if self.is_frozen(path):
            raise SupernetError(f"decision {path!r} is frozen; its masked ops cannot come back")
        self._mask(path)[self.operation_decision(path).position(candidate)] = 1.0

    @contextmanager
    def without_operation(self, path: str, candidate: Any) -> Iterator[None]:
        """Mask one op for the duration of a block (the perturbation of DARTS-PT)."""
        position = self.operation_decision(path).position(candidate)
        mask = self._mask(path)
        saved = float(mask[position])
        with torch.no_grad():
            mask[position] = 0.0
        try:
            yield
        finally:
            with torch.no_grad():
                mask[position] = saved

    @torch.no_grad()
    def freeze_operation(self, path: str, candidate: Any) -> None:
        """Keep only ``candidate`` on every mixed op of this decision, with weight 1."""
        position = self.operation_decision(path).position(candidate)
        mask = self._mask(path)
        mask.zero_()
        mask[position] = 1.0
        self._frozen(path).fill_(1.0)

    def is_frozen(self, path: str) -> bool:
        return bool(self._frozen(path).item() > 0.5)

    def frozen_operation(self, path: str) -> Any | None:
        """The op a frozen decision kept, or None while it is searched."""
        if not self.is_frozen(path):
            return None
        return self.operation_decision(path).candidates[int(self._mask(path).argmax())]

    @torch.no_grad()
    def drop_input(self, path: str, position: int) -> None:
        """Remove one candidate input edge of every node that uses this InputChoice decision."""
        self._edge_mask(path)[self._position(path, position)] = 0.0

    @torch.no_grad()
    def restore_input(self, path: str, position: int) -> None:
        self._edge_mask(path)[self._position(path, position)] = 1.0

    @contextmanager
    def without_input(self, path: str, position: int) -> Iterator[None]:
        """Drop one input edge for the duration of a block (the topology step of DARTS-PT)."""
        mask = self._edge_mask(path)
        position = self._position(path, position)
        saved = float(mask[position])
        with torch.no_grad():
            mask[position] = 0.0
        try:
            yield
        finally:
            with torch.no_grad():
                mask[position] = saved

    def active_inputs(self, path: str) -> tuple[int, ...]:
        mask = self._edge_mask(path).detach().cpu()
        return tuple(position for position in range(mask.numel()) if mask[position] > 0.5)

    def _position(self, path: str, position: int) -> int:
        positions = self.input_decision(path).positions
        if not 0 <= position < positions:
            raise SupernetError(f"input position {position} of {path!r} is outside 0..{positions - 1}")
        return position

    # ------------------------------------------------------------- candidate
    def candidate(self, selection: Selection) -> Candidate:
        """The candidate of the space with the selected values and the fixed values.

        Replays the space so that only decisions that exist for this selection are
        included (a decision inside an unchosen branch disappears) and every value
        is checked against its domain.
        """
        chosen: dict[str, Any] = {**self.fixed_values, **selection.operations, **selection.inputs}
        architecture = self.space.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            architecture.assign(path, chosen.get(path, hyperparameter.default))
        return Candidate(architecture.decisions)

    def parameter_count(self) -> int:
        return count_parameters(self) - sum(parameter.numel() for parameter in self.architecture_parameters())


def build_supernet(
    space: SearchSpace,
    input_shapes: Mapping[str, Shape] | Shape,
    num_outputs: int | None = None,
    fixed: Mapping[str, Any] | None = None,
    registry: OpRegistry | None = None,
) -> Supernet:
    """Compile ``space`` into a supernet (see the module docstring).

    Parameters are initialised from torch's global generator; seed it (or wrap
    the call in ``torch.random.fork_rng``) for reproducible supernets.
    """
    registry = registry or default_op_registry()
    walk = _Walk(space, fixed or {})
    walk.run()
    architecture = walk.architecture

    input_names = list(architecture.inputs)
    input_shapes = shapes_by_input(input_names, input_shapes)

    operation_decisions = []
    for path, modules in walk.operation_places.items():
        candidates = walk.operation_candidates[path]
        zero = tuple(
            value
            for value in candidates
            if all(_is_zero_branch(walk.branch_outputs[module.path][value]) for module in modules)
        )
        operation_decisions.append(OperationDecision(path, candidates, zero, tuple(module.path for module in modules)))
    operation_index = {decision.path: index for index, decision in enumerate(operation_decisions)}
    input_decisions = []
    for path, modules in walk.input_places.items():
        positions = int(modules[0].details.get("candidates", len(modules[0].inputs)))
        edge_operations = []
        for position in range(positions):
            prefixes = tuple(f"{module.path}.input_{position}." for module in modules)
            found = [
                decision.path
                for decision in operation_decisions
                if any(place.startswith(prefixes) for place in decision.places)
            ]
            edge_operations.append(tuple(found))
        input_decisions.append(
            InputDecision(
                path,
                int(modules[0].details.get("k", 1)),
                positions,
                walk.input_allowed[path],
                tuple(edge_operations),
                tuple(module.path for module in modules),
            )
        )
    input_index = {decision.path: index for index, decision in enumerate(input_decisions)}

    # the DAG of ops; the emission keeps the ones the outputs need, in topological order
    ops = {module.path: module for module in architecture.ops}
    graph = nx.DiGraph(inputs=input_names, outputs=[wire.source for wire in architecture.outputs])
    for path, module in ops.items():
        sources = [wire.source for wire in module.inputs]
        graph.add_node(path, kind=module.kind, hyperparameters=module.hyperparameters, inputs=sources)
        for source in sources:
            if source not in ops and source not in architecture.inputs:
                raise SupernetError(f"{path} reads {source}, which the supernet walk left unexpanded")
            graph.add_edge(source, path)

    root = nn.Module()
    for decision in operation_decisions:
        index = operation_index[decision.path]
        count = len(decision.candidates)
        root.register_parameter(f"alpha_{index}", nn.Parameter(1e-3 * torch.randn(count)))
        root.register_buffer(f"mask_{index}", torch.ones(count))
        root.register_buffer(f"frozen_{index}", torch.zeros(()))
    for decision in input_decisions:
        root.register_buffer(f"edge_mask_{input_index[decision.path]}", torch.ones(decision.positions))

    weights_nodes: dict[str, fx.Node] = {}

    def emit_searched(
        fx_graph: fx.Graph,
        path: str,
        attributes: Mapping[str, Any],
        arguments: tuple[fx.Node, ...],
        inputs: list[torch.Tensor],
    ) -> tuple[fx.Node, torch.Tensor] | None:
        """A mixed op or an input sum; None for an ordinary op."""
        kind = attributes["kind"]
        if kind not in (_MIXED_KIND, _INPUTS_KIND):
            return None
        decision_path = attributes["hyperparameters"]["decision"]
        shapes = [tuple(tensor.shape[1:]) for tensor in inputs]
        if kind == _MIXED_KIND:
            decision = operation_decisions[operation_index[decision_path]]
            if len(set(shapes)) != 1:
                described = ", ".join(f"{value!r}: {shape}" for value, shape in zip(decision.candidates, shapes))
                raise SupernetError(
                    f"the Or at {path.rsplit('.', 1)[0]} (decision {decision_path!r}) has branches of different "
                    f"output shapes ({described}), so they cannot be mixed; fix the decision with "
                    f"fixed={{{decision_path!r}: ...}}"
                )
            index = operation_index[decision_path]
            if decision_path not in weights_nodes:
                weights_nodes[decision_path] = fx_graph.call_function(
                    operation_weights,
                    (
                        fx_graph.get_attr(f"alpha_{index}"),
                        fx_graph.get_attr(f"mask_{index}"),
                        fx_graph.get_attr(f"frozen_{index}"),
                    ),
                )
            probe = sum(inputs) / len(inputs)
            return fx_graph.call_function(mixed_sum, (weights_nodes[decision_path], *arguments)), probe
        if len(set(shapes)) != 1:
            raise SupernetError(
                f"the InputChoice at {path.rsplit('.', 1)[0]} (decision {decision_path!r}) has candidate "
                f"inputs of different shapes {shapes} after its transform, so they cannot be summed; "
                f"fix it with fixed={{{decision_path!r}: ...}}"
            )
        edge_mask = fx_graph.get_attr(f"edge_mask_{input_index[decision_path]}")
        return fx_graph.call_function(input_sum, (edge_mask, *arguments)), sum(inputs)

    def values_of(path: str, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        values = {}
        for argument, value in hyperparameters.items():
            try:
                values[argument] = architecture.value_of(value)
            except SpaceError:
                path_of = {id(hyperparameter): open_path for open_path, hyperparameter in architecture.open_decisions()}
                names = walk._open_paths(value, path_of)
                raise SupernetError(
                    f"op {path} sets its {argument} from decision(s) {', '.join(map(repr, names))}, which the "
                    "supernet searches (Or / InputChoice); fix them in `fixed`"
                ) from None
        return values

    network, output_shapes = emit_graph_module(
        graph,
        input_shapes,
        num_outputs,
        registry,
        class_name=f"{space.name}_supernet",
        root=root,
        values_of=values_of,
        emit_special=emit_searched,
    )
    return Supernet(
        network,
        space,
        operation_decisions,
        input_decisions,
        dict(walk.assigned),
        {name: tuple(input_shapes[name]) for name in input_names},
        output_shapes,
    )
