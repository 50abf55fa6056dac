"""A parallel search killed with SIGKILL resumes: exactly the requested trials finish, none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from automl.engine.study import Study

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import automl
    from automl import space as s

    @s.search_space
    def space(x):
        x = s.op.linear(x, units=s.Int(1, 100_000, name="units"))
        return s.op.linear(x, units=s.OUTPUTS)

    def objective(candidate):
        time.sleep(0.3)
        with open(sys.argv[2], "a") as log:
            log.write(candidate.key + "\\n")
        return candidate["units"] / 100_000

    if __name__ == "__main__":
        automl.search(space, objective=objective, trials=int(sys.argv[3]), seed=11, study=sys.argv[1],
                      resume=True, workers=2)
    """
)


@pytest.mark.slow
def test_sigkill_of_a_parallel_driver_then_resume_finishes_exactly_the_requested_trials(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    study_path, log = tmp_path / "study.db", tmp_path / "calls.log"
    command = [sys.executable, str(script), str(study_path), str(log), "24"]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 150
    seen_while_running = 0
    try:
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if not study_path.exists():
                continue
            study = Study.open(study_path)  # a reader while the driver writes (WAL)
            try:
                trials = study.trials
                running = len(study.running())
            finally:
                study.storage.close()
            finished = [trial for trial in trials if trial.status != "running"]
            seen_while_running = max(seen_while_running, running)
            if len(finished) >= 8 and running >= 1:
                break
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the driver, its LocalCluster's workers and their trials
        process.wait()
    study = Study.open(study_path)
    before_kill = [trial.candidate.key for trial in study.trials if trial.status != "running"]
    in_flight = len(study.running())
    study.storage.close()
    assert 8 <= len(before_kill) < 24
    assert 1 <= in_flight <= 2 and seen_while_running >= 1

    subprocess.run(command, check=True, timeout=180)

    study = Study.open(study_path)
    trials = study.trials
    study.storage.close()
    assert [trial.number for trial in trials] == list(range(24))
    assert all(trial.status == "complete" for trial in trials)
    calls = Counter(log.read_text().split("\n")[:-1])
    for candidate in before_kill:
        assert calls[candidate] == 1, "a trial that had finished before the kill ran again"
    assert sum(calls.values()) <= 24 + in_flight  # only the trials in flight at the kill ran twice
    assert len({trial.candidate.key for trial in trials}) == 24
