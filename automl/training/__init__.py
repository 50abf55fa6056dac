"""Training: one compiled candidate trained under a budget and scored."""

from automl.training.device import resolve_device
from automl.training.settings import TrainingSettings, TrainingSettingsError
from automl.training.trainer import TrainingOutcome, TrialFailure, evaluate, train_model

__all__ = [
    "TrainingOutcome",
    "TrainingSettings",
    "TrainingSettingsError",
    "TrialFailure",
    "evaluate",
    "resolve_device",
    "train_model",
]
