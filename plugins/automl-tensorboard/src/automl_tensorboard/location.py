"""Where a study's TensorBoard event files go, and which study a log folder belongs to.

By default ``<study file>.tensorboard/`` beside the study. ``AUTOML_TENSORBOARD_DIR`` names a
folder shared by many studies instead: each gets ``<dir>/<study name>/`` (``demo.db`` ->
``demo``), so ``tensorboard --logdir <dir>`` compares them. ``AUTOML_TENSORBOARD=off`` turns
the logging off without uninstalling the plugin.

A log folder records its study (``automl-study.json``: the study file and when it was
created), because a resumed search skips what is logged already and must not mistake another
study's trials for its own. The folder of a study that ``--fresh`` replaced goes with it:
``<study>.bak-<time>.tensorboard`` beside the study's backup (so resuming the backup finds its
logs), or ``<folder>.bak-<time>`` in a shared folder, where a study finds its folder by its
creation time whatever the folder's name; a study of another folder with the same file name
gets ``<dir>/<name>-<hash of its path>``.
"""

from __future__ import annotations

import glob
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
        owner = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _backup_of(study_path: Path, created: Any) -> Path | None:
    """The file ``--fresh`` moved the study created at ``created`` to (``<study>.bak-<time>``), if it is beside it."""
    from automl.engine.storage import StudyStorage

    for candidate in sorted(study_path.parent.glob(glob.escape(study_path.name) + ".bak-*")):
        if not candidate.is_file() or candidate.name.endswith(("-wal", "-shm")):
            continue
        try:
            storage = StudyStorage(candidate)
        except Exception:  # not a study, or damaged: not the one
            continue
        try:
            if storage.meta().get("created") == created:
                return candidate
        finally:
            storage.close()
    return None


def _move_aside(folder: Path, target: Path | None = None) -> None:
    """Move ``folder`` to ``target`` (when free), else to ``<folder>.bak-<time>``."""
    if target is not None and not target.exists():
        folder.replace(target)
        return
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
        for marker in sorted(base.glob(f"*/{MARKER}")) if created is not None else []:
            owner = _owner(marker.parent)
            if owner is not None and owner.get("created") == created:
                return _claimed(marker.parent, identity)  # this study's, under the name it had (renamed, a backup)
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
        candidates = [base / path.stem, base / f"{path.stem}-{digest}"]
    else:
        candidates = [Path(str(path) + SUFFIX)]
    for folder in candidates:
        owner = _owner(folder)
        if owner is None or _same_study(owner, identity):
            return _claimed(folder, identity)
        if owner.get("study") != identity["study"] and folder != candidates[-1]:
            continue  # another study file of the same name: the next candidate is this study's own
        # this study file's predecessor, replaced by --fresh: its logs go with it (beside the study) or aside
        backup = None if shared else _backup_of(path, owner.get("created"))
        _move_aside(folder, None if backup is None else Path(str(backup) + SUFFIX))
        return _claimed(folder, identity)
    raise AssertionError("unreachable: the last candidate is always taken")


def _same_study(owner: dict[str, Any], identity: dict[str, Any]) -> bool:
    """One study: the same creation time (the file may have moved: a backup resumed), or, for a study too old
    to record one, the same file."""
    if identity["created"] is None:
        return owner == identity
    return owner.get("created") == identity["created"]


def _claimed(folder: Path, identity: dict[str, Any]) -> Path:
    """``folder``, created, with its marker naming the study (rewritten when the study file moved)."""
    folder.mkdir(parents=True, exist_ok=True)
    if _owner(folder) != identity:
        (folder / MARKER).write_text(json.dumps(identity))
    return folder
