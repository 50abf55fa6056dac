"""The Dataset container: conversions, properties, select_features."""

from __future__ import annotations

import numpy as np
import pytest

from automl.data import DataError, Dataset


def small_table() -> Dataset:
    features = np.arange(12, dtype=np.float64).reshape(4, 3)
    return Dataset("small", features, np.array([0, 1, 0, 1]), "classification", ["a", "b", "c"], ["no", "yes"])


def test_dtypes_are_converted_once() -> None:
    dataset = small_table()
    assert dataset.features.dtype == np.float32
    assert dataset.target.dtype == np.int64
    regression = Dataset("r", np.ones((3, 2)), np.array([1, 2, 3]), "regression", ["x", "y"])
    assert regression.target.dtype == np.float32
    assert regression.num_outputs == 1


def test_properties() -> None:
    dataset = small_table()
    assert dataset.rows == 4
    assert dataset.input_shape == (3,)
    assert dataset.num_outputs == 2
    assert dataset.describe() == "small: 4 rows, input shape 3, classification, 2 classes"
    assert "\n" not in dataset.describe()


def test_select_features_keeps_the_given_order() -> None:
    selected = small_table().select_features(["c", "a"])
    assert selected.feature_names == ["c", "a"]
    np.testing.assert_array_equal(selected.features, np.array([[2, 0], [5, 3], [8, 6], [11, 9]], dtype=np.float32))
    np.testing.assert_array_equal(selected.target, small_table().target)
    assert selected.class_names == ["no", "yes"]
    assert selected.input_shape == (2,)


def test_select_features_names_unknown_columns() -> None:
    with pytest.raises(DataError, match=r"'z'.*features are: a, b, c") as raised:
        small_table().select_features(["a", "z"])
    assert "\n" not in str(raised.value)


def test_select_features_rejects_images() -> None:
    images = Dataset("images", np.zeros((2, 1, 2, 2)), np.array([0, 1]), "classification", [])
    with pytest.raises(DataError, match="tabular"):
        images.select_features(["x"])


@pytest.mark.parametrize(
    "arguments",
    [
        {"task": "ranking"},
        {"features": np.zeros(4)},
        {"target": np.zeros((4, 2))},
        {"target": np.array([0, 1, 0])},
        {"target": np.array([0.5, 1, 0, 1])},
        {"target": np.array([0, 1, 0, 2])},  # class 2 has no name
        {"feature_names": ["a"]},
    ],
)
def test_inconsistent_datasets_are_rejected(arguments: dict) -> None:
    values = {
        "name": "bad",
        "features": np.zeros((4, 3)),
        "target": np.array([0, 1, 0, 1]),
        "task": "classification",
        "feature_names": ["a", "b", "c"],
        "class_names": ["no", "yes"],
    }
    values.update(arguments)
    with pytest.raises(DataError):
        Dataset(**values)


def test_data_error_is_a_value_error_on_one_line() -> None:
    error = DataError("first\nsecond")
    assert isinstance(error, ValueError)
    assert str(error) == "first second"
