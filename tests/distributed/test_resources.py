"""One trial in its own process: limits parsed, enforced, and reported with the limit that was hit."""

from __future__ import annotations

import os
import signal
import time

import cloudpickle
import pytest
from behaviours import behaving

from automl.engine.evaluation import Evaluator
from automl.engine.resources import (
    MemoryLimitError,
    TrialLimits,
    format_memory,
    parse_memory,
    run_isolated_trial,
)
from automl.space import Candidate

CANDIDATE = Candidate({"width": 5000, "behaviour": "fine"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2GiB", 2 << 30),
        ("512MiB", 512 << 20),
        ("2GB", 2_000_000_000),
        ("1.5g", int(1.5 * (1 << 30))),
        (1 << 30, 1 << 30),
    ],
)
def test_memory_limits_are_parsed_in_binary_and_decimal_units(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["two gigs", "2XB", "", "1KiB", True])
def test_a_memory_limit_that_is_not_a_size_says_how_to_write_one(text):
    with pytest.raises(MemoryLimitError):
        parse_memory(text)


def test_memory_is_formatted_the_way_failures_report_it():
    assert format_memory(2 << 30) == "2 GiB"
    assert format_memory(300 << 20) == "300 MiB"


def isolated(objective, limits: TrialLimits):
    """Run one trial of ``objective`` as a Dask worker would, here in the test's process."""
    evaluator = Evaluator(space=behaving, objective=objective, trial_seconds=limits.seconds)
    return run_isolated_trial(cloudpickle.dumps(evaluator), CANDIDATE, 0, limits)


def sleep_unstoppably(candidate):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # like a trial stuck in native code
    time.sleep(30)


def allocate_at_once(candidate):
    import numpy

    return float(numpy.ones(64 << 30, dtype=numpy.uint8).sum())


def segfault(candidate):
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(30)


@pytest.mark.slow
def test_an_isolated_trial_returns_its_result_and_limits_are_enforced_from_outside():
    outcome = isolated(lambda candidate: candidate["width"] / 2, TrialLimits(seconds=30, memory=2 << 30))
    result, weights = outcome.result()
    assert result.ok and result.score == 2500 and weights is None

    started = time.monotonic()
    outcome = isolated(sleep_unstoppably, TrialLimits(seconds=1))
    result, _ = outcome.result()
    assert result.status == "failed" and result.error.startswith("timed out: passed the per-trial limit of 1 s")
    assert "killed" in result.error and time.monotonic() - started < 10
    assert not outcome.retryable

    result, _ = isolated(allocate_at_once, TrialLimits(seconds=30, memory=1 << 30)).result()
    assert result.error.startswith("exceeded the memory limit of 1 GiB"), result.error

    outcome = isolated(segfault, TrialLimits(seconds=30))
    assert outcome.retryable
    assert outcome.result()[0].error.startswith("worker died: the trial's process was killed by SIGSEGV")
