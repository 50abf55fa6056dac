"""Study storage in SQLite: one database per study, one commit per step.

WAL mode lets ``automl show`` read while a search writes. Every ask (a trial
row marked running with its proposal, and an event) and every tell (the result,
and an event) is one transaction, so a driver killed at any moment leaves a
study that resumes with nothing lost and nothing run twice.

The strategy's state is not rewritten at every step: a snapshot is stored with
the sequence number of the last event it includes, and resume replays the
events after it (see ``automl.engine.search``). Who owns what: the driver owns
``trials``, ``events``, ``attempts`` and ``strategy_state``; ``meta`` holds the
search configuration (``config``), the schema version, and results the search
reports (test score, feature ranking, a strategy's reports under ``strategy.*``).
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
from automl.strategies.base import Proposal, TrialStatus

SCHEMA_VERSION = 3
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
    finished REAL,
    budget REAL,
    proposal TEXT NOT NULL DEFAULT '{}',
    continues INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    trial INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    trial INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    ended REAL NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (trial, attempt)
);
CREATE TABLE IF NOT EXISTS strategy_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL,
    event INTEGER NOT NULL
);
"""

RUNNING, COMPLETE, FAILED = TrialStatus.RUNNING, TrialStatus.COMPLETE, TrialStatus.FAILED


_LEFT_UNTOUCHED = "--fresh only replaces a study, and left it untouched"


class StudyError(ValueError):
    """A study file is missing, not a study, or from another search."""


@dataclass
class Trial:
    """One evaluated (or running) candidate of a study."""

    number: int
    candidate: Candidate
    status: TrialStatus
    score: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seed: int = 0
    attempts: int = 1
    started: float = 0.0
    finished: float | None = None
    budget: float | None = None
    proposal_data: dict[str, Any] = field(default_factory=dict)
    continues: int | None = None  # the trial whose checkpoint this one trained on from

    @property
    def proposal(self) -> Proposal:
        """The proposal as the strategy made it (numbered), to hand back in ``tell``."""
        return Proposal(self.candidate, self.budget, self.proposal_data, self.number, self.continues)

    @property
    def curve(self) -> list[dict[str, float]]:
        """This trial's own learning curve: one entry per epoch it trained (epochs counted from the start)."""
        return list(self.metrics.get("curve") or [])

    @property
    def finished_ok(self) -> bool:
        return self.status == COMPLETE

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


def _trial(row: sqlite3.Row) -> Trial:
    columns = row.keys()
    return Trial(
        number=row["number"],
        candidate=Candidate.from_json(row["candidate"]),
        status=TrialStatus(row["status"]),
        score=row["score"],
        metrics=json.loads(row["metrics"]),
        error=row["error"],
        seed=row["seed"],
        attempts=row["attempts"],
        started=row["started"],
        finished=row["finished"],
        budget=row["budget"] if "budget" in columns else None,
        proposal_data=json.loads(row["proposal"]) if "proposal" in columns else {},
        continues=row["continues"] if "continues" in columns else None,
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
            raise StudyError(f"study {self.path} does not exist; a search creates it: automl search ... --study PATH")
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
            raise StudyError(f"{self.path} is not a study (not an SQLite file)") from None
        if existing:
            self._check_integrity()
        if existing and not {"meta", "trials"} <= existing:
            raise StudyError(f"{self.path} is an SQLite file but not an automl study")
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

    def _check_integrity(self) -> None:
        """A damaged file is reported in one line, before anything reads or writes it."""
        try:
            verdict = self.connection.execute("PRAGMA quick_check(1)").fetchone()[0]
        except sqlite3.DatabaseError as error:
            verdict = str(error)
        if verdict != "ok":
            self.connection.close()
            raise StudyError(
                f"study {self.path} is damaged (SQLite: {verdict}); restore it from a backup copy "
                f"(automl keeps none by itself; --fresh leaves {self.path.name}.bak-<time>), or start a new --study"
            )

    @staticmethod
    def check_path(path: Path) -> None:
        """A study path that can be written: its folder exists or can be made, and it is no folder itself."""
        if path.is_dir():
            raise StudyError(f"--study {path} is a directory; give a file path such as {path / 'study.db'}")
        parent = path.parent
        for ancestor in [parent, *parent.parents]:
            if ancestor.exists():
                if not ancestor.is_dir():
                    raise StudyError(f"cannot create study {path}: {ancestor} is a file, not a directory")
                break
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StudyError(f"cannot create the folder of study {path}: {error.strerror}") from None
        if not os.access(parent, os.W_OK):
            raise StudyError(f"cannot write study {path}: its folder {parent} is not writable")

    @staticmethod
    def check_is_study(path: Path) -> None:
        """Raise unless ``path`` is an automl study (read-only look; the file is not changed)."""
        try:
            with open(path, "rb") as handle:
                header = handle.read(16)
        except OSError as error:
            raise StudyError(f"cannot read {path}: {error.strerror}") from None
        if header != b"SQLite format 3\x00":
            raise StudyError(f"{path} is not an automl study; {_LEFT_UNTOUCHED}")
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            raise StudyError(
                f"{path} is not an automl study; --fresh only replaces a study, and left it untouched"
            ) from None
        finally:
            connection.close()
        if not {"meta", "trials", "events"} <= tables:
            raise StudyError(f"{path} is an SQLite file but not an automl study; {_LEFT_UNTOUCHED}")

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

    def schema_version(self) -> int | None:
        return self.meta().get("schema_version")

    def check_writable(self) -> None:
        """Refuse to write into a study of another schema (readers still open it); upgrade schema 2 in place."""
        version = self.schema_version()
        if version == 2:
            with self.transaction() as connection:  # schema 3 adds the trial a trial continues
                connection.execute("ALTER TABLE trials ADD COLUMN continues INTEGER")
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (json.dumps(3),)
                )
            version = 3
        if version != SCHEMA_VERSION:
            raise StudyError(
                f"study {self.path} was written by another version of automl (schema {version}, this one writes "
                f"schema {SCHEMA_VERSION}) and cannot be resumed; `automl show` still reads it; start a new --study"
            )

    # -------------------------------------------------------------- trials
    def next_number(self) -> int:
        row = self.connection.execute("SELECT COALESCE(MAX(number), -1) + 1 FROM trials").fetchone()
        return int(row[0])

    def record_ask(self, proposal: Proposal, seed: int, state: Any = None) -> int:
        """Store a numbered proposal as a running trial; returns the event's sequence number."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO trials (number, candidate, status, seed, started, budget, proposal, continues) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    proposal.number,
                    proposal.candidate.to_json(),
                    RUNNING.value,
                    seed,
                    time.time(),
                    proposal.budget,
                    json.dumps(dict(proposal.data)),
                    proposal.continues,
                ),
            )
            sequence = self._event(connection, "ask", proposal.number)
            self._store_state(connection, state, sequence)
        return sequence

    def record_retry(self, number: int, reason: str) -> None:
        """Another attempt at a trial; the reason the last one ended goes into its attempt history."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO attempts (trial, attempt, ended, reason) "
                "SELECT number, attempts, ?, ? FROM trials WHERE number = ?",
                (time.time(), reason, number),
            )
            connection.execute(
                "UPDATE trials SET attempts = attempts + 1, started = ? WHERE number = ?", (time.time(), number)
            )

    def record_tell(
        self,
        number: int,
        status: TrialStatus,
        score: float | None,
        metrics: Mapping[str, Any],
        error: str | None,
        state: Any = None,
    ) -> int:
        """Store a trial's result; returns the event's sequence number."""
        with self.transaction() as connection:
            connection.execute(
                "UPDATE trials SET status = ?, score = ?, metrics = ?, error = ?, finished = ? WHERE number = ?",
                (TrialStatus(status).value, score, json.dumps(metrics, default=float), error, time.time(), number),
            )
            sequence = self._event(connection, "tell", number)
            self._store_state(connection, state, sequence)
        return sequence

    @staticmethod
    def _event(connection: sqlite3.Connection, kind: str, number: int | None) -> int:
        cursor = connection.execute("INSERT INTO events (kind, trial) VALUES (?, ?)", (kind, number))
        return int(cursor.lastrowid)

    @staticmethod
    def _store_state(connection: sqlite3.Connection, state: Any, sequence: int) -> None:
        if state is not None:
            connection.execute(
                "INSERT OR REPLACE INTO strategy_state (id, state, event) VALUES (1, ?, ?)",
                (json.dumps(state), sequence),
            )

    def strategy_state(self) -> tuple[Any, int]:
        """The last snapshot of the strategy's state and the sequence of the last event it includes."""
        row = self.connection.execute("SELECT state, event FROM strategy_state WHERE id = 1").fetchone()
        return (None, 0) if row is None else (json.loads(row["state"]), int(row["event"]))

    def trials(self, status: TrialStatus | str | None = None) -> list[Trial]:
        query = "SELECT * FROM trials" + (" WHERE status = ?" if status else "") + " ORDER BY number"
        parameters = (TrialStatus(status).value,) if status else ()
        return [_trial(row) for row in self.connection.execute(query, parameters)]

    def trial(self, number: int) -> Trial:
        row = self.connection.execute("SELECT * FROM trials WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise StudyError(f"study {self.path} has no trial {number}")
        return _trial(row)

    def attempt_history(self, number: int) -> list[tuple[int, str]]:
        """(attempt, why it ended) for each earlier attempt of a trial."""
        if "attempts" not in self._tables():
            return []
        rows = self.connection.execute(
            "SELECT attempt, reason FROM attempts WHERE trial = ? ORDER BY attempt", (number,)
        )
        return [(int(row["attempt"]), row["reason"]) for row in rows]

    def _tables(self) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def events(self, after: int = 0) -> list[tuple[str, int]]:
        """The asks and tells after event ``after``, in order."""
        return [
            (row["kind"], row["trial"])
            for row in self.connection.execute(
                "SELECT kind, trial FROM events WHERE sequence > ? ORDER BY sequence", (after,)
            )
        ]

    def trials_numbered(self, numbers: list[int]) -> list[Trial]:
        found: list[Trial] = []
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            query = f"SELECT * FROM trials WHERE number IN ({', '.join('?' * len(chunk))}) ORDER BY number"
            found.extend(_trial(row) for row in self.connection.execute(query, chunk))
        return found

    def best(self) -> tuple[float, float] | None:
        """(budget, score) of the incumbent: the best score at the highest budget any complete trial reached.

        A score at a lower budget is no estimate of the full training's: multi-fidelity searches
        judge by the highest budget (as SMAC's ``incumbent_selection="highest_budget"``). A
        budget of None is the full budget.
        """
        row = self.connection.execute(
            "SELECT COALESCE(budget, 1e308) AS level, score FROM trials WHERE status = ? AND score IS NOT NULL "
            "ORDER BY level DESC, score DESC LIMIT 1",
            (COMPLETE.value,),
        ).fetchone()
        return None if row is None else (float(row["level"]), float(row["score"]))

    def save_state(self, state: Any, event: int) -> None:
        """A snapshot of the strategy's state that includes the events up to ``event``."""
        with self.transaction() as connection:
            self._store_state(connection, state, event)

    def event_count(self) -> int:
        row = self.connection.execute("SELECT COALESCE(MAX(sequence), 0) FROM events").fetchone()
        return int(row[0])

    def finished_count(self) -> int:
        row = self.connection.execute("SELECT COUNT(*) FROM trials WHERE status != ?", (RUNNING.value,)).fetchone()
        return int(row[0])

    def count(self, status: TrialStatus) -> int:
        row = self.connection.execute("SELECT COUNT(*) FROM trials WHERE status = ?", (status.value,)).fetchone()
        return int(row[0])
