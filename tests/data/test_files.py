"""Reading CSV, Parquet and .npz files, and one-line errors for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.data import DataError, infer_task, load_file


def table(rows: int = 40) -> pd.DataFrame:
    generator = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": generator.normal(size=rows),
            "b": np.arange(rows),
            "flag": np.arange(rows) % 2 == 0,
            "label": np.where(np.arange(rows) % 3 == 0, "cat", "dog"),
        }
    )


def assert_one_line_error(error: pytest.ExceptionInfo[DataError], *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "animals.csv"
    table().to_csv(path, index=False)
    dataset = load_file(path, "label")
    assert dataset.name == "animals"
    assert dataset.task == "classification"
    assert dataset.feature_names == ["a", "b", "flag"]
    assert dataset.class_names == ["cat", "dog"]
    assert dataset.features.dtype == np.float32
    assert dataset.features.shape == (40, 3)
    np.testing.assert_allclose(dataset.features[:, 0], table()["a"].to_numpy(), rtol=1e-6)
    expected = (table()["label"] == "dog").to_numpy().astype(np.int64)
    np.testing.assert_array_equal(dataset.target, expected)


def test_parquet_round_trip(tmp_path: Path) -> None:
    for suffix in (".parquet", ".pq"):
        path = tmp_path / f"animals{suffix}"
        table().to_parquet(path)
        dataset = load_file(path, "label")
        assert dataset.class_names == ["cat", "dog"]
        assert dataset.features.shape == (40, 3)
        np.testing.assert_array_equal(dataset.features[:, 1], np.arange(40, dtype=np.float32))


def test_target_may_be_any_column(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    table().drop(columns="label").to_csv(path, index=False)
    dataset = load_file(path, "a")
    assert dataset.task == "regression"
    assert dataset.target.dtype == np.float32
    assert dataset.feature_names == ["b", "flag"]


def test_npz_round_trip(tmp_path: Path) -> None:
    features = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    target = np.arange(30) % 3
    np.savez(tmp_path / "arrays.npz", X=features, y=target)
    dataset = load_file(tmp_path / "arrays.npz", None)
    np.testing.assert_array_equal(dataset.features, features)
    np.testing.assert_array_equal(dataset.target, target)
    assert dataset.task == "classification"
    assert dataset.class_names == ["0", "1", "2"]
    assert dataset.feature_names == ["feature_0", "feature_1", "feature_2", "feature_3"]


def test_npz_with_long_names_images_and_named_target(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((20, 5, 5))
    values = np.linspace(0, 1, 20)
    np.savez(tmp_path / "images.npz", features=images, target=np.arange(20) % 2, score=values)
    dataset = load_file(tmp_path / "images.npz", None)
    assert dataset.input_shape == (1, 5, 5)
    by_name = load_file(tmp_path / "images.npz", "score")
    assert by_name.task == "regression"
    np.testing.assert_allclose(by_name.target, values, rtol=1e-6)


def test_npz_feature_names_are_used(tmp_path: Path) -> None:
    np.savez(tmp_path / "named.npz", X=np.ones((10, 2)), y=np.arange(10) % 2, feature_names=np.array(["p", "q"]))
    assert load_file(tmp_path / "named.npz", None).feature_names == ["p", "q"]


def test_task_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20) % 4}).to_csv(path, index=False)
    assert load_file(path, "y").task == "classification"
    regression = load_file(path, "y", task="regression")
    assert regression.task == "regression" and regression.class_names is None
    forced = load_file(path, "x", task="classification")
    assert forced.num_outputs == 20


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a", "b"], "classification"),
        ([True, False, True, False], "classification"),
        ([0, 1, 2] * 10, "classification"),
        ([0.0, 1.0, 2.0] * 10, "classification"),
        (list(range(30)), "regression"),  # every value distinct: a count, not classes
        (list(range(60)) * 3, "regression"),  # more than 50 distinct values
        ([0.5, 1.5, 0.5, 1.5] * 5, "regression"),
    ],
)
def test_task_inference(values: list, task: str) -> None:
    assert infer_task(np.array(values)) == task


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=-5, max_value=5), min_size=12, max_size=80).filter(
        lambda values: len(set(values)) > 1
    )
)
def test_integer_labels_round_trip_through_csv(tmp_path_factory: pytest.TempPathFactory, labels: list[int]) -> None:
    path = tmp_path_factory.mktemp("labels") / "labels.csv"
    pd.DataFrame({"x": np.arange(len(labels)), "label": labels}).to_csv(path, index=False)
    dataset = load_file(path, "label", task="classification")
    decoded = [int(dataset.class_names[index]) for index in dataset.target]
    assert decoded == labels


# ---- bad input: each one raises DataError with a one-line message naming the problem ----


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_file(tmp_path / "nowhere.csv", "label")
    assert_one_line_error(error, "not found", "nowhere.csv")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_file(tmp_path, "label")
    assert_one_line_error(error, "not a file")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_empty_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "empty")


def test_blank_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n\n")
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "no columns")


def test_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b,label\n")
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "header", "no data rows")


def test_binary_file_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "binary.csv")


def test_malformed_csv(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text('a,label\n1,x\n2,"unterminated\n')
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "ragged.csv")


def test_text_file_named_parquet(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError) as error:
        load_file(path, "b")
    assert_one_line_error(error, "Parquet", "fake.parquet")


def test_text_file_named_npz(tmp_path: Path) -> None:
    path = tmp_path / "fake.npz"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError) as error:
        load_file(path, None)
    assert_one_line_error(error, "fake.npz")


def test_semicolon_separated_file_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "european.csv"
    path.write_text("a;b;label\n1;2;x\n3;4;y\n")
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "not found", "';'")


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("a,label\n1,x\n2,y\n3,x\n4,y\n".encode("utf-8-sig"))
    assert load_file(path, "label").feature_names == ["a"]


def test_missing_target_column(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    table().to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_file(path, "lable")
    assert_one_line_error(
        error, "column 'lable' not found in data.csv", "columns are: a, b, flag, label", "--target COLUMN", "'label'"
    )


def test_target_not_given(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    table().to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_file(path, None)
    assert_one_line_error(error, "target", "a, b, flag, label", "--target COLUMN")


def test_non_numeric_feature_columns_are_categorical(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    frame = table()
    frame["city"] = ["Paris", "Oslo"] * (len(frame) // 2) + ["Paris"] * (len(frame) % 2)
    frame["colour"] = "red"
    frame.to_csv(path, index=False)
    dataset = load_file(path, "label")
    assert dataset.categories == {"city": ["Oslo", "Paris"], "colour": ["red"]}
    city = dataset.features[:, dataset.feature_names.index("city")]
    assert city.tolist() == [1.0 if name == "Paris" else 0.0 for name in frame["city"]]


def test_a_numeric_column_declared_categorical(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    table().to_csv(path, index=False)
    dataset = load_file(path, "label", categorical=["b"])
    assert list(dataset.categories) == ["b"]
    with pytest.raises(DataError) as error:
        load_file(path, "label", categorical=["nope"])
    assert_one_line_error(error, "nope", "not among the features")


def test_missing_feature_values_are_kept_for_the_split(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    frame = table()
    frame.loc[[1, 5, 7], "a"] = np.nan
    frame.to_csv(path, index=False)
    dataset = load_file(path, "label")
    assert np.isnan(dataset.features[:, dataset.feature_names.index("a")]).sum() == 3


def test_missing_target_values(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    frame = table()
    frame.loc[[2, 4], "label"] = None
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "'label'", "2 missing")


def test_infinite_feature_values(tmp_path: Path) -> None:
    path = tmp_path / "inf.parquet"
    frame = table()
    frame.loc[0, "a"] = np.inf
    frame.to_parquet(path)
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "infinite", "a")


def test_one_class_target(tmp_path: Path) -> None:
    path = tmp_path / "single.csv"
    frame = table()
    frame["label"] = "cat"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "only one class", "'cat'")


def test_string_target_cannot_be_regression(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    table().to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_file(path, "label", task="regression")
    assert_one_line_error(error, "not numeric", "classification")


def test_only_a_target_column(tmp_path: Path) -> None:
    path = tmp_path / "lonely.csv"
    table()[["label"]].to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_file(path, "label")
    assert_one_line_error(error, "no feature columns")


@pytest.mark.parametrize("name", ["data.txt", "data.xlsx", "data"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError) as error:
        load_file(path, "b")
    assert_one_line_error(error, "unsupported", ".csv, .parquet, .pq, .npz")


def test_unknown_task(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_file(tmp_path / "x.csv", "y", task="clustering")
    assert_one_line_error(error, "clustering")


def test_npz_without_known_arrays(tmp_path: Path) -> None:
    np.savez(tmp_path / "odd.npz", inputs=np.ones((4, 2)), outputs=np.ones(4))
    with pytest.raises(DataError) as error:
        load_file(tmp_path / "odd.npz", None)
    assert_one_line_error(error, "X and y", "inputs, outputs")


def test_npz_named_target_missing(tmp_path: Path) -> None:
    np.savez(tmp_path / "odd.npz", X=np.ones((4, 2)), labels=np.ones(4))
    with pytest.raises(DataError) as error:
        load_file(tmp_path / "odd.npz", "label")
    assert_one_line_error(error, "'label'", "X, labels")


def test_npz_row_mismatch_and_missing_values(tmp_path: Path) -> None:
    np.savez(tmp_path / "mismatch.npz", X=np.ones((4, 2)), y=np.arange(5))
    with pytest.raises(DataError) as error:
        load_file(tmp_path / "mismatch.npz", None)
    assert_one_line_error(error, "4 rows", "5")
    features = np.ones((6, 2))
    features[1, 1] = np.nan
    np.savez(tmp_path / "holes.npz", X=features, y=np.arange(6) % 2)
    with pytest.raises(DataError) as error:
        load_file(tmp_path / "holes.npz", None)
    assert_one_line_error(error, "feature_1 (1 missing)")
