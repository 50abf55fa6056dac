"""A hard wall-clock limit for code running in the main thread.

``SIGALRM`` interrupts Python code (a ``time.sleep`` or a training loop between
torch calls) so that an in-process trial cannot overrun its seconds. Off the main
thread, or where there is no ``SIGALRM``, the limit falls back to the training
loop's own deadline checks; the Dask runner enforces limits from outside.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from automl.training import TrialFailure


class TrialTimeout(TrialFailure):
    """A trial ran past its per-trial seconds."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    usable = (
        seconds is not None
        and math.isfinite(seconds)
        and hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise TrialTimeout(f"timed out: passed the per-trial limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
