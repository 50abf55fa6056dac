"""`automl search --scheduler` against a `dask scheduler` and a `dask worker` started as separate processes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")


def start(command: list[str], log: Path) -> subprocess.Popen:
    """A process in its own session, so that teardown can kill it with everything it started."""
    environment = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    return subprocess.Popen(
        command, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True, env=environment
    )


@pytest.fixture
def external_cluster(tmp_path):
    """A scheduler on a random free port of 127.0.0.1 and one worker (a nanny and its worker process)."""
    scheduler_file = tmp_path / "scheduler.json"
    processes = [
        start(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        processes.append(
            start(
                [
                    str(DASK),
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    "external-worker",
                ],
                tmp_path / "worker.log",
            )
        )
        yield address
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


@pytest.mark.slow
def test_cli_search_runs_on_an_existing_cluster(tmp_path, external_cluster):
    study = tmp_path / "external.db"
    command = [
        sys.executable,
        "-m",
        "automl.cli.main",
        "search",
        str(ROOT / "search_spaces" / "mlp.py"),
        "--data",
        "digits",
        "--trials",
        "3",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--seed",
        "3",
        "--study",
        str(study),
        "--scheduler",
        external_cluster,
        "--trial-seconds",
        "60",
        "--quiet",
    ]
    finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    with sqlite3.connect(study) as connection:
        rows = connection.execute("SELECT status, error FROM trials ORDER BY number").fetchall()
    assert len(rows) == 3 and all(status == "complete" for status, _ in rows), rows
    assert (tmp_path / "external.db").exists()


def test_cli_reports_an_unreachable_scheduler_in_one_line(tmp_path, monkeypatch):
    """In this process: a fresh process with this address ends with one line and status 2 in
    tests/engine/test_bad_input.py ("scheduler without protocol"); here, the whole line."""
    from click.testing import CliRunner

    from automl.cli.main import cli

    monkeypatch.chdir(tmp_path)
    arguments = [
        "search",
        str(ROOT / "search_spaces" / "mlp.py"),
        "--data",
        "digits",
        "--trials",
        "1",
        "--study",
        str(tmp_path / "s.db"),
        "--scheduler",
        "127.0.0.1:1",
    ]
    finished = CliRunner().invoke(cli, arguments, catch_exceptions=False)
    assert finished.exit_code == 2
    assert "Traceback" not in finished.output
    assert finished.stderr.strip().splitlines() == [
        "error: scheduler address '127.0.0.1:1' needs a protocol, e.g. tcp://127.0.0.1:8786"
    ]


# ------------------------------------------------------- a well-formed address where no scheduler listens
# automl.engine.dask_runner.CONNECT_SECONDS (30 s) is a constant: neither a flag nor a Dask setting shortens it
# (the client is given it as an explicit timeout). The command below is the `automl` command with it set shorter,
# so that the test waits 1 s where a user waits 30.
SHORT_CONNECT_SECONDS = 1
AUTOML_WITH_SHORT_CONNECT = (
    f"import automl.engine.dask_runner as runner; runner.CONNECT_SECONDS = {SHORT_CONNECT_SECONDS}; "
    "from automl.cli.main import main; main()"
)
SPACE = """from automl import space as s


@s.search_space
def net(x):
    x = s.op.linear(x, units=s.Choice([4, 8]))
    return s.op.linear(x, units=s.OUTPUTS)
"""


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago; nothing listens on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stored(study: Path) -> dict[str, list[tuple]]:
    """Every row of every table of a study, by table."""
    with contextlib.closing(sqlite3.connect(study)) as connection:  # closed: no -wal or -shm file left by the test
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}


def files(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@dataclass
class UnreachableRun:
    address: str
    finished: subprocess.CompletedProcess
    seconds: float
    before: dict[str, list[tuple]]
    after: dict[str, list[tuple]]
    files_before: dict[str, str]
    files_after: dict[str, str]


@pytest.fixture(scope="module")
def unreachable_run(tmp_path_factory) -> UnreachableRun:
    """A study with one trial, then `automl search --resume --scheduler tcp://127.0.0.1:<a free port>` on it."""
    import automl

    folder = tmp_path_factory.mktemp("unreachable")
    space = folder / "space.py"
    space.write_text(SPACE)
    study = folder / "study.db"
    automl.search(str(space), "wine", trials=1, epochs=1, device="cpu", seed=1, study=study).close()
    before, files_before = stored(study), files(folder)
    address = f"tcp://127.0.0.1:{free_port()}"
    command = [
        sys.executable,
        "-c",
        AUTOML_WITH_SHORT_CONNECT,
        "search",
        str(space),
        "--data",
        "wine",
        "--trials",
        "3",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--seed",
        "1",
        "--study",
        str(study),
        "--resume",
        "--scheduler",
        address,
        "--quiet",
    ]
    started = time.monotonic()
    finished = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - started
    return UnreachableRun(address, finished, seconds, before, stored(study), files_before, files(folder))


def test_cli_reports_a_scheduler_nobody_listens_on_in_one_line_with_status_2(unreachable_run):
    finished = unreachable_run.finished
    assert finished.returncode == 2, finished.stderr[-3000:]
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr[-3000:]  # one line: no traceback, no Dask log lines
    assert lines[0].startswith(f"error: cannot reach the Dask scheduler at {unreachable_run.address}: "), lines[0]
    assert "Traceback" not in finished.stdout
    assert unreachable_run.seconds < 60  # it gives up after the connect timeout instead of waiting on


def test_an_unreachable_scheduler_loses_no_stored_trial(unreachable_run):
    """The trials, their attempts and events, the strategy's state and the trained weights are all still there."""
    before, after = unreachable_run.before, unreachable_run.after
    assert before["trials"] and set(before) == set(after)
    for table in sorted(set(before) - {"meta"}):
        assert after[table] == before[table], table
    assert unreachable_run.files_after.keys() - {"study.db"} == unreachable_run.files_before.keys() - {"study.db"}
    for name, digest in unreachable_run.files_before.items():
        if name != "study.db":
            assert unreachable_run.files_after[name] == digest, name  # the weights, the space; no lock or .bak left


def test_an_unreachable_scheduler_leaves_the_study_file_untouched(unreachable_run):
    assert unreachable_run.after["meta"] == unreachable_run.before["meta"]
    assert unreachable_run.files_after["study.db"] == unreachable_run.files_before["study.db"]


def test_the_unreachable_scheduler_line_says_how_to_fix_it(unreachable_run):
    line = unreachable_run.finished.stderr.strip()
    assert any(hint in line for hint in ("start", "check", "running")), line


def test_fresh_with_an_unreachable_scheduler_does_not_move_the_study_aside(tmp_path):
    """--fresh moves a study aside only once the search can run: a failed connect leaves it where it was."""
    import automl

    space = tmp_path / "space.py"
    space.write_text(SPACE)
    study = tmp_path / "study.db"
    automl.search(str(space), "wine", trials=1, epochs=1, device="cpu", seed=1, study=study).close()
    before, files_before = stored(study), files(tmp_path)
    address = f"tcp://127.0.0.1:{free_port()}"
    command = [sys.executable, "-c", AUTOML_WITH_SHORT_CONNECT, "search", str(space), "--data", "wine"]
    command += ["--trials", "2", "--epochs", "1", "--study", str(study), "--fresh", "--scheduler", address, "--quiet"]
    finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2, finished.stderr[-2000:]
    assert finished.stderr.startswith(f"error: cannot reach the Dask scheduler at {address}")
    assert stored(study) == before
    assert files(tmp_path) == files_before  # no study.db.bak-<time>, no new empty study
