"""ASHA on two Dask workers: no worker waits while a promotion or a new candidate is possible."""

from __future__ import annotations

import itertools
import sys
import time

import cloudpickle
import pytest

import automl
from automl import space as s

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers receive the objective by value


@s.search_space
def knobs(x):
    x = s.op.linear(x, units=s.Int(1, 10_000))
    return s.op.linear(x, units=s.OUTPUTS)


def slow_objective(candidate, budget):
    time.sleep(0.05 * budget)  # budgets 1, 3, 9: a promotion costs more than a new candidate
    return candidate["linear.units"] / 10_000 + budget


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["asha", "hyperband"])
def test_two_workers_stay_busy_under_a_schedule(tmp_path, schedule):
    study = automl.search(
        knobs,
        objective=slow_objective,
        study=tmp_path / "study.db",
        trials=30,
        workers=2,
        multi_fidelity=schedule,
        max_budget=9,
        seed=2,
    )
    trials = sorted(study.trials, key=lambda trial: trial.started)
    assert len(trials) == 30 and all(trial.status == "complete" for trial in trials)
    assert any(trial.continues is not None for trial in trials)
    last_start = trials[-1].started
    for trial in trials:
        if trial.finished >= last_start:
            continue
        # the driver asked for the next trial at once: a trial started within a moment of this one finishing
        gap = min(other.started - trial.finished for other in trials if other.started >= trial.finished)
        assert gap < 0.5, (trial.number, gap)
    # both workers were running a trial nearly all the time from the second start to the last: handing a
    # worker its next trial takes milliseconds, so more than a tenth of the span with one idle is a wait
    span_start, span_end = trials[1].started, last_start
    events = {moment for trial in trials for moment in (trial.started, trial.finished)}
    moments = sorted({span_start, span_end, *events})
    moments = [moment for moment in moments if span_start <= moment <= span_end]
    one_idle = 0.0
    for begin, end in itertools.pairwise(moments):
        in_flight = sum(trial.started <= begin < trial.finished for trial in trials)
        assert in_flight <= 2
        if in_flight < 2:
            one_idle += end - begin
    assert one_idle / (span_end - span_start) < 0.1, (one_idle, span_end - span_start)


@pytest.mark.slow
def test_median_pruning_works_on_dask_workers(tmp_path):
    from automl.strategies.base import TrialStatus

    study = automl.search(
        "search_spaces/mlp.py",
        "digits",
        study=tmp_path / "study.db",
        trials=12,
        workers=2,
        epochs=6,
        batch_size=256,
        learning_rate=3e-4,
        patience=None,
        prune="median",
        prune_min_trials=2,
        seed=1,
        device="cpu",
    )
    statuses = [trial.status for trial in study.trials]
    assert TrialStatus.PRUNED in statuses and TrialStatus.COMPLETE in statuses, statuses
    for trial in study.trials:
        if trial.status is TrialStatus.PRUNED:
            assert "median" in trial.error and len(trial.curve) < 6
