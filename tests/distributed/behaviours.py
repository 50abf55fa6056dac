"""A toy space whose one decision picks how a trial misbehaves, and the objective that does it.

The distributed tests pickle these by value (see conftest.py), as they would a
user's script: Dask workers do not have the tests folder on their path.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from automl import space as s

BEHAVIOURS = ["fine", "sleep", "memory", "kill-worker"]


@s.search_space
def behaving(x):
    """A toy space: ``behaviour`` tells the objective what to do; ``width`` makes candidates differ."""
    x = s.op.linear(x, units=s.Int(1, 10_000, name="width"))
    x = s.op.activation(x, kind=s.Choice(BEHAVIOURS, name="behaviour"))
    return s.op.linear(x, units=s.OUTPUTS)


def misbehave(candidate, markers: Path, kills: int = 1) -> float:
    """Do what the candidate says, the first time only (marker files claim each misbehaviour once).

    ``memory`` touches 64 MiB blocks until stopped; ``sleep`` sleeps 60 s;
    ``kill-worker`` SIGKILLs the Dask worker process that started this trial
    (the trial's parent is the worker's forkserver, whose parent is the worker),
    ``kills`` times in all (so that a retried trial can be killed again).
    """
    behaviour = candidate["behaviour"]
    claims = [f"{behaviour}-{index}" for index in range(kills if behaviour == "kill-worker" else 1)]
    if behaviour != "fine" and not any(_claim(markers / claim) for claim in claims):
        behaviour = "fine"
    if behaviour == "sleep":
        time.sleep(60)
    elif behaviour == "memory":
        blocks = []
        for _ in range(200):
            blocks.append(b"x" * (64 << 20))
            time.sleep(0.01)
    elif behaviour == "kill-worker":
        worker = psutil.Process().parent().parent()
        worker.kill()
        time.sleep(60)
    return candidate["width"] / 10_000


def _claim(marker: Path) -> bool:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True
