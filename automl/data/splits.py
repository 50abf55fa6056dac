"""Train / validation / test splits and k-fold splits, standardised with training statistics only.

Three roles are kept apart (Raschka, 2018): training data fits the weights, validation
data chooses among candidates, test data gives the final estimate once. Statistics for
standardisation, categorical indices and imputed medians (``automl.data.encoding``)
come from the training part alone so that nothing of the held-out parts leaks into the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automl.data.dataset import Dataset
from automl.data.encoding import TableEncoding, fit_table_encoding, needs_encoding
from automl.data.errors import DataError


@dataclass(frozen=True, eq=False)
class Split:
    """One role's examples: features float32, target as in the data set."""

    features: np.ndarray
    target: np.ndarray

    @property
    def rows(self) -> int:
        """Number of examples in this part."""
        return int(self.features.shape[0])


@dataclass(frozen=True, eq=False)
class DataSplits:
    """The three roles plus what a model needs to know about its input and output.

    feature_mean and feature_scale are the training statistics used for standardisation
    (None when standardise=False); new data must be transformed the same way at inference.
    ``categories`` maps each categorical feature to the names of its indices (index 0 is
    ``UNKNOWN_CATEGORY``, then the categories seen in training); its columns hold those
    indices, unstandardised, for an embedding op. ``encoding`` is the training fit that made them.
    """

    train: Split
    validation: Split
    test: Split
    task: str
    num_outputs: int
    input_shape: tuple[int, ...]
    feature_names: list[str]
    feature_mean: np.ndarray | None = None
    feature_scale: np.ndarray | None = None
    categories: dict[str, list[str]] | None = None
    encoding: TableEncoding | None = None

    @property
    def categorical_columns(self) -> list[tuple[int, int]]:
        """(column, number of indices) of each categorical feature, the ``categories`` of ``s.op.embedding``."""
        names = self.categories or {}
        return [(column, len(names[name])) for column, name in enumerate(self.feature_names) if name in names]


def split_dataset(
    dataset: Dataset,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    standardise: bool = True,
    missing_indicators: bool = False,
) -> DataSplits:
    """Split into train / validation / test, stratified when possible, the same for the same seed.

    A data set that names its own test part (``Dataset.test_rows``) keeps it as the test split.
    Categorical columns become training-fitted indices and missing numbers training medians
    (with a 0/1 column per such feature when ``missing_indicators``).
    """
    for label, fraction in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise DataError(f"{label} must be in [0, 1), got {fraction}")
    if validation_fraction + test_fraction >= 1.0:
        raise DataError(
            f"validation_fraction + test_fraction must be below 1 to leave training data, "
            f"got {validation_fraction} + {test_fraction}"
        )
    if dataset.rows < 3:
        raise DataError(f"data set '{dataset.name}' has {dataset.rows} rows; splitting needs at least 3")
    indices = np.arange(dataset.rows)
    stratify = dataset.target if dataset.task == "classification" else None
    if dataset.test_rows is not None:
        # the provider's test part, as published (test_fraction does not apply)
        rest, test = indices[: -dataset.test_rows], indices[-dataset.test_rows :]
        test_share = dataset.test_rows / dataset.rows
        if validation_fraction + test_share >= 1.0:
            raise DataError(
                f"data set '{dataset.name}' holds out its last {dataset.test_rows} rows for testing; "
                f"validation_fraction {validation_fraction} leaves no training rows"
            )
    else:
        rest, test = _split_off(indices, dataset.target, test_fraction, seed, stratify is not None)
        test_share = test_fraction
    # the validation share is of the whole data set, so rescale it to what is left after the test part
    train, validation = _split_off(
        rest, dataset.target, validation_fraction / (1.0 - test_share), seed + 1, stratify is not None
    )
    if train.size == 0:
        raise DataError(f"data set '{dataset.name}' is too small: no rows left for training")
    features, feature_names, encoding = _encoded(dataset, train, missing_indicators)
    mean = scale = None
    if standardise:
        mean, scale = _fit_standardisation(features[train], _categorical_mask(feature_names, encoding))
        features = _apply_standardisation(features, mean, scale)
    return DataSplits(
        train=Split(features[train], dataset.target[train]),
        validation=Split(features[validation], dataset.target[validation]),
        test=Split(features[test], dataset.target[test]),
        task=dataset.task,
        num_outputs=dataset.num_outputs,
        input_shape=tuple(int(size) for size in features.shape[1:]),
        feature_names=feature_names,
        feature_mean=mean,
        feature_scale=scale,
        categories=None if encoding is None or not encoding.categories else encoding.categories,
        encoding=encoding,
    )


def _encoded(
    dataset: Dataset, train: np.ndarray, missing_indicators: bool
) -> tuple[np.ndarray, list[str], TableEncoding | None]:
    """All rows encoded with a fit on the ``train`` rows (the features as they are when nothing needs it)."""
    if not needs_encoding(dataset.features, dataset.categories):
        return dataset.features, list(dataset.feature_names), None
    encoding = fit_table_encoding(
        dataset.features[train], dataset.feature_names, dataset.categories, missing_indicators
    )
    return encoding.transform(dataset.features), encoding.output_names, encoding


def _categorical_mask(feature_names: list[str], encoding: TableEncoding | None) -> np.ndarray | None:
    """True for the columns that hold category indices (these are not standardised)."""
    if encoding is None or not encoding.categories:
        return None
    return np.array([name in encoding.categories for name in feature_names])


def kfold_splits(dataset: Dataset, folds: int = 5, seed: int = 0) -> list[tuple[Split, Split]]:
    """(train, validation) pairs for k-fold cross-validation, stratified when possible, standardised per fold."""
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise DataError(f"k-fold needs at least 2 folds, got {folds}")
    if folds > dataset.rows:
        raise DataError(f"data set '{dataset.name}' has {dataset.rows} rows, too few for {folds} folds")
    from sklearn.model_selection import KFold, StratifiedKFold  # imported on use: sklearn is slow to import

    splitter: KFold | StratifiedKFold = KFold(n_splits=folds, shuffle=True, random_state=seed)
    if dataset.task == "classification":
        _, counts = np.unique(dataset.target, return_counts=True)
        if counts.min() >= folds:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    pairs: list[tuple[Split, Split]] = []
    for train, validation in splitter.split(np.zeros(dataset.rows), dataset.target):
        features, feature_names, encoding = _encoded(dataset, train, missing_indicators=False)
        mean, scale = _fit_standardisation(features[train], _categorical_mask(feature_names, encoding))
        features = _apply_standardisation(features, mean, scale)
        pairs.append(
            (Split(features[train], dataset.target[train]), Split(features[validation], dataset.target[validation]))
        )
    return pairs


def _split_off(
    indices: np.ndarray, target: np.ndarray, fraction: float, seed: int, stratified: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, taken) where taken holds about fraction of indices; plain shuffle when a class is too small."""
    from sklearn.model_selection import train_test_split

    if fraction <= 0.0:
        return indices, indices[:0]
    if stratified:
        try:
            kept, taken = train_test_split(indices, test_size=fraction, random_state=seed, stratify=target[indices])
            return np.sort(kept), np.sort(taken)
        except ValueError:
            pass  # a class with one member, or fewer rows taken than classes: stratification is impossible
    try:
        kept, taken = train_test_split(indices, test_size=fraction, random_state=seed)
    except ValueError:
        raise DataError(
            f"{indices.size} rows are too few to take a {fraction:.0%} part and keep training data; "
            "use smaller fractions or more rows"
        ) from None
    return np.sort(kept), np.sort(taken)


def _fit_standardisation(
    train_features: np.ndarray, categorical: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per feature (tabular) or per channel (images), computed in float64 for accuracy.

    Columns flagged ``categorical`` get mean 0 and scale 1: their indices pass through unchanged.
    """
    axes = (0,) if train_features.ndim == 2 else (0, *range(2, train_features.ndim))
    values = train_features.astype(np.float64)
    mean = values.mean(axis=axes, keepdims=True)
    scale = values.std(axis=axes, keepdims=True)
    # a constant column carries no information; scale 1 keeps it finite instead of dividing by zero
    scale[~(scale > 1e-12)] = 1.0
    if categorical is not None:
        mean[:, categorical] = 0.0
        scale[:, categorical] = 1.0
    return mean[0].astype(np.float32), scale[0].astype(np.float32)


def _apply_standardisation(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(features - mean) / scale in float32, broadcasting the per-feature or per-channel statistics."""
    return ((features.astype(np.float64) - mean) / scale).astype(np.float32)
