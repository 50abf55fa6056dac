"""The built-in ops: torch modules for tabular (F,), sequence (C, L) and image (C, H, W) inputs."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

import torch
from torch import nn

from automl.nn.embedding import build_embedding
from automl.nn.registry import CompileError, OpRegistry, OpSpec, Shape

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "selu": nn.SELU,
    "identity": nn.Identity,
}


def _single(shapes: list[Shape], op: str) -> Shape:
    if len(shapes) != 1:
        raise CompileError(f"{op} takes one input, got {len(shapes)}")
    return shapes[0]


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CompileError(f"{what} must be a positive int, got {value!r}")
    return value


def build_linear(shapes: list[Shape], units: int, bias: bool = True) -> nn.Module:
    """A dense layer; inputs of higher rank are flattened first."""
    shape = _single(shapes, "linear")
    units = _positive_int(units, "linear units")
    features = 1
    for size in shape:
        features *= size
    layer = nn.Linear(features, units, bias=bias)
    return layer if len(shape) == 1 else nn.Sequential(nn.Flatten(), layer)


def _spatial_rank(shape: Shape, op: str, ranks: tuple[int, ...]) -> int:
    if len(shape) - 1 not in ranks:
        wanted = " or ".join({1: "(channels, length)", 2: "(channels, height, width)"}[rank] for rank in ranks)
        raise CompileError(f"{op} needs input of shape {wanted}, got {shape}")
    return len(shape) - 1


def build_conv(
    shapes: list[Shape],
    filters: int,
    kernel: int = 3,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    bias: bool = True,
    rank: int | None = None,
) -> nn.Module:
    """A convolution with 'same' padding (for odd kernels), so blocks stack freely."""
    shape = _single(shapes, "conv")
    spatial = _spatial_rank(shape, "conv", (rank,) if rank else (1, 2))
    filters = _positive_int(filters, "conv filters")
    padding = dilation * (kernel - 1) // 2
    convolution = nn.Conv1d if spatial == 1 else nn.Conv2d
    if shape[0] % groups:
        raise CompileError(f"conv groups={groups} must divide the {shape[0]} input channels")
    return convolution(
        shape[0], filters, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias
    )


def build_separable_conv(
    shapes: list[Shape], filters: int, kernel: int = 3, stride: int = 1, dilation: int = 1
) -> nn.Module:
    """Depthwise then pointwise convolution (Chollet 2017), as in the DARTS op set."""
    shape = _single(shapes, "separable_conv")
    spatial = _spatial_rank(shape, "separable_conv", (1, 2))
    channels = shape[0]
    convolution = nn.Conv1d if spatial == 1 else nn.Conv2d
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        convolution(
            channels, channels, kernel, stride=stride, padding=padding, dilation=dilation, groups=channels, bias=False
        ),
        convolution(channels, _positive_int(filters, "separable_conv filters"), 1, bias=False),
    )


def build_dilated_conv(
    shapes: list[Shape], filters: int, kernel: int = 3, dilation: int = 2, stride: int = 1
) -> nn.Module:
    return build_conv(shapes, filters, kernel, stride=stride, dilation=dilation)


def build_batchnorm(shapes: list[Shape]) -> nn.Module:
    shape = _single(shapes, "batchnorm")
    if len(shape) in (1, 2):
        return nn.BatchNorm1d(shape[0])
    if len(shape) == 3:
        return nn.BatchNorm2d(shape[0])
    raise CompileError(f"batchnorm needs input of rank 1 to 3 (without batch), got {shape}")


def build_layernorm(shapes: list[Shape]) -> nn.Module:
    return nn.LayerNorm(list(_single(shapes, "layernorm")))


def build_activation(shapes: list[Shape], kind: str = "relu") -> nn.Module:
    _single(shapes, "activation")
    factory = ACTIVATIONS.get(kind)
    if factory is None:
        raise CompileError(f"unknown activation {kind!r}; known: {', '.join(ACTIVATIONS)}")
    return factory()


def build_dropout(shapes: list[Shape], p: float = 0.5) -> nn.Module:
    _single(shapes, "dropout")
    if not 0.0 <= float(p) < 1.0:
        raise CompileError(f"dropout p must be in [0, 1), got {p!r}")
    return nn.Dropout(float(p))


def _build_pool(
    kind: str, shapes: list[Shape], kernel: int = 2, stride: int | None = None, padding: int = 0
) -> nn.Module:
    shape = _single(shapes, f"{kind}_pool")
    spatial = _spatial_rank(shape, f"{kind}_pool", (1, 2))
    if any(size < kernel for size in shape[1:]) and padding == 0:
        raise CompileError(f"{kind}_pool kernel {kernel} is larger than the input {shape}")
    pools = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
    options = {"count_include_pad": False} if kind == "avg" else {}
    return pools[kind, spatial](kernel, stride=stride, padding=padding, **options)


def _build_global_pool(kind: str, shapes: list[Shape]) -> nn.Module:
    shape = _single(shapes, f"global_{kind}_pool")
    spatial = _spatial_rank(shape, f"global_{kind}_pool", (1, 2))
    pools = {
        ("avg", 1): nn.AdaptiveAvgPool1d,
        ("avg", 2): nn.AdaptiveAvgPool2d,
        ("max", 1): nn.AdaptiveMaxPool1d,
        ("max", 2): nn.AdaptiveMaxPool2d,
    }
    return nn.Sequential(pools[kind, spatial](1), nn.Flatten())


def build_flatten(shapes: list[Shape]) -> nn.Module:
    _single(shapes, "flatten")
    return nn.Flatten()


def build_identity(shapes: list[Shape]) -> nn.Module:
    _single(shapes, "identity")
    return nn.Identity()


class Zero(nn.Module):
    """The 'none' op of DARTS: zeros of the input's shape (with the input's stride)."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return tensor * 0.0
        index = (slice(None), slice(None)) + (slice(None, None, self.stride),) * (tensor.dim() - 2)
        return tensor[index] * 0.0


def build_zero(shapes: list[Shape], stride: int = 1) -> nn.Module:
    _single(shapes, "zero")
    return Zero(stride)


def build_add(shapes: list[Shape]) -> nn.Module | Callable[..., torch.Tensor]:
    if len(shapes) < 2:
        return nn.Identity()
    if len(set(shapes)) != 1:
        raise CompileError(f"add needs inputs of one shape, got {', '.join(map(str, shapes))}")
    return add_tensors


def add_tensors(*tensors: torch.Tensor) -> torch.Tensor:
    return functools.reduce(operator.add, tensors)


def concat_tensors(*tensors: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.cat(tensors, dim=dim)


def build_concat(shapes: list[Shape], axis: int = 0) -> Callable[..., torch.Tensor]:
    """Concatenate along ``axis`` of the per-sample shape (0: channels or features)."""
    if not shapes:
        raise CompileError("concat needs inputs")
    ranks = {len(shape) for shape in shapes}
    if len(ranks) != 1 or not 0 <= axis < len(shapes[0]):
        raise CompileError(f"concat along axis {axis} cannot join shapes {', '.join(map(str, shapes))}")
    others = {shape[:axis] + shape[axis + 1 :] for shape in shapes}
    if len(others) != 1:
        raise CompileError(f"concat along axis {axis} needs the other sizes equal, got {', '.join(map(str, shapes))}")
    return functools.partial(concat_tensors, dim=axis + 1)


def builtin_op_specs() -> list[OpSpec]:
    specs = [
        OpSpec("linear", build_linear, "dense layer: units (flattens higher-rank input)"),
        OpSpec("conv1d", functools.partial(build_conv, rank=1), "1-d convolution: filters, kernel, stride, dilation"),
        OpSpec("conv2d", functools.partial(build_conv, rank=2), "2-d convolution: filters, kernel, stride, dilation"),
        OpSpec("separable_conv", build_separable_conv, "depthwise-separable convolution: filters, kernel, dilation"),
        OpSpec("dilated_conv", build_dilated_conv, "dilated convolution: filters, kernel, dilation=2"),
        OpSpec("batchnorm", build_batchnorm, "batch normalisation (1-d or 2-d by input rank)"),
        OpSpec("layernorm", build_layernorm, "layer normalisation over all per-sample dimensions"),
        OpSpec("activation", build_activation, f"activation: kind in {', '.join(ACTIVATIONS)}"),
        OpSpec("dropout", build_dropout, "dropout: p"),
        OpSpec("max_pool", functools.partial(_build_pool, "max"), "max pooling: kernel, stride, padding"),
        OpSpec("avg_pool", functools.partial(_build_pool, "avg"), "average pooling: kernel, stride, padding"),
        OpSpec(
            "global_avg_pool", functools.partial(_build_global_pool, "avg"), "global average pooling to (channels,)"
        ),
        OpSpec("global_max_pool", functools.partial(_build_global_pool, "max"), "global max pooling to (channels,)"),
        OpSpec("flatten", build_flatten, "flatten to (features,)"),
        OpSpec("identity", build_identity, "pass the input through"),
        OpSpec("zero", build_zero, "zeros shaped like the input (DARTS 'none')"),
        OpSpec("add", build_add, "element-wise sum of inputs of one shape", arity="many"),
        OpSpec("concat", build_concat, "concatenate inputs along channels/features", arity="many"),
        OpSpec(
            "embedding",
            build_embedding,
            "categorical columns to learnt vectors, concatenated after the numeric ones: size, categories",
        ),
    ]
    for kind in ("relu", "gelu", "tanh", "sigmoid"):
        specs.append(OpSpec(kind, functools.partial(build_activation, kind=kind), f"{kind} activation"))
    return specs


def default_op_registry() -> OpRegistry:
    """A new registry holding the built-in ops."""
    registry = OpRegistry()
    for spec in builtin_op_specs():
        registry.register(spec)
    return registry
