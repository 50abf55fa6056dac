"""Every built-in data set loads offline with the promised shapes, dtypes and classes."""

from __future__ import annotations

import numpy as np
import pytest

from automl.data import BuiltinDataset, Dataset, builtin_datasets

EXPECTED = {
    # name: (rows, input_shape, task, num_outputs)
    "digits": (1797, (1, 8, 8), "classification", 10),
    "digits-flat": (1797, (64,), "classification", 10),
    "wine": (178, (13,), "classification", 3),
    "breast-cancer": (569, (30,), "classification", 2),
    "synthetic-classification": (2000, (20,), "classification", 3),
    "synthetic-regression": (2000, (20,), "regression", 1),
}


def test_the_promised_names_are_there() -> None:
    # the toys above, and the real sets read from the packages that bundle them (tests/data/test_packaged_datasets.py)
    assert set(builtin_datasets()) == set(EXPECTED) | {"mnist", "animal-mnist", "adult"}
    for name, entry in builtin_datasets().items():
        assert isinstance(entry, BuiltinDataset)
        assert entry.name == name
        assert entry.description


def test_each_call_gives_a_fresh_dict() -> None:
    first = builtin_datasets()
    first.pop("wine")
    assert "wine" in builtin_datasets()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_loads_offline_with_right_shapes(name: str, no_network: None) -> None:
    rows, input_shape, task, num_outputs = EXPECTED[name]
    dataset = builtin_datasets()[name].load(0)
    assert isinstance(dataset, Dataset)
    assert dataset.name == name
    assert dataset.rows == rows
    assert dataset.features.shape == (rows, *input_shape)
    assert dataset.input_shape == input_shape
    assert dataset.task == task
    assert dataset.num_outputs == num_outputs
    assert dataset.features.dtype == np.float32
    assert dataset.target.shape == (rows,)
    assert np.all(np.isfinite(dataset.features))
    if task == "classification":
        assert dataset.target.dtype == np.int64
        assert dataset.class_names is not None and len(dataset.class_names) == num_outputs
        assert set(np.unique(dataset.target)) == set(range(num_outputs))
    else:
        assert dataset.target.dtype == np.float32
        assert dataset.class_names is None
    if len(input_shape) == 1:
        assert len(dataset.feature_names) == input_shape[0]
    assert name in dataset.describe()


@pytest.mark.parametrize("name", ["digits", "digits-flat"])
def test_digit_pixels_are_scaled_to_unit_range(name: str) -> None:
    features = builtin_datasets()[name].load(0).features
    assert features.min() == 0.0
    assert features.max() == 1.0


def test_digits_and_flat_digits_hold_the_same_pixels() -> None:
    images = builtin_datasets()["digits"].load(0)
    flat = builtin_datasets()["digits-flat"].load(0)
    np.testing.assert_array_equal(images.features.reshape(images.rows, -1), flat.features)
    np.testing.assert_array_equal(images.target, flat.target)


@pytest.mark.parametrize("name", ["synthetic-classification", "synthetic-regression"])
def test_synthetic_data_depends_on_the_seed_only(name: str) -> None:
    load = builtin_datasets()[name].load
    np.testing.assert_array_equal(load(3).features, load(3).features)
    np.testing.assert_array_equal(load(3).target, load(3).target)
    assert not np.array_equal(load(3).features, load(4).features)
