"""Run one trial (or one job) in its own process, under a wall-clock and a memory limit.

Dask runs tasks in worker *threads*, where ``SIGALRM`` cannot interrupt a trial,
and a trial that allocates without bound would take its worker (and the other
trials on the machine) down with it. So every trial of the Dask runner runs in a
child process of the worker, forked from a per-worker ``forkserver`` that has
torch and the engine imported already (a fresh interpreter costs seconds to
import torch; a fork costs milliseconds). The task that started the child
watches it and kills it at its deadline or when its resident memory passes the
limit; the worker itself stays healthy for the next trial.

A *job* (a one-shot strategy's supernet phase, see ``DaskRunner.run_job``) runs
the same way: :func:`run_isolated_trial` and :func:`run_isolated_job` differ only
in what the child does; starting, watching, limits and the failure reasons
(``timed out: ...``, ``exceeded the memory limit ...``, ``worker died: ...``,
``crashed: ...``) are shared. When the task runs on a Dask worker and its
client cancels it (the runner was closed), the child is killed at once.

This module is imported by Dask workers: it must stay free of torch at import
time (the worker only moves bytes; torch lives in the forkserver and its
children).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import spawn
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import psutil

from automl.space import Candidate
from automl.strategies.base import JobFailed, TrialResult

if TYPE_CHECKING:  # the evaluator module imports torch; a worker loads it only in the trial's child
    from automl.engine.evaluation import TrialPlan

# Modules the forkserver imports once, so that each forked trial starts with them loaded. "__main__"
# (the driver's script, which spawned workers run as ``__mp_main__``) is among them because multiprocessing
# otherwise imports it again in every forked child: seconds per trial for a script that imports Dask.
# torch's own lazy imports on the first trial: the first optimiser imports torch._dynamo, the first conv's
# shape check symbolic_shapes (and with it sympy); about a second together on a small machine.
TORCH_LAZY_MODULES = ("torch._dynamo", "torch.fx.experimental.symbolic_shapes", "torch.utils.serialization")
# What every trial child needs, imported once in the forkserver and inherited by each fork: imported in
# each child, the lazy modules would cost a second per trial, which dominates the short trials of a
# multi-fidelity search. Imports only: no op runs before the fork.
PRELOADED_MODULES = ["__main__", "automl.engine.resources", "automl.engine.evaluation", "cloudpickle"]
PRELOADED_MODULES += TORCH_LAZY_MODULES
# Address space a trial may reserve beyond its memory limit before an allocation fails at once:
# thread stacks and malloc arenas reserve address space they never touch, so the address-space
# limit is only a backstop against a single huge allocation; the resident memory is what is limited.
ADDRESS_SPACE_SLACK = 1 << 30
POLL_SECONDS = 0.05
# How long a trial's process may take to start (the first one waits for the forkserver to import torch).
START_SECONDS = 300
STARTED = b"started"
# The driver's script path, handed from a worker to the forkserver it starts (see _import_main_in_forkserver).
MAIN_VARIABLE = "AUTOML_FORKSERVER_MAIN"
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gb": 1000**3,
    "gib": 1 << 30,
    "t": 1 << 40,
    "tb": 1000**4,
    "tib": 1 << 40,
}


class MemoryLimitError(ValueError):
    """A memory limit that cannot be understood (a user's typo, reported as one line)."""


def parse_memory(value: str | int | None) -> int | None:
    """Bytes from ``"2GiB"``, ``"512MiB"``, ``"2GB"``, ``"2g"`` or an int; None means no limit.

    Binary (GiB) and decimal (GB) units are both accepted because users write
    both; a bare letter (``2g``) is binary, as in ``ulimit`` and Docker.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise MemoryLimitError(f"memory limit {value!r} is not a size; write e.g. 2GiB")
    if isinstance(value, int):
        amount = value
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        if match is None or match.group(2).lower() not in _UNITS:
            raise MemoryLimitError(f"memory limit {value!r} is not a size; write e.g. 2GiB, 512MiB or 2GB")
        amount = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if amount < 16 << 20:
        raise MemoryLimitError(f"memory limit {value!r} is below 16 MiB: no trial (Python alone) fits in it")
    return amount


def format_memory(amount: int) -> str:
    """``2 GiB``, ``1.5 GiB``, ``300 MiB``: the form used in failure reasons."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if amount >= size:
            return f"{amount / size:.3g} {unit}"
    return f"{amount} B"


@dataclass(frozen=True)
class TrialLimits:
    """What one isolated trial may use: wall seconds, resident bytes, torch threads."""

    seconds: float | None = None
    memory: int | None = None
    threads: int = 1

    @property
    def grace_seconds(self) -> float:
        """How long past ``seconds`` the trial's own ``SIGALRM`` gets before the process is killed."""
        return 0.0 if self.seconds is None else max(1.0, 0.1 * self.seconds)


@dataclass(frozen=True)
class IsolatedOutcome:
    """What the worker sends back: the pickled (result, weights), or why there is none.

    The worker never unpickles the payload (it would have to import torch for the
    weights); the driver does. ``retryable`` marks failures that are not the
    trial's own doing as far as the runner can tell (its process was killed by a
    signal it did not send: the OOM killer, a segfault in a library, an operator).
    """

    payload: bytes | None = None
    failure: str | None = None
    retryable: bool = False

    def result(self) -> tuple[TrialResult, dict[str, Any] | None]:
        if self.payload is not None:
            return pickle.loads(self.payload)
        return TrialResult.failed(self.failure or "failed"), None


def prepare_worker(threads: int) -> None:
    """Make this process ready to fork trials: thread counts, and the forkserver started.

    Environment variables are read by torch and BLAS at import, which happens in
    the forkserver; setting them here (before it starts) makes every trial use
    ``threads`` threads unless the trial sets its own.
    """
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, str(threads))
    main_path = spawn.get_preparation_data("automl-trial").get("init_main_from_path")
    if main_path:
        os.environ[MAIN_VARIABLE] = main_path
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED_MODULES)
    from multiprocessing import forkserver

    forkserver.ensure_running()


def import_lazy_torch_modules() -> None:
    """Import torch's lazily imported modules now, before a search's first trial starts its clock.

    In the driver's process (trials in-process), so that the first trial's time (and its
    ``--trial-seconds``) does not include them; trial children get them from the forkserver.
    """
    import importlib

    for name in TORCH_LAZY_MODULES:
        with contextlib.suppress(ImportError):  # another torch version may not have one of them
            importlib.import_module(name)


def warm_up(threads: int) -> None:
    """Start the forkserver and fork one empty trial process, waiting until both are done.

    The forkserver imports torch before it forks anything (seconds on a small
    machine); a runner calls this on every worker before its first trial so that
    this start-up is paid once, up front, and not by the first trials' time limits.
    """
    prepare_worker(threads)
    context = multiprocessing.get_context("forkserver")
    process = context.Process(target=_do_nothing, name="automl-warm-up", daemon=True)
    with _children_allowed():
        process.start()
    process.join(START_SECONDS)


def _do_nothing() -> None:
    """The body of the warm-up process."""


def _import_main_in_forkserver() -> None:
    """In the forkserver, import the driver's script once, as multiprocessing means to.

    ``set_forkserver_preload(["__main__"])`` is ignored by CPython 3.11 and 3.12
    (the forkserver is never told the main path), so every forked child runs the
    script again: with a script that imports Dask, 0.3 to 0.5 s per trial. This
    module is preloaded, so importing it in the forkserver imports the script
    (as ``__mp_main__``, under its ``if __name__ == "__main__"`` guard), and the
    children find it loaded.
    """
    path = os.environ.get(MAIN_VARIABLE)
    in_forkserver = sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules
    if not path or not in_forkserver or getattr(sys.modules.get("__main__"), "__file__", None) == path:
        return
    process = multiprocessing.current_process()
    process._inheriting = True
    try:
        spawn.import_main_path(path)
    except Exception:  # the children import it themselves, as without this
        pass
    finally:
        del process._inheriting


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    """Let a daemonic Dask worker start a trial process.

    Dask workers run as daemonic processes, and multiprocessing refuses to start
    children from those, because a daemon is killed without cleaning them up.
    Trial processes clean up after themselves instead (they die with the worker,
    see ``_die_with_worker``), so the flag is lifted for the start only.
    """
    process = multiprocessing.current_process()
    daemonic = process._config.get("daemon")
    process._config["daemon"] = False
    try:
        yield
    finally:
        if daemonic is not None:
            process._config["daemon"] = daemonic


def run_isolated_trial(
    evaluator_payload: bytes, candidate: Candidate, seed: int, limits: TrialLimits, plan: TrialPlan | None = None
) -> IsolatedOutcome:
    """The Dask task of a trial: run it in a forked child, enforce its limits, return its pickled outcome.

    The payload is the pickled ``(TrialResult, weights)`` (see :meth:`IsolatedOutcome.result`).
    """
    arguments = (evaluator_payload, candidate, seed, limits, plan)
    return _run_isolated(_trial_process_main, arguments, limits, f"automl-trial-{seed}", "trial")


def run_isolated_job(job_payload: bytes, limits: TrialLimits) -> IsolatedOutcome:
    """The Dask task of a job: ``function(*arguments)`` (cloudpickled together) in a forked child, under ``limits``.

    The payload that comes back is the pickled :class:`JobOutcome`; read it with
    :func:`job_value`, which raises :class:`JobFailed` with the job's reason.
    """
    return _run_isolated(_job_process_main, (job_payload, limits), limits, "automl-job", "job")


@dataclass(frozen=True)
class JobOutcome:
    """What a job's child sends back: the function's value, or why it failed (one line)."""

    value: Any = None
    failure: str | None = None


def job_value(outcome: IsolatedOutcome) -> Any:
    """The value of a job from its isolated outcome; a failure of any kind raises ``JobFailed`` with its reason."""
    if outcome.payload is None:
        raise JobFailed(outcome.failure or "failed")
    try:
        job = pickle.loads(outcome.payload)
    except Exception as error:  # a value of a class this process cannot import
        raise JobFailed(f"crashed: its result could not be read back: {type(error).__name__}: {error}") from error
    if job.failure is not None:
        raise JobFailed(job.failure)
    return job.value


def _run_isolated(
    target: Callable[..., None], arguments: tuple[Any, ...], limits: TrialLimits, name: str, what: str
) -> IsolatedOutcome:
    """Start ``target(sending, worker pid, *arguments)`` in a child forked by the forkserver and watch it."""
    prepare_worker(limits.threads)
    context = multiprocessing.get_context("forkserver")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(sending, os.getpid(), *arguments), name=name, daemon=True)
    started = time.monotonic()
    with _children_allowed():
        process.start()
    sending.close()
    try:
        return _watch(process, receiving, limits, started, what, _cancelled_check())
    finally:
        receiving.close()
        if process.is_alive():
            process.kill()
        process.join(5)
        process.close()


def _cancelled_check() -> Callable[[], bool] | None:
    """When this runs as a Dask task: a check that its client no longer wants it (cancelled, runner closed).

    A running task cannot be interrupted by Dask (it is a thread of the worker);
    its state on the worker turns ``cancelled`` when the client cancels it, which
    the watcher polls so that the child is killed at once instead of at its
    deadline. Outside a worker (or with a worker state this does not know) there
    is no check.
    """
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        worker = get_worker()
        key = thread_state.key
        tasks = worker.state.tasks
    except Exception:
        return None

    def cancelled() -> bool:
        task = tasks.get(key)
        return task is None or task.state in ("cancelled", "released", "forgotten")

    return cancelled


def _watch(
    process: multiprocessing.process.BaseProcess,
    receiving: Connection,
    limits: TrialLimits,
    started: float,
    what: str = "trial",
    cancelled: Callable[[], bool] | None = None,
) -> IsolatedOutcome:
    """Wait for the child's result, killing it at the deadline, past the memory limit, or when cancelled.

    The child first sends ``STARTED`` once it has loaded its payload: the
    seconds count from there, so the forkserver's first start (importing
    torch) is not charged to the first trial. ``what`` ("trial" or "job") names
    the child in the failure reasons.
    """
    deadline = started + START_SECONDS
    running = False
    try:
        watched: psutil.Process | None = psutil.Process(process.pid)
    except psutil.NoSuchProcess:  # a quick trial can finish before it is first watched
        watched = None
    peak = 0
    while True:
        if receiving.poll(POLL_SECONDS):
            try:
                message = receiving.recv_bytes()
            except EOFError:  # the child closed the pipe without sending: it died
                break
            if running:
                return IsolatedOutcome(payload=message)
            running = True
            deadline = None if limits.seconds is None else time.monotonic() + limits.seconds + limits.grace_seconds
            continue
        if not process.is_alive():
            if receiving.poll(0):
                continue  # it sent its result and exited between two checks
            break
        if cancelled is not None and cancelled():
            process.kill()
            return IsolatedOutcome(failure=f"stopped: the {what} was cancelled (its runner was closed)")
        if limits.memory is not None and watched is not None:
            try:
                resident = watched.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            peak = max(peak, resident)
            if resident > limits.memory:
                process.kill()
                return IsolatedOutcome(
                    failure=f"exceeded the memory limit of {format_memory(limits.memory)} "
                    f"(resident memory reached {format_memory(peak)}); the {what} was stopped"
                )
        if deadline is not None and time.monotonic() > deadline:
            process.kill()
            if not running:
                return IsolatedOutcome(
                    failure=f"worker died: the {what}'s process did not start within {START_SECONDS} s", retryable=True
                )
            return IsolatedOutcome(
                failure=f"timed out: passed the per-trial limit of {limits.seconds:g} s "
                f"(its process did not stop by itself and was killed {limits.grace_seconds:g} s later)"
            )
    process.join(5)
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return IsolatedOutcome(
            failure=f"worker died: the {what}'s process was killed by {name} "
            "(out of memory, a crash in native code, or killed from outside)",
            retryable=True,
        )
    return IsolatedOutcome(failure=f"crashed: the {what}'s process exited with status {code} without a result")


# ---------------------------------------------------------------- the child


def _start_child(worker: int, limits: TrialLimits) -> None:
    """In a forked child, before its payload is loaded: die with the worker, limit memory and threads."""
    _die_with_worker(worker)
    if limits.memory is not None:
        _limit_address_space(limits.memory)
    import cloudpickle  # noqa: F401  (payloads are pickled by value with it; loading needs it importable)
    import torch

    torch.set_num_threads(limits.threads)


def _trial_process_main(
    sending: Connection,
    worker: int,
    evaluator_payload: bytes,
    candidate: Candidate,
    seed: int,
    limits: TrialLimits,
    plan: TrialPlan | None = None,
) -> None:
    """In the forked child: limit, evaluate, send the pickled (result, weights), exit."""
    _start_child(worker, limits)
    try:
        evaluator = pickle.loads(evaluator_payload)
        sending.send_bytes(STARTED)
        result, weights = evaluator(candidate, seed, plan)
    except MemoryError:
        result, weights = TrialResult.failed("crashed: MemoryError while loading the trial"), None
    if limits.memory is not None and not result.ok and _is_memory_error(result.error):
        reason = f"exceeded the memory limit of {format_memory(limits.memory)} ({result.error})"
        result, weights = TrialResult.failed(reason, result.metrics), None
    try:
        payload = pickle.dumps((result, weights), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # metrics or weights that do not pickle: report that instead of hanging the driver
        failed = TrialResult.failed(f"crashed: its result could not be sent back: {error}")
        payload = pickle.dumps((failed, None), protocol=pickle.HIGHEST_PROTOCOL)
    sending.send_bytes(payload)
    sending.close()


def _job_process_main(sending: Connection, worker: int, job_payload: bytes, limits: TrialLimits) -> None:
    """In the forked child: limit, run the job under its seconds (SIGALRM, as in-process), send its JobOutcome."""
    _start_child(worker, limits)
    import cloudpickle

    from automl.engine.limits import time_limit

    try:
        function, arguments = pickle.loads(job_payload)
        sending.send_bytes(STARTED)
        with time_limit(limits.seconds):
            outcome = JobOutcome(value=function(*arguments))
    except Exception as error:  # the job's failure is reported, never raised into the worker
        outcome = JobOutcome(failure=job_failure(error, limits.memory))
    try:
        payload = cloudpickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # a value that does not pickle: report that instead of hanging the driver
        failed = JobOutcome(failure=f"crashed: its result could not be sent back: {type(error).__name__}: {error}")
        payload = pickle.dumps(failed, protocol=pickle.HIGHEST_PROTOCOL)
    sending.send_bytes(payload)
    sending.close()


def job_failure(error: BaseException, memory: int | None = None) -> str:
    """A job's exception as the one line a trial's would be: ``timed out: ...``, ``crashed: Type: ...``.

    A ``TrialFailure`` (the time limit, a NaN loss) is its own message; any other
    exception is ``crashed: Type: message``; a ``MemoryError`` under a memory
    limit is reported as that limit.
    """
    from automl.training import TrialFailure

    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(error, TrialFailure) and first:
        return first
    reason = f"crashed: {type(error).__name__}: {first}" if first else f"crashed: {type(error).__name__}"
    if memory is not None and isinstance(error, MemoryError):
        return f"exceeded the memory limit of {format_memory(memory)} ({reason})"
    return reason


def _is_memory_error(error: str | None) -> bool:
    """The evaluator reports an exception as ``crashed: TypeName: ...``; numpy's is ``_ArrayMemoryError``."""
    return bool(error) and re.match(r"crashed: \w*MemoryError\b", error) is not None


def _limit_address_space(memory: int) -> None:
    """Make one allocation far past the limit fail at once (MemoryError) instead of being polled too late."""
    import resource

    current = psutil.Process().memory_info().vms
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = current + memory + ADDRESS_SPACE_SLACK
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def _die_with_worker(worker: int) -> None:
    """End this trial when the worker that started it is gone, so no orphan keeps computing.

    The child's parent is the forkserver, which exits when its worker dies; on
    Linux ``PR_SET_PDEATHSIG`` turns that into a SIGKILL for the child at once.
    A watcher thread covers other systems (and a forkserver that outlives its worker).
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                os._exit(70)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="automl-worker-watch", daemon=True).start()


_import_main_in_forkserver()
