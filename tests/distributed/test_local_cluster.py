"""A search on a real LocalCluster of 2 worker processes, with trials that break their limits or their worker."""

from __future__ import annotations

import functools

import pytest
from behaviours import behaving, misbehave

import automl


@pytest.mark.slow
def test_two_workers_finish_the_search_and_each_fault_costs_its_trial_only(tmp_path):
    # With seed 17 the random strategy asks kill-worker first, then fine, memory, sleep.
    objective = functools.partial(misbehave, markers=tmp_path, kills=2)
    study = automl.search(
        behaving,
        objective=objective,
        trials=10,
        seed=17,
        study=tmp_path / "study.db",
        workers=2,
        trial_seconds=5,  # room for the memory trial to reach its limit first on a loaded machine
        trial_memory="1GiB",
        retries=1,
    )
    trials = study.trials
    assert [trial.number for trial in trials] == list(range(10))
    failures = {trial.candidate["behaviour"]: trial.error for trial in trials if trial.status == "failed"}
    assert set(failures) == {"kill-worker", "memory", "sleep"}, failures
    assert failures["sleep"].startswith("timed out: passed the per-trial limit of 5 s")
    assert failures["memory"].startswith("exceeded the memory limit of 1 GiB")
    # killed once, run again elsewhere (retries=1), killed again: recorded as failed, the search went on
    assert failures["kill-worker"].startswith("worker died: ") and "run 2 times" in failures["kill-worker"]
    killer = next(trial for trial in trials if trial.candidate["behaviour"] == "kill-worker")
    assert killer.attempts == 2  # the retry and why the first attempt ended are in the study
    [(attempt, reason)] = study.storage.attempt_history(killer.number)
    assert attempt == 1 and reason.startswith("worker died: ")
    assert all(trial.status == "complete" for trial in trials if trial.candidate["behaviour"] == "fine")
    assert study.best_trial is not None


@pytest.mark.slow
def test_a_trial_whose_worker_died_once_is_run_again_and_completes(tmp_path, cluster):
    from automl.engine.dask_runner import DaskRunner
    from automl.engine.evaluation import Evaluator
    from automl.engine.resources import TrialLimits
    from automl.space import Candidate
    from automl.strategies.base import Proposal

    evaluator = Evaluator(space=behaving, objective=functools.partial(misbehave, markers=tmp_path, kills=1))
    runner = DaskRunner(evaluator, scheduler=cluster.scheduler_address, limits=TrialLimits(seconds=30), retries=1)
    try:
        assert runner.capacity == 2
        runner.submit(Proposal(Candidate({"width": 100, "behaviour": "kill-worker"}), number=0), 0)
        runner.submit(Proposal(Candidate({"width": 200, "behaviour": "fine"}), number=1), 1)
        finished = runner.wait()
        if len(finished) < 2:
            finished += runner.wait()
        results = {done.number: done.result for done in finished}
        assert results[0].ok and results[0].score == 0.01
        assert results[1].ok and results[1].score == 0.02
        assert (tmp_path / "kill-worker-0").exists()  # the first attempt did kill its worker
    finally:
        runner.close()
