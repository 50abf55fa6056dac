"""The Dask runner: trials in parallel on a LocalCluster of worker processes, or on an existing cluster.

The driver stays the only writer of the study: workers return results, the
driver tells the strategy and stores them. Each trial runs in its own process
under its limits (see ``automl.engine.resources``), so a trial that runs too long,
allocates too much or crashes in native code costs that trial only.

Faults and what they cost:

* a trial past its seconds or memory: stopped, recorded as failed with the limit
  it hit; its worker goes on with the next trial;
* a worker process that dies mid-trial (SIGKILL, OOM killer): the scheduler
  reports the task's worker as lost (``KilledWorker``: the LocalCluster's
  scheduler is told to allow no failures of its own, so the retry policy is this
  runner's); the trial is run again elsewhere up to ``retries`` times, then
  recorded as failed "worker died: ..."; the other workers go on, and the
  LocalCluster's nanny starts a fresh worker.

Jobs (``run_job``: a one-shot strategy's supernet phase) run the same way as a
trial, in their own child process on a worker under the same limits, with the
same retries and the same one-line reasons; a failure raises ``JobFailed``. The
driver's thread only waits on the job's future meanwhile, and ``close()`` (from
any thread) cancels the job, which kills its process.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cloudpickle
import dask
import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from automl.engine.resources import (
    IsolatedOutcome,
    TrialLimits,
    job_value,
    prepare_worker,
    run_isolated_job,
    run_isolated_trial,
    warm_up,
)
from automl.engine.runners import Finished
from automl.strategies.base import JobFailed, Proposal

if TYPE_CHECKING:
    from automl.engine.evaluation import Evaluator, TrialPlan

CONNECT_SECONDS = 30
# How often a thread waiting for a job checks whether the runner was closed meanwhile.
JOB_WAIT_SECONDS = 0.5
STOPPED = "stopped: the runner was closed while the job ran"


class ClusterError(ValueError):
    """The Dask cluster cannot be started or reached (a wrong address, no workers)."""


class TrialWorkerSetup(WorkerPlugin):
    """Runs on every worker of our LocalCluster, restarted ones included: start the trial forkserver early.

    The forkserver imports torch once (seconds on a small machine); doing it when
    the worker starts, in a thread, keeps that cost out of the first trial's time
    limit and overlaps it with the driver's own setup.
    """

    name = "automl-trial-setup"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        import threading

        threading.Thread(target=prepare_worker, args=(self.threads,), name="automl-forkserver", daemon=True).start()


class DaskRunner:
    """Keeps up to ``capacity`` trials in flight on Dask workers, each in an isolated process.

    Give ``workers`` to start a LocalCluster of that many worker processes on
    127.0.0.1 (closed with the runner), or ``scheduler`` (``tcp://host:port``) to
    use a running cluster; its capacity is its number of workers when the search
    starts.

    ``run_job(function, *arguments)`` runs a job (a supernet's training) on a
    worker like a trial: in its own process, under ``limits``, retried when its
    worker dies; it returns the function's value or raises ``JobFailed``.
    """

    def __init__(
        self,
        evaluator: Evaluator,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        limits: TrialLimits | None = None,
        retries: int = 1,
    ) -> None:
        if (workers is None) == (scheduler is None):
            raise ClusterError("give either a number of workers (a LocalCluster) or a scheduler address, not both")
        if workers is not None and workers < 1:
            raise ClusterError(f"the number of workers must be at least 1, got {workers}")
        if retries < 0:
            raise ClusterError(f"retries must be 0 or more, got {retries}")
        self.limits = limits or TrialLimits(seconds=evaluator.trial_seconds)
        self.retries = retries
        self._cluster: distributed.LocalCluster | None = None
        self._client = self._start_local(workers) if workers is not None else self._connect(scheduler)
        if workers is not None:
            self.capacity = workers
        else:
            self.capacity = max(1, len(self._client.scheduler_info()["workers"]))
        # Pickled once, by value where needed (a space loaded from a user's file is a module
        # that workers cannot import), and scattered to every worker once rather than per trial.
        self._evaluator_bytes = cloudpickle.dumps(evaluator)
        self._evaluator_future = self._scatter()
        self._in_flight: dict[distributed.Future, tuple[int, Proposal, int, int]] = {}
        self._jobs: set[distributed.Future] = set()
        self._closed = False
        # Called with (trial number, why its attempt ended) before a trial is run again: the
        # driver stores it in the trial's attempt history.
        self.on_retry: Callable[[int, str], None] | None = None

    # ------------------------------------------------------------------ start
    def _start_local(self, workers: int) -> distributed.Client:
        # The scheduler lives in this process; it must allow no failures of its own so that
        # a lost worker surfaces as KilledWorker at once and the retry policy is ours.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            self._cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,  # one trial at a time per worker: the trial's own threads are limits.threads
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.CRITICAL,  # a lost worker is reported by its trial, not a raw log line
            )
        try:
            client = distributed.Client(self._cluster, set_as_default=False)
            client.register_plugin(TrialWorkerSetup(self.limits.threads))  # for workers restarted later
            client.run(warm_up, self.limits.threads)  # every worker ready to fork trials before the first one
        except BaseException:
            self._cluster.close()
            raise
        return client

    def _connect(self, address: str) -> distributed.Client:
        try:
            client = distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address}: {error}; check the address, or start a scheduler "
                f"there (dask scheduler), or run on this machine with --workers N instead"
            ) from None
        try:
            client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except (TimeoutError, distributed.TimeoutError):
            client.close()
            raise ClusterError(
                f"the Dask scheduler at {address} has no workers (waited {CONNECT_SECONDS} s); "
                f"start some with: dask worker {address}"
            ) from None
        return client

    def _scatter(self) -> distributed.Future:
        return self._client.scatter(self._evaluator_bytes, broadcast=True, hash=False)

    # ------------------------------------------------------------- protocol
    def submit(self, proposal: Proposal, seed: int, plan: TrialPlan | None = None) -> None:
        assert proposal.number is not None
        self._submit(proposal.number, proposal, seed, plan, attempt=1)

    def _submit(self, number: int, proposal: Proposal, seed: int, plan: TrialPlan | None, attempt: int) -> None:
        if self._evaluator_future.status != "finished":  # every worker holding it was lost
            self._evaluator_future = self._scatter()
        future = self._client.submit(
            run_isolated_trial,
            self._evaluator_future,
            proposal.candidate,
            seed,
            self.limits,
            plan,
            key=f"automl-trial-{number}-{attempt}-{uuid.uuid4().hex[:8]}",
            pure=False,
        )
        self._in_flight[future] = (number, proposal, seed, plan, attempt)

    def wait(self) -> list[Finished]:
        """Block until at least one trial has an outcome; trials whose worker died may be run again first."""
        while self._in_flight:
            try:
                with self._client.as_current():  # our client is not the process-wide default (no global state)
                    done, _ = distributed.wait(list(self._in_flight), return_when="FIRST_COMPLETED")
            except distributed.client.FuturesCancelledError:
                # the scheduler dropped a task (its worker died in a way it gave up on): that trial's outcome
                # is a retryable worker death, read from the future's status below; the others keep running
                done = {future for future in self._in_flight if future.status == "cancelled"}
            finished: list[Finished] = []
            for future in done:
                number, proposal, seed, plan, attempt = self._in_flight.pop(future)
                outcome = self._outcome(future, "trial")
                future.release()  # the scheduler forgets the task: nothing accumulates per trial
                if outcome.retryable and attempt <= self.retries:
                    if self.on_retry is not None:
                        self.on_retry(number, outcome.failure or "worker died")
                    self._submit(number, proposal, seed, plan, attempt + 1)
                    continue
                if outcome.retryable and attempt > 1:
                    outcome = IsolatedOutcome(failure=f"{outcome.failure}; it was run {attempt} times")
                result, weights = outcome.result()
                finished.append(Finished(number, result, weights))
            if finished:
                return finished
        return []

    # ----------------------------------------------------------------- jobs
    def run_job(self, function: Callable[..., Any], *arguments: Any) -> Any:
        """Run ``function(*arguments)`` on a worker, in its own process under the trial limits; return its value.

        The function and its arguments are pickled together with cloudpickle (a
        space from a user's file goes by value), scattered to one worker, and
        run by :func:`~automl.engine.resources.run_isolated_job`; its value comes
        back pickled. The calling thread only waits on a future, so the driver
        stays responsive, and ``close()`` from another thread stops the job.
        A worker that dies is retried like a trial's (``retries``); any failure
        (time or memory limit, a crash, a dead worker, the runner closed) raises
        :class:`JobFailed` with the one-line reason a trial would get.
        """
        if self._closed:
            raise JobFailed("stopped: the runner is closed")
        try:
            payload = cloudpickle.dumps((function, arguments), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            raise JobFailed(f"crashed: the job could not be pickled: {type(error).__name__}: {error}") from error
        payload_future: distributed.Future | None = None
        attempt = 0
        try:
            while True:
                attempt += 1
                if payload_future is None or payload_future.status != "finished":  # first, or its worker was lost
                    payload_future = self._client.scatter(payload, hash=False)
                outcome = self._run_job_once(payload_future, attempt)
                if not (outcome.retryable and attempt <= self.retries):
                    break
        except JobFailed:
            raise
        except Exception as error:  # the cluster went away, or the runner was closed under us
            if self._closed:
                raise JobFailed(STOPPED) from None
            raise JobFailed(f"crashed in the runner: {type(error).__name__}: {error}") from error
        finally:
            if payload_future is not None:
                with contextlib.suppress(Exception):
                    payload_future.release()
        if outcome.retryable and attempt > 1:
            outcome = IsolatedOutcome(failure=f"{outcome.failure}; it was run {attempt} times")
        return job_value(outcome)

    def _run_job_once(self, payload_future: distributed.Future, attempt: int) -> IsolatedOutcome:
        """One attempt: submit, wait (checking for ``close()`` meanwhile), and read the outcome."""
        future = self._client.submit(
            run_isolated_job,
            payload_future,
            self.limits,
            key=f"automl-job-{attempt}-{uuid.uuid4().hex[:8]}",
            pure=False,
        )
        self._jobs.add(future)
        try:
            while not future.done():
                if self._closed:
                    raise JobFailed(STOPPED)
                try:
                    with self._client.as_current():
                        distributed.wait([future], timeout=JOB_WAIT_SECONDS)
                except TimeoutError:
                    continue
            if self._closed:
                raise JobFailed(STOPPED)
            return self._outcome(future, "job")
        finally:
            self._jobs.discard(future)
            with contextlib.suppress(Exception):
                future.release()

    @staticmethod
    def _outcome(future: distributed.Future, what: str) -> IsolatedOutcome:
        if future.status == "finished":
            try:
                return future.result()
            except Exception as error:  # e.g. a result that could not be moved back
                return IsolatedOutcome(failure=f"crashed in the runner: {type(error).__name__}: {error}")
        if future.status == "cancelled":
            return IsolatedOutcome(failure="worker died: the task was cancelled by the cluster", retryable=True)
        error = future.exception()
        if isinstance(error, distributed.KilledWorker):
            worker = getattr(error, "last_worker", None)
            where = getattr(worker, "address", None) or "its worker"
            return IsolatedOutcome(failure=f"worker died: {where} was lost while running the {what}", retryable=True)
        return IsolatedOutcome(failure=f"crashed in the runner: {type(error).__name__}: {error}")

    def close(self) -> None:
        """Cancel what is still running (trials and a job: their processes are killed) and stop our LocalCluster.

        Safe to call twice, and from another thread than one waiting in ``run_job``
        (which then raises ``JobFailed``).
        """
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            running = [*self._in_flight, *self._jobs.copy()]
            if running:
                self._client.cancel(running)
            self._in_flight.clear()
            self._evaluator_future.release()
        with contextlib.suppress(Exception):
            self._client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
