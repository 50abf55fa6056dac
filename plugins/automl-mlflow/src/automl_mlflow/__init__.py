"""MLflow experiment tracking for automl: one experiment per study, one run per trial."""

from automl_mlflow.tracking import MlflowTracking

__all__ = ["MlflowTracking"]
