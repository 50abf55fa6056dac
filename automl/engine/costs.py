"""What a candidate model costs to run: parameters, FLOPs, latency and peak memory.

Measured once per candidate, after compiling and before training, so a
hardware-aware search can refuse a candidate before it spends any training on
it (see :mod:`automl.engine.constraints`). Parameters, FLOPs and memory take
one forward pass and are always measured; latency takes repeated timed passes
and is measured only when asked for.

- ``params``: trainable and frozen parameters of the module.
- ``flops``: floating-point operations of one forward pass of one training batch,
  counted by :class:`torch.utils.flop_counter.FlopCounterMode` (a multiply-add
  counts 2, as in PyTorch's counter; ops it has no formula for count 0).
- ``latency_ms`` / ``latency_batch_ms``: the median wall-clock time of one
  forward pass without gradients at batch 1 and at the training batch size,
  by :class:`torch.utils.benchmark.Timer` (it synchronises CUDA): the median of
  up to five timed blocks of a few milliseconds, after warm-up passes that are not
  timed. On CPU with one thread (the Timer's default): with several, a pass waits
  for whichever core is busy with something else, and latencies on a shared
  machine came out 100 times too high now and then.
- ``memory_mb``: the peak memory of one training forward pass (gradients on,
  so the activations the backward pass needs are kept). On CUDA it is the peak
  of ``torch.cuda.max_memory_allocated`` during the pass above what was allocated before it
  (other tensors on the device do not count), plus the parameters, buffers and input. On CPU PyTorch keeps
  no allocation statistics, so it is the bytes of the parameters, buffers and
  input plus the output of every op of the pass (each node of the fx graph, or
  each leaf module of another module): what autograd keeps for the backward.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.utils.benchmark import Timer
from torch.utils.flop_counter import FlopCounterMode

from automl.engine.constraints import COST_NAMES

WARMUP_PASSES = 2
LATENCY_REPEATS = 5  # timed blocks per batch size; the latency is their median
LATENCY_BLOCK_SECONDS = 0.004
LATENCY_MAX_SECONDS = 0.05  # no more blocks after this, once three are timed
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Costs:
    """The measured costs of one candidate model; latencies are None when not measured."""

    params: int
    flops: int
    memory_mb: float
    latency_ms: float | None = None
    latency_batch_ms: float | None = None
    batch_size: int = 1  # the batch the FLOPs, memory and batch latency were measured at
    device: str = "cpu"

    def as_metrics(self) -> dict[str, float | int]:
        """The measured costs by name (``COST_NAMES``), without the ones not measured."""
        values = {name: getattr(self, name) for name in COST_NAMES}
        return {name: value for name, value in values.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Costs:
        names = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in stored.items() if key in names})


def measure_costs(module: nn.Module, batch: torch.Tensor, device: torch.device, latency: bool = False) -> Costs:
    """The costs of ``module`` on ``batch`` (one training batch) on ``device``.

    The module runs in eval mode (batch-norm statistics and dropout untouched, no random numbers drawn)
    and is given back in the mode it was in; it is left on ``device``.
    """
    module.to(device)
    batch = batch.to(device)
    params = sum(parameter.numel() for parameter in module.parameters())
    with _eval_mode(module):
        flops, memory = _forward_flops_and_memory(module, batch, device)
    costs = Costs(params, flops, memory / MEGABYTE, None, None, len(batch), str(device))
    return with_latency(costs, module, batch, device) if latency else costs


def with_latency(costs: Costs, module: nn.Module, batch: torch.Tensor, device: torch.device) -> Costs:
    """``costs`` with the latencies measured, so a candidate that already breaks a cheaper bound is never timed."""
    module.to(device)
    batch = batch.to(device)
    with _eval_mode(module):
        latency_ms = _latency_ms(module, batch[:1])
        latency_batch_ms = latency_ms if len(batch) == 1 else _latency_ms(module, batch)
    return dataclasses.replace(costs, latency_ms=latency_ms, latency_batch_ms=latency_batch_ms)


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _forward_flops_and_memory(module: nn.Module, batch: torch.Tensor, device: torch.device) -> tuple[int, float]:
    """FLOPs and peak bytes of one forward pass with gradients on."""
    counter = FlopCounterMode(display=False)
    resident = sum(_bytes(tensor) for tensor in [*module.parameters(), *module.buffers(), batch])
    if device.type == "cuda":  # the pass's own peak above what was allocated before, plus the model and input
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        with counter:
            output = module(batch)
        torch.cuda.synchronize(device)
        peak = float(torch.cuda.max_memory_allocated(device) - before + resident)
        del output
        return int(counter.get_total_flops()), peak
    with counter:
        produced = _activation_bytes(module, batch)
    return int(counter.get_total_flops()), float(resident + produced)


def _activation_bytes(module: nn.Module, batch: torch.Tensor) -> int:
    """The bytes of every op's output in one forward pass."""
    if isinstance(module, fx.GraphModule):
        total = 0

        class Recorder(fx.Interpreter):
            def run_node(self, node: fx.Node) -> Any:
                nonlocal total
                result = super().run_node(node)
                if node.op in ("call_module", "call_function", "call_method"):
                    total += sum(_bytes(tensor) for tensor in _tensors(result))
                return result

        Recorder(module).run(batch)
        return total
    sizes: list[int] = []
    leaves = [child for child in module.modules() if not list(child.children())]
    handles = [
        leaf.register_forward_hook(lambda _m, _i, out: sizes.append(sum(map(_bytes, _tensors(out))))) for leaf in leaves
    ]
    try:
        module(batch)
    finally:
        for handle in handles:
            handle.remove()
    return sum(sizes)


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [tensor for item in value for tensor in _tensors(item)]
    if isinstance(value, dict):
        return [tensor for item in value.values() for tensor in _tensors(item)]
    return []


def _bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _latency_ms(module: nn.Module, batch: torch.Tensor) -> float:
    """The median milliseconds of a forward pass without gradients, warm-up passes excluded.

    Up to ``LATENCY_REPEATS`` timed blocks of about ``LATENCY_BLOCK_SECONDS`` each (the passes per block from
    one timed pass; at least three blocks, no new one after ``LATENCY_MAX_SECONDS``), so a candidate's latency
    costs some tens of milliseconds, not a share of its training.
    """
    with torch.no_grad():
        timer = Timer(stmt="module(batch)", globals={"module": module, "batch": batch}, num_threads=1)
        timer.timeit(WARMUP_PASSES)
        once = timer.timeit(1).median
        number = int(min(1000, max(1, LATENCY_BLOCK_SECONDS / max(once, 1e-9))))
        blocks: list[float] = []
        started = time.perf_counter()
        while len(blocks) < LATENCY_REPEATS and (
            len(blocks) < 3 or time.perf_counter() - started < LATENCY_MAX_SECONDS
        ):
            blocks.append(timer.timeit(number).median)
    milliseconds = statistics.median(blocks) * 1000.0
    if not math.isfinite(milliseconds) or milliseconds <= 0:
        raise RuntimeError(f"latency measurement gave {milliseconds} ms")
    return milliseconds
