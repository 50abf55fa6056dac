"""Write an exported model as ONNX (``model.onnx``), for runtimes without PyTorch (onnxruntime, TensorRT, browsers).

``automl export STUDY [--trial N | --ensemble K] --format onnx`` writes the
same files as the default ``--format torch`` (state dicts, architecture and
ensemble JSON, the ``torch.export`` program ``model.pt2``) and translates that
program to ``model.onnx`` with PyTorch's dynamo-based ONNX exporter. Starting
from the program, not from the eager module, makes the ONNX graph compute what
``model.pt2`` computes, keeps its dynamic batch dimension, and costs no second
load or retraining of the model. The batch dimension is named ``batch`` in
the file, the input ``features`` and the output ``outputs``.

The exporter needs the optional packages ``onnx`` and ``onnxscript`` (``pip
install automl[onnx]``); :func:`missing_packages` lets the command say so in
one line before it spends any time on the export.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

INSTALL = "pip install automl[onnx]"
REQUIRED = ("onnx", "onnxscript")
INPUT_NAME = "features"
OUTPUT_NAME = "outputs"
BATCH_NAME = "batch"


@dataclass(frozen=True)
class OnnxFile:
    """What :func:`save_onnx` wrote: the file, and its input's shape (``None`` in place of a dynamic batch)."""

    path: Path
    input_shape: tuple[int | None, ...]

    @property
    def dynamic_batch(self) -> bool:
        return bool(self.input_shape) and self.input_shape[0] is None


def missing_packages() -> list[str]:
    """The packages the ONNX export needs that cannot be imported here (empty when it can run)."""
    missing = []
    for name in REQUIRED:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    return missing


def save_onnx(program_path: Path, path: Path) -> OnnxFile:
    """Translate the ``torch.export`` program at ``program_path`` to ONNX at ``path`` and check the file.

    The file is validated with ``onnx.checker.check_model`` (full check,
    shape inference included); a symbolic first dimension of the input and
    output is renamed ``batch`` so the file says what it is.
    """
    import onnx
    import torch

    with _quiet_exporter():
        program = torch.export.load(str(program_path))
        torch.onnx.export(
            program, f=str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamo=True, external_data=False
        )
    model = onnx.load(str(path))
    _name_batch_dimension(model)
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    dimensions = model.graph.input[0].type.tensor_type.shape.dim
    shape = tuple(dimension.dim_value if dimension.HasField("dim_value") else None for dimension in dimensions)
    return OnnxFile(path, shape)


def _name_batch_dimension(model: onnx.ModelProto) -> None:
    """Rename the symbol of the input's first dimension to ``batch`` wherever the graph uses it."""
    graph = model.graph
    first = graph.input[0].type.tensor_type.shape.dim[0]
    if not first.HasField("dim_param"):
        return  # a fixed batch size: the program specialised it
    symbol = first.dim_param
    for value in [*graph.input, *graph.output, *graph.value_info]:
        for dimension in value.type.tensor_type.shape.dim:
            if dimension.HasField("dim_param") and dimension.dim_param == symbol:
                dimension.dim_param = BATCH_NAME


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Hide the exporter's progress lines, its note about torchvision and torch's own deprecation notices (of its
    internals, which a user cannot act on): the command prints its own summary."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)
