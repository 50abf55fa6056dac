"""Built-in data sets that work offline.

The real data sets are the small files scikit-learn ships inside its own package
(load_digits and friends read them from disk); the synthetic ones are generated from a
seed. Nothing here ever downloads (no fetch_* functions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.data.dataset import Dataset


def _sklearn_datasets() -> Any:
    """scikit-learn's embedded data sets, imported on use: sklearn takes seconds to import."""
    from sklearn import datasets

    return datasets


@dataclass(frozen=True)
class BuiltinDataset:
    """A named data set and how to load it; load(seed) only matters for generated data sets."""

    name: str
    description: str
    load: Callable[[int], Dataset]


def builtin_datasets() -> dict[str, BuiltinDataset]:
    """A fresh name -> BuiltinDataset dict each call, so callers (and plugins) can extend it safely."""
    entries = [
        BuiltinDataset("digits", "8x8 handwritten digits as 1x8x8 images in [0, 1], 1797 rows, 10 classes", _digits),
        BuiltinDataset(
            "digits-flat", "8x8 handwritten digits as 64 features in [0, 1], 1797 rows, 10 classes", _digits_flat
        ),
        BuiltinDataset("wine", "wine cultivars from chemical analysis, 178 rows, 13 features, 3 classes", _wine),
        BuiltinDataset(
            "breast-cancer", "Wisconsin breast cancer diagnosis, 569 rows, 30 features, 2 classes", _breast_cancer
        ),
        BuiltinDataset(
            "synthetic-classification",
            "generated (seeded) classification, 2000 rows, 20 features (10 informative), 3 classes",
            _synthetic_classification,
        ),
        BuiltinDataset(
            "synthetic-regression",
            "generated (seeded) linear regression with noise, 2000 rows, 20 features (10 informative)",
            _synthetic_regression,
        ),
    ]
    return {entry.name: entry for entry in entries}


def _digits_arrays() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Digits pixels scaled from 0..16 to [0, 1], so that unstandardised use is sane too."""
    bunch = _sklearn_datasets().load_digits()
    pixels = (bunch.images / 16.0).astype(np.float32)
    class_names = [str(label) for label in bunch.target_names]
    return pixels, bunch.target.astype(np.int64), list(bunch.feature_names), class_names


def _digits(seed: int = 0) -> Dataset:
    """Digits as single-channel images, for convolutional spaces."""
    pixels, target, feature_names, class_names = _digits_arrays()
    return Dataset("digits", pixels[:, np.newaxis, :, :], target, "classification", feature_names, class_names)


def _digits_flat(seed: int = 0) -> Dataset:
    """Digits as 64 columns, for dense spaces and feature ranking."""
    pixels, target, feature_names, class_names = _digits_arrays()
    return Dataset("digits-flat", pixels.reshape(len(pixels), -1), target, "classification", feature_names, class_names)


def _wine(seed: int = 0) -> Dataset:
    bunch = _sklearn_datasets().load_wine()
    return Dataset(
        "wine",
        bunch.data,
        bunch.target,
        "classification",
        list(bunch.feature_names),
        [str(label) for label in bunch.target_names],
    )


def _breast_cancer(seed: int = 0) -> Dataset:
    bunch = _sklearn_datasets().load_breast_cancer()
    return Dataset(
        "breast-cancer",
        bunch.data,
        bunch.target,
        "classification",
        list(bunch.feature_names),
        [str(label) for label in bunch.target_names],
    )


def _synthetic_classification(seed: int = 0) -> Dataset:
    features, target = _sklearn_datasets().make_classification(
        n_samples=2000, n_features=20, n_informative=10, n_redundant=4, n_classes=3, random_state=seed
    )
    names = [f"feature_{index}" for index in range(features.shape[1])]
    return Dataset("synthetic-classification", features, target, "classification", names, ["0", "1", "2"])


def _synthetic_regression(seed: int = 0) -> Dataset:
    features, target = _sklearn_datasets().make_regression(
        n_samples=2000, n_features=20, n_informative=10, noise=10.0, random_state=seed
    )
    names = [f"feature_{index}" for index in range(features.shape[1])]
    return Dataset("synthetic-regression", features, target, "regression", names)
