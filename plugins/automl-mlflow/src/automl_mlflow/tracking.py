"""The MLflow tracking plugin: one experiment per study, one run per trial, through the lifecycle hooks.

The hooks fire in the search driver's process, after the driver stored a trial (trials on
Dask workers included: workers only return results, the driver tells and stores them), so
the store has a single writer and needs no locking.

Resume: each run carries its trial number as the tag ``automl.trial``. When a search starts
(or resumes) the plugin reads the runs logged so far once, reuses the run of a trial that was
in flight when the last search died, and logs every finished trial the store lacks (trials a
failed store or a killed driver missed), so a trial has exactly one run however often the
search was resumed. State lives on the plugin object, per study: nothing is global, and no
MLflow "active run" is used, so a user's own ``mlflow.start_run()`` is left alone.

A tracking failure (a full disk, a folder that cannot be written) must not cost the search:
it is warned about once, the plugin stops logging that search, and a later ``--resume`` logs
what was missed.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.plugins import hookimpl
from automl_mlflow.location import Location, tracking_location
from automl_mlflow.records import (
    PARAM_VALUE_LIMIT,
    TRIAL_TAG,
    MetricPoint,
    metrics_of,
    params_of,
    run_status,
    tags_of,
    truncated,
)

STUDY_TAG = "automl.study"  # the study file's absolute path
CREATED_TAG = "automl.study.created"  # when the study file was created: tells a study from its --fresh successor
WEIGHTS_FOLDER = "weights"
RUNS_PER_PAGE = 1000
BATCH_PARAMS_OR_TAGS = 100  # MLflow's limits per log_batch call
BATCH_METRICS = 1000


@contextlib.contextmanager
def mlflow_environment() -> Iterator[None]:
    """The environment of the plugin's own MLflow calls, put back afterwards.

    MLflow 3 keeps its file store only behind ``MLFLOW_ALLOW_FILE_STORE=true`` (it prefers a
    database), and its telemetry would reach the network; a search must not. Both are set only
    for the duration of the plugin's calls, and an explicit ``MLFLOW_DISABLE_TELEMETRY`` of the
    user's is respected.
    """
    settings = {"MLFLOW_ALLOW_FILE_STORE": "true"}
    if "MLFLOW_DISABLE_TELEMETRY" not in os.environ:
        settings["MLFLOW_DISABLE_TELEMETRY"] = "true"
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _milliseconds(seconds: float | None) -> int | None:
    return None if seconds is None else int(1000 * seconds)


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


@dataclass
class LoggedRun:
    run_id: str
    finished: bool  # terminated: its trial's result is in it


@dataclass
class StudyRuns:
    """What the plugin knows about one study's store during a search."""

    location: Location
    client: Any = None
    experiment_id: str = ""
    direction: str = "maximize"
    runs: dict[int, LoggedRun] = field(default_factory=dict)  # trial number -> its run
    broken: bool = False  # a call failed: warned once, nothing more is logged in this search


def _experiment_tags(study: Any, meta: Mapping[str, Any]) -> dict[str, str]:
    tags = {STUDY_TAG: str(Path(study.path).resolve()), CREATED_TAG: str(meta.get("created", ""))}
    for name in ("strategy", "space", "data"):
        if meta.get(name) is not None:
            tags[f"automl.{name}"] = truncated(str(meta[name]), PARAM_VALUE_LIMIT)
    return tags


def _aside_name(client: Any, name: str) -> str:
    """``<name>.bak-<time>``, the name ``--fresh`` gives a replaced study, unused in the store."""
    candidate = base = f"{name}.bak-{time.strftime('%Y%m%d-%H%M%S')}"
    counter = 1
    while client.get_experiment_by_name(candidate) is not None:
        candidate = f"{base}-{counter}"
        counter += 1
    return candidate


def study_experiment(client: Any, study: Any, meta: Mapping[str, Any], artifacts: Path | None = None) -> str:
    """The id of the study's experiment, named after the study file (``demo.db`` -> ``demo``).

    The experiment is found by the study's creation time (its identity: a study file renamed, or
    moved aside by ``--fresh`` and resumed, still finds its runs). The experiment of a study this
    file held before ``--fresh`` replaced it is renamed ``<name>.bak-<time>``; a study of another
    folder with the same file name (a shared tracking URI) gets its absolute path as the name.

    ``artifacts`` is the artifact folder of an experiment created here (a database store's
    ``<db file>.artifacts/``: without it MLflow's SQLite store would put them in ``./mlruns``
    under the current directory); None leaves the store's default (a file store's own folder).
    """
    artifact_location = None if artifacts is None else artifacts.as_uri()
    tags = _experiment_tags(study, meta)
    path = tags[STUDY_TAG]
    if tags[CREATED_TAG]:
        found = client.search_experiments(filter_string=f"tags.`{CREATED_TAG}` = '{tags[CREATED_TAG]}'")
        if found:
            return found[0].experiment_id
    for name in (Path(study.path).stem, path):
        existing = client.get_experiment_by_name(name)
        if existing is None:
            return client.create_experiment(name, artifact_location=artifact_location, tags=tags)
        if existing.lifecycle_stage == "deleted":  # deleted in the UI: the name stays taken until it is purged
            if existing.tags.get(CREATED_TAG) == tags[CREATED_TAG]:
                client.restore_experiment(existing.experiment_id)  # this study resumed: it logs on where it was
                return existing.experiment_id
            continue  # another study's deleted experiment holds the name: the next name
        if existing.lifecycle_stage == "active" and existing.tags.get(CREATED_TAG) == tags[CREATED_TAG]:
            return existing.experiment_id
        if existing.tags.get(STUDY_TAG) == path:
            client.rename_experiment(existing.experiment_id, _aside_name(client, name))
            return client.create_experiment(name, artifact_location=artifact_location, tags=tags)
    raise RuntimeError(f"the experiments {Path(study.path).stem!r} and {path!r} belong to other studies")


def logged_runs(client: Any, experiment_id: str) -> dict[int, LoggedRun]:
    """Trial number -> its run, for the runs of the experiment that carry a trial number."""
    from mlflow.entities import ViewType

    runs: dict[int, LoggedRun] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=RUNS_PER_PAGE, page_token=token
        )
        for run in page:
            number = run.data.tags.get(TRIAL_TAG, "")
            if not number.isdigit():
                continue
            logged = LoggedRun(run.info.run_id, run.info.status != "RUNNING")
            if int(number) not in runs or logged.finished:
                runs[int(number)] = logged
        token = page.token
        if not token:
            return runs


def log_batches(
    client: Any,
    run_id: str,
    metrics: Sequence[MetricPoint] = (),
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """``log_batch`` in pieces MLflow accepts (at most 100 params or tags, 1000 metrics a call)."""
    from mlflow.entities import Metric, Param, RunTag

    entities = [Param(key, value) for key, value in (params or {}).items()]
    for start in range(0, len(entities), BATCH_PARAMS_OR_TAGS):
        client.log_batch(run_id, params=entities[start : start + BATCH_PARAMS_OR_TAGS])
    labels = [RunTag(key, value) for key, value in (tags or {}).items()]
    for start in range(0, len(labels), BATCH_PARAMS_OR_TAGS):
        client.log_batch(run_id, tags=labels[start : start + BATCH_PARAMS_OR_TAGS])
    points = [Metric(point.key, point.value, point.timestamp_ms, point.step) for point in metrics]
    for start in range(0, len(points), BATCH_METRICS):
        client.log_batch(run_id, metrics=points[start : start + BATCH_METRICS])


class MlflowTracking:
    """The plugin object: registered once (``automl_mlflow.plugin:tracking``), it keeps one ``StudyRuns``
    per study being searched. ``environ`` replaces ``os.environ`` for the plugin's own settings (tests)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._studies: dict[Path, StudyRuns | None] = {}  # None: tracking is off for that study

    # -- the hooks -----------------------------------------------------------------------------------

    @hookimpl
    def automl_search_started(self, study: Any) -> None:
        state = self._open(study)
        if state is not None:
            self._guarded(state, study, lambda: self._log_missed(state, study))

    @hookimpl
    def automl_trial_started(self, study: Any, trial: Any) -> None:
        state = self._state(study)
        if state is not None:
            self._guarded(state, study, lambda: self._start_run(state, trial))

    @hookimpl
    def automl_trial_finished(self, study: Any, trial: Any) -> None:
        state = self._state(study)
        if state is not None:
            self._guarded(state, study, lambda: self._finish_run(state, study, trial))

    @hookimpl
    def automl_search_finished(self, study: Any) -> None:
        state = self._studies.pop(self._key(study), None)
        if state is not None:
            self._guarded(state, study, lambda: self._tag_best(state, study))

    # -- per-study state -----------------------------------------------------------------------------

    @staticmethod
    def _key(study: Any) -> Path:
        return Path(study.path).resolve()

    def _open(self, study: Any) -> StudyRuns | None:
        """Connect to the study's store (again, at each search start: a resume re-reads what is logged)."""
        location = tracking_location(Path(study.path), os.environ if self._environ is None else self._environ)
        state = None if location is None else StudyRuns(location)
        self._studies[self._key(study)] = state
        if state is not None:
            if location.notice is not None:
                warnings.warn(f"automl-mlflow: {location.notice}", RuntimeWarning, stacklevel=3)
            self._guarded(state, study, lambda: self._connect(state, study))
        return state

    def _state(self, study: Any) -> StudyRuns | None:
        key = self._key(study)
        return self._studies[key] if key in self._studies else self._open(study)

    def _guarded(self, state: StudyRuns, study: Any, action: Callable[[], None]) -> None:
        """Run ``action`` with MLflow's environment; the first failure is warned about and ends the logging."""
        if state.broken:
            return
        try:
            with mlflow_environment():
                action()
        except Exception as error:  # tracking is a side line: the search must go on
            state.broken = True
            warnings.warn(
                f"automl-mlflow: logging study {study.path} to {state.location.folder} failed ({_reason(error)}); "
                "the search goes on without MLflow tracking, and --resume logs the trials it missed",
                RuntimeWarning,
                stacklevel=4,
            )

    # -- what is logged ------------------------------------------------------------------------------

    def _connect(self, state: StudyRuns, study: Any) -> None:
        from mlflow.tracking import MlflowClient

        location = state.location
        # a database's folder is made like a file store's: SQLite would only fail with "unable to open database file"
        (location.folder.parent if location.database else location.folder).mkdir(parents=True, exist_ok=True)
        client = MlflowClient(tracking_uri=location.uri)
        meta = study.meta
        state.direction = meta.get("direction") or "maximize"
        state.experiment_id = study_experiment(client, study, meta, location.artifacts)
        state.runs = logged_runs(client, state.experiment_id)
        state.client = client

    def _log_missed(self, state: StudyRuns, study: Any) -> None:
        """Finished trials without a finished run: logged now (a store that failed, a driver killed)."""
        for trial in study.trials:
            logged = state.runs.get(trial.number)
            if trial.status.finished and (logged is None or not logged.finished):
                self._finish_run(state, study, trial)

    def _start_run(self, state: StudyRuns, trial: Any) -> None:
        if trial.number in state.runs:  # in flight when the last search died: its run goes on
            return
        run = state.client.create_run(
            state.experiment_id, start_time=_milliseconds(trial.started), tags=tags_of(trial), run_name=_name(trial)
        )
        log_batches(state.client, run.info.run_id, params=params_of(trial))
        state.runs[trial.number] = LoggedRun(run.info.run_id, finished=False)

    def _finish_run(self, state: StudyRuns, study: Any, trial: Any) -> None:
        logged = state.runs.get(trial.number)
        if logged is not None and logged.finished:
            return
        client = state.client
        if logged is None:
            run_id = client.create_run(
                state.experiment_id, start_time=_milliseconds(trial.started), tags=tags_of(trial), run_name=_name(trial)
            ).info.run_id
        else:
            run_id = logged.run_id
        score = None if trial.score is None else (-trial.score if state.direction == "minimize" else trial.score)
        # params again for a run started before: the same values are accepted, and a run whose params a
        # killed driver never wrote gets them
        log_batches(client, run_id, metrics_of(trial, score), params_of(trial), tags_of(trial))
        weights = Path(study.artifacts) / f"trial-{trial.number}.pt"  # the search keeps the best trial's only
        if weights.is_file():
            client.log_artifact(run_id, str(weights), artifact_path=WEIGHTS_FOLDER)
        client.set_terminated(run_id, run_status(trial), end_time=_milliseconds(trial.finished))
        state.runs[trial.number] = LoggedRun(run_id, finished=True)

    def _tag_best(self, state: StudyRuns, study: Any) -> None:
        best = study.best_trial
        if best is not None:
            state.client.set_experiment_tag(state.experiment_id, "automl.best_trial", str(best.number))


def _name(trial: Any) -> str:
    return f"trial-{trial.number}"
