"""One writer per study: an advisory lock file next to it, held for the whole search.

``study.db.lock`` holds the writer's PID, the start time of that process and the
host. A second writer gets :class:`StudyLockedError` naming the holder. A lock
left by a process that is gone (same host, PID not running, or running but
started at another time: a reused PID) is stale and is taken over: it is first
renamed away, which only one contender can do, so two processes that both find
it stale cannot both take it. Readers (``show``, ``plot``) never look at it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import psutil

# A lock file younger than this may still be being written by its creator.
_WRITING_SECONDS = 5.0


class StudyLockedError(ValueError):
    """Another live process is writing the study."""


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


class StudyLock:
    def __init__(self, study: str | Path) -> None:
        self.study = Path(study)
        self.path = self.study.with_name(self.study.name + ".lock")
        self.held = False
        self._identity = {
            "pid": os.getpid(),
            "process_started": _process_start(os.getpid()),
            "host": socket.gethostname(),
            "since": time.time(),
        }

    def acquire(self) -> StudyLock:
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and not self._stale(holder):
                    raise StudyLockedError(self._describe(holder)) from None
                self._take_over()
                continue
            with os.fdopen(descriptor, "w") as handle:
                json.dump(self._identity, handle)
            self.held = True
            return self
        raise StudyLockedError(f"study {self.study} is locked ({self.path}) and the lock could not be taken over")

    def _holder(self) -> dict[str, Any] | None:
        """The lock's content; None when unreadable and old enough to be a leftover."""
        try:
            text = self.path.read_text()
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            holder = json.loads(text)
            if isinstance(holder, dict) and "pid" in holder:
                return holder
        except json.JSONDecodeError:
            pass
        if age < _WRITING_SECONDS:  # being written right now: treat as held
            return {"pid": "?", "host": "?", "since": time.time(), "writing": True}
        return None

    def _stale(self, holder: dict[str, Any]) -> bool:
        if holder.get("writing"):
            return False
        if holder.get("host") != socket.gethostname():
            return False  # another machine's process: we cannot tell, so it holds
        pid = holder.get("pid")
        if not isinstance(pid, int):
            return True
        started = _process_start(pid)
        if started is None:
            return True
        recorded = holder.get("process_started")
        return recorded is not None and abs(started - recorded) > 1.0

    def _take_over(self) -> None:
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path, aside)  # atomic: of two contenders only one moves the stale lock
            aside.unlink(missing_ok=True)

    def _describe(self, holder: dict[str, Any]) -> str:
        since = holder.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "?"
        return (
            f"study {self.study} is being written by process {holder.get('pid')} on {holder.get('host')} "
            f"(since {when}); wait for that search to end or stop it, or use another --study"
        )

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, OSError):
            holder = json.loads(self.path.read_text())
            if holder.get("pid") == self._identity["pid"] and holder.get("since") == self._identity["since"]:
                self.path.unlink()

    def __enter__(self) -> StudyLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
