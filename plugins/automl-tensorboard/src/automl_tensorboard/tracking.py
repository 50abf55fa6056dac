"""The TensorBoard plugin: each trial's learning curve, and the study's progress, as event files.

Layout of a study's log folder (one TensorBoard "run" per sub-folder):

* ``trial-<n>/``: the trial's curve by epoch, tags ``score``, ``validation_loss``,
  ``train_loss`` (and ``seconds``), plus its status as text (``complete``, ``failed: why``).
  One tag across all trials, so TensorBoard draws every trial's curve in one chart and the run
  selector picks trials;
* ``study/``: ``trial_score`` (each scored trial's score, step = trial number) and
  ``best_score`` (the best score of trials 0..n, step = n). The best-so-far point of trial n is
  written once trials 0..n have all finished, so it is the same with parallel workers, whose
  trials finish out of order, as in a serial run.

Scores have the objective's own sign (a minimised objective's best is its lowest value).

The hooks fire in the search driver's process (trials on Dask workers included), which is the
only writer. Resume: a trial whose folder holds an event file is logged already and skipped; the
study's steps written before are read back and not written again; trials that finished without
being logged (a failed write, a killed driver) are logged when the search resumes. A logging
failure warns once and the search goes on without TensorBoard logging.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.plugins import hookimpl
from automl_tensorboard.location import log_folder

STUDY_RUN = "study"
TRIAL_SCORE = "trial_score"
BEST_SCORE = "best_score"
STATUS = "status"
CURVE_SKIPPED = frozenset({"epoch", "time"})


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def trial_folder(folder: Path, number: int) -> Path:
    return folder / f"trial-{number}"


def has_events(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("events.out.tfevents.*"))


def written_steps(folder: Path) -> dict[str, set[int]]:
    """Tag -> the steps the event files in ``folder`` hold (every one: no sampling)."""
    if not has_events(folder):
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: {event.step for event in accumulator.Scalars(tag)} for tag in accumulator.Tags()["scalars"]}


@dataclass
class StudyLog:
    """What the plugin knows about one study's log folder during a search."""

    folder: Path | None = None
    minimize: bool = False
    writer: Any = None  # the SummaryWriter of the study run, open while the search runs
    written: dict[str, set[int]] = field(default_factory=dict)  # study tag -> steps already in the files
    scores: dict[int, float | None] = field(default_factory=dict)  # finished trial -> its score (None: none)
    next_best: int = 0  # the first trial whose best-so-far point is not written yet
    best: float | None = None  # the best score of trials 0..next_best - 1 (the engine's sign: higher is better)
    broken: bool = False


class TensorboardTracking:
    """The plugin object: registered once (``automl_tensorboard.plugin:tracking``), one ``StudyLog`` per study
    being searched. ``environ`` replaces ``os.environ`` for the plugin's own settings (tests)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._studies: dict[Path, StudyLog | None] = {}  # None: logging is off for that study

    # -- the hooks -----------------------------------------------------------------------------------

    @hookimpl
    def automl_search_started(self, study: Any) -> None:
        log = self._open(study)
        if log is not None:
            self._guarded(log, study, lambda: self._log_missed(log, study))

    @hookimpl
    def automl_trial_finished(self, study: Any, trial: Any) -> None:
        key = self._key(study)
        log = self._studies[key] if key in self._studies else self._open(study)
        if log is not None:
            self._guarded(log, study, lambda: self._log_trial(log, trial))

    @hookimpl
    def automl_search_finished(self, study: Any) -> None:
        log = self._studies.pop(self._key(study), None)
        if log is not None:
            self._guarded(log, study, lambda: self._close(log))

    # -- per-study state -----------------------------------------------------------------------------

    @staticmethod
    def _key(study: Any) -> Path:
        return Path(study.path).resolve()

    def _open(self, study: Any) -> StudyLog | None:
        """Claim the study's log folder and read back what is logged (again at each search start)."""
        previous = self._studies.pop(self._key(study), None)
        if previous is not None and previous.writer is not None:
            previous.writer.close()  # a search of this study that ended without search_finished
        log = StudyLog()
        self._guarded(log, study, lambda: self._connect(log, study))
        if not log.broken and log.folder is None:
            self._studies[self._key(study)] = None
            return None
        self._studies[self._key(study)] = log
        return log

    def _guarded(self, log: StudyLog, study: Any, action: Callable[[], None]) -> None:
        """Run ``action``; the first failure is warned about and ends the logging of this search."""
        if log.broken:
            return
        try:
            action()
        except Exception as error:  # logging is a side line: the search must go on
            log.broken = True
            where = f" to {log.folder}" if log.folder is not None else ""
            warnings.warn(
                f"automl-tensorboard: logging study {study.path}{where} failed ({_reason(error)}); "
                "the search goes on without TensorBoard logging, and --resume logs the trials it missed",
                RuntimeWarning,
                stacklevel=4,
            )

    # -- what is logged ------------------------------------------------------------------------------

    def _connect(self, log: StudyLog, study: Any) -> None:
        meta = study.meta
        environ = os.environ if self._environ is None else self._environ
        folder = log_folder(Path(study.path), meta.get("created"), environ)
        if folder is None:
            return
        from torch.utils.tensorboard import SummaryWriter

        log.minimize = meta.get("direction") == "minimize"
        log.written = written_steps(folder / STUDY_RUN)
        log.writer = SummaryWriter(str(folder / STUDY_RUN))
        log.folder = folder

    def _log_missed(self, log: StudyLog, study: Any) -> None:
        """Every finished trial: its curve when it is not logged yet, its score for the study's series."""
        for trial in study.trials:
            if trial.status.finished:
                self._log_trial(log, trial, flush=False)
        log.writer.flush()

    def _objective(self, log: StudyLog, score: float) -> float:
        return -score if log.minimize else score

    def _log_trial(self, log: StudyLog, trial: Any, flush: bool = True) -> None:
        from torch.utils.tensorboard import SummaryWriter

        assert log.folder is not None
        folder = trial_folder(log.folder, trial.number)
        if not has_events(folder):
            with SummaryWriter(str(folder)) as writer:
                for index, entry in enumerate(trial.metrics.get("curve") or []):
                    step = int(entry.get("epoch", index + 1))
                    walltime = _number(entry.get("time"))
                    for name, value in entry.items():
                        number = _number(value)
                        if name not in CURVE_SKIPPED and number is not None:
                            writer.add_scalar(name, number, step, walltime=walltime)
                status = getattr(trial.status, "value", str(trial.status))
                writer.add_text(STATUS, f"{status}: {trial.error}" if trial.error else status, 0)
        score = _number(trial.score)
        log.scores[trial.number] = score
        if score is not None:
            self._add(log, TRIAL_SCORE, self._objective(log, score), trial.number, trial.finished)
        while log.next_best in log.scores:  # trials 0..next_best have all finished
            number = log.next_best
            candidate = log.scores[number]
            if candidate is not None and (log.best is None or candidate > log.best):
                log.best = candidate
            if log.best is not None:
                self._add(log, BEST_SCORE, self._objective(log, log.best), number, trial.finished)
            log.next_best += 1
        if flush:
            log.writer.flush()  # TensorBoard shows it now, and a killed driver loses nothing written

    def _add(self, log: StudyLog, tag: str, value: float, step: int, walltime: float | None) -> None:
        steps = log.written.setdefault(tag, set())
        if step not in steps:
            log.writer.add_scalar(tag, value, step, walltime=walltime)
            steps.add(step)

    def _close(self, log: StudyLog) -> None:
        if log.writer is not None:
            log.writer.close()
            log.writer = None
