"""Stopping trials whose learning curve falls behind: median (percentile) stopping.

Golovin et al., "Google Vizier: A Service for Black-Box Optimization", KDD
2017, section 3.2.2: stop a trial at step ``t`` when its best value so far is
below the median of the running averages of earlier completed trials at ``t``.
Here the percentile is an option (the median is the 50th).

The driver keeps, for every epoch, the sorted running averages of the completed
trials (a continued trial's curve starts where the trial it continues left
off), and hands each trial its thresholds when it starts: the rule needs no
messages between the driver and a worker, so it works in-process and on Dask
alike, and reading the thresholds costs the same at trial 10 as at 10,000.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass
class PercentileStopping:
    """Thresholds per epoch from the completed trials' running averages."""

    percentile: float = 50.0
    warmup_epochs: int = 1  # no trial is stopped before this epoch
    min_trials: int = 5  # nor before this many completed trials reached the epoch
    averages: list[list[float]] = field(default_factory=list)  # epoch - 1 -> sorted running averages
    totals: dict[int, tuple[int, float]] = field(default_factory=dict)  # trial -> (last epoch, sum of its scores)

    @property
    def rule(self) -> str:
        name = "the median" if self.percentile == 50 else f"the {self.percentile:g}th percentile"
        return f"its best score was below {name} of earlier completed trials at that epoch"

    def add(self, number: int, curve: list[dict[str, float]], continues: int | None, completed: bool) -> None:
        """A finished trial's own curve; a completed one's running averages join the thresholds."""
        epoch, total = self.totals.get(continues, (0, 0.0)) if continues is not None else (0, 0.0)
        for point in curve:
            epoch, total = int(point["epoch"]), total + float(point["score"])
            if completed:
                while len(self.averages) < epoch:
                    self.averages.append([])
                bisect.insort(self.averages[epoch - 1], total / epoch)
        self.totals[number] = (epoch, total)

    def thresholds(self, epochs: int) -> tuple[float | None, ...]:
        """The score a trial must have reached by each epoch 1..``epochs`` to go on (None: no rule yet)."""
        values: list[float | None] = []
        for epoch in range(1, epochs + 1):
            known = self.averages[epoch - 1] if epoch <= len(self.averages) else []
            if epoch < self.warmup_epochs or len(known) < self.min_trials:
                values.append(None)
            else:
                values.append(_percentile(known, self.percentile))
        return tuple(values)


def _percentile(ordered: list[float], percentile: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on an already sorted list."""
    position = (len(ordered) - 1) * percentile / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
