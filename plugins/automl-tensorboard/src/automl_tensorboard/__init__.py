"""TensorBoard logging for automl: each trial's learning curve and the study's best score so far."""

from automl_tensorboard.tracking import TensorboardTracking

__all__ = ["TensorboardTracking"]
