"""``automl compare A... --against B... --plot FILE``: best-so-far curves of two groups of studies with bands.

Each side is a strategy run over several seeds (one study per seed); the figure
draws each side's mean best score after every trial with a 95% confidence band
(a t interval over the side's studies: the spread of the strategy across seeds,
not of one run), so where two strategies part and whether their bands overlap
is read at a glance, as in the anytime-performance plots of HPO benchmarks
(e.g. Eggensperger et al., "HPOBench", NeurIPS 2021 datasets track).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from automl.cli.errors import UsageProblem

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def split_plot_option(arguments: Sequence[str]) -> tuple[list[str], Path | None]:
    """The arguments without ``--plot FILE``, and FILE (None when not given)."""
    remaining = list(arguments)
    if "--plot" not in remaining:
        return remaining, None
    index = remaining.index("--plot")
    if index + 1 >= len(remaining) or remaining[index + 1].startswith("--"):
        raise UsageProblem("--plot takes the PNG file to write, e.g. --plot compare.png")
    output = Path(remaining[index + 1])
    del remaining[index : index + 2]
    if "--plot" in remaining:
        raise UsageProblem("give --plot once")
    return remaining, output


def best_so_far(path: Path) -> np.ndarray:
    """The best score (the objective's own sign) after each trial of a study, in trial order; a trial without a
    score keeps the best before it (NaN until the first score)."""
    from automl.engine.study import Study

    study = Study.open(path)
    try:
        minimised = study.meta.get("direction") == "minimize"
        values = []
        best = np.nan
        for trial in sorted(study.trials, key=lambda trial: trial.number):
            value = study.objective_value(trial) if trial.status.value == "complete" else None
            if value is not None and (np.isnan(best) or (value < best if minimised else value > best)):
                best = float(value)
            values.append(best)
    finally:
        study.close()
    return np.array(values, dtype=float)


def band(curves: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% t interval after each trial, over the studies of one side (cut to the shortest study)."""
    from scipy import stats

    length = min(len(curve) for curve in curves)
    matrix = np.array([curve[:length] for curve in curves])
    mean = np.nanmean(matrix, axis=0)
    count = np.sum(~np.isnan(matrix), axis=0)
    spread = np.nanstd(matrix, axis=0, ddof=1) if len(curves) > 1 else np.zeros(length)
    half = np.where(count > 1, stats.t.ppf(0.975, np.maximum(count - 1, 1)) * spread / np.sqrt(count), 0.0)
    return mean, mean - half, mean + half


def comparison_figure(sides: Sequence[tuple[str, Sequence[Path]]]) -> Figure:
    """Each side's mean best-so-far with its 95% band, against the trial."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5))
    axes = figure.add_subplot()
    for label, paths in sides:
        mean, low, high = band([best_so_far(path) for path in paths])
        trials = np.arange(1, len(mean) + 1)
        (line,) = axes.plot(trials, mean, linewidth=1.5, label=f"{label} ({len(paths)} studies)")
        axes.fill_between(trials, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.set_xlabel("trial")
    axes.set_ylabel("best score so far (mean, 95% band)")
    axes.set_title("best so far by strategy over seeds")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def write_comparison(sides: Sequence[tuple[str, Sequence[Path]]], output: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    drawn = comparison_figure(sides)
    output.parent.mkdir(parents=True, exist_ok=True)
    drawn.savefig(output, dpi=120)
    return output
