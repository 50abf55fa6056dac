"""Train one compiled candidate under a budget and score it on validation data.

Classification is scored by accuracy, regression by R² (both: higher is
better), so strategies always maximise. Batches are sliced from tensors kept on
the device rather than drawn through a DataLoader: for the small tabular and
image sets of a search this is several times faster.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from automl.training.settings import TrainingSettings


class TrialFailure(Exception):
    """A trial cannot finish: NaN loss, time limit, too many parameters. The reason is the message."""


@dataclass
class TrainingOutcome:
    score: float  # the best epoch's validation score, over all epochs including those continued from
    validation_loss: float
    epochs: int  # epochs run by this call (not those of the checkpoint it continued from)
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)  # this call's own epochs
    state_dict: dict[str, Any] | None = None
    pruned: bool = False  # stopped by ``prune`` before its budget
    last_epoch: int = 0  # epochs trained in all, counted from the start (the continued ones too)


def target_scaling(splits: Any) -> tuple[float, float]:
    """Mean and scale of a regression target on the training split (identity for classification).

    Regression targets are trained standardised, so the learning rate means
    the same for a target in the hundreds as for one near 1; R² is unchanged.
    """
    if splits.task != "regression":
        return 0.0, 1.0
    target = np.asarray(splits.train.target, dtype=np.float64)
    scale = float(target.std())
    return float(target.mean()), scale if scale > 0 else 1.0


def as_tensors(
    split: Any, task: str, device: torch.device, scaling: tuple[float, float] = (0.0, 1.0)
) -> tuple[torch.Tensor, torch.Tensor]:
    features = torch.as_tensor(np.ascontiguousarray(split.features), dtype=torch.float32, device=device)
    if task == "classification":
        target = torch.as_tensor(np.ascontiguousarray(split.target), dtype=torch.long, device=device)
    else:
        shift, scale = scaling
        values = (np.asarray(split.target, dtype=np.float64) - shift) / scale
        target = torch.as_tensor(values, dtype=torch.float32, device=device)
    return features, target


def _optimizer(module: nn.Module, settings: TrainingSettings) -> torch.optim.Optimizer:
    parameters = list(module.parameters())
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=settings.learning_rate, momentum=settings.momentum, weight_decay=settings.weight_decay
        )
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    return torch.optim.Adam(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)


def _output(module: nn.Module, features: torch.Tensor, task: str) -> torch.Tensor:
    output = module(features)
    return output.squeeze(-1) if task == "regression" and output.dim() == 2 and output.shape[1] == 1 else output


@torch.no_grad()
def evaluate(
    module: nn.Module, features: torch.Tensor, target: torch.Tensor, task: str, batch_size: int = 1024
) -> tuple[float, float]:
    """(score, loss): accuracy and cross-entropy, or R² and mean squared error."""
    was_training = module.training
    module.eval()
    outputs = torch.cat(
        [_output(module, features[start : start + batch_size], task) for start in range(0, len(features), batch_size)]
    )
    module.train(was_training)
    if task == "classification":
        loss = nn.functional.cross_entropy(outputs, target).item()
        score = (outputs.argmax(dim=1) == target).float().mean().item()
    else:
        loss = nn.functional.mse_loss(outputs, target).item()
        variance = target.var(unbiased=False).item()
        score = 1.0 - loss / variance if variance > 0 else 0.0
    return score, loss


def train_model(
    module: nn.Module,
    splits: Any,
    settings: TrainingSettings,
    seed: int,
    device: torch.device,
    deadline: float | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
    checkpoint: str | Path | None = None,
    resume_from: str | Path | None = None,
    prune: Callable[[int, float], bool] | None = None,
) -> TrainingOutcome:
    """Train up to ``settings.epochs`` epochs with early stopping on validation loss; the best epoch's weights are kept.

    ``deadline`` (a ``time.monotonic()`` value) is checked after every batch; a
    trial past it fails rather than returning a half-trained score.
    ``checkpoint``: after every epoch, everything training needs to go on
    (weights, optimiser, random states, epoch, best epoch so far) is written
    there atomically. ``resume_from``: a checkpoint to go on from instead of
    starting over; the weights at the end equal those of one uninterrupted
    training with the same seed. ``prune(epoch, best score so far)``: asked
    after every epoch; True stops training there (the outcome is ``pruned``).
    """
    started = time.monotonic()
    torch.manual_seed(seed)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    task = splits.task
    module.to(device)
    scaling = target_scaling(splits)
    train_features, train_target = as_tensors(splits.train, task, device, scaling)
    validation_features, validation_target = as_tensors(splits.validation, task, device, scaling)
    optimizer = _optimizer(module, settings)
    loss_function = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
    rows = len(train_features)
    batch_size = min(int(settings.batch_size), rows)
    progress = _Progress()
    if resume_from is not None:
        progress = _load_checkpoint(resume_from, module, optimizer, generator, device)
    history: list[dict[str, float]] = []
    epochs_run = 0
    pruned = False
    for epoch in range(progress.epoch + 1, int(settings.epochs) + 1):
        if progress.stopped:
            break
        module.train()
        order = torch.randperm(rows, generator=generator).to(device)
        total, batches = 0.0, 0
        for start in range(0, rows - batch_size + 1 if rows > batch_size else 1, batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(_output(module, train_features[index], task), train_target[index])
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
            if not math.isfinite(total):
                raise TrialFailure(f"training loss became {total} in epoch {epoch}")
            if deadline is not None and time.monotonic() > deadline:
                raise TrialFailure(f"timed out: passed the per-trial limit of {settings.seconds:g} s in epoch {epoch}")
        epochs_run += 1
        progress.epoch = epoch
        score, validation_loss = evaluate(module, validation_features, validation_target, task)
        if not math.isfinite(validation_loss):
            raise TrialFailure(f"validation loss became {validation_loss} in epoch {epoch}")
        history.append(
            {
                "epoch": epoch,
                "score": score,
                "validation_loss": validation_loss,
                "train_loss": total / max(1, batches),
                "seconds": time.monotonic() - started,
                "time": time.time(),
            }
        )
        if on_epoch is not None:
            on_epoch(epoch, score, validation_loss)
        if validation_loss < progress.best_loss:
            progress.best_loss, progress.best_score, progress.best_epoch = validation_loss, score, epoch
            progress.best_state = copy.deepcopy(module.state_dict())
        elif settings.patience is not None and epoch - progress.best_epoch >= settings.patience:
            progress.stopped = True
        if prune is not None and epoch < int(settings.epochs) and prune(epoch, progress.best_score):
            pruned = True
        if checkpoint is not None:
            _save_checkpoint(checkpoint, progress, module, optimizer, generator)
        if pruned or progress.stopped:
            break
    if progress.best_state is not None:
        module.load_state_dict(progress.best_state)
    return TrainingOutcome(
        score=progress.best_score,
        validation_loss=progress.best_loss,
        epochs=epochs_run,
        seconds=time.monotonic() - started,
        history=history,
        state_dict=progress.best_state,
        pruned=pruned,
        last_epoch=progress.epoch,
    )


@dataclass
class _Progress:
    """Where training stands between epochs: what a checkpoint holds besides weights and optimiser."""

    epoch: int = 0
    best_loss: float = math.inf
    best_score: float = -math.inf
    best_epoch: int = 0
    best_state: dict[str, Any] | None = None
    stopped: bool = False  # early stopping (patience) ended it: going on trains nothing more


def _save_checkpoint(
    path: str | Path, progress: _Progress, module: nn.Module, optimizer: torch.optim.Optimizer, generator: Any
) -> None:
    """Write the checkpoint under a temporary name, then rename it: a kill never leaves half a file."""
    state = {
        "epoch": progress.epoch,
        "best_loss": progress.best_loss,
        "best_score": progress.best_score,
        "best_epoch": progress.best_epoch,
        "best_state": progress.best_state,
        "stopped": progress.stopped,
        "module": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def _load_checkpoint(
    path: str | Path, module: nn.Module, optimizer: torch.optim.Optimizer, generator: Any, device: torch.device
) -> _Progress:
    state = torch.load(path, map_location=device, weights_only=False)
    module.load_state_dict(state["module"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return _Progress(
        epoch=int(state["epoch"]),
        best_loss=float(state["best_loss"]),
        best_score=float(state["best_score"]),
        best_epoch=int(state["best_epoch"]),
        best_state=state["best_state"],
        stopped=bool(state["stopped"]),
    )
