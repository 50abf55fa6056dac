"""Study storage in SQLite: one database per study, one commit per step.

WAL mode lets ``automl show`` read while a search writes. Every ask (a trial
row marked running, plus the strategy's state) and every tell (the result,
plus the state) is one transaction, so a driver killed at any moment leaves a
study that resumes with nothing lost and nothing run twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.space import Candidate

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    number INTEGER PRIMARY KEY,
    candidate TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    seed INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    started REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    trial INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS strategy_state (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
"""

RUNNING, COMPLETE, FAILED = "running", "complete", "failed"


class StudyError(ValueError):
    """A study file is missing, not a study, or from another search."""


@dataclass
class Trial:
    """One evaluated (or running) candidate of a study."""

    number: int
    candidate: Candidate
    status: str
    score: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seed: int = 0
    attempts: int = 1
    started: float = 0.0
    finished: float | None = None

    @property
    def finished_ok(self) -> bool:
        return self.status == COMPLETE

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


def _trial(row: sqlite3.Row) -> Trial:
    return Trial(
        number=row["number"],
        candidate=Candidate.from_json(row["candidate"]),
        status=row["status"],
        score=row["score"],
        metrics=json.loads(row["metrics"]),
        error=row["error"],
        seed=row["seed"],
        attempts=row["attempts"],
        started=row["started"],
        finished=row["finished"],
    )


def _create_study_file(path: Path) -> None:
    """Write an empty study under a temporary name, then rename it into place.

    A reader (``automl show``, a test polling the file) never sees a study file
    without its tables.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.creating")
    connection = sqlite3.connect(temporary, isolation_level=None)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", json.dumps(SCHEMA_VERSION)), ("created", json.dumps(time.time()))],
        )
    finally:
        connection.close()
    os.replace(temporary, path)


class StudyStorage:
    """The SQLite file of a study. The search driver is its only writer."""

    def __init__(self, path: str | Path, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StudyError(f"study {self.path} does not exist; run `automl search ... --study {self.path}` first")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                _create_study_file(self.path)
        try:
            self.connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.connection.row_factory = sqlite3.Row
            existing = {
                row[0] for row in self.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError:
            raise StudyError(f"{self.path} is not a study database (not SQLite); pick another --study path") from None
        if existing and not {"meta", "trials"} <= existing:
            raise StudyError(f"{self.path} is an SQLite file but not an automl study; pick another --study path")
        if not existing and not create:
            raise StudyError(f"{self.path} is not an automl study (it has no tables)")
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            if not existing:
                self.connection.executescript(_SCHEMA)
                self.set_meta({"schema_version": SCHEMA_VERSION, "created": time.time()})
        except sqlite3.DatabaseError as error:
            raise StudyError(f"{self.path} cannot be used as a study: {error}") from None

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    # ---------------------------------------------------------------- meta
    def set_meta(self, values: Mapping[str, Any]) -> None:
        with self.transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(key, json.dumps(value)) for key, value in values.items()],
            )

    def meta(self) -> dict[str, Any]:
        return {row["key"]: json.loads(row["value"]) for row in self.connection.execute("SELECT key, value FROM meta")}

    # -------------------------------------------------------------- trials
    def next_number(self) -> int:
        row = self.connection.execute("SELECT COALESCE(MAX(number), -1) + 1 FROM trials").fetchone()
        return int(row[0])

    def record_ask(self, number: int, candidate: Candidate, seed: int, state: Any) -> None:
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO trials (number, candidate, status, seed, started) VALUES (?, ?, ?, ?, ?)",
                (number, candidate.to_json(), RUNNING, seed, time.time()),
            )
            connection.execute("INSERT INTO events (kind, trial) VALUES ('ask', ?)", (number,))
            self._store_state(connection, state)

    def record_retry(self, number: int) -> None:
        with self.transaction() as connection:
            connection.execute(
                "UPDATE trials SET attempts = attempts + 1, started = ? WHERE number = ?", (time.time(), number)
            )

    def record_tell(
        self,
        number: int,
        status: str,
        score: float | None,
        metrics: Mapping[str, Any],
        error: str | None,
        state: Any,
    ) -> None:
        with self.transaction() as connection:
            connection.execute(
                "UPDATE trials SET status = ?, score = ?, metrics = ?, error = ?, finished = ? WHERE number = ?",
                (status, score, json.dumps(metrics, default=float), error, time.time(), number),
            )
            connection.execute("INSERT INTO events (kind, trial) VALUES ('tell', ?)", (number,))
            self._store_state(connection, state)

    @staticmethod
    def _store_state(connection: sqlite3.Connection, state: Any) -> None:
        if state is not None:
            connection.execute("INSERT OR REPLACE INTO strategy_state (id, state) VALUES (1, ?)", (json.dumps(state),))

    def strategy_state(self) -> Any:
        row = self.connection.execute("SELECT state FROM strategy_state WHERE id = 1").fetchone()
        return None if row is None else json.loads(row["state"])

    def trials(self, status: str | None = None) -> list[Trial]:
        query = "SELECT * FROM trials" + (" WHERE status = ?" if status else "") + " ORDER BY number"
        return [_trial(row) for row in self.connection.execute(query, (status,) if status else ())]

    def trial(self, number: int) -> Trial:
        row = self.connection.execute("SELECT * FROM trials WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise StudyError(f"study {self.path} has no trial {number}")
        return _trial(row)

    def events(self) -> list[tuple[str, int]]:
        return [
            (row["kind"], row["trial"])
            for row in self.connection.execute("SELECT kind, trial FROM events ORDER BY sequence")
        ]

    def finished_count(self) -> int:
        row = self.connection.execute("SELECT COUNT(*) FROM trials WHERE status != ?", (RUNNING,)).fetchone()
        return int(row[0])
