"""One entry point for the CLI and engine: a built-in name, a data file or an image folder."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

from automl.data.builtin import BuiltinDataset, builtin_datasets
from automl.data.dataset import TASKS, Dataset
from automl.data.errors import DataError
from automl.data.files import load_file
from automl.data.images import load_image_folder


def load_dataset(
    source: str,
    target: str | None = None,
    seed: int = 0,
    task: str | None = None,
    datasets: Mapping[str, BuiltinDataset] | None = None,
    image_size: int | tuple[int, int] | None = None,
    image_channels: int | None = None,
    categorical: Sequence[str] = (),
) -> Dataset:
    """Load a built-in data set by name (from `datasets`, default the built-ins), a data file or an image folder.

    A name wins over a file or folder of the same name in the working directory: built-ins are
    what users type most and must not change meaning with the current directory (``./digits``
    reaches the folder). A folder is read by ``load_image_folder``: ``image_size`` (an int or
    (height, width)) and ``image_channels`` (1 or 3) are its ``size`` and ``channels``, None its
    default rules (the images' common size, or the most common one; the majority's channels).
    ``categorical`` names numeric columns of a CSV or Parquet file to treat as categorical.
    """
    if task is not None and task not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    available = builtin_datasets() if datasets is None else datasets
    source = str(source)
    path = Path(source).expanduser()
    image_options = [
        f"{name} {value}"
        for name, value in (("image size", image_size), ("image channels", image_channels))
        if value is not None
    ]
    if image_options and (source in available or not path.is_dir()):
        raise DataError(f"{source} is not an image folder; drop the {' and '.join(image_options)}")
    if categorical and (source in available or path.is_dir()):
        raise DataError(f"{source} is not a CSV or Parquet file; categorical columns are declared for tables only")
    if source in available:
        if target is not None:
            raise DataError(f"built-in data set '{source}' has its own target; drop --target {target}")
        dataset = available[source].load(seed)
        if task is not None and task != dataset.task:
            raise DataError(f"built-in data set '{source}' is a {dataset.task} task, not {task}; drop --task {task}")
        return dataset
    if path.is_dir():
        if target is not None:
            raise DataError(f"{source} is an image folder: its subfolders are the classes; drop --target {target}")
        if task not in (None, "classification"):
            raise DataError(f"{source} is an image folder, a classification task; drop --task {task}")
        return load_image_folder(path, size=image_size, channels=image_channels)
    if path.exists():
        return load_file(path, target, task, categorical)
    names = sorted(available)
    if path.suffix or "/" in source or "\\" in source:
        raise DataError(
            f"file not found: {source}; pass an existing file, an image folder or a built-in name "
            f"({', '.join(names) or 'none'})"
        )
    close = difflib.get_close_matches(source, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise DataError(
        f"unknown data set '{source}'{hint}: not a built-in and no such file; "
        f"built-ins are: {', '.join(names) or '(none)'}; a path must point to an existing file or image folder"
    )
