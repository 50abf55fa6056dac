"""The report's plots, drawn by matplotlib and kept as inline SVG text.

The scores and learning-curve panels are ``automl plot``'s own
(:mod:`automl.cli.plot_command`), so the page and the PNG show the same thing.
Text is drawn as paths (``svg.fonttype = "path"``) and the XML prologue with its
DTD address is dropped, so a plot needs no font and no network to render; each
figure's element ids are prefixed with its name, so several plots can share one
HTML document without id clashes, and salted with it, so the same study gives the same SVG.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from automl.engine.storage import Trial
from automl.engine.study import Study
from automl.strategies.base import TrialStatus

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}  # no timestamp, no addresses


def svg_of(figure: Figure, name: str) -> str:
    """The figure as one ``<svg>`` element, ready to sit inside an HTML page."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": f"automl-report-{name}"}):
        figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    text = buffer.getvalue()
    text = text[text.index("<svg") :].strip()
    # matplotlib names its groups figure_1, axes_1...: prefixed, ids stay unique across the page's plots
    text = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', text)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", text)


def scores_figure(study: Study, trials: list[Trial]) -> Figure:
    """Every trial's score against its number and the best so far (``automl plot``'s first panel)."""
    from matplotlib.figure import Figure

    from automl.cli.plot_command import draw_scores

    figure = Figure(figsize=(8, 4.2))
    draw_scores(figure.add_subplot(), study, trials)
    figure.tight_layout()
    return figure


def curves_figure(study: Study, trials: list[Trial]) -> Figure | None:
    """Score against epoch for each candidate (``automl plot``'s second panel), or None when no trial has a curve."""
    from matplotlib.figure import Figure

    from automl.cli.plot_command import MAX_CURVES, candidate_curves, draw_curves
    from automl.cli.show_command import study_config

    curves = candidate_curves(trials)
    if not curves:
        return None
    figure = Figure(figsize=(8, 4.2))
    draw_curves(figure.add_subplot(), study, trials, curves, study_config(study), MAX_CURVES)
    figure.tight_layout()
    return figure


def trial_params(trial: Trial) -> float | None:
    """The parameters the search measured for a trial (``metrics.costs.params``), or None."""
    costs = trial.metrics.get("costs")
    value = costs.get("params") if isinstance(costs, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def costs_figure(study: Study, trials: list[Trial]) -> Figure | None:
    """Score against measured parameters, with the Pareto front; None when no scored trial has measured costs.

    The front is the best score reached at each model size or below: the
    trade-off a user picks from. Trials refused without a score (infeasible,
    failed) that were measured are ticks along the bottom edge, so the plot shows
    where a constraint cut the space.
    """
    from matplotlib.figure import Figure

    measured = [(trial, params) for trial in trials if (params := trial_params(trial)) is not None]
    scored = [(trial, params) for trial, params in measured if trial.score is not None]
    if not scored:
        return None
    figure = Figure(figsize=(8, 4.2))
    axes = figure.add_subplot()
    complete = [(trial, params) for trial, params in scored if trial.status is TrialStatus.COMPLETE]
    lower = [(trial, params) for trial, params in scored if trial.status is not TrialStatus.COMPLETE]
    for group, style in ((complete, {"label": "trial"}), (lower, {"label": "pruned (lower budget)", "marker": "x"})):
        if group:
            axes.scatter(
                [params for _, params in group], [study.objective_value(trial) for trial, _ in group], s=16, alpha=0.6,
                **style,
            )  # fmt: skip
    front_x, front_y, best_score = [], [], float("-inf")
    for trial, params in sorted(complete, key=lambda pair: (pair[1], -pair[0].score)):
        if trial.score > best_score:
            best_score = trial.score
            front_x.append(params)
            front_y.append(study.objective_value(trial))
    if front_x:
        axes.step(front_x, front_y, where="post", color="black", linewidth=1.2, label="Pareto front")
    best = study.best_trial
    if best is not None and (params := trial_params(best)) is not None:
        axes.scatter(
            [params], [study.objective_value(best)], marker="*", s=160, color="gold", edgecolor="black", zorder=5,
            label=f"best (trial {best.number})",
        )  # fmt: skip
    unscored = [params for trial, params in measured if trial.score is None]
    if unscored:
        axes.plot(
            unscored, [0.0] * len(unscored), linestyle="none", marker="|", markersize=12, color="red",
            transform=axes.get_xaxis_transform(), label=f"no score: failed or infeasible ({len(unscored)})",
        )  # fmt: skip
    sizes = [params for _, params in measured if params > 0]
    if sizes and max(sizes) / min(sizes) > 20:
        axes.set_xscale("log")
    metric = next((trial.metrics.get("metric") for trial, _ in scored if trial.metrics.get("metric")), "score")
    axes.set_xlabel("parameters (measured)")
    axes.set_ylabel(f"validation {metric}")
    axes.set_title("score against model size")
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    return figure


def objectives_figure(study: Study, trials: list[Trial]) -> Figure | None:
    """A two-objective study's trials on its two objectives, the Pareto front joined by its steps; None for a
    study without two objectives or without two complete trials having both values."""
    from matplotlib.figure import Figure

    from automl.engine.objectives import parse_objective
    from automl.evaluation.pareto import pareto_front

    stored = study.meta.get("objectives") or []
    if len(stored) != 2:
        return None
    objectives = [parse_objective(text) for text in stored]
    points = [
        (trial, trial.metrics["objectives"])
        for trial in trials
        if trial.status is TrialStatus.COMPLETE and len(trial.metrics.get("objectives") or []) == 2
    ]
    if len(points) < 2:
        return None
    vertical, horizontal = (1, 0) if objectives[1].is_score and not objectives[0].is_score else (0, 1)
    values = [values for _, values in points]
    front = sorted((values[index] for index in pareto_front(values, [item.direction for item in objectives])),
                   key=lambda point: point[horizontal])  # fmt: skip
    figure = Figure(figsize=(8, 4.2))
    axes = figure.add_subplot()
    axes.scatter([point[horizontal] for point in values], [point[vertical] for point in values], s=16, alpha=0.6,
                 color="0.6", label="complete trial")  # fmt: skip
    axes.step([point[horizontal] for point in front], [point[vertical] for point in front], where="post",
              color="black", linewidth=1.2)  # fmt: skip
    axes.scatter([point[horizontal] for point in front], [point[vertical] for point in front], s=30, zorder=3,
                 color="tab:blue", label=f"Pareto front ({len(front)})")  # fmt: skip
    spread = [point[horizontal] for point in values if point[horizontal] > 0]
    if spread and max(spread) / min(spread) > 20:
        axes.set_xscale("log")
    axes.set_xlabel(objectives[horizontal].text)
    axes.set_ylabel(objectives[vertical].text)
    axes.set_title("the study's two objectives")
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    return figure


def time_unit(span: float) -> tuple[float, str]:
    """Seconds per unit and its name for an axis that spans ``span`` seconds."""
    if span > 2 * 3600:
        return 3600.0, "hours"
    if span > 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def time_figure(study: Study, trials: list[Trial]) -> Figure | None:
    """Each trial's score at the time it finished and the best so far, against wall-clock time since the start.

    Time is counted from the first trial's start, so a search that ran trials
    side by side, or waited on a cluster, shows it. The best so far is the
    incumbent as the engine picks it (the best complete trial at the highest
    budget reached). Trials that finished without a score (failed, infeasible)
    are ticks along the bottom edge, not drawn as scores. None when no trial finished.
    """
    from matplotlib.figure import Figure

    from automl.engine.study import incumbent_order

    finished = sorted((trial for trial in trials if trial.finished is not None and trial.status.finished),
                      key=lambda trial: (trial.finished, trial.number))  # fmt: skip
    if not finished:
        return None
    start = min((trial.started for trial in trials if trial.started), default=0.0)
    per_unit, unit = time_unit(max(trial.finished for trial in finished) - start)

    def when(trial: Trial) -> float:
        return (trial.finished - start) / per_unit

    figure = Figure(figsize=(8, 4.2))
    axes = figure.add_subplot()
    scored = [trial for trial in finished if trial.score is not None]
    for group, style in (
        ([trial for trial in scored if trial.status is not TrialStatus.PRUNED], {"label": "trial"}),
        ([trial for trial in scored if trial.status is TrialStatus.PRUNED],
         {"label": "pruned (lower budget)", "marker": "x", "color": "tab:orange"}),
    ):  # fmt: skip
        if group:
            axes.scatter([when(trial) for trial in group], [study.objective_value(trial) for trial in group],
                         s=14, alpha=0.6, **style)  # fmt: skip
    times, values, incumbent = [], [], None
    for trial in scored:
        if trial.status is TrialStatus.COMPLETE and (
            incumbent is None or incumbent_order(trial) > incumbent_order(incumbent)
        ):
            incumbent = trial
        if incumbent is not None:
            times.append(when(trial))
            values.append(study.objective_value(incumbent))
    if times:
        (line,) = axes.step(times, values, where="post", color="black", label="best so far")
        line.set_gid("best-so-far")
    failed = [when(trial) for trial in finished if trial.score is None]
    if failed:
        axes.plot(
            failed, [0.0] * len(failed), linestyle="none", marker="|", markersize=12, color="red",
            transform=axes.get_xaxis_transform(), label=f"failed or infeasible ({len(failed)})",
        )  # fmt: skip
    axes.set_xlabel(f"wall-clock time since the search started ({unit})")
    axes.set_ylabel(score_axis_label(trials))
    axes.set_title("best so far against time")
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    return figure


def score_axis_label(trials: list[Trial]) -> str:
    metric = next((trial.metrics.get("metric") for trial in trials if trial.metrics.get("metric")), "score")
    return f"validation {metric}"


def node_label(node: str, attributes: dict) -> str:
    """An op's kind over its key options (at most three, values shortened); an input's name."""
    from automl.space import OUTPUTS

    if attributes.get("kind") == "input":
        return f"input {node}"
    options = []
    for name, value in (attributes.get("hyperparameters") or {}).items():
        if value is None:
            continue
        text = "outputs" if value is OUTPUTS else f"{value:.3g}" if isinstance(value, float) else str(value)
        options.append(f"{name}={text if len(text) <= 16 else text[:15] + '…'}")
    return "\n".join([str(attributes.get("kind", "?")), *options[:3]])


def architecture_graph(study: Study, space: object = None) -> tuple[Trial, object]:
    """The best trial and its architecture's networkx DAG (its candidate replayed in the study's space)."""
    from automl.report.study_space import PlotUnavailable, study_space
    from automl.space import SpaceError

    best = study.best_trial
    if best is None:
        raise PlotUnavailable("no trial completed: there is no best architecture to draw")
    space = study_space(study) if space is None else space
    try:
        return best, space.replay(best.candidate).to_networkx()
    except SpaceError as error:
        raise PlotUnavailable(f"trial {best.number}'s decisions do not replay in the space: {error}") from None


def architecture_figure(study: Study, space: object = None) -> Figure:
    """The best trial's architecture, laid out left to right by topological generation (no graphviz).

    A node's column is its generation (``networkx.topological_generations``:
    every node sits right of all its inputs), the nodes of one generation are
    stacked, and each is a box (gid ``node-<path>``) coloured by op kind and
    labelled with its kind and key options; the outputs have a thick border.
    Raises :class:`~automl.report.study_space.PlotUnavailable` when the space
    cannot be loaded or there is no best trial.
    """
    import networkx as nx
    from matplotlib.figure import Figure

    best, graph = architecture_graph(study, space)
    generations = [sorted(nodes, key=str) for nodes in nx.topological_generations(graph)]
    positions = {
        node: (float(column), (len(nodes) - 1) / 2 - row)
        for column, nodes in enumerate(generations)
        for row, node in enumerate(nodes)
    }
    tallest = max((len(nodes) for nodes in generations), default=1)
    figure = Figure(figsize=(min(60.0, max(6.0, 1.7 * len(generations) + 1)), max(3.0, 1.1 * tallest + 1.6)))
    axes = figure.add_subplot()
    nx.draw_networkx_edges(graph, positions, ax=axes, arrows=True, arrowstyle="-|>", edge_color="0.45",
                           node_size=2400, width=1.0)  # fmt: skip
    kinds = sorted({str(attributes.get("kind")) for _, attributes in graph.nodes(data=True)})
    palette = {kind: f"C{index % 10}" for index, kind in enumerate(kinds)}
    outputs = set(graph.graph.get("outputs") or [])
    for node, attributes in graph.nodes(data=True):
        x, y = positions[node]
        text = axes.text(
            x, y, node_label(node, attributes), ha="center", va="center", fontsize=7, zorder=3,
            bbox={"boxstyle": "round,pad=0.35", "facecolor": palette[str(attributes.get("kind"))], "alpha": 0.35,
                  "edgecolor": "black", "linewidth": 2.0 if node in outputs else 0.6},
        )  # fmt: skip
        text.set_gid(f"node-{node}")
    axes.set_xlim(-0.7, max(len(generations) - 1, 0) + 0.7)
    axes.set_ylim(-(tallest - 1) / 2 - 0.7, (tallest - 1) / 2 + 0.7)
    axes.set_axis_off()
    axes.set_title(
        f"best architecture: trial {best.number} ({graph.number_of_nodes()} nodes, "
        f"{len(generations)} generations, inputs left, outputs right)"
    )
    figure.tight_layout()
    return figure
