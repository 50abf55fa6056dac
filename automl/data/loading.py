"""One entry point for the CLI and engine: a built-in name or a path."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from automl.data.builtin import BuiltinDataset, builtin_datasets
from automl.data.dataset import TASKS, Dataset
from automl.data.errors import DataError
from automl.data.files import load_file


def load_dataset(
    source: str,
    target: str | None = None,
    seed: int = 0,
    task: str | None = None,
    datasets: Mapping[str, BuiltinDataset] | None = None,
) -> Dataset:
    """Load a built-in data set by name (from `datasets`, default the built-ins) or a data file by path.

    A name wins over a file of the same name in the working directory: built-ins are what
    users type most and must not change meaning with the current directory.
    """
    if task is not None and task not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    available = builtin_datasets() if datasets is None else datasets
    source = str(source)
    if source in available:
        if target is not None:
            raise DataError(f"built-in data set '{source}' has its own target; drop --target {target}")
        dataset = available[source].load(seed)
        if task is not None and task != dataset.task:
            raise DataError(f"built-in data set '{source}' is a {dataset.task} task, not {task}; drop --task {task}")
        return dataset
    path = Path(source).expanduser()
    if path.exists():
        return load_file(path, target, task)
    names = sorted(available)
    if path.suffix or "/" in source or "\\" in source:
        raise DataError(
            f"file not found: {source}; pass an existing file or a built-in name ({', '.join(names) or 'none'})"
        )
    close = difflib.get_close_matches(source, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise DataError(
        f"unknown data set '{source}'{hint}: not a built-in and no such file; "
        f"built-ins are: {', '.join(names) or '(none)'}; a path must point to an existing file"
    )
