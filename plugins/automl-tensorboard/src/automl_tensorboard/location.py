"""Where a study's TensorBoard event files go, and which study a log folder belongs to.

By default ``<study file>.tensorboard/`` beside the study. ``AUTOML_TENSORBOARD_DIR`` names a
folder shared by many studies instead: each gets ``<dir>/<study name>/`` (``demo.db`` ->
``demo``), so ``tensorboard --logdir <dir>`` compares them. ``AUTOML_TENSORBOARD=off`` turns
the logging off without uninstalling the plugin.

A log folder records its study (``automl-study.json``: the study file and when it was
created), because a resumed search skips what is logged already and must not mistake another
study's trials for its own: the folder of a study that ``--fresh`` replaced is moved aside to
``<folder>.bak-<time>`` (as ``--fresh`` does with the study), and a study of another folder
with the same file name gets ``<dir>/<name>-<hash of its path>``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SWITCH_VARIABLE = "AUTOML_TENSORBOARD"
DIRECTORY_VARIABLE = "AUTOML_TENSORBOARD_DIR"
OFF_VALUES = frozenset({"0", "off", "false", "no"})
SUFFIX = ".tensorboard"
MARKER = "automl-study.json"


def _owner(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _move_aside(folder: Path) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = folder.with_name(f"{folder.name}.bak-{stamp}")
    counter = 1
    while backup.exists():
        backup = folder.with_name(f"{folder.name}.bak-{stamp}-{counter}")
        counter += 1
    folder.replace(backup)


def log_folder(study_path: Path, created: Any, environ: Mapping[str, str]) -> Path | None:
    """The study's log folder, claimed for it (created, with its marker); None when logging is off."""
    if environ.get(SWITCH_VARIABLE, "").strip().lower() in OFF_VALUES:
        return None
    path = Path(study_path).resolve()
    identity = {"study": str(path), "created": created}
    shared = environ.get(DIRECTORY_VARIABLE, "").strip()
    if shared:
        base = Path(shared).expanduser().resolve()
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
        candidates = [base / path.stem, base / f"{path.stem}-{digest}"]
    else:
        candidates = [Path(str(path) + SUFFIX)]
    for folder in candidates:
        owner = _owner(folder)
        if owner is not None and owner.get("study") != identity["study"] and folder != candidates[-1]:
            continue  # another study file of the same name: the next candidate is this study's own
        if owner is not None and owner != identity:
            _move_aside(folder)  # this study file's predecessor, replaced by --fresh
        folder.mkdir(parents=True, exist_ok=True)
        if owner != identity:
            (folder / MARKER).write_text(json.dumps(identity))
        return folder
    raise AssertionError("unreachable: the last candidate is always taken")
