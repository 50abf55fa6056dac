"""Loading user data from CSV, Parquet and NumPy .npz files, with errors that say how to fix the file."""

from __future__ import annotations

import difflib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.dataset import TASKS, Dataset, _shorten
from automl.data.encoding import code_columns
from automl.data.errors import DataError

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq", ".npz")
# a target is read as classes when it has at most this many distinct integer values (and fewer than half the rows)
MAX_INFERRED_CLASSES = 50
_FEATURE_ARRAY_NAMES = ("X", "features")
_TARGET_ARRAY_NAMES = ("y", "target")


def load_file(
    path: str | Path, target: str | None, task: str | None = None, categorical: Sequence[str] = ()
) -> Dataset:
    """Read a data file into a Dataset; the task is inferred from the target when not given.

    In CSV and Parquet tables, non-numeric columns and those named in ``categorical`` are
    categorical (``Dataset.categories``); missing values are kept for the split to fill.
    """
    path = Path(path)
    if task is not None and task not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if not path.is_file():
        raise DataError(f"{path} is not a file; pass a path to a {', '.join(SUPPORTED_SUFFIXES)} file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"unsupported file type '{path.suffix or '(none)'}' for {path.name}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if categorical and suffix == ".npz":
        raise DataError(f"{path.name}: categorical columns are read from CSV or Parquet tables, not .npz arrays")
    if suffix == ".npz":
        return _load_npz(path, target, task)
    frame = _read_csv(path) if suffix == ".csv" else _read_parquet(path)
    return _dataset_from_frame(frame, path, target, task, categorical)


def _first_line(error: BaseException) -> str:
    """The first line of a library's error, enough to hint at the cause without a traceback."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _read_csv(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty; a CSV file needs a header line and data rows")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")  # utf-8-sig also strips the mark Excel writes
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name} has no columns; a CSV file needs a header line and data rows") from None
    except UnicodeDecodeError:
        raise DataError(f"{path.name} could not be decoded as UTF-8 text; save it as a UTF-8 CSV file") from None
    except (pd.errors.ParserError, ValueError, OSError) as error:
        raise DataError(f"could not read {path.name} as CSV: {_first_line(error)}") from None
    if frame.shape[0] == 0:
        raise DataError(f"{path.name} has a header but no data rows")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty; expected a Parquet file")
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a file that is not Parquet
        raise DataError(f"could not read {path.name} as Parquet: {_first_line(error)}") from None
    if frame.shape[0] == 0:
        raise DataError(f"{path.name} has columns but no data rows")
    return frame


def _dataset_from_frame(
    frame: pd.DataFrame, path: Path, target: str | None, task: str | None, categorical: Sequence[str] = ()
) -> Dataset:
    """Check a table column by column and turn it into a Dataset."""
    columns = [str(column) for column in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if len(set(columns)) != len(columns):
        duplicates = sorted({column for column in columns if columns.count(column) > 1})
        raise DataError(f"{path.name} has duplicate column names: {', '.join(duplicates)}; rename them")
    if target is None:
        raise DataError(f"{path.name} needs a target column; columns are: {_shorten(columns)}. Pass --target COLUMN")
    if target not in columns:
        close = difflib.get_close_matches(target, columns, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        separator = next((mark for mark in (";", "\t", "|") if len(columns) == 1 and mark in columns[0]), None)
        if separator is not None:
            hint += f" (the file seems to separate values with {separator!r}; expected commas)"
        raise DataError(
            f"column '{target}' not found in {path.name}{hint}; columns are: {_shorten(columns)}. Pass --target COLUMN"
        )
    feature_names = [column for column in columns if column != target]
    if not feature_names:
        raise DataError(f"{path.name} has no feature columns besides the target '{target}'")
    declared = [str(name) for name in categorical]
    unknown = [name for name in declared if name not in feature_names]
    if unknown:
        raise DataError(
            f"categorical column(s) {_shorten(unknown)} not among the features of {path.name}; "
            f"features are: {_shorten(feature_names)}"
        )
    # non-numeric columns (and declared ones) are categorical; missing values stay NaN until the split
    # imputes them with training statistics (automl.data.encoding)
    values, categories = code_columns(frame[feature_names], declared)
    infinite = [name for name, finite in zip(feature_names, ~np.isinf(values).any(axis=0), strict=True) if not finite]
    if infinite:
        raise DataError(f"infinite values in feature column(s) of {path.name}: {_shorten(infinite)}; replace them")
    target_column = frame[target]
    missing_targets = int(target_column.isna().sum())
    if missing_targets:
        raise DataError(
            f"target column '{target}' of {path.name} has {missing_targets} missing value(s); fill or drop those rows"
        )
    encoded, task, class_names = _encode_target(
        target_column.to_numpy(), task, f"target column '{target}' of {path.name}"
    )
    return Dataset(path.stem, values, encoded, task, feature_names, class_names, categories or None)


def infer_task(target: np.ndarray) -> str:
    """classification for labels (non-numeric, or few distinct integers), regression for everything else."""
    values = np.asarray(target)
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
        return "classification"
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.equal(np.mod(values, 1), 0)):
        return "regression"
    distinct = np.unique(values).size
    if distinct <= MAX_INFERRED_CLASSES and distinct < values.size / 2:
        return "classification"
    return "regression"


def _encode_target(values: np.ndarray, task: str | None, what: str) -> tuple[np.ndarray, str, list[str] | None]:
    """Class indices and names for classification, float values for regression."""
    is_numeric = values.dtype != np.bool_ and np.issubdtype(values.dtype, np.number)
    if task is None:
        task = infer_task(values)
    if task == "regression":
        if not is_numeric:
            raise DataError(f"{what} is not numeric, so it cannot be a regression target; use --task classification")
        numbers = values.astype(np.float64)
        if not np.all(np.isfinite(numbers)):
            raise DataError(f"{what} has missing or infinite values; fill or drop those rows")
        return numbers.astype(np.float32), task, None
    if is_numeric:
        labels, encoded = np.unique(values, return_inverse=True)
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.equal(np.mod(labels, 1), 0)):
            class_names = [str(int(label)) for label in labels]
        else:
            class_names = [str(label) for label in labels]
    else:
        class_names, encoded = np.unique(values.astype(str), return_inverse=True)
        class_names = [str(label) for label in class_names]
    if len(class_names) < 2:
        raise DataError(
            f"{what} has only one class ('{class_names[0]}'); classification needs at least two"
            if class_names
            else f"{what} has no values"
        )
    return encoded.reshape(-1).astype(np.int64), task, class_names


def _load_npz(path: Path, target: str | None, task: str | None) -> Dataset:
    """Arrays X/y or features/target; `target` may name the target array. 3-D features become 1-channel images."""
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty; expected a NumPy .npz archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        raise DataError(f"could not read {path.name}: {_first_line(error)} (object arrays are not supported)") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"could not read {path.name} as a NumPy .npz archive: {_first_line(error)}") from None
    present = ", ".join(arrays) or "(none)"
    target_name = target if target is not None and target in arrays else None
    if target is not None and target_name is None and not any(name in arrays for name in _TARGET_ARRAY_NAMES):
        raise DataError(f"array '{target}' not found in {path.name}; arrays are: {present}")
    if target_name is None:
        target_name = next((name for name in _TARGET_ARRAY_NAMES if name in arrays), None)
    feature_name = next((name for name in _FEATURE_ARRAY_NAMES if name in arrays and name != target_name), None)
    if feature_name is None or target_name is None:
        raise DataError(f"{path.name} must hold arrays named X and y (or features and target); arrays are: {present}")
    features, labels = arrays[feature_name], arrays[target_name]
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(f"target array '{target_name}' in {path.name} must have shape (rows,), got {labels.shape}")
    if features.ndim == 1:
        features = features[:, np.newaxis]
    elif features.ndim == 3:
        features = features[:, np.newaxis, :, :]
    if features.shape[0] != labels.shape[0]:
        raise DataError(
            f"{path.name}: features have {features.shape[0]} rows but target has {labels.shape[0]}; they must match"
        )
    if features.shape[0] == 0:
        raise DataError(f"{path.name} has no rows")
    if features.dtype == np.bool_:
        features = features.astype(np.float32)
    if not np.issubdtype(features.dtype, np.number):
        raise DataError(f"features array '{feature_name}' in {path.name} is not numeric ({features.dtype}); encode it")
    if features.ndim == 2 and "feature_names" in arrays and len(arrays["feature_names"]) == features.shape[1]:
        feature_names = [str(name) for name in arrays["feature_names"]]
    else:
        feature_names = [f"feature_{index}" for index in range(int(np.prod(features.shape[1:])))]
    bad = ~np.isfinite(features.astype(np.float64)).reshape(features.shape[0], -1)
    if bad.any():
        columns = np.flatnonzero(bad.any(axis=0))
        listed = _shorten([f"{feature_names[column]} ({int(bad[:, column].sum())} missing)" for column in columns])
        raise DataError(f"missing or infinite values in features of {path.name}: {listed}; fill or drop them")
    if np.issubdtype(labels.dtype, np.floating) and not np.all(np.isfinite(labels)):
        missing = int((~np.isfinite(labels)).sum())
        raise DataError(
            f"target array '{target_name}' of {path.name} has {missing} missing value(s); fill or drop those rows"
        )
    encoded, task, class_names = _encode_target(labels, task, f"target array '{target_name}' of {path.name}")
    return Dataset(path.stem, features, encoded, task, feature_names, class_names)
