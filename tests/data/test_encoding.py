"""Categorical indices and imputed values come from the training split alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data import DataError, Dataset, kfold_splits, load_dataset, load_file, split_dataset
from automl.data.encoding import UNKNOWN_CATEGORY, UNKNOWN_INDEX, fit_table_encoding


def _rows_in(part: np.ndarray, features: np.ndarray) -> list[int]:
    """Which rows of the unencoded ``features`` (by their unique id column 0) a split holds."""
    ids = features[:, 0]
    return [int(np.flatnonzero(np.isclose(ids, value))[0]) for value in part]


def test_a_category_unseen_in_training_maps_to_the_unknown_index() -> None:
    rows = 60
    colour = np.zeros(rows)
    colour[50:] = 2  # "green" only in the provider's test part (the last 10 rows)
    colour[::2][:25] = 1
    features = np.column_stack([np.arange(rows, dtype=float), colour])
    target = np.arange(rows) % 2
    dataset = Dataset(
        "colours",
        features,
        target,
        "classification",
        ["id", "colour"],
        None,
        {"colour": ["blue", "red", "green"]},
        test_rows=10,
    )
    splits = split_dataset(dataset, validation_fraction=0.2, seed=0)
    assert splits.categories == {"colour": [UNKNOWN_CATEGORY, "blue", "red"]}
    assert splits.categorical_columns == [(1, 3)]
    assert set(splits.test.features[:, 1].tolist()) == {float(UNKNOWN_INDEX)}
    # a seen category keeps one index in every split, and it is not standardised
    train_ids = splits.train.features[:, 0] * splits.feature_scale[0] + splits.feature_mean[0]
    expected = [1.0 + colour[row] for row in _rows_in(train_ids, features)]
    assert splits.train.features[:, 1].tolist() == expected


def test_unseen_category_at_validation_from_a_csv(tmp_path) -> None:
    rows = 40
    city = ["Oslo", "Paris"] * (rows // 2)
    city[-1] = "Lima"  # one row of a city the training split may not hold
    path = tmp_path / "cities.csv"
    pd.DataFrame({"x": np.arange(rows), "city": city, "y": np.arange(rows) % 2}).to_csv(path, index=False)
    dataset = load_file(path, "y")
    splits = split_dataset(dataset, validation_fraction=0.25, test_fraction=0.25, seed=3)
    lima_row = rows - 1
    assert lima_row not in splits.train.features[:, 0] * splits.feature_scale[0] + splits.feature_mean[0]
    assert splits.categories["city"] == [UNKNOWN_CATEGORY, "Oslo", "Paris"]
    held_out = np.concatenate([splits.validation.features, splits.test.features])
    lima = np.isclose(held_out[:, 0] * splits.feature_scale[0] + splits.feature_mean[0], lima_row)
    assert held_out[lima, 1].tolist() == [float(UNKNOWN_INDEX)]
    assert set(held_out[~lima, 1].tolist()) <= {1.0, 2.0}


def test_missing_numbers_take_the_training_median_not_the_median_of_all_rows() -> None:
    # training rows hold 1, 2, 3 and a gap; the held-out rows hold 100s, so a median over all
    # rows would be far from 2
    train = np.array([[1.0], [2.0], [3.0], [np.nan]])
    held_out = np.array([[100.0], [np.nan], [100.0], [100.0]])
    all_rows_median = float(np.nanmedian(np.vstack([train, held_out])))
    encoding = fit_table_encoding(train, ["v"], None, missing_indicators=True)
    assert encoding.output_names == ["v", "v missing"]
    encoded = encoding.transform(held_out)
    assert encoded[:, 0].tolist() == [100.0, 2.0, 100.0, 100.0]
    assert encoded[:, 1].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert all_rows_median != 2.0


def test_split_imputes_with_training_rows_only() -> None:
    rows = 50
    values = np.arange(rows, dtype=float)
    values[-10:] = 1000.0  # the test part's values would pull an all-rows median up
    values[[3, 45]] = np.nan  # one gap in the training part, one in the test part
    features = np.column_stack([values, np.arange(rows, dtype=float)])
    dataset = Dataset("gaps", features, np.arange(rows) % 2, "classification", ["v", "id"], test_rows=10)
    splits = split_dataset(dataset, validation_fraction=0.2, seed=0, standardise=False, missing_indicators=True)
    assert splits.feature_names == ["v", "id", "v missing"]
    assert splits.input_shape == (3,)
    train_rows = splits.train.features[:, 1].astype(int)
    training_median = float(np.nanmedian(values[train_rows]))
    assert training_median != float(np.nanmedian(values))
    test = splits.test.features
    gap = test[:, 1] == 45
    assert test[gap, 0].tolist() == [training_median]
    assert test[gap, 2].tolist() == [1.0]
    assert not np.isnan(splits.train.features).any()


def test_each_fold_fits_its_own_indices() -> None:
    rows = 20
    colour = np.zeros(rows)
    colour[0] = 1  # "red" in one row only: the fold that validates on it has never seen it
    features = np.column_stack([np.arange(rows, dtype=float), colour])
    dataset = Dataset(
        "folds", features, np.arange(rows) % 2, "classification", ["id", "colour"], None, {"colour": ["blue", "red"]}
    )
    folds = kfold_splits(dataset, folds=4, seed=0)
    unknown_red = 0
    for train, validation in folds:
        assert set(train.features[:, 1].tolist()) <= {1.0, 2.0}
        red_in_validation = validation.features[:, 1] != 1.0
        unknown_red += int((validation.features[red_in_validation, 1] == UNKNOWN_INDEX).sum())
    assert unknown_red == 1


def test_load_dataset_declares_categorical_columns(tmp_path) -> None:
    path = tmp_path / "codes.csv"
    pd.DataFrame({"zip": [10, 20, 10, 30] * 5, "y": [0, 1] * 10}).to_csv(path, index=False)
    assert load_dataset(str(path), target="y", categorical=["zip"]).categories == {"zip": ["10", "20", "30"]}
    with pytest.raises(DataError, match="tables only"):
        load_dataset("wine", categorical=["zip"])
