"""Compile a fully specified architecture into a ``torch.nn.Module``.

The networkx DAG of ops becomes a ``torch.fx.GraphModule``: fx generates a
straight-line ``forward`` with no per-op dictionary look-ups or Python loops,
so a compiled candidate trains as fast as the same network written by hand,
and it exports with ``torch.export`` without the space file.

Shapes are inferred by running each new op once on a shape-only ("meta")
batch, which also turns a shape mismatch into an error that names the op's path.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from automl.nn.ops import default_op_registry
from automl.nn.registry import CompileError, OpRegistry, Shape
from automl.space import OUTPUTS, Architecture

_PROBE_BATCH = 2


@dataclass
class CompiledModel:
    """A compiled candidate and what was learnt while compiling it."""

    module: fx.GraphModule
    input_shapes: dict[str, Shape]
    output_shapes: list[Shape]
    parameter_count: int


def module_name(path: str) -> str:
    """A torch submodule name for an op path (torch forbids '.')."""
    return path.replace(".", "__")


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def resolve_outputs(values: Mapping[str, Any], num_outputs: int | None, path: str) -> dict[str, Any]:
    """The op's hyperparameter values with ``OUTPUTS`` replaced by the task's number of outputs."""
    resolved = {}
    for key, value in values.items():
        if value is OUTPUTS:
            if num_outputs is None:
                raise CompileError(f"{path}.{key} is OUTPUTS but no number of outputs was given")
            value = num_outputs
        resolved[key] = value
    return resolved


@contextlib.contextmanager
def _on_meta(module: nn.Module) -> Iterator[None]:
    """Swap the module's parameters and buffers for meta copies, and back (no torch.func import)."""
    saved = []
    for submodule in module.modules():
        saved.append((submodule, dict(submodule._parameters), dict(submodule._buffers)))
        for name, parameter in submodule._parameters.items():
            if parameter is not None:
                submodule._parameters[name] = nn.Parameter(parameter.to("meta"), parameter.requires_grad)
        for name, buffer in submodule._buffers.items():
            if buffer is not None:
                submodule._buffers[name] = buffer.to("meta")
    try:
        yield
    finally:
        for submodule, parameters, buffers in saved:
            submodule._parameters.update(parameters)
            submodule._buffers.update(buffers)


def _probe(built: nn.Module | Callable[..., torch.Tensor], inputs: list[torch.Tensor]) -> torch.Tensor:
    """The op's output shape, as a meta tensor, for shape-only ("meta") inputs.

    Convolutions are probed on the meta device: shapes without data cost
    microseconds instead of a real (and, for a new weight layout, slow) call.
    Everything else runs on a real zero batch, which for small ops is faster
    than the meta device's Python decompositions, and serves as the fallback.
    """
    module = built if isinstance(built, nn.Module) else None
    with torch.no_grad():
        if module is not None:
            module.eval()
        try:
            if module is None:
                return built(*inputs)
            if any(isinstance(part, nn.modules.conv._ConvNd) for part in module.modules()):
                with _on_meta(module):
                    return module(*inputs)
        except (NotImplementedError, RuntimeError):
            pass
        finally:
            if module is not None:
                module.train()
        if module is not None:
            module.eval()
        try:
            return built(*[torch.zeros(tensor.shape) for tensor in inputs]).to("meta")
        finally:
            if module is not None:
                module.train()


def build_op(
    registry: OpRegistry, path: str, kind: str, values: Mapping[str, Any], inputs: list[torch.Tensor]
) -> tuple[nn.Module | Callable[..., torch.Tensor], torch.Tensor]:
    """Build one op for these probe inputs and return it with its probe output."""
    spec = registry.get(kind)
    shapes = [tuple(tensor.shape[1:]) for tensor in inputs]
    try:
        built = spec.build(shapes, **values)
        output = _probe(built, inputs)
    except CompileError as error:
        raise CompileError(f"{path} ({kind}): {error}") from None
    except TypeError as error:
        raise CompileError(f"{path} ({kind}): bad hyperparameters {dict(values)!r}: {error}") from None
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise CompileError(f"{path} ({kind}) cannot take inputs of shape {shapes}: {first_line}") from None
    return built, output


def add_op_node(
    fx_graph: fx.Graph,
    root: nn.Module,
    path: str,
    built: nn.Module | Callable[..., torch.Tensor],
    arguments: tuple[fx.Node, ...],
) -> fx.Node:
    """Add a built op to the fx graph: identities vanish, modules become submodules of ``root``."""
    if isinstance(built, nn.Identity):
        return arguments[0]
    if isinstance(built, nn.Module):
        root.add_module(module_name(path), built)
        return fx_graph.call_module(module_name(path), arguments)
    if isinstance(built, functools.partial):
        return fx_graph.call_function(built.func, arguments, dict(built.keywords))
    return fx_graph.call_function(built, arguments)


def shapes_by_input(input_names: list[str], input_shapes: Mapping[str, Shape] | Shape) -> dict[str, Shape]:
    """One shape per architecture input; a bare shape serves a single-input space."""
    if not isinstance(input_shapes, Mapping):
        if len(input_names) != 1:
            raise CompileError(f"the space has inputs {input_names}; give a shape for each")
        return {input_names[0]: tuple(input_shapes)}
    missing = [name for name in input_names if name not in input_shapes]
    if missing:
        raise CompileError(f"no input shape given for {', '.join(missing)}")
    return {name: tuple(input_shapes[name]) for name in input_names}


OpEmitter = Callable[
    [fx.Graph, str, Mapping[str, Any], tuple[fx.Node, ...], list[torch.Tensor]], tuple[fx.Node, torch.Tensor] | None
]
"""``(fx_graph, path, node attributes, argument nodes, input probes) -> (node, probe)``, or None for a plain op."""


def emit_graph_module(
    graph: nx.DiGraph,
    input_shapes: Mapping[str, Shape],
    num_outputs: int | None,
    registry: OpRegistry,
    class_name: str,
    root: nn.Module | None = None,
    values_of: Callable[[str, Mapping[str, Any]], Mapping[str, Any]] | None = None,
    emit_special: OpEmitter | None = None,
) -> tuple[fx.GraphModule, list[Shape]]:
    """Emit the fx code of a DAG of ops; the one emission loop of ``compile_graph`` and the supernet.

    ``graph`` has graph attributes ``inputs`` and ``outputs`` (node names) and, on
    each op node, ``kind``, ``inputs`` (ordered source nodes) and
    ``hyperparameters``. Only the ops that the outputs need are emitted, in
    topological order: each is built for the probe shapes of its inputs
    (``OUTPUTS`` resolved to ``num_outputs``) and becomes a call of a submodule
    of ``root`` named after its path, or of a function. ``values_of(path,
    hyperparameters)`` turns a node's hyperparameters into values (default: they
    are values already); ``emit_special`` may emit a node itself (it returns
    the fx node and the probe of its output) or return None to build it as an op.
    Returns the ``GraphModule`` and the output shapes (without the batch).
    """
    root = nn.Module() if root is None else root
    input_names: list[str] = list(graph.graph["inputs"])
    is_input = set(input_names)
    outputs: list[str] = list(graph.graph["outputs"])
    needed = set(outputs)
    for output in outputs:
        if output in graph:
            needed |= nx.ancestors(graph, output)

    fx_graph = fx.Graph()
    nodes: dict[str, fx.Node] = {}
    probes: dict[str, torch.Tensor] = {}
    for name in input_names:
        nodes[name] = fx_graph.placeholder(name)
        probes[name] = torch.empty((_PROBE_BATCH, *input_shapes[name]), device="meta")
    for path in nx.topological_sort(graph):
        if path in is_input or path not in needed:
            continue
        attributes = graph.nodes[path]
        sources = attributes["inputs"]
        arguments = tuple(nodes[source] for source in sources)
        inputs = [probes[source] for source in sources]
        emitted = None if emit_special is None else emit_special(fx_graph, path, attributes, arguments, inputs)
        if emitted is None:
            hyperparameters = attributes["hyperparameters"]
            values = hyperparameters if values_of is None else values_of(path, hyperparameters)
            values = resolve_outputs(values, num_outputs, path)
            built, probe = build_op(registry, path, attributes["kind"], values, inputs)
            emitted = add_op_node(fx_graph, root, path, built, arguments), probe
        nodes[path], probes[path] = emitted
    results = [nodes[output] for output in outputs]
    fx_graph.output(results[0] if len(results) == 1 else tuple(results))
    module = fx.GraphModule(root, fx_graph, class_name=class_name)
    return module, [tuple(probes[output].shape[1:]) for output in outputs]


def compile_graph(
    graph: nx.DiGraph,
    input_shapes: Mapping[str, Shape] | Shape,
    num_outputs: int | None = None,
    registry: OpRegistry | None = None,
) -> CompiledModel:
    """Turn the graph of ``Architecture.to_networkx()`` into a torch module."""
    registry = registry or default_op_registry()
    input_names: list[str] = graph.graph["inputs"]
    input_shapes = shapes_by_input(input_names, input_shapes)
    module, output_shapes = emit_graph_module(
        graph, input_shapes, num_outputs, registry, class_name=graph.graph.get("name", "Candidate")
    )
    return CompiledModel(
        module=module,
        input_shapes={name: tuple(input_shapes[name]) for name in input_names},
        output_shapes=output_shapes,
        parameter_count=count_parameters(module),
    )


def compile_architecture(
    architecture: Architecture,
    input_shapes: Mapping[str, Shape] | Shape,
    num_outputs: int | None = None,
    registry: OpRegistry | None = None,
) -> CompiledModel:
    """Compile a fully specified architecture of a space."""
    return compile_graph(architecture.to_networkx(), input_shapes, num_outputs, registry)
