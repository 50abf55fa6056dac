"""Real searches logged to a real MLflow file store (and a SQLite one): one run per trial, with its decisions,
curve, score and status; parallel trials, resume, a replaced study, and a store that fails all keep that one run
per trial."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from automl_mlflow import MlflowTracking
from automl_mlflow.location import tracking_location
from automl_mlflow.records import PARAM_VALUE_LIMIT, truncated
from automl_mlflow.tracking import mlflow_environment
from mlflow.tracking import MlflowClient

import automl
from automl import space as s
from automl.plugins import hookimpl, load_plugins
from automl.strategies.base import TrialStatus

SPACE = '''
from automl import space as s


@s.search_space
def tiny(x):
    """6 small networks: a width and an activation."""
    x = s.op.linear(x, units=s.Choice([8, 16, 32], name="width"))
    x = s.op.activation(x, kind=s.Choice(["relu", "tanh"], name="activation"))
    return s.op.linear(x, units=s.OUTPUTS)
'''


@pytest.fixture
def space_file(tmp_path: Path) -> str:
    path = tmp_path / "tiny.py"
    path.write_text(SPACE)
    return str(path)


def with_tracking(tracking: MlflowTracking | None = None) -> Any:
    """The built-ins plus this tracking plugin only (not whatever else the environment has installed)."""
    return load_plugins(entry_points=False, extra=[tracking or MlflowTracking(environ={})])


def train(space_file: str, study: Path, trials: int, plugins: Any, **options: Any) -> automl.Study:
    options = {"strategy": "random", "epochs": 2, "seed": 0, **options}
    return automl.search(space_file, "digits-flat", trials=trials, study=study, plugins=plugins, **options)


class Store:
    """The MLflow file store in ``folder`` (or the store ``uri`` names), read back through MLflow's own client."""

    def __init__(self, folder: Path | None = None, uri: str | None = None) -> None:
        if uri is None:
            assert folder is not None and folder.is_dir(), f"no MLflow store at {folder}"
            uri = folder.as_uri()
        with mlflow_environment():
            self.client = MlflowClient(tracking_uri=uri)

    def experiment(self, name: str) -> Any:
        with mlflow_environment():
            return self.client.get_experiment_by_name(name)

    def runs(self, name: str) -> dict[int, Any]:
        """Trial number -> its run; a trial with two runs fails the test."""
        experiment = self.experiment(name)
        assert experiment is not None, f"no experiment {name!r}"
        with mlflow_environment():
            runs = self.client.search_runs([experiment.experiment_id], max_results=1000)
        by_trial: dict[int, Any] = {}
        for run in runs:
            number = int(run.data.tags["automl.trial"])
            assert number not in by_trial, f"trial {number} has two runs"
            by_trial[number] = run
        return by_trial

    def history(self, run: Any, key: str) -> list[tuple[int, float]]:
        with mlflow_environment():
            points = self.client.get_metric_history(run.info.run_id, key)
        return sorted((point.step, point.value) for point in points)

    def artifacts(self, run: Any) -> list[str]:
        with mlflow_environment():
            return sorted(item.path for item in self.client.list_artifacts(run.info.run_id, "weights"))

    def download(self, run: Any, path: str, into: Path) -> Path:
        with mlflow_environment():
            return Path(self.client.download_artifacts(run.info.run_id, path, str(into)))


def tracking_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(warning.message) for warning in caught if str(warning.message).startswith("automl-mlflow")]


def test_each_trial_is_one_run_with_its_decisions_curve_score_costs_and_weights(space_file, tmp_path):
    study = train(space_file, tmp_path / "s.db", 4, with_tracking())
    store = Store(tmp_path / "s.db.mlruns")
    runs = store.runs("s")
    assert sorted(runs) == [0, 1, 2, 3]
    best_so_far = None
    for trial in study.trials:
        run = runs[trial.number]
        assert run.info.run_name == f"trial-{trial.number}"
        assert run.data.params == {path: str(value) for path, value in trial.candidate.to_dict().items()}
        assert set(run.data.params) == {"width", "activation"}
        assert run.info.status == "FINISHED" and run.data.tags["automl.status"] == "complete"
        assert run.data.tags["automl.seed"] == str(trial.seed) and run.data.tags["automl.budget"] == "full"
        curve = trial.curve
        assert [entry["epoch"] for entry in curve] == [1, 2]
        assert store.history(run, "curve/score") == [(e["epoch"], pytest.approx(e["score"])) for e in curve]
        assert store.history(run, "curve/validation_loss") == [
            (e["epoch"], pytest.approx(e["validation_loss"])) for e in curve
        ]
        assert run.data.metrics["score"] == pytest.approx(trial.score)
        assert run.data.metrics["costs/params"] == trial.metrics["costs"]["params"] == run.data.metrics["parameters"]
        # weights: the search keeps the file of the best trial so far, so each new best's weights are logged
        new_best = best_so_far is None or trial.score > best_so_far
        assert store.artifacts(run) == ([f"weights/trial-{trial.number}.pt"] if new_best else [])
        best_so_far = trial.score if new_best else best_so_far
    best = study.best_trial
    saved = store.download(runs[best.number], f"weights/trial-{best.number}.pt", tmp_path / "downloaded")
    assert saved.read_bytes() == (study.artifacts / f"trial-{best.number}.pt").read_bytes()
    experiment = store.experiment("s")
    assert experiment.tags["automl.study"] == str((tmp_path / "s.db").resolve())
    assert experiment.tags["automl.best_trial"] == str(best.number)


def refuses_width_8(candidate: Any) -> float:
    if candidate["width"] == 8:
        raise ValueError("width 8 is refused")
    return candidate["width"] / 32


def test_failed_trials_are_runs_with_status_failed_and_their_error(space_file, tmp_path):
    study = automl.search(
        space_file,
        objective=refuses_width_8,
        direction="minimize",
        strategy="random",
        trials=6,
        seed=3,
        study=tmp_path / "s.db",
        plugins=with_tracking(),
    )
    statuses = {trial.status for trial in study.trials}
    assert statuses == {TrialStatus.COMPLETE, TrialStatus.FAILED}, "the test needs both kinds of trial"
    runs = Store(tmp_path / "s.db.mlruns").runs("s")
    assert sorted(runs) == [trial.number for trial in study.trials]
    for trial in study.trials:
        run = runs[trial.number]
        if trial.status is TrialStatus.FAILED:
            assert run.info.status == "FAILED" and run.data.tags["automl.status"] == "failed"
            assert "width 8 is refused" in run.data.tags["automl.error"]
            assert "score" not in run.data.metrics
        else:
            assert run.info.status == "FINISHED"
            assert run.data.metrics["score"] == pytest.approx(trial.candidate["width"] / 32)  # the objective's sign


def test_a_decision_longer_than_mlflow_accepts_is_logged_truncated(tmp_path):
    @s.search_space
    def wordy(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([1, 2], name="width"))
        return s.op.activation(x, kind=s.Choice(["a" * 7000, "b" * 7000], name="text"))  # only scored, never built

    study = automl.search(
        wordy,
        objective=lambda candidate: candidate["width"],
        trials=2,
        study=tmp_path / "s.db",
        plugins=with_tracking(),
    )
    runs = Store(tmp_path / "s.db.mlruns").runs("s")
    for trial in study.trials:
        value = runs[trial.number].data.params["text"]
        assert len(value) == PARAM_VALUE_LIMIT and value == truncated(trial.candidate["text"], PARAM_VALUE_LIMIT)
        assert value.endswith("...[7000 characters]")


def test_a_candidate_with_more_decisions_than_one_mlflow_batch_takes_has_them_all(tmp_path):
    @s.search_space
    def wide(x: Any) -> Any:
        for index in range(150):  # MLflow takes at most 100 params a call
            x = s.op.linear(x, units=s.Choice([1, 2], name=f"width{index}"))
        return x

    study = automl.search(
        wide, objective=lambda candidate: 1.0, trials=1, study=tmp_path / "s.db", plugins=with_tracking()
    )
    (trial,) = study.trials
    (run,) = Store(tmp_path / "s.db.mlruns").runs("s").values()
    assert run.data.params == {path: str(value) for path, value in trial.candidate.to_dict().items()}
    assert len(run.data.params) == 150


def test_a_resumed_search_adds_runs_for_its_new_trials_only(space_file, tmp_path):
    train(space_file, tmp_path / "s.db", 3, with_tracking())
    store = Store(tmp_path / "s.db.mlruns")
    first = {number: run.info.run_id for number, run in store.runs("s").items()}
    study = train(space_file, tmp_path / "s.db", 5, with_tracking(), resume=True)
    runs = store.runs("s")
    assert sorted(runs) == [0, 1, 2, 3, 4] == [trial.number for trial in study.trials]
    assert {number: runs[number].info.run_id for number in first} == first
    for run in runs.values():
        assert len(store.history(run, "curve/score")) == 2  # two epochs, each logged once


def test_trials_finished_while_tracking_was_off_are_logged_when_the_search_resumes(space_file, tmp_path):
    study_path = tmp_path / "s.db"
    options = {"objective": refuses_width_8, "strategy": "random", "seed": 1, "study": study_path}
    automl.search(space_file, trials=3, plugins=load_plugins(entry_points=False), **options)
    assert not (tmp_path / "s.db.mlruns").exists()
    automl.search(space_file, trials=4, plugins=with_tracking(), resume=True, **options)
    automl.search(space_file, trials=5, plugins=with_tracking(), resume=True, **options)
    runs = Store(tmp_path / "s.db.mlruns").runs("s")
    assert sorted(runs) == [0, 1, 2, 3, 4]
    assert all(run.info.status in ("FINISHED", "FAILED") for run in runs.values())


def store_at(kind: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    """The plugin's environment for a store of ``kind`` (a file store or a SQLite one) in ``tmp_path``, and the
    URI that reads it back."""
    uri = (tmp_path / "store").as_uri() if kind == "file" else f"sqlite:///{tmp_path / 'store.db'}"
    return {"AUTOML_MLFLOW_TRACKING_URI": uri}, uri


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_a_trial_in_flight_when_the_driver_died_keeps_its_one_run(space_file, tmp_path, kind):
    """The run a trial got when it started is the one its re-run finishes, not a second one."""
    environ, uri = store_at(kind, tmp_path)
    study = automl.search(
        space_file,
        objective=refuses_width_8,
        trials=2,
        seed=1,
        study=tmp_path / "s.db",
        plugins=with_tracking(MlflowTracking(environ)),
    )
    last = study.trials[-1]
    running = dataclasses.replace(last, number=2, status=TrialStatus.RUNNING, score=None, finished=None)
    dying = MlflowTracking(environ)
    dying.automl_search_started(study=study)
    dying.automl_trial_started(study=study, trial=running)  # ... and the driver is killed here
    store = Store(uri=uri)
    started = store.runs("s")[2]
    assert started.info.status == "RUNNING" and started.data.params["width"] == str(last.candidate["width"])
    resumed = MlflowTracking(environ)  # a new process
    resumed.automl_search_started(study=study)
    resumed.automl_trial_started(study=study, trial=running)
    finished = dataclasses.replace(last, number=2, finished=last.finished + 1)
    resumed.automl_trial_finished(study=study, trial=finished)
    run = store.runs("s")[2]
    assert run.info.run_id == started.info.run_id and run.info.status == "FINISHED"


class DriverPids(MlflowTracking):
    """The tracking plugin, noting the process each hook runs in."""

    def __init__(self) -> None:
        super().__init__(environ={})
        self.pids: set[int] = set()

    @hookimpl
    def automl_trial_finished(self, study: Any, trial: Any) -> None:
        self.pids.add(os.getpid())
        super().automl_trial_finished(study, trial)


@pytest.mark.slow
def test_trials_on_two_dask_workers_are_tracked_by_the_driver_one_run_each(space_file, tmp_path):
    tracking = DriverPids()
    study = train(space_file, tmp_path / "s.db", 4, with_tracking(tracking), workers=2, epochs=1)
    assert tracking.pids == {os.getpid()}  # the hooks fire in the driver, not on the workers
    runs = Store(tmp_path / "s.db.mlruns").runs("s")
    assert sorted(runs) == [0, 1, 2, 3] == [trial.number for trial in study.trials]
    for trial in study.trials:
        assert runs[trial.number].info.status == "FINISHED"
        assert runs[trial.number].data.metrics["score"] == pytest.approx(trial.score)
        assert len(Store(tmp_path / "s.db.mlruns").history(runs[trial.number], "curve/score")) == 1


@pytest.mark.parametrize("uri_of", [str, lambda path: f"sqlite:///{path}.db"], ids=["file", "sqlite"])
def test_a_store_that_cannot_be_written_warns_once_and_the_search_goes_on(space_file, tmp_path, uri_of):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    tracking = MlflowTracking(environ={"AUTOML_MLFLOW_TRACKING_URI": uri_of(blocker / "mlruns")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = automl.search(
            space_file, objective=refuses_width_8, trials=4, study=tmp_path / "s.db", plugins=with_tracking(tracking)
        )
    assert len(study.trials) == 4 and all(trial.status.finished for trial in study.trials)
    (message,) = tracking_warnings(caught)
    assert str(blocker / "mlruns") in message and "the search goes on without MLflow tracking" in message


def test_a_store_that_fails_mid_search_warns_once_and_resume_logs_what_it_missed(space_file, tmp_path, monkeypatch):
    calls = []
    set_terminated = MlflowClient.set_terminated

    def fails_after_the_first(self: Any, *arguments: Any, **keywords: Any) -> None:
        calls.append(arguments)
        if len(calls) > 1:
            raise OSError("No space left on device")
        set_terminated(self, *arguments, **keywords)

    monkeypatch.setattr(MlflowClient, "set_terminated", fails_after_the_first)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = train(space_file, tmp_path / "s.db", 4, with_tracking(), epochs=1)
    assert [trial.status for trial in study.trials] == [TrialStatus.COMPLETE] * 4
    (message,) = tracking_warnings(caught)
    assert "OSError: No space left on device" in message
    assert len(calls) == 2  # after the failure nothing more was tried in that search
    monkeypatch.undo()
    train(space_file, tmp_path / "s.db", 5, with_tracking(), epochs=1, resume=True)
    runs = Store(tmp_path / "s.db.mlruns").runs("s")
    assert sorted(runs) == [0, 1, 2, 3, 4]
    assert all(run.info.status == "FINISHED" for run in runs.values())


def test_a_server_uri_is_refused_and_the_study_folder_used(space_file, tmp_path):
    tracking = MlflowTracking(environ={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    with pytest.warns(RuntimeWarning, match="never logs over the network"):
        automl.search(
            space_file, objective=refuses_width_8, trials=2, study=tmp_path / "s.db", plugins=with_tracking(tracking)
        )
    assert sorted(Store(tmp_path / "s.db.mlruns").runs("s")) == [0, 1]


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_a_shared_store_keeps_studies_apart_and_a_fresh_study_gets_its_own_experiment(space_file, tmp_path, kind):
    environ, uri = store_at(kind, tmp_path)
    options = {"objective": refuses_width_8, "strategy": "random", "seed": 2}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    automl.search(
        space_file, trials=2, study=tmp_path / "a" / "s.db", plugins=with_tracking(MlflowTracking(environ)), **options
    )
    automl.search(
        space_file, trials=3, study=tmp_path / "b" / "s.db", plugins=with_tracking(MlflowTracking(environ)), **options
    )
    store = Store(uri=uri)
    assert sorted(store.runs("s")) == [0, 1]
    assert sorted(store.runs(str((tmp_path / "b" / "s.db").resolve()))) == [0, 1, 2]
    assert not (tmp_path / "a" / "s.db.mlruns").exists()
    automl.search(
        space_file,
        trials=1,
        study=tmp_path / "a" / "s.db",
        fresh=True,
        plugins=with_tracking(MlflowTracking(environ)),
        **options,
    )
    assert sorted(store.runs("s")) == [0]  # the new study's
    (aside,) = [e for e in store.client.search_experiments() if e.name.startswith("s.bak-")]
    assert sorted(store.runs(aside.name)) == [0, 1]  # the replaced study's, kept under the name --fresh gives
    (backup,) = [path for path in (tmp_path / "a").glob("s.db.bak-*") if not path.name.endswith(("-wal", "-shm"))]
    automl.search(
        space_file, trials=3, study=backup, resume=True, plugins=with_tracking(MlflowTracking(environ)), **options
    )
    assert sorted(store.runs(aside.name)) == [0, 1, 2]  # the moved study found its experiment by its identity
    names = {experiment.name for experiment in store.client.search_experiments()} - {"Default"}  # SQLite makes one
    assert names == {"s", str((tmp_path / "b" / "s.db").resolve()), aside.name}  # no new experiment


def test_tracking_off_writes_nothing(space_file, tmp_path):
    tracking = MlflowTracking(environ={"AUTOML_MLFLOW": "off"})
    automl.search(
        space_file, objective=refuses_width_8, trials=2, study=tmp_path / "s.db", plugins=with_tracking(tracking)
    )
    assert not (tmp_path / "s.db.mlruns").exists()


def test_the_installed_plugin_tracks_a_cli_search(space_file, tmp_path):
    assert load_plugins().manager.has_plugin("mlflow")  # found through its entry point
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AUTOML_", "MLFLOW_"))}
    environment["PYTHONPATH"] = os.pathsep.join(sys.path)
    command = [sys.executable, "-m", "automl.cli.main", "search", space_file, "--data", "digits-flat"]
    command += ["--trials", "2", "--epochs", "1", "--study", str(tmp_path / "cli.db")]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr
    runs = Store(tmp_path / "cli.db.mlruns").runs("cli")
    assert sorted(runs) == [0, 1] and all(run.info.status == "FINISHED" for run in runs.values())


def test_a_user_objectives_own_metrics_are_logged_numpy_numbers_included():
    from types import SimpleNamespace

    import numpy as np
    from automl_mlflow.records import metrics_of

    trial = SimpleNamespace(
        finished=10.0,
        started=9.0,
        metrics={"value": 0.9, "latency_ms": np.float32(2.5), "objectives": [0.9, 2.5], "note": "text"},
    )
    logged = {point.key: point.value for point in metrics_of(trial, 0.9)}
    assert logged["score"] == 0.9 and logged["latency_ms"] == 2.5
    assert "objectives" not in logged and "note" not in logged


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_an_experiment_deleted_in_the_ui_is_restored_when_its_study_resumes(space_file, tmp_path, kind):
    environ, uri = store_at(kind, tmp_path)
    train(space_file, tmp_path / "s.db", 2, with_tracking(MlflowTracking(environ)))
    store = Store(uri=uri)
    with mlflow_environment():
        store.client.delete_experiment(store.experiment("s").experiment_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(space_file, tmp_path / "s.db", 3, with_tracking(MlflowTracking(environ)), resume=True)
    assert tracking_warnings(caught) == []
    assert store.experiment("s").lifecycle_stage == "active"
    assert sorted(store.runs("s")) == [0, 1, 2]


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def test_a_search_logged_to_a_sqlite_store_keeps_its_runs_and_weights_beside_the_database(
    space_file, tmp_path, monkeypatch
):
    """MLflow's recommended local store: runs in the database, weights in ``<db>.artifacts/``, nothing written in
    the current directory (MLflow's default would be ``./mlruns``), the missing folder of the database made."""
    working = tmp_path / "working"
    working.mkdir()
    monkeypatch.chdir(working)
    uri = "sqlite:///tracking/mlflow.db"  # relative: from the current directory, as MLflow reads it
    tracking = MlflowTracking(environ={"AUTOML_MLFLOW_TRACKING_URI": uri})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = train(space_file, tmp_path / "s.db", 3, with_tracking(tracking))
    assert tracking_warnings(caught) == []
    database = working / "tracking" / "mlflow.db"
    assert database.is_file() and not (tmp_path / "s.db.mlruns").exists()
    store = Store(uri=f"sqlite:///{database}")
    runs = store.runs("s")
    assert sorted(runs) == [0, 1, 2]
    for trial in study.trials:
        run = runs[trial.number]
        assert run.info.status == "FINISHED" and run.info.run_name == f"trial-{trial.number}"
        assert run.data.params == {path: str(value) for path, value in trial.candidate.to_dict().items()}
        assert run.data.metrics["score"] == pytest.approx(trial.score)
        assert store.history(run, "curve/score") == [(e["epoch"], pytest.approx(e["score"])) for e in trial.curve]
    best = study.best_trial
    artifacts = working / "tracking" / "mlflow.db.artifacts"
    assert store.experiment("s").artifact_location == artifacts.as_uri()
    (logged,) = artifacts.rglob(f"trial-{best.number}.pt")
    assert logged.read_bytes() == (study.artifacts / f"trial-{best.number}.pt").read_bytes()
    assert store.artifacts(runs[best.number]) == [f"weights/trial-{best.number}.pt"]
    assert {path.split("/")[0] for path in files_under(working)} == {"tracking"}  # no ./mlruns, nothing else
    assert {path.split("/")[0] for path in files_under(working / "tracking")} <= {
        "mlflow.db",
        "mlflow.db.artifacts",
        "mlflow.db-journal",
    }
    first = {number: run.info.run_id for number, run in runs.items()}
    train(
        space_file,
        tmp_path / "s.db",
        5,
        with_tracking(MlflowTracking(environ={"MLFLOW_TRACKING_URI": uri})),
        resume=True,
    )
    runs = store.runs("s")
    assert sorted(runs) == [0, 1, 2, 3, 4]
    assert {number: runs[number].info.run_id for number in first} == first  # resume added the new trials only
    assert {path.split("/")[0] for path in files_under(working)} == {"tracking"}


def test_an_absolute_sqlite_uri_is_a_database_at_that_path(space_file, tmp_path):
    database = tmp_path / "elsewhere" / "runs.db"
    tracking = MlflowTracking(environ={"MLFLOW_TRACKING_URI": f"sqlite:///{database}"})  # sqlite:////abs/...
    study = automl.search(
        space_file,
        objective=refuses_width_8,
        trials=3,
        seed=1,
        study=tmp_path / "s.db",
        plugins=with_tracking(tracking),
    )
    runs = Store(uri=f"sqlite:///{database}").runs("s")
    assert sorted(runs) == [trial.number for trial in study.trials]
    assert not (tmp_path / "s.db.mlruns").exists()


@pytest.mark.parametrize(
    "uri",
    ["postgresql://user@127.0.0.1:9/mlflow", "mysql://127.0.0.1:9/mlflow", "https://127.0.0.1:9", "databricks"],
)
def test_a_server_or_database_server_uri_is_refused_with_a_notice_naming_what_is_accepted(tmp_path, uri):
    location = tracking_location(tmp_path / "s.db", {"AUTOML_MLFLOW_TRACKING_URI": uri})
    assert location.folder == (tmp_path / "s.db.mlruns").resolve() and not location.database
    assert location.notice is not None and "\n" not in location.notice
    assert location.notice.startswith(f"AUTOML_MLFLOW_TRACKING_URI={uri} is not a local store")
    assert "accepted: a folder, a file: URI or a sqlite:/// database file" in location.notice


@pytest.mark.parametrize("uri", ["sqlite:///:memory:", "sqlite://"])
def test_an_in_memory_sqlite_database_is_refused_since_nothing_would_persist(space_file, tmp_path, uri):
    tracking = MlflowTracking(environ={"MLFLOW_TRACKING_URI": uri})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        automl.search(
            space_file, objective=refuses_width_8, trials=2, study=tmp_path / "s.db", plugins=with_tracking(tracking)
        )
    (message,) = tracking_warnings(caught)
    assert "names no SQLite database file that would persist" in message and "\n" not in message
    assert sorted(Store(tmp_path / "s.db.mlruns").runs("s")) == [0, 1]


def test_a_sqlite_uri_naming_the_study_file_itself_is_refused(tmp_path):
    study = tmp_path / "s.db"
    location = tracking_location(study, {"MLFLOW_TRACKING_URI": f"sqlite:///{study}"})
    assert location.folder == (tmp_path / "s.db.mlruns").resolve() and not location.database
    assert location.notice is not None and "is the study file itself" in location.notice
