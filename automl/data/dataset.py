"""The in-memory data set every other layer consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from automl.data.errors import DataError

TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features and target in the dtypes the training layer expects, plus the names users know them by.

    Arrays are checked and converted once here (features float32; target int64 for
    classification, float32 for regression) so that no later layer has to guess.
    """

    name: str
    features: np.ndarray
    target: np.ndarray
    task: str
    feature_names: list[str]
    class_names: list[str] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DataError(f"data set '{self.name}': task must be one of {', '.join(TASKS)}, not {self.task!r}")
        features = np.asarray(self.features)
        target = np.asarray(self.target)
        if features.ndim < 2:
            raise DataError(
                f"data set '{self.name}': features must have shape (rows, ...) with at least 2 dimensions, "
                f"got shape {features.shape}"
            )
        if target.ndim != 1:
            raise DataError(f"data set '{self.name}': target must have shape (rows,), got shape {target.shape}")
        if features.shape[0] != target.shape[0]:
            raise DataError(
                f"data set '{self.name}': features have {features.shape[0]} rows but target has {target.shape[0]}"
            )
        if not (np.issubdtype(features.dtype, np.number) or features.dtype == np.bool_):
            raise DataError(f"data set '{self.name}': features must be numeric, got dtype {features.dtype}")
        features = features.astype(np.float32, copy=False)
        if self.task == "classification":
            integral = np.issubdtype(target.dtype, np.integer) or (
                np.issubdtype(target.dtype, np.number) and bool(np.all(np.equal(np.mod(target, 1), 0)))
            )
            if not integral:
                raise DataError(f"data set '{self.name}': a classification target must hold class indices 0..K-1")
            target = target.astype(np.int64, copy=False)
            if target.size and target.min() < 0:
                raise DataError(f"data set '{self.name}': class indices must be 0..K-1, found {int(target.min())}")
            if self.class_names is not None and target.size and target.max() >= len(self.class_names):
                raise DataError(
                    f"data set '{self.name}': class index {int(target.max())} has no name "
                    f"(only {len(self.class_names)} class names)"
                )
        else:
            if not np.issubdtype(target.dtype, np.number):
                raise DataError(f"data set '{self.name}': a regression target must be numeric, got {target.dtype}")
            target = target.astype(np.float32, copy=False)
        feature_names = [str(feature_name) for feature_name in self.feature_names]
        if features.ndim == 2 and len(feature_names) != features.shape[1]:
            raise DataError(
                f"data set '{self.name}': {features.shape[1]} feature columns but {len(feature_names)} feature names"
            )
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "feature_names", feature_names)
        if self.class_names is not None:
            object.__setattr__(self, "class_names", [str(class_name) for class_name in self.class_names])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, what the network's input layer is built for."""
        return tuple(int(size) for size in self.features.shape[1:])

    @property
    def num_outputs(self) -> int:
        """Width of the network's output layer: number of classes, or 1 for regression."""
        if self.task == "regression":
            return 1
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.target.max()) + 1 if self.target.size else 0

    @property
    def rows(self) -> int:
        """Number of examples."""
        return int(self.features.shape[0])

    def select_features(self, names: Sequence[str]) -> Dataset:
        """A view on the chosen columns in the given order, e.g. the top-k of a feature ranking."""
        if self.features.ndim != 2:
            raise DataError(
                f"data set '{self.name}' has input shape {self.input_shape}; selecting features needs tabular data"
            )
        if isinstance(names, str):
            names = [names]
        names = [str(name) for name in names]
        if not names:
            raise DataError(f"data set '{self.name}': select at least one feature")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise DataError(f"data set '{self.name}': feature(s) selected twice: {', '.join(duplicates)}")
        position = {name: index for index, name in enumerate(self.feature_names)}
        unknown = [name for name in names if name not in position]
        if unknown:
            raise DataError(
                f"unknown feature(s) {', '.join(repr(name) for name in unknown)} in data set '{self.name}'; "
                f"features are: {_shorten(self.feature_names)}"
            )
        columns = [position[name] for name in names]
        return replace(self, features=self.features[:, columns], feature_names=names)

    def describe(self) -> str:
        """One line for logs and the CLI."""
        shape = "x".join(str(size) for size in self.input_shape)
        what = f"classification, {self.num_outputs} classes" if self.task == "classification" else "regression"
        return f"{self.name}: {self.rows} rows, input shape {shape}, {what}"


def _shorten(names: Sequence[str], limit: int = 20) -> str:
    """Names joined for a message, cut short so a wide table does not flood the terminal."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"
