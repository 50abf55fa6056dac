"""Training settings: defaults from the CLI, overridden per candidate by the space."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPTIMIZERS = ("adam", "adamw", "sgd")


class TrainingSettingsError(ValueError):
    """A training setting is unknown or out of range."""


@dataclass(frozen=True)
class TrainingSettings:
    """How one candidate is trained. Any field can be a hyperparameter of the space
    (``s.training(x, learning_rate=Float(...))``)."""

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    patience: int | None = 5
    seconds: float | None = None
    keep_features: int | None = None  # train on the K best-ranked features (needs a feature ranking)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise TrainingSettingsError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise TrainingSettingsError("epochs and batch_size must be at least 1")
        if not float(self.learning_rate) > 0:
            raise TrainingSettingsError(f"learning_rate must be > 0, got {self.learning_rate}")

    def updated(self, values: Mapping[str, Any]) -> TrainingSettings:
        """These settings with the space's training decisions applied."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TrainingSettingsError(
                f"unknown training setting(s) {', '.join(unknown)} in the space; known: {', '.join(sorted(known))}"
            )
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
