"""Real searches logged as TensorBoard event files, read back with TensorBoard's EventAccumulator: each trial's
curve by epoch, the study's scores and best score by trial number; resume, failures and a folder that fails."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from automl_tensorboard import TensorboardTracking
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import automl
from automl.plugins import load_plugins
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


def with_logging(tracking: TensorboardTracking | None = None) -> Any:
    """The built-ins plus this plugin only (not whatever else the environment has installed)."""
    return load_plugins(entry_points=False, extra=[tracking or TensorboardTracking(environ={})])


def train(space_file: str, study: Path, trials: int, plugins: Any, **options: Any) -> automl.Study:
    options = {"strategy": "random", "epochs": 3, "seed": 0, **options}
    return automl.search(space_file, "digits-flat", trials=trials, study=study, plugins=plugins, **options)


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Tag -> (step, value) of every scalar the event files in ``folder`` hold, in the order written."""
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def status_text(folder: Path) -> str:
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    (event,) = accumulator.Tensors("status/text_summary")
    return event.tensor_proto.string_val[0].decode()


def best_so_far(values: list[float | None], minimize: bool = False) -> list[float]:
    best, series = None, []
    for value in values:
        if value is not None and (best is None or (value < best if minimize else value > best)):
            best = value
        series.append(best)
    return series


def test_each_trial_s_curve_and_the_study_s_best_score_so_far_are_in_the_event_files(space_file, tmp_path):
    study = train(space_file, tmp_path / "s.db", 4, with_logging())
    folder = tmp_path / "s.db.tensorboard"
    assert sorted(path.name for path in folder.iterdir() if path.is_dir()) == [
        "study", "trial-0", "trial-1", "trial-2", "trial-3",
    ]  # fmt: skip
    for trial in study.trials:
        logged = scalars(folder / f"trial-{trial.number}")
        assert [entry["epoch"] for entry in trial.curve] == [1, 2, 3]
        assert logged["score"] == [(e["epoch"], pytest.approx(e["score"])) for e in trial.curve]
        assert logged["validation_loss"] == [(e["epoch"], pytest.approx(e["validation_loss"])) for e in trial.curve]
        assert logged["train_loss"] == [(e["epoch"], pytest.approx(e["train_loss"])) for e in trial.curve]
        assert status_text(folder / f"trial-{trial.number}") == "complete"
    progress = scalars(folder / "study")
    scores = [trial.score for trial in study.trials]
    assert progress["trial_score"] == [(number, pytest.approx(score)) for number, score in enumerate(scores)]
    assert progress["best_score"] == [(number, pytest.approx(best)) for number, best in enumerate(best_so_far(scores))]
    assert progress["best_score"][-1][1] == pytest.approx(study.best_trial.score)


def refuses_width_8(candidate: Any) -> float:
    if candidate["width"] == 8:
        raise ValueError("width 8 is refused")
    return candidate["width"] / 32


def test_failed_trials_are_logged_with_their_status_and_no_score(space_file, tmp_path):
    study = automl.search(
        space_file,
        objective=refuses_width_8,
        direction="minimize",
        strategy="random",
        trials=6,
        seed=3,
        study=tmp_path / "s.db",
        plugins=with_logging(),
    )
    assert {trial.status for trial in study.trials} == {TrialStatus.COMPLETE, TrialStatus.FAILED}
    folder = tmp_path / "s.db.tensorboard"
    values = []
    for trial in study.trials:
        text = status_text(folder / f"trial-{trial.number}")
        if trial.status is TrialStatus.FAILED:
            assert text.startswith("failed: ") and "width 8 is refused" in text
            values.append(None)
        else:
            assert text == "complete"
            values.append(trial.candidate["width"] / 32)  # the objective's own sign
    progress = scalars(folder / "study")
    assert progress["trial_score"] == [(n, pytest.approx(v)) for n, v in enumerate(values) if v is not None]
    expected = [(n, pytest.approx(b)) for n, b in enumerate(best_so_far(values, minimize=True)) if b is not None]
    assert progress["best_score"] == expected  # the lowest value so far: the objective is minimised


def test_a_resumed_search_logs_its_new_trials_only_and_each_point_once(space_file, tmp_path):
    train(space_file, tmp_path / "s.db", 3, with_logging())
    study = train(space_file, tmp_path / "s.db", 5, with_logging(), resume=True)
    folder = tmp_path / "s.db.tensorboard"
    for trial in study.trials:
        assert [step for step, _ in scalars(folder / f"trial-{trial.number}")["score"]] == [1, 2, 3]
    progress = scalars(folder / "study")
    assert [step for step, _ in progress["trial_score"]] == [0, 1, 2, 3, 4]
    assert [step for step, _ in progress["best_score"]] == [0, 1, 2, 3, 4]


def test_trials_finished_while_logging_was_off_are_logged_when_the_search_resumes(space_file, tmp_path):
    options = {"objective": refuses_width_8, "strategy": "random", "seed": 1, "study": tmp_path / "s.db"}
    automl.search(
        space_file, trials=3, plugins=with_logging(TensorboardTracking({"AUTOML_TENSORBOARD": "off"})), **options
    )
    assert not (tmp_path / "s.db.tensorboard").exists()
    study = automl.search(space_file, trials=4, plugins=with_logging(), resume=True, **options)
    folder = tmp_path / "s.db.tensorboard"
    assert sorted(path.name for path in folder.glob("trial-*")) == ["trial-0", "trial-1", "trial-2", "trial-3"]
    scored = [trial.number for trial in study.trials if trial.score is not None]
    assert [step for step, _ in scalars(folder / "study")["trial_score"]] == scored


@pytest.mark.slow
def test_trials_on_two_dask_workers_are_logged_with_the_best_score_in_trial_order(space_file, tmp_path):
    study = train(space_file, tmp_path / "s.db", 4, with_logging(), workers=2, epochs=1)
    folder = tmp_path / "s.db.tensorboard"
    scores = [trial.score for trial in study.trials]
    progress = scalars(folder / "study")
    assert progress["best_score"] == [(number, pytest.approx(best)) for number, best in enumerate(best_so_far(scores))]
    for trial in study.trials:
        assert scalars(folder / f"trial-{trial.number}")["score"] == [(1, pytest.approx(trial.curve[0]["score"]))]


def test_a_folder_that_cannot_be_written_warns_once_and_the_search_goes_on(space_file, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    tracking = TensorboardTracking(environ={"AUTOML_TENSORBOARD_DIR": str(blocker / "logs")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = automl.search(
            space_file, objective=refuses_width_8, trials=4, study=tmp_path / "s.db", plugins=with_logging(tracking)
        )
    assert len(study.trials) == 4 and all(trial.status.finished for trial in study.trials)
    messages = [str(w.message) for w in caught if str(w.message).startswith("automl-tensorboard")]
    assert len(messages) == 1 and "the search goes on without TensorBoard logging" in messages[0]


def test_a_shared_folder_keeps_studies_apart_and_a_fresh_study_moves_the_old_logs_aside(space_file, tmp_path):
    shared = tmp_path / "logs"
    environ = {"AUTOML_TENSORBOARD_DIR": str(shared)}
    options = {"objective": refuses_width_8, "strategy": "random", "seed": 2}
    for name, trials in (("a", 2), ("b", 3)):
        (tmp_path / name).mkdir()
        study = tmp_path / name / "s.db"
        automl.search(
            space_file, trials=trials, study=study, plugins=with_logging(TensorboardTracking(environ)), **options
        )
    folders = sorted(path.name for path in shared.iterdir())
    assert folders[0] == "s" and len(folders) == 2 and folders[1].startswith("s-")  # b's: its name and a hash
    assert len(list((shared / "s").glob("trial-*"))) == 2 and len(list((shared / folders[1]).glob("trial-*"))) == 3
    automl.search(
        space_file,
        trials=1,
        study=tmp_path / "a" / "s.db",
        fresh=True,
        plugins=with_logging(TensorboardTracking(environ)),
        **options,
    )
    assert [path.name for path in (shared / "s").glob("trial-*")] == ["trial-0"]  # the new study's only
    (aside,) = shared.glob("s.bak-*")
    assert len(list(aside.glob("trial-*"))) == 2  # the replaced study's logs, kept
    (backup,) = [path for path in (tmp_path / "a").glob("s.db.bak-*") if not path.name.endswith(("-wal", "-shm"))]
    automl.search(
        space_file, trials=3, study=backup, resume=True, plugins=with_logging(TensorboardTracking(environ)), **options
    )
    assert len(list(aside.glob("trial-*"))) == 3  # the resumed backup found its logs by its identity
    assert len(list(shared.iterdir())) == 3  # and made no new folder


def test_a_fresh_study_s_predecessor_keeps_its_logs_beside_its_backup_and_resumes_there(space_file, tmp_path):
    options = {"objective": refuses_width_8, "strategy": "random", "seed": 2}
    study = tmp_path / "s.db"
    automl.search(space_file, trials=2, study=study, plugins=with_logging(), **options)
    automl.search(space_file, trials=1, study=study, fresh=True, plugins=with_logging(), **options)
    assert [path.name for path in (tmp_path / "s.db.tensorboard").glob("trial-*")] == ["trial-0"]
    (backup,) = [
        path for path in tmp_path.glob("s.db.bak-*") if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    ]
    moved = Path(str(backup) + ".tensorboard")
    assert sorted(path.name for path in moved.glob("trial-*")) == ["trial-0", "trial-1"]
    event_files = sorted(path.name for path in moved.glob("trial-*/events.*"))
    automl.search(space_file, trials=3, study=backup, resume=True, plugins=with_logging(), **options)
    assert not list(tmp_path.glob("*.tensorboard.bak-*"))  # the backup's own folder, found and kept
    assert sorted(path.name for path in moved.glob("trial-*")) == ["trial-0", "trial-1", "trial-2"]
    assert sorted(path.name for path in moved.glob("trial-[01]/events.*")) == event_files  # not logged again
    assert [step for step, _ in scalars(moved / "study")["best_score"]] == [0, 1, 2]  # each point once


def test_the_installed_plugin_logs_a_cli_search(space_file, tmp_path):
    assert load_plugins().manager.has_plugin("tensorboard")  # found through its entry point
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AUTOML_")}
    environment["PYTHONPATH"] = os.pathsep.join(sys.path)
    command = [sys.executable, "-m", "automl.cli.main", "search", space_file, "--data", "digits-flat"]
    command += ["--trials", "2", "--epochs", "2", "--study", str(tmp_path / "cli.db")]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr
    folder = tmp_path / "cli.db.tensorboard"
    assert [step for step, _ in scalars(folder / "trial-1")["score"]] == [1, 2]
    assert [step for step, _ in scalars(folder / "study")["best_score"]] == [0, 1]
