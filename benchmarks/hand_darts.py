"""The DARTS operations of ``search_spaces/darts_cell.py`` written by hand in plain torch.

The reference the compile and DARTS-PT benchmarks measure our compiled
networks against, layer for layer (same modules, same order, same parameters).
"""

from __future__ import annotations

import torch
from torch import nn


def separable(channels: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel, padding=padding, dilation=dilation, groups=channels, bias=False),
        nn.Conv2d(channels, channels, 1, bias=False),
    )


class Zero(nn.Module):
    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor * 0.0


def darts_operation(name: str, channels: int) -> nn.Module:
    """One DARTS edge operation by its name in ``OPERATIONS``."""
    if name.startswith("sep_conv"):
        kernel = int(name[-1])
        return nn.Sequential(
            nn.ReLU(),
            separable(channels, kernel),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            separable(channels, kernel),
            nn.BatchNorm2d(channels),
        )
    if name.startswith("dil_conv"):
        return nn.Sequential(nn.ReLU(), separable(channels, int(name[-1]), dilation=2), nn.BatchNorm2d(channels))
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity()
    if name == "none":
        return Zero()
    raise ValueError(f"unknown DARTS operation {name!r}")
