"""`automl search --scheduler` against a `dask scheduler` and a `dask worker` started as separate processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
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


def test_cli_reports_an_unreachable_scheduler_in_one_line(tmp_path):
    command = [
        sys.executable,
        "-m",
        "automl.cli.main",
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
    finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "error: scheduler address '127.0.0.1:1' needs a protocol, e.g. tcp://127.0.0.1:8786"
    ]
