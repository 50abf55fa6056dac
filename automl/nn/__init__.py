"""Compile architectures of the space language to torch."""

from automl.nn.compile import CompiledModel, compile_architecture, compile_graph, count_parameters
from automl.nn.ops import default_op_registry
from automl.nn.registry import CompileError, OpRegistry, OpSpec

__all__ = [
    "CompileError",
    "CompiledModel",
    "OpRegistry",
    "OpSpec",
    "compile_architecture",
    "compile_graph",
    "count_parameters",
    "default_op_registry",
]
