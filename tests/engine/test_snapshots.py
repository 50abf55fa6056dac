"""Strategy state is saved at growing intervals and resume replays the tail: exact, and cheap per trial."""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest

import automl
from automl import space as s
from automl.engine.search import CRASH_LIMIT, SNAPSHOT_FRACTION, SNAPSHOT_MIN_EVENTS
from automl.engine.storage import StudyStorage


@s.search_space
def space(x):
    x = s.op.linear(x, units=s.Int(1, 1000))
    x = s.op.activation(x, kind=s.Choice(["relu", "gelu", "tanh"]))
    x = s.Optional(lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5)))(x)
    return s.op.linear(x, units=s.OUTPUTS)


class Crash(BaseException):
    """Escapes the evaluator like a kill: the trial in flight stays 'running'."""


def objective_crashing_at(crash_at: set[int]):
    calls = {"count": 0}

    def objective(candidate):
        calls["count"] += 1
        if calls["count"] in crash_at:
            crash_at.discard(calls["count"])
            raise Crash
        return candidate["linear.units"] / 1000 + (0.1 if candidate["activation.kind"] == "gelu" else 0.0)

    return objective


def candidates(path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT candidate FROM trials ORDER BY number")]


@pytest.mark.parametrize("strategy", ["random", "mcts", "evolution"])
def test_resume_across_snapshots_equals_an_uninterrupted_search(tmp_path, strategy):
    trials = 260
    expected_path = tmp_path / "uninterrupted.db"
    automl.search(
        space, objective=objective_crashing_at(set()), strategy=strategy, trials=trials, seed=3, study=expected_path
    ).close()

    path = tmp_path / "crashed.db"
    objective = objective_crashing_at({40, 90, 91, 200})  # before, between and after snapshots; twice in a row
    for _ in range(10):
        try:
            automl.search(
                space, objective=objective, strategy=strategy, trials=trials, seed=3, study=path, resume=True
            ).close()
            break
        except Crash:
            continue
    assert candidates(path) == candidates(expected_path)
    storage = StudyStorage(path)
    assert storage.finished_count() == trials
    state, event = storage.strategy_state()
    assert event == storage.event_count()  # a finished search leaves a snapshot of its end
    assert json.dumps(state)
    retried = {trial.number: trial.attempts for trial in storage.trials() if trial.attempts > 1}
    assert sorted(retried.values()) == [2, 2, 3]  # one trial was in flight at two deaths in a row
    twice = next(number for number, attempts in retried.items() if attempts == 3)
    assert [reason for _, reason in storage.attempt_history(twice)] == ["the search stopped while it ran"] * 2
    storage.close()


def test_snapshots_are_taken_at_growing_intervals(tmp_path):
    """The state is written O(log n) times, so saving it costs O(1) per trial on average."""
    path = tmp_path / "s.db"
    written: list[int] = []
    original = StudyStorage._store_state

    def spy(connection, state, sequence):
        if state is not None:
            written.append(sequence)
        original(connection, state, sequence)

    StudyStorage._store_state = staticmethod(spy)  # type: ignore[method-assign]
    try:
        automl.search(space, objective=objective_crashing_at(set()), strategy="mcts", trials=1500, study=path).close()
    finally:
        StudyStorage._store_state = staticmethod(original)  # type: ignore[method-assign]
    events = 2 * 1500
    assert written[0] == SNAPSHOT_MIN_EVENTS
    during = written[:-1]  # the last one is the snapshot of the search's end
    assert written[-1] == events
    gaps = [later - earlier for earlier, later in itertools.pairwise(during)]
    assert all(gap >= SNAPSHOT_FRACTION * earlier - 1 for gap, earlier in zip(gaps, during))
    assert len(written) <= 20 < events / 100


def test_a_trial_that_keeps_killing_the_search_is_failed(tmp_path):
    path = tmp_path / "s.db"

    def objective(candidate):
        if candidate["linear.units"] % 2 == 0:
            raise Crash  # stands for a segfault: the process running it dies every time
        return 1.0

    deaths = 0
    for _ in range(200):
        try:
            automl.search(space, objective=objective, trials=6, seed=1, study=path, resume=True).close()
            break
        except Crash:
            deaths += 1
    study = automl.engine.study.Study.open(path)
    killers = [trial for trial in study.trials if trial.status == "failed"]
    assert killers and all(f"died {CRASH_LIMIT} times in a row" in trial.error for trial in killers)
    assert all(trial.attempts == CRASH_LIMIT for trial in killers)
    assert len(study.trials) == 6 and not study.running()
    study.close()
