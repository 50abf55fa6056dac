"""The supernet phase of darts / darts-pt runs as a job through the search's runner, under the trial limits.

In-process, ``InProcessRunner.run_job`` bounds it with SIGALRM; on Dask,
``DaskRunner.run_job`` runs it in a child process of a worker, like a trial, and
the driver's thread only waits on a future. A job past its limits is stopped and
recorded in the study (``strategy.supernet``), and the search ends cleanly.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import dask
import distributed
import psutil
import pytest
from click.testing import CliRunner

import automl
from automl.cli.main import cli
from automl.engine.dask_runner import DaskRunner
from automl.engine.evaluation import Evaluator
from automl.engine.resources import TrialLimits, job_value, run_isolated_job
from automl.engine.study import Study
from automl.strategies.base import JobFailed
from search_spaces.darts_cell import darts_cell

SMALL = darts_cell.bind(nodes=2, cells=1, channels=8)
TRIAL_SECONDS = 1


# ------------------------------------------------------------------ jobs (pickled by value: see below)
def sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def sleep_unstoppably(seconds: float) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # like a job stuck in native code
    time.sleep(seconds)


def note_pid_and_sleep(marker: str, seconds: float) -> None:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)


def raise_value_error() -> None:
    raise ValueError("the job broke\nsecond line")


def kill_own_process() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(30)


# Workers (and the forkserver's children) get these by value, as they would a user's script.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def isolated(function, *arguments, limits: TrialLimits):
    """Run a job as a Dask worker would, here in the test's process."""
    return job_value(run_isolated_job(cloudpickle.dumps((function, arguments)), limits))


def assert_stopped_and_recorded(path: Path, elapsed: float) -> None:
    """The supernet phase was stopped at the time limit, recorded, and the study is whole and readable."""
    assert elapsed < TRIAL_SECONDS + 20, elapsed
    study = Study.open(path)
    try:
        supernet = study.meta["strategy.supernet"]
        assert supernet["status"] == "failed", supernet
        assert f"passed the per-trial limit of {TRIAL_SECONDS} s" in supernet["error"], supernet
        assert study.trials == [] and study.running() == []  # darts proposed nothing; nothing is left running
    finally:
        study.storage.close()
    shown = CliRunner().invoke(cli, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "supernet" in shown.output and "per-trial limit" in shown.output


def search_with_a_long_supernet(path, digits, **extra):
    """A darts-pt search whose supernet (50 epochs) cannot finish within the trial seconds."""
    return automl.search(
        SMALL,
        digits,
        strategy="darts-pt",
        strategy_options={"supernet_epochs": 50, "finetune_epochs": 0},
        trials=1,
        epochs=1,
        trial_seconds=TRIAL_SECONDS,
        device="cpu",
        study=path,
        **extra,
    )


# ------------------------------------------------------------------ in-process
def test_in_process_a_supernet_past_trial_seconds_is_stopped_and_recorded(tmp_path, digits) -> None:
    path = tmp_path / "study.db"
    started = time.monotonic()
    study = search_with_a_long_supernet(path, digits)
    study.storage.close()
    assert_stopped_and_recorded(path, time.monotonic() - started)


@pytest.mark.slow  # the first fork starts a forkserver, which imports torch
def test_an_isolated_job_runs_in_its_own_process_under_its_limits() -> None:
    limits = TrialLimits(seconds=TRIAL_SECONDS, memory=1 << 30)
    assert isolated(os.getpid, limits=limits) != os.getpid()
    assert isolated(sleep_then_return, 0.0, limits=limits) == 0.0

    started = time.monotonic()
    with pytest.raises(JobFailed, match=r"^timed out: passed the per-trial limit of 1 s$"):
        isolated(sleep_then_return, 30, limits=limits)  # its own SIGALRM stops it
    with pytest.raises(JobFailed, match=r"^timed out: passed the per-trial limit of 1 s \(.*killed"):
        isolated(sleep_unstoppably, 30, limits=limits)  # killed from outside after the grace
    assert time.monotonic() - started < 10

    with pytest.raises(JobFailed, match=r"^crashed: ValueError: the job broke$"):
        isolated(raise_value_error, limits=limits)
    with pytest.raises(JobFailed, match=r"^exceeded the memory limit of 1 GiB"):
        isolated(bytearray, 64 << 30, limits=limits)
    with pytest.raises(JobFailed, match=r"^worker died: the job's process was killed by SIGKILL"):
        isolated(kill_own_process, limits=limits)


# ------------------------------------------------------------------ on Dask
@pytest.fixture(scope="module")
def cluster():
    """One worker process on 127.0.0.1; runners connect to it by address (cheap) and may close freely."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        local = distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    yield local
    local.close()


def runner_on(cluster, seconds: float | None, retries: int = 1) -> DaskRunner:
    evaluator = Evaluator(space=SMALL, objective=lambda candidate: 0.0)
    limits = TrialLimits(seconds=seconds)
    return DaskRunner(evaluator, scheduler=cluster.scheduler_address, limits=limits, retries=retries)


@pytest.mark.slow
def test_on_dask_a_job_runs_in_a_child_of_a_worker_and_failures_raise_job_failed(cluster) -> None:
    runner = runner_on(cluster, seconds=TRIAL_SECONDS)
    try:
        worker_pids = set(runner._client.run(os.getpid).values())
        pid = runner.run_job(os.getpid)
        assert pid != os.getpid() and pid not in worker_pids  # neither the driver nor the worker itself
        assert runner.run_job(sleep_then_return, 0.1) == 0.1

        started = time.monotonic()
        with pytest.raises(JobFailed, match=r"^timed out: passed the per-trial limit of 1 s"):
            runner.run_job(sleep_then_return, 60)
        assert time.monotonic() - started < TRIAL_SECONDS + 10
        with pytest.raises(JobFailed, match=r"^crashed: ValueError: the job broke$"):
            runner.run_job(raise_value_error)
        # a job whose process is killed is run again (retries=1) like a trial, then reported
        with pytest.raises(JobFailed, match=r"^worker died: the job's process was killed by SIGKILL.*run 2 times$"):
            runner.run_job(kill_own_process)
        assert runner.run_job(os.getpid) not in worker_pids  # the worker is fine
    finally:
        runner.close()


@pytest.mark.slow
def test_on_dask_the_driver_stays_responsive_while_a_job_runs_and_close_stops_it(cluster, tmp_path) -> None:
    runner = runner_on(cluster, seconds=120)
    marker = tmp_path / "job.pid"
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = runner.run_job(note_pid_and_sleep, str(marker), 60)
        except JobFailed as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        job_pid = int(marker.read_text())
        assert job_pid != os.getpid()
        # the main thread keeps working at its own pace while the job runs
        ticks, longest, last = 0, 0.0, time.monotonic()
        while ticks < 200:
            time.sleep(0.005)
            now = time.monotonic()
            longest, last, ticks = max(longest, now - last), now, ticks + 1
        assert longest < 0.5, longest
        assert thread.is_alive() and psutil.pid_exists(job_pid)
    finally:
        started = time.monotonic()
        runner.close()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 10
    assert outcome == {"error": "stopped: the runner was closed while the job ran"}
    deadline = time.monotonic() + 5
    while _alive(job_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(job_pid)  # the job's process was killed, not left to run to its deadline


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_on_dask_a_supernet_past_trial_seconds_is_stopped_and_recorded(tmp_path, digits) -> None:
    path = tmp_path / "study.db"
    began: list[float] = []
    started = time.monotonic()
    study = search_with_a_long_supernet(
        path,
        digits,
        workers=1,
        trial_memory="2GiB",  # a LocalCluster of one worker: the job runs in a child process of it
        on_start=lambda study, finished: began.append(time.monotonic()),
    )
    study.storage.close()
    assert time.monotonic() - started < 120  # starting the cluster is most of it
    assert_stopped_and_recorded(path, time.monotonic() - began[0])


@pytest.mark.slow
def test_on_dask_the_supernet_trains_on_a_worker_and_its_candidate_is_trial_0(tmp_path, digits, cluster, monkeypatch):
    def not_here(*arguments, **keywords):
        raise AssertionError("the supernet was trained in the driver's process")

    monkeypatch.setattr("automl.strategies.darts.train_supernet", not_here)  # the worker has its own module
    jobs: list[str] = []
    run_job = DaskRunner.run_job

    def counted(self, function, *arguments):
        jobs.append(function.__name__)
        return run_job(self, function, *arguments)

    monkeypatch.setattr(DaskRunner, "run_job", counted)
    path = tmp_path / "study.db"
    study = automl.search(
        SMALL,
        digits,
        strategy="darts",
        strategy_options={"supernet_epochs": 1, "batch_size": 64},
        trials=1,
        epochs=1,
        trial_seconds=120,
        device="cpu",
        scheduler=cluster.scheduler_address,
        study=path,
    )
    try:
        assert jobs == ["run_one_shot"]
        supernet = study.meta["strategy.supernet"]
        assert supernet["status"] == "complete" and supernet["steps"] > 0, supernet
        assert set(study.meta["strategy.alphas"]) == {
            "node0_edge0",
            "node0_edge1",
            "node1_edge0",
            "node1_edge1",
            "node1_edge2",
        }
        [trial] = study.trials
        assert trial.number == 0 and trial.status == "complete", trial
        SMALL.replay(trial.candidate)
    finally:
        study.storage.close()
