"""Pick the torch device: ``auto`` is CUDA when present, else CPU."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """The device, with CUDA's context created now: the search resolves its device before the first
    trial, so that the seconds CUDA takes to start are not charged to that trial (nor its time limit)."""
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ValueError(f"unknown device {name!r}; use auto, cpu or cuda") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device cuda was asked for but no CUDA device is available; use --device auto or cpu")
    if device.type == "cuda":
        torch.cuda.init()  # idempotent; a process that resolved cuda is about to use it
    return device
