"""A lookup table of what each candidate op of a supernet costs (FBNet, Wu et al. 2019).

A cost penalty on the alphas (FBNet; ProxylessNAS, Cai et al. 2019) needs the
cost of every branch of every mixed op, and a branch's cost depends on the
shape it runs on. So each branch is measured once, where it sits in the
supernet, on the input it really gets: the supernet runs once on one sample,
every intermediate value is kept, and each branch's ops are cut out of the fx
graph as a small module fed with those values.

- ``flops``: FLOPs of the branch on one sample, counted by
  :class:`torch.utils.flop_counter.FlopCounterMode` (a multiply-add counts 2;
  ops without a formula, such as pooling and activations, count 0), as the
  engine counts a candidate's FLOPs;
- ``latency_ms``: the median of a few short timed blocks of the branch at
  batch 1, without gradients, by :class:`torch.utils.benchmark.Timer` (one
  thread on CPU; it synchronises CUDA).

A branch is the ops that only it computes: everything that feeds every branch
of the mixed op (its input) is left out, and so is the supernet's own machinery
(alphas, branch weights, the weighted sums). An identity branch costs 0. An Or
nested in a branch of another Or is charged to its own decision, not to the
outer branch. A decision used by several Or places (a cell genotype shared by
every cell) costs the sum over its places: its branch at every place is cut out
as one module and measured once.

The engine measures whole candidates in ``automl.engine.costs``; this module
stays in ``automl.nn`` (below the engine in the layer order) and measures
pieces of a supernet.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.utils.benchmark import Timer
from torch.utils.flop_counter import FlopCounterMode

from automl.nn.mixed_ops import mixed_sum, operation_weights
from automl.nn.supernet import Supernet

COST_KINDS = ("flops", "latency_ms")
WARMUP_PASSES = 2
LATENCY_BLOCKS = 5  # the latency of a branch is the median of this many timed blocks
LATENCY_BLOCK_SECONDS = 0.001  # short blocks: a cell supernet has a hundred branches or more


@dataclass(frozen=True)
class OperationCosts:
    """One cost per candidate of each searched decision, summed over the decision's places."""

    kind: str
    costs: dict[str, tuple[float, ...]]  # decision path -> cost of each candidate, in the decision's order
    candidates: dict[str, tuple[Any, ...]]
    seconds: float = 0.0  # how long the measurement took

    def tensors(self) -> dict[str, torch.Tensor]:
        """The costs as tensors, for ``Supernet.expected_cost``."""
        return {path: torch.tensor(values, dtype=torch.float32) for path, values in self.costs.items()}

    def uniform_expected(self) -> float:
        """The expected cost with every branch weighted equally (alphas all equal, as at the start)."""
        return sum(sum(values) / len(values) for values in self.costs.values() if values)

    def selected(self, chosen: Mapping[str, Any]) -> float:
        """The cost of the chosen ops: the sum over the decisions ``chosen`` has (a decision of an edge the
        selection dropped is not in the candidate, so it costs nothing)."""
        total = 0.0
        for path, values in self.costs.items():
            if path in chosen:
                total += values[_position(self.candidates[path], chosen[path])]
        return total

    def to_dict(self) -> dict[str, dict[str, float]]:
        """JSON-able ``{decision path: {str(candidate): cost}}``."""
        return {
            path: {str(value): cost for value, cost in zip(self.candidates[path], values)}
            for path, values in self.costs.items()
        }


def _position(candidates: tuple[Any, ...], value: Any) -> int:
    for index, candidate in enumerate(candidates):
        if type(candidate) is type(value) and candidate == value:
            return index
    raise ValueError(f"{value!r} is not one of {list(candidates)}")


class CostPenalty:
    """``weight * expected cost / reference``: the cost term of the architecture loss.

    The reference is the expected cost under uniform branch weights, so the
    weight is unit-free (the same ``cost_weight`` means the same pull on FLOPs
    as on milliseconds) and the term starts near ``weight``. When every branch
    costs 0 the reference is taken as 1 and the term stays 0.
    """

    def __init__(self, costs: OperationCosts, weight: float) -> None:
        self.costs = costs
        self.weight = float(weight)
        uniform = costs.uniform_expected()
        self.reference = uniform if uniform > 0 else 1.0
        self._tensors = costs.tensors()

    def __call__(self, supernet: Supernet) -> torch.Tensor:
        return self.weight * supernet.expected_cost(self._tensors) / self.reference

    @torch.no_grad()
    def expected(self, supernet: Supernet) -> float:
        """The expected cost under the supernet's current branch weights, in the cost's own unit."""
        return float(supernet.expected_cost(self._tensors))


def measure_operation_costs(supernet: Supernet, sample: torch.Tensor, kind: str) -> OperationCosts:
    """The cost of every branch of every mixed op of ``supernet`` on ``sample`` (one row, on its device).

    Runs in eval mode without gradients (batch-norm statistics untouched, no
    random numbers drawn), so measuring changes nothing the training sees; the
    supernet is given back in the mode it was in.
    """
    if kind not in COST_KINDS:
        raise ValueError(f"unknown cost {kind!r}; one of {', '.join(COST_KINDS)}")
    began = time.perf_counter()
    network = supernet.network
    was_training = supernet.training
    supernet.eval()
    try:
        with torch.no_grad():
            values = _node_values(network, sample[:1])
            # per decision and candidate, the branch's nodes at every place (and every output of a
            # multi-output Or) together: places are disjoint, so one measurement is their sum
            nodes_of: dict[str, list[set[fx.Node]]] = {
                decision.path: [set() for _ in decision.candidates] for decision in supernet.operation_decisions
            }
            for mixed, owned in _branches(network).items():
                path = supernet.operation_decisions[_decision_index(mixed)].path
                for position, nodes in enumerate(owned):
                    nodes_of[path][position] |= nodes
            totals = {
                path: [_measure(network, nodes, values, kind) if nodes else 0.0 for nodes in per_candidate]
                for path, per_candidate in nodes_of.items()
            }
    finally:
        supernet.train(was_training)
    return OperationCosts(
        kind,
        {path: tuple(costs) for path, costs in totals.items()},
        {decision.path: tuple(decision.candidates) for decision in supernet.operation_decisions},
        time.perf_counter() - began,
    )


def _node_values(network: fx.GraphModule, sample: torch.Tensor) -> dict[fx.Node, Any]:
    """Every node's output for one pass on ``sample``."""
    values: dict[fx.Node, Any] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, node: fx.Node) -> Any:
            values[node] = super().run_node(node)
            return values[node]

    Recorder(network, garbage_collect_values=False).run(sample)
    return values


def _is_mixed(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target is mixed_sum


def _is_machinery(node: fx.Node) -> bool:
    """The supernet's own nodes, which a branch of the discretised network does not have."""
    return node.op in ("placeholder", "get_attr", "output") or (
        node.op == "call_function" and node.target in (mixed_sum, operation_weights)
    )


def _decision_index(mixed: fx.Node) -> int:
    weights = mixed.args[0]
    assert isinstance(weights, fx.Node) and isinstance(weights.args[0], fx.Node)
    return int(str(weights.args[0].target).removeprefix("alpha_"))


def _branches(network: fx.GraphModule) -> dict[fx.Node, list[set[fx.Node]]]:
    """Per mixed op, per branch: the nodes that only that branch computes (see the module docstring)."""
    ancestors: dict[fx.Node, frozenset[fx.Node]] = {}
    for node in network.graph.nodes:
        inherited = [ancestors[source] for source in node.all_input_nodes]
        ancestors[node] = frozenset({node}.union(*inherited))
    exclusive: dict[fx.Node, list[set[fx.Node]]] = {}
    for node in network.graph.nodes:
        if not _is_mixed(node):
            continue
        reached = [ancestors[branch] for branch in node.args[1:] if isinstance(branch, fx.Node)]
        common = frozenset.intersection(*reached)
        exclusive[node] = [set(nodes - common) for nodes in reached]
    owned: dict[fx.Node, list[set[fx.Node]]] = {}
    for mixed, per_branch in exclusive.items():
        owned[mixed] = []
        for nodes in per_branch:
            inner = set().union(*(node_set for node in nodes if node in exclusive for node_set in exclusive[node]))
            owned[mixed].append({node for node in nodes - inner if not _is_machinery(node)})
    return owned


def _measure(network: fx.GraphModule, nodes: set[fx.Node], values: Mapping[fx.Node, Any], kind: str) -> float:
    """FLOPs or milliseconds of the nodes ``nodes`` cut out of ``network``, fed with the recorded values."""
    module, inputs = _cut(network, nodes, values)
    if kind == "flops":
        counter = FlopCounterMode(display=False)
        with counter:
            module(*inputs)
        return float(counter.get_total_flops())
    return _latency_ms(module, inputs)


def _cut(
    network: fx.GraphModule, nodes: set[fx.Node], values: Mapping[fx.Node, Any]
) -> tuple[fx.GraphModule, list[Any]]:
    """A module of ``nodes`` alone (in the network's order); whatever they read from outside becomes an input."""
    ordered = [node for node in network.graph.nodes if node in nodes]
    external: list[fx.Node] = []
    for node in ordered:
        for source in node.all_input_nodes:
            if source not in nodes and source not in external:
                external.append(source)
    graph = fx.Graph()
    mapping: dict[fx.Node, fx.Node] = {source: graph.placeholder(f"input_{i}") for i, source in enumerate(external)}
    for node in ordered:
        mapping[node] = graph.node_copy(node, lambda source: mapping[source])
    sinks = [mapping[node] for node in ordered if not any(user in nodes for user in node.users)]
    graph.output(tuple(sinks))
    return fx.GraphModule(network, graph), [values[source] for source in external]


def _latency_ms(module: nn.Module, inputs: list[Any]) -> float:
    """The median milliseconds of one call, over ``LATENCY_BLOCKS`` blocks of about ``LATENCY_BLOCK_SECONDS``."""
    timer = Timer(stmt="module(*inputs)", globals={"module": module, "inputs": inputs}, num_threads=1)
    timer.timeit(WARMUP_PASSES)
    once = timer.timeit(1).median
    number = int(min(1000, max(1, LATENCY_BLOCK_SECONDS / max(once, 1e-9))))
    blocks = [timer.timeit(number).median for _ in range(LATENCY_BLOCKS)]
    return statistics.median(blocks) * 1000.0


@torch.no_grad()
def forward_flops(module: nn.Module, sample: torch.Tensor) -> int:
    """FLOPs of one forward pass of ``module`` on ``sample`` in eval mode (the module's mode is restored)."""
    was_training = module.training
    module.eval()
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            module(sample)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())
