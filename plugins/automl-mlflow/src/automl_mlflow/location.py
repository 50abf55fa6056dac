"""Where a study's MLflow store is: a local folder, never a server.

By default ``<study file>.mlruns/`` beside the study, so that a study and its tracking
travel together; ``AUTOML_MLFLOW_TRACKING_URI`` (or MLflow's own ``MLFLOW_TRACKING_URI``)
names another folder, as a ``file:`` URI or a path. A search must never block on (or leak
to) the network, so a server URI is refused with a notice and the default folder is used.
``AUTOML_MLFLOW=off`` turns the tracking off without uninstalling the plugin.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SWITCH_VARIABLE = "AUTOML_MLFLOW"
URI_VARIABLES = ("AUTOML_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI")  # the first one set wins
OFF_VALUES = frozenset({"0", "off", "false", "no"})
SUFFIX = ".mlruns"


@dataclass(frozen=True)
class Location:
    """The folder of the file store, its ``file:`` URI, and why an environment variable was not followed."""

    folder: Path
    notice: str | None = None

    @property
    def uri(self) -> str:
        return self.folder.as_uri()


def local_folder(uri: str) -> Path | None:
    """The folder a ``file:`` URI or a plain path names (absolute); None for anything else (a server)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return Path(urllib.request.url2pathname(parsed.path)).resolve()
    if parsed.scheme == "":
        return Path(uri).expanduser().resolve()
    return None


def default_folder(study_path: Path) -> Path:
    return Path(str(Path(study_path).resolve()) + SUFFIX)


def tracking_location(study_path: Path, environ: Mapping[str, str]) -> Location | None:
    """Where ``study_path``'s runs go under ``environ``; None when ``AUTOML_MLFLOW`` turns tracking off."""
    if environ.get(SWITCH_VARIABLE, "").strip().lower() in OFF_VALUES:
        return None
    default = default_folder(study_path)
    for variable in URI_VARIABLES:
        value = environ.get(variable, "").strip()
        if not value:
            continue
        folder = local_folder(value)
        if folder is None:
            return Location(
                default,
                f"{variable}={value} is not a local folder (a file: URI or a path); automl-mlflow never logs "
                f"over the network, so it logs to {default}",
            )
        return Location(folder)
    return Location(default)
