"""The in-memory data set every other layer consumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from automl.data.errors import DataError

TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features and target in the dtypes the training layer expects, plus the names users know them by.

    Arrays are checked and converted once here (features float32; target int64 for
    classification, float32 for regression) so that no later layer has to guess.

    ``categories`` marks categorical columns of tabular data: feature name -> category names,
    the column holding integer codes 0..len-1 into those names, NaN where missing. Columns
    not named there are numeric (NaN where missing). None (the default) means no categorical
    column. The indices a model sees are fitted on the training split (``automl.data.encoding``).
    """

    name: str
    features: np.ndarray
    target: np.ndarray
    task: str
    feature_names: list[str]
    class_names: list[str] | None = field(default=None)
    categories: Mapping[str, Sequence[str]] | None = field(default=None)
    # the provider's own test part (MNIST's 10,000, adult.test): the last test_rows rows, held out as the
    # test split so that scores compare with published ones; None: the test split is drawn at random
    test_rows: int | None = field(default=None)

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
        object.__setattr__(self, "categories", self._checked_categories(features, feature_names))
        if self.test_rows is not None and not 0 < self.test_rows < len(target):
            raise DataError(
                f"data set '{self.name}': test_rows must be between 1 and the number of rows - 1, got {self.test_rows}"
            )

    def _checked_categories(self, features: np.ndarray, feature_names: list[str]) -> dict[str, list[str]] | None:
        """The categories as a plain dict in column order (None when there are none), codes checked."""
        if not self.categories:
            return None
        if isinstance(self.categories, str) or not isinstance(self.categories, Mapping):
            raise DataError(f"data set '{self.name}': categories must map feature names to category names")
        if features.ndim != 2:
            raise DataError(f"data set '{self.name}': categorical columns need tabular data (rows, features)")
        given = {str(name): [str(category) for category in names] for name, names in self.categories.items()}
        unknown = [name for name in given if name not in feature_names]
        if unknown:
            raise DataError(f"data set '{self.name}': categories name unknown feature(s): {_shorten(unknown)}")
        checked: dict[str, list[str]] = {}
        for column, name in enumerate(feature_names):
            if name not in given:
                continue
            names = given[name]
            if not names or len(set(names)) != len(names):
                raise DataError(f"data set '{self.name}': categorical feature '{name}' needs distinct category names")
            codes = features[:, column]
            codes = codes[~np.isnan(codes)]  # a missing value (NaN) maps to the unknown index when split
            valid = np.all(np.equal(np.mod(codes, 1), 0)) and (
                codes.size == 0 or 0 <= codes.min() <= codes.max() < len(names)
            )
            if not valid:
                raise DataError(
                    f"data set '{self.name}': categorical feature '{name}' must hold codes 0..{len(names) - 1}"
                )
            checked[name] = names
        return checked

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
        categories = (
            None
            if self.categories is None
            else {name: self.categories[name] for name in names if name in self.categories}
        )
        return replace(self, features=self.features[:, columns], feature_names=names, categories=categories)

    @property
    def categorical_features(self) -> list[str]:
        """Names of the categorical columns, in column order (empty when all are numeric)."""
        return list(self.categories or {})

    def describe(self) -> str:
        """One line for logs and the CLI."""
        shape = "x".join(str(size) for size in self.input_shape)
        what = f"classification, {self.num_outputs} classes" if self.task == "classification" else "regression"
        categorical = f", {len(self.categories)} categorical features" if self.categories else ""
        return f"{self.name}: {self.rows} rows, input shape {shape}{categorical}, {what}"


def _shorten(names: Sequence[str], limit: int = 20) -> str:
    """Names joined for a message, cut short so a wide table does not flood the terminal."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"
