"""load_dataset: built-in names, paths, and what happens for anything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.data import BuiltinDataset, DataError, Dataset, builtin_datasets, load_dataset


def test_builtin_by_name() -> None:
    dataset = load_dataset("wine")
    assert dataset.name == "wine" and dataset.rows == 178


def test_seed_reaches_generated_data() -> None:
    first = load_dataset("synthetic-regression", seed=1)
    second = load_dataset("synthetic-regression", seed=2)
    assert not np.array_equal(first.features, second.features)


def test_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10) % 2}).to_csv(path, index=False)
    dataset = load_dataset(str(path), target="y")
    assert dataset.task == "classification" and dataset.rows == 10
    assert load_dataset(str(path), target="y", task="regression").task == "regression"


def test_custom_registry_replaces_the_default() -> None:
    def tiny(seed: int) -> Dataset:
        return Dataset("tiny", np.eye(4), np.array([0, 1, 0, 1]), "classification", ["a", "b", "c", "d"])

    registry = {**builtin_datasets(), "tiny": BuiltinDataset("tiny", "four rows", tiny)}
    assert load_dataset("tiny", datasets=registry).rows == 4
    with pytest.raises(DataError, match="wine"):
        load_dataset("wine", datasets={"tiny": registry["tiny"]})


def test_unknown_name_lists_builtins() -> None:
    with pytest.raises(DataError) as error:
        load_dataset("digitz")
    message = str(error.value)
    assert "\n" not in message
    assert "unknown data set 'digitz'" in message
    assert "did you mean 'digits'" in message
    for name in builtin_datasets():
        assert name in message
    assert "path must point to an existing file" in message


def test_missing_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"file not found: .*absent\.csv.*wine"):
        load_dataset(str(tmp_path / "absent.csv"), target="y")


def test_builtin_rejects_options_that_do_not_apply() -> None:
    with pytest.raises(DataError, match="--target"):
        load_dataset("wine", target="label")
    with pytest.raises(DataError, match="classification"):
        load_dataset("wine", task="regression")
    assert load_dataset("wine", task="classification").task == "classification"
    with pytest.raises(DataError, match="task"):
        load_dataset("wine", task="bogus")
