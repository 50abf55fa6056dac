"""Where a study's MLflow store is: a local folder or a local SQLite file, never a server.

By default ``<study file>.mlruns/`` beside the study, so that a study and its tracking
travel together; ``AUTOML_MLFLOW_TRACKING_URI`` (or MLflow's own ``MLFLOW_TRACKING_URI``)
names another folder, as a ``file:`` URI or a path, or a SQLite database file as
``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (MLflow 3's recommended
local store; its file store is deprecated). A database store keeps artifacts in
``<db file>.artifacts/`` beside it, not in MLflow's default ``./mlruns`` under whatever the
current directory is. A search must never block on (or leak to) the network, so any other
URI (a server, another database) is refused with a notice and the default folder is used,
and so is an in-memory SQLite database, where nothing would persist.
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
ARTIFACTS_SUFFIX = ".artifacts"
SQLITE_PREFIX = "sqlite:///"
WORKSPACE_NAMES = frozenset({"databricks", "databricks-uc"})  # MLflow reads these bare words as a remote workspace
ACCEPTED = "a folder, a file: URI or a sqlite:/// database file"


@dataclass(frozen=True)
class Location:
    """The store: a file store's folder or a SQLite database file; and why an environment variable was not followed."""

    folder: Path  # the file store's folder, or the database file when ``database`` is set
    notice: str | None = None
    database: bool = False

    @property
    def uri(self) -> str:
        if not self.database:
            return self.folder.as_uri()
        # MLflow's own conversion: whether SQLAlchemy URL-decodes the path depends on its version
        from mlflow.utils.file_utils import path_to_local_sqlite_uri

        return path_to_local_sqlite_uri(str(self.folder))

    @property
    def artifacts(self) -> Path | None:
        """The artifact folder of the experiments the plugin creates in a database; None for a file store,
        which keeps artifacts inside its own folder."""
        return Path(str(self.folder) + ARTIFACTS_SUFFIX) if self.database else None


def local_folder(uri: str) -> Path | None:
    """The folder a ``file:`` URI or a plain path names (absolute); None for anything else (a server, a
    database, the bare word ``databricks`` that MLflow reads as a remote workspace)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return Path(urllib.request.url2pathname(parsed.path)).resolve()
    if parsed.scheme == "" and uri not in WORKSPACE_NAMES:
        return Path(uri).expanduser().resolve()
    return None


def sqlite_file(uri: str) -> Path | None:
    """The database file a ``sqlite:///`` URI names (absolute, relative ones from the current directory, as
    MLflow reads them); None for an in-memory database or a URI that names no file."""
    path = urllib.parse.unquote(uri[len(SQLITE_PREFIX) :].split("?", 1)[0])
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path).expanduser().resolve()


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
        if value.lower().startswith("sqlite:"):
            database = sqlite_file(value) if value.lower().startswith(SQLITE_PREFIX) else None
            if database is None:
                return Location(
                    default,
                    f"{variable}={value} names no SQLite database file that would persist (accepted: {ACCEPTED}, "
                    f"such as sqlite:///mlflow.db), so it logs to {default}",
                )
            if database == Path(study_path).resolve():
                return Location(
                    default,
                    f"{variable}={value} is the study file itself; automl-mlflow keeps MLflow's tables out of the "
                    f"study (accepted: {ACCEPTED}, such as sqlite:///mlflow.db), so it logs to {default}",
                )
            return Location(database, database=True)
        folder = local_folder(value)
        if folder is None:
            return Location(
                default,
                f"{variable}={value} is not a local store (accepted: {ACCEPTED}); automl-mlflow never logs "
                f"over the network or to a database server, so it logs to {default}",
            )
        return Location(folder)
    return Location(default)
