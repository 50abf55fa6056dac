"""A search killed with SIGKILL resumes with nothing lost and nothing run twice."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from automl.space import Candidate

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import automl
    from automl import space as s

    @s.search_space
    def space(x):
        x = s.op.linear(x, units=s.Int(1, 1000))
        x = s.Optional(lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5)))(x)
        return s.op.linear(x, units=s.OUTPUTS)

    def objective(candidate):
        time.sleep(0.15)
        with open(sys.argv[2], "a") as log:
            log.write(candidate.key + "\\n")
        return candidate["linear.units"] / 1000

    automl.search(space, objective=objective, strategy=sys.argv[3], trials=int(sys.argv[4]), seed=7,
                  study=sys.argv[1], resume=True)
    """
)


def finished(path):
    try:
        with sqlite3.connect(path) as connection:
            rows = connection.execute("SELECT candidate FROM trials WHERE status != 'running'").fetchall()
    except sqlite3.OperationalError:  # the search has created the file but not its tables yet
        return []
    return [Candidate.from_json(row[0]).key for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["random", "mcts", "smbo"])
def test_sigkill_then_resume_finishes_exactly_the_requested_trials(tmp_path, strategy):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    study, log = tmp_path / "study.db", tmp_path / "calls.log"
    command = [sys.executable, str(script), str(study), str(log), strategy, "20"]

    # each process hashes strings its own way: the candidates must not depend on it (SMAC included)
    def environment(hash_seed: str) -> dict[str, str]:
        return {**os.environ, "PYTHONHASHSEED": hash_seed}

    process = subprocess.Popen(command, start_new_session=True, env=environment("1"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if study.exists() and len(finished(study)) >= 6:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before_kill = finished(study)
    assert 6 <= len(before_kill) < 20

    subprocess.run(command, check=True, timeout=180, env=environment("2"))

    with sqlite3.connect(study) as connection:
        rows = connection.execute("SELECT number, status, candidate FROM trials ORDER BY number").fetchall()
    assert [row[0] for row in rows] == list(range(20))
    assert all(row[1] == "complete" for row in rows)
    calls = Counter(log.read_text().split("\n")[:-1])
    for candidate in before_kill:
        assert calls[candidate] == 1, "a trial that had finished before the kill ran again"
    assert sum(calls.values()) <= 21  # at most the one in flight at the kill ran twice
    assert len({row[2] for row in rows}) == 20  # the resumed strategy did not repeat earlier candidates

    uninterrupted = tmp_path / "uninterrupted.db"
    other = [*command[:2], str(uninterrupted), str(tmp_path / "other.log"), *command[4:]]
    subprocess.run(other, check=True, timeout=180, env=environment("3"))
    with sqlite3.connect(uninterrupted) as connection:
        expected = [row[0] for row in connection.execute("SELECT candidate FROM trials ORDER BY number")]
    assert [row[2] for row in rows] == expected  # the resumed strategy continued its saved state (MCTS: its tree)
