"""``automl plot STUDY --kind KIND``: which figure each kind draws, and writing it to a PNG.

A plot the study cannot give (too few complete trials for an importance, a space
file that is gone for the architecture) is one line and exit status 2.

Apart from :mod:`automl.cli.plot_command` (the scores and learning-curve panels, which the report page
draws too) so that the report's figures can use those panels while this module uses the report's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from automl.cli.errors import UsageProblem
from automl.cli.plot_command import figure
from automl.engine.study import Study

if TYPE_CHECKING:
    from matplotlib.figure import Figure


KINDS = ("scores", "time", "importance", "parallel", "architecture")  # main.py names them too, for a fast --help


def default_output(path: Path, kind: str) -> Path:
    """``runs/wine.db`` -> ``runs/wine.png`` for the scores, ``runs/wine.time.png`` for the time plot..."""
    return path.with_suffix(".png") if kind == "scores" else path.with_suffix(f".{kind}.png")


def kind_figure(study: Study, kind: str) -> Figure:
    """The figure of one ``--kind``; :class:`~automl.report.study_space.PlotUnavailable` says why there is none."""
    from automl.report import decision_plots
    from automl.report.figures import architecture_figure, time_figure
    from automl.report.study_space import PlotUnavailable, study_space

    if kind == "scores":
        return figure(study)
    if kind == "time":
        drawn = time_figure(study, study.trials)
        if drawn is None:
            raise PlotUnavailable("no trial has finished yet")
        return drawn
    if kind == "architecture":
        return architecture_figure(study)
    try:
        space = study_space(study)
    except PlotUnavailable:  # the decisions alone still give both plots, with less known about each
        space = None
    table = decision_plots.decision_table(study, space)
    if kind == "importance":
        return decision_plots.importance_figure(study, table, decision_plots.decision_importance(table))
    if kind == "parallel":
        ranked = decision_plots.decision_importance(table) if len(table.trials) >= decision_plots.MIN_TRIALS else None
        drawn, _ = decision_plots.parallel_figure(study, table, ranked)
        return drawn
    raise UsageProblem(f"--kind {kind!r} is not one of {', '.join(KINDS)}")


def plot(path: Path, output: Path | None = None, kind: str = "scores") -> Path:
    """Write the ``kind`` plot of the study at ``path`` to ``output`` [see :func:`default_output`]."""
    import matplotlib

    from automl.report.study_space import PlotUnavailable

    matplotlib.use("Agg")  # files only: no display needed

    output = default_output(path, kind) if output is None else output
    study = Study.open(path)
    try:
        drawn = kind_figure(study, kind)
    except PlotUnavailable as error:
        raise UsageProblem(f"no {kind} plot of {path}: {error}") from None
    finally:
        study.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    drawn.savefig(output, dpi=120)
    return output
