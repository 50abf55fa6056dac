"""The read side of a study: trials, the best one, and what the search recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.engine.storage import COMPLETE, FAILED, RUNNING, StudyError, StudyStorage, Trial

TRIAL_COLUMNS = (
    "number", "status", "score", "budget", "continues", "seed", "attempts", "started", "finished", "seconds", "error",
)  # fmt: skip


def incumbent_order(trial: Trial) -> tuple[float, float, int]:
    """Sort key of the incumbent: the highest budget first (None is the full budget), then score, then the earliest."""
    budget = float("inf") if trial.budget is None else trial.budget
    return (budget, trial.score if trial.score is not None else float("-inf"), -trial.number)


class Study:
    """A study database opened for reading (and, by the search driver, writing)."""

    def __init__(self, storage: StudyStorage) -> None:
        self.storage = storage

    @classmethod
    def open(cls, path: str | Path) -> Study:
        return cls(StudyStorage(path))

    @property
    def path(self) -> Path:
        return self.storage.path

    @property
    def meta(self) -> dict[str, Any]:
        return self.storage.meta()

    @property
    def config(self) -> Any:
        """The study's :class:`~automl.engine.config.SearchConfig`, as the search stored it."""
        from automl.engine.config import SearchConfig

        stored = self.meta.get("config")
        if stored is None:
            raise StudyError(f"study {self.path} has no stored search configuration (made by an older automl)")
        return SearchConfig.from_dict(stored)

    @property
    def trials(self) -> list[Trial]:
        return self.storage.trials()

    def completed(self) -> list[Trial]:
        return self.storage.trials(COMPLETE)

    def failed(self) -> list[Trial]:
        return self.storage.trials(FAILED)

    def running(self) -> list[Trial]:
        return self.storage.trials(RUNNING)

    @property
    def best_trial(self) -> Trial | None:
        """The best complete trial at the highest budget reached (see ``StudyStorage.best``)."""
        completed = self.completed()
        if not completed:
            return None
        return max(completed, key=incumbent_order)

    def objective_value(self, trial: Trial) -> float | None:
        """The score as the user sees it (the objective's own sign)."""
        if trial.score is None:
            return None
        return -trial.score if self.meta.get("direction") == "minimize" else trial.score

    @property
    def test_score(self) -> float | None:
        return self.meta.get("test_score")

    def trial_record(self, trial: Trial) -> dict[str, Any]:
        """Everything the study stores about one trial, as JSON-ready values (``automl show --format json``)."""
        return {
            "number": trial.number,
            "status": trial.status.value,
            "score": self.objective_value(trial),
            "budget": trial.budget,
            "continues": trial.continues,
            "seed": trial.seed,
            "attempts": trial.attempts,
            "started": trial.started,
            "finished": trial.finished,
            "seconds": trial.seconds,
            "error": trial.error,
            "decisions": trial.candidate.to_dict(),
            "metrics": trial.metrics,
            "proposal": trial.proposal_data,
        }

    def to_dataframe(self) -> Any:
        """A pandas DataFrame with one row per trial, for analysis in a notebook.

        Columns: the trial's fields of :meth:`trial_record` (``score`` with the
        objective's own sign, ``seconds`` from start to finish), ``metric.NAME``
        for each scalar metric (``metric.epochs``, ``metric.seconds``: training
        time...) and ``decision.PATH`` for each decision (missing where a trial's
        candidate did not reach that decision). The learning curve stays in
        :attr:`Trial.curve`.
        """
        import pandas as pd

        rows = []
        for trial in self.trials:
            record = self.trial_record(trial)
            decisions, metrics = record.pop("decisions"), record.pop("metrics")
            record.pop("proposal")
            for name, value in metrics.items():
                if value is None or isinstance(value, bool | int | float | str):
                    record[f"metric.{name}"] = value
            for path, value in decisions.items():
                record[f"decision.{path}"] = value
            rows.append(record)
        return pd.DataFrame(rows, columns=None if rows else list(TRIAL_COLUMNS))

    @property
    def artifacts(self) -> Path:
        return self.path.with_name(self.path.name + ".artifacts")

    def close(self) -> None:
        self.storage.close()

    def __repr__(self) -> str:
        return f"<Study {self.path} trials={len(self.trials)}>"
