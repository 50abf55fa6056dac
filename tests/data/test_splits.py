"""Splits: disjoint, complete, stratified, deterministic, standardised with training statistics only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.data import DataError, Dataset, builtin_datasets, kfold_splits, split_dataset


def identified(rows: int, classes: int = 3, task: str = "classification", seed: int = 0) -> Dataset:
    """A table whose first column is the row number, so that splits can be traced back to rows."""
    generator = np.random.default_rng(seed)
    features = np.column_stack([np.arange(rows), generator.normal(5.0, 3.0, size=(rows, 2))])
    if task == "classification":
        target = np.arange(rows) % classes
        class_names = [str(label) for label in range(classes)]
    else:
        target = generator.normal(size=rows)
        class_names = None
    return Dataset("identified", features, target, task, ["id", "x", "y"], class_names)


def row_ids(features: np.ndarray) -> set[int]:
    return {int(round(value)) for value in features[:, 0]}


def test_parts_are_disjoint_and_cover_all_rows() -> None:
    splits = split_dataset(identified(100), seed=1, standardise=False)
    train, validation, test = (row_ids(part.features) for part in (splits.train, splits.validation, splits.test))
    assert not train & validation and not train & test and not validation & test
    assert train | validation | test == set(range(100))
    assert (splits.train.rows, splits.validation.rows, splits.test.rows) == (60, 20, 20)


def test_targets_travel_with_their_rows() -> None:
    splits = split_dataset(identified(90), seed=2, standardise=False)
    for part in (splits.train, splits.validation, splits.test):
        np.testing.assert_array_equal(part.target, part.features[:, 0].astype(np.int64) % 3)


def test_metadata_is_carried() -> None:
    dataset = builtin_datasets()["digits"].load(0)
    splits = split_dataset(dataset)
    assert splits.task == "classification"
    assert splits.num_outputs == 10
    assert splits.input_shape == (1, 8, 8)
    assert splits.feature_names == dataset.feature_names
    assert splits.train.features.shape[1:] == (1, 8, 8)
    for part in (splits.train, splits.validation, splits.test):
        assert part.features.dtype == np.float32
        assert part.target.dtype == np.int64


def test_split_is_stratified() -> None:
    dataset = builtin_datasets()["wine"].load(0)
    splits = split_dataset(dataset, seed=0)
    overall = np.bincount(dataset.target) / dataset.rows
    for part in (splits.train, splits.validation, splits.test):
        share = np.bincount(part.target, minlength=3) / part.rows
        np.testing.assert_allclose(share, overall, atol=0.04)


def test_split_falls_back_when_a_class_is_too_small() -> None:
    target = np.array([0] * 20 + [1])
    dataset = Dataset("rare", np.arange(21.0)[:, None], target, "classification", ["id"])
    splits = split_dataset(dataset, standardise=False)
    assert splits.train.rows + splits.validation.rows + splits.test.rows == 21


def test_split_is_deterministic_per_seed() -> None:
    dataset = identified(200)
    first, again, other = (split_dataset(dataset, seed=seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first.train.features, again.train.features)
    np.testing.assert_array_equal(first.test.target, again.test.target)
    assert row_ids(split_dataset(dataset, seed=7, standardise=False).test.features) != row_ids(
        split_dataset(dataset, seed=8, standardise=False).test.features
    )
    assert not np.array_equal(first.train.features, other.train.features)


def test_regression_split_works() -> None:
    splits = split_dataset(identified(50, task="regression"), validation_fraction=0.1, test_fraction=0.3)
    assert splits.num_outputs == 1
    assert splits.train.target.dtype == np.float32
    assert splits.train.rows + splits.validation.rows + splits.test.rows == 50


def test_standardisation_uses_training_statistics_only() -> None:
    dataset = identified(300)
    raw = split_dataset(dataset, seed=3, standardise=False)
    scaled = split_dataset(dataset, seed=3)
    mean = raw.train.features.astype(np.float64).mean(axis=0)
    std = raw.train.features.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(scaled.train.features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.train.features.std(axis=0), 1.0, atol=1e-4)
    for raw_part, scaled_part in ((raw.validation, scaled.validation), (raw.test, scaled.test)):
        np.testing.assert_allclose(scaled_part.features, (raw_part.features - mean) / std, rtol=1e-4, atol=1e-4)
        # fitted on train only, so the held-out parts are not exactly centred
        assert np.all(np.abs(scaled_part.features.mean(axis=0)) > 1e-6)
    np.testing.assert_allclose(scaled.feature_mean, mean, rtol=1e-5)
    np.testing.assert_allclose(scaled.feature_scale, std, rtol=1e-5)


def test_images_are_standardised_per_channel() -> None:
    generator = np.random.default_rng(0)
    features = np.stack([generator.normal(10, 2, (60, 4, 4)), generator.normal(-3, 0.5, (60, 4, 4))], axis=1)
    dataset = Dataset("two-channel", features, np.arange(60) % 2, "classification", [])
    splits = split_dataset(dataset)
    assert splits.feature_mean.shape == (2, 1, 1)
    channel_means = splits.train.features.mean(axis=(0, 2, 3))
    channel_stds = splits.train.features.std(axis=(0, 2, 3))
    np.testing.assert_allclose(channel_means, 0.0, atol=1e-5)
    np.testing.assert_allclose(channel_stds, 1.0, atol=1e-4)


def test_constant_columns_stay_finite() -> None:
    dataset = builtin_datasets()["digits-flat"].load(0)  # the corner pixels are always 0
    splits = split_dataset(dataset)
    for part in (splits.train, splits.validation, splits.test):
        assert np.all(np.isfinite(part.features))
    assert splits.feature_scale[dataset.feature_names.index("pixel_0_0")] == 1.0


@pytest.mark.parametrize(("validation_fraction", "test_fraction"), [(-0.1, 0.2), (0.2, 1.0), (0.6, 0.4), (0.5, 0.7)])
def test_bad_fractions_are_rejected(validation_fraction: float, test_fraction: float) -> None:
    with pytest.raises(DataError):
        split_dataset(identified(30), validation_fraction, test_fraction)


def test_zero_test_fraction_gives_an_empty_test_part() -> None:
    splits = split_dataset(identified(30), test_fraction=0.0)
    assert splits.test.rows == 0
    assert splits.test.features.shape == (0, 3)
    assert splits.train.rows + splits.validation.rows == 30


def test_too_few_rows_are_rejected() -> None:
    with pytest.raises(DataError, match="at least 3"):
        split_dataset(identified(2, classes=2))
    with pytest.raises(DataError, match="too few"):
        split_dataset(identified(3), validation_fraction=0.5, test_fraction=0.4)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(min_value=10, max_value=300),
    classes=st.integers(min_value=2, max_value=6),
    validation_fraction=st.floats(min_value=0.05, max_value=0.4),
    test_fraction=st.floats(min_value=0.05, max_value=0.4),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_split_property_partition(
    rows: int, classes: int, validation_fraction: float, test_fraction: float, seed: int
) -> None:
    splits = split_dataset(identified(rows, classes), validation_fraction, test_fraction, seed, standardise=False)
    parts = [row_ids(part.features) for part in (splits.train, splits.validation, splits.test)]
    assert sum(len(part) for part in parts) == rows
    assert set().union(*parts) == set(range(rows))
    assert splits.train.rows > 0
    for part in (splits.train, splits.validation, splits.test):
        assert np.all(np.isfinite(part.features))


def test_kfold_validation_parts_partition_the_rows() -> None:
    dataset = identified(103)
    raw = kfold_splits(dataset, folds=5, seed=0)
    assert len(raw) == 5
    seen: list[int] = []
    for train, validation in raw:
        assert train.rows + validation.rows == 103
        # standardised per fold: training part centred
        np.testing.assert_allclose(train.features.mean(axis=0), 0.0, atol=1e-5)
        assert train.features.dtype == np.float32
        seen.extend(validation.target.tolist())
    assert len(seen) == 103


def test_kfold_is_stratified_and_deterministic() -> None:
    dataset = builtin_datasets()["wine"].load(0)
    first = kfold_splits(dataset, folds=4, seed=5)
    again = kfold_splits(dataset, folds=4, seed=5)
    overall = np.bincount(dataset.target) / dataset.rows
    for (train, validation), (train_again, _) in zip(first, again, strict=True):
        np.testing.assert_array_equal(train.features, train_again.features)
        np.testing.assert_allclose(np.bincount(validation.target, minlength=3) / validation.rows, overall, atol=0.05)


def test_kfold_falls_back_for_rare_classes_and_checks_folds() -> None:
    target = np.array([0] * 20 + [1, 1])
    dataset = Dataset("rare", np.arange(22.0)[:, None], target, "classification", ["id"])
    assert len(kfold_splits(dataset, folds=5)) == 5
    with pytest.raises(DataError):
        kfold_splits(dataset, folds=1)
    with pytest.raises(DataError):
        kfold_splits(dataset, folds=23)


def test_a_data_set_with_its_own_test_part_keeps_it_as_the_test_split() -> None:
    """MNIST's 10,000 and adult.test are the last rows: they are the test split, whatever the seed."""
    rows, test_rows = 100, 30
    features = np.arange(rows, dtype=np.float32)[:, np.newaxis]
    target = np.arange(rows) % 2
    dataset = Dataset("published", features, target, "classification", ["x"], test_rows=test_rows)
    for seed in (0, 1):
        splits = split_dataset(dataset, validation_fraction=0.2, test_fraction=0.5, seed=seed, standardise=False)
        assert sorted(splits.test.features[:, 0].tolist()) == list(range(rows - test_rows, rows))
        assert abs(len(splits.validation.target) - 20) <= 1  # a fifth of all rows (rounded up), from the rest
        assert len(splits.train.target) + len(splits.validation.target) == rows - test_rows
        assert splits.train.features.max() < rows - test_rows


def test_own_test_part_with_too_large_a_validation_share_is_refused() -> None:
    dataset = Dataset(
        "published", np.zeros((10, 1), np.float32), np.arange(10) % 2, "classification", ["x"], test_rows=5
    )
    with pytest.raises(DataError, match="last 5 rows"):
        split_dataset(dataset, validation_fraction=0.5)
    with pytest.raises(DataError, match="test_rows"):
        Dataset("published", np.zeros((10, 1), np.float32), np.arange(10) % 2, "classification", ["x"], test_rows=10)
