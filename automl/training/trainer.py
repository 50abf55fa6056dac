"""Train one compiled candidate under a budget and score it on validation data.

Classification is scored by accuracy, regression by R² (both: higher is
better), so strategies always maximise. Batches are sliced from tensors kept on
the device rather than drawn through a DataLoader: for the small tabular and
image sets of a search this is several times faster.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from automl.training.settings import TrainingSettings


class TrialFailure(Exception):
    """A trial cannot finish: NaN loss, time limit, too many parameters. The reason is the message."""


@dataclass
class TrainingOutcome:
    score: float
    validation_loss: float
    epochs: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    state_dict: dict[str, Any] | None = None


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
) -> TrainingOutcome:
    """Train with early stopping on validation loss; the best epoch's weights are kept.

    ``deadline`` (a ``time.monotonic()`` value) is checked after every batch; a
    trial past it fails rather than returning a half-trained score.
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
    best_loss, best_score, best_state, best_epoch = math.inf, -math.inf, None, 0
    history: list[dict[str, float]] = []
    epochs_run = 0
    for epoch in range(1, int(settings.epochs) + 1):
        module.train()
        order = torch.randperm(rows, generator=generator).to(device)
        total = 0.0
        for start in range(0, rows - batch_size + 1 if rows > batch_size else 1, batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(_output(module, train_features[index], task), train_target[index])
            loss.backward()
            optimizer.step()
            total += loss.item()
            if not math.isfinite(total):
                raise TrialFailure(f"training loss became {total} in epoch {epoch}")
            if deadline is not None and time.monotonic() > deadline:
                raise TrialFailure(f"timed out: passed the per-trial limit of {settings.seconds:g} s in epoch {epoch}")
        epochs_run = epoch
        score, validation_loss = evaluate(module, validation_features, validation_target, task)
        if not math.isfinite(validation_loss):
            raise TrialFailure(f"validation loss became {validation_loss} in epoch {epoch}")
        history.append({"epoch": epoch, "train_loss": total, "validation_loss": validation_loss, "score": score})
        if on_epoch is not None:
            on_epoch(epoch, score, validation_loss)
        if validation_loss < best_loss:
            best_loss, best_score, best_epoch = validation_loss, score, epoch
            best_state = copy.deepcopy(module.state_dict())
        elif settings.patience is not None and epoch - best_epoch >= settings.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    return TrainingOutcome(
        score=best_score,
        validation_loss=best_loss,
        epochs=epochs_run,
        seconds=time.monotonic() - started,
        history=history,
        state_dict=best_state,
    )
