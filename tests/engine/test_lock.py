"""One writer per study: a second writer is refused in one line, a stale lock is taken over, readers pass."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import automl
from automl.cli.main import cli
from automl.engine.lock import StudyLock, StudyLockedError
from tests.strategies.helpers import tiny

ROOT = Path(__file__).resolve().parents[2]

SLOW_SEARCH = textwrap.dedent(
    """
    import os, sys, time
    import automl
    sys.path.insert(0, sys.argv[2])
    from tests.strategies.helpers import tiny

    release = sys.argv[1] + ".release"
    calls = []

    def objective(candidate):
        calls.append(1)
        if len(calls) > 2:  # hold the study until the test has tried to write it too
            for _ in range(1200):
                if os.path.exists(release):
                    break
                time.sleep(0.1)
        return 1.0

    automl.search(tiny, objective=objective, trials=25, seed=2, study=sys.argv[1])
    """
)


def score(candidate) -> float:
    return 0.5


def test_a_second_writer_is_refused_naming_the_holder_and_readers_pass(tmp_path):
    study = tmp_path / "s.db"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SEARCH)
    first = subprocess.Popen([sys.executable, str(script), str(study), str(ROOT)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if study.exists() and Path(str(study) + ".lock").exists():
                with sqlite3.connect(study) as connection:
                    if connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0] >= 2:
                        break
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "automl.cli.main",
                "search",
                str(ROOT / "search_spaces/mlp.py"),
                "--data",
                "digits-flat",
                "--study",
                str(study),
                "--resume",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert f"being written by process {first.pid}" in lines[0]
        # a reader in another process (this one: the lock is the writer's, by pid) is not refused
        reader = CliRunner().invoke(cli, ["show", str(study)], catch_exceptions=False)
        assert reader.exit_code == 0, reader.output
        with pytest.raises(StudyLockedError, match=str(first.pid)):
            automl.search(tiny, objective=score, trials=30, seed=2, study=study, resume=True)
    finally:
        Path(str(study) + ".release").touch()
        assert first.wait(timeout=120) == 0
    with sqlite3.connect(study) as connection:
        numbers = [row[0] for row in connection.execute("SELECT number FROM trials ORDER BY number")]
        tells = connection.execute("SELECT trial, COUNT(*) FROM events WHERE kind = 'tell' GROUP BY trial").fetchall()
    assert numbers == list(range(25))
    assert all(count == 1 for _, count in tells) and len(tells) == 25
    assert not Path(str(study) + ".lock").exists()  # released at the end


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("holder", ["dead process", "reused pid", "half-written"])
def test_a_stale_lock_on_this_host_is_taken_over(tmp_path, holder):
    study = tmp_path / "s.db"
    lock = Path(str(study) + ".lock")
    if holder == "dead process":
        lock.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "since": time.time()}))
    elif holder == "reused pid":  # our own pid, but a process started at another time held it
        lock.write_text(json.dumps({"pid": os.getpid(), "process_started": 1.0, "host": socket.gethostname()}))
    else:
        lock.write_text('{"pid": 12')
        old = time.time() - 60
        os.utime(lock, (old, old))
    study_object = automl.search(tiny, objective=score, trials=3, study=study)
    assert len(study_object.completed()) == 3
    study_object.close()
    assert not lock.exists()


def test_a_lock_of_another_host_or_a_live_process_holds(tmp_path):
    study = tmp_path / "s.db"
    lock = Path(str(study) + ".lock")
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "since": time.time()}))
    with pytest.raises(StudyLockedError, match=r"elsewhere\.example"):
        automl.search(tiny, objective=score, trials=3, study=study)
    assert not study.exists()  # refused before anything was created
    lock.unlink()
    with StudyLock(study), pytest.raises(StudyLockedError, match=str(os.getpid())):
        StudyLock(study).acquire()
    assert not lock.exists()


def test_two_contenders_for_a_stale_lock_get_it_once(tmp_path):
    study = tmp_path / "s.db"
    lock = Path(str(study) + ".lock")
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "since": time.time()}))
    first = StudyLock(study).acquire()
    with pytest.raises(StudyLockedError):
        StudyLock(study).acquire()
    first.release()
