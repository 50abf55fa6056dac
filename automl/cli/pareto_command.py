"""``automl show STUDY --pareto COST[,COST...]``: the trials no other trial beats on score and the named costs.

Users ship a model under a size or latency budget; the front lists the only trials worth choosing from
(each one is the most accurate at its cost), and ``automl export --trial N`` ships any of them. The
hypervolume says how much of the score/cost plane the front covers, against a stated reference point,
so two searches' fronts can be compared by one number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from automl.cli.errors import UsageProblem
from automl.cli.show_command import budget_of, full_budget, study_config
from automl.engine.constraints import COST_NAMES, format_cost
from automl.engine.objectives import ObjectiveMetric, metric_value, parse_objective
from automl.engine.storage import Trial
from automl.engine.study import Study
from automl.evaluation.pareto import hypervolume, pareto_front
from automl.strategies.base import TrialStatus

REFERENCE_MARGIN = 0.1  # the reference point lies this share of each objective's range past its worst value


def parse_cost_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in COST_NAMES]
    if not names or unknown:
        shown = unknown[0] if unknown else text
        valid = ", ".join(COST_NAMES)
        raise UsageProblem(f"--pareto takes measured costs separated by commas, one of {valid}; got {shown!r}")
    return list(dict.fromkeys(names))


def front_axes(study: Study, costs_text: str) -> list[ObjectiveMetric]:
    """What the front is over: the study's own objectives (``--pareto`` alone), or score against costs."""
    if costs_text.strip():
        direction = "max" if study.meta.get("direction", "maximize") == "maximize" else "min"
        return [
            ObjectiveMetric("score", direction),
            *(ObjectiveMetric(name, "min") for name in parse_cost_names(costs_text)),
        ]
    stored = study.meta.get("objectives")
    if not stored:
        raise UsageProblem(
            f"study {study.path} has one objective; name the costs to weigh the score against, e.g. --pareto params "
            "(or search with several --objective)"
        )
    return [parse_objective(text) for text in stored]


def pareto_candidates(study: Study, axes: list[ObjectiveMetric]) -> tuple[list[Trial], int]:
    """Complete trials scored at the full budget that have a value on every axis, and how many scored ones do not."""
    config = study_config(study)
    full = full_budget(config)
    scored = [
        trial
        for trial in study.trials
        if trial.status is TrialStatus.COMPLETE
        and trial.score is not None
        and (full is None or budget_of(trial, config) == full)
    ]
    with_values = [trial for trial in scored if all(_value(study, trial, axis) is not None for axis in axes)]
    return with_values, len(scored) - len(with_values)


def _value(study: Study, trial: Trial, axis: ObjectiveMetric) -> float | None:
    return metric_value(axis.name, study.objective_value(trial), trial.metrics)


def front_document(
    study: Study, axes: list[ObjectiveMetric], candidates: tuple[list[Trial], int] | None = None
) -> dict[str, Any]:
    """The front, its hypervolume and reference point, as JSON-ready values (``candidates``: from
    :func:`pareto_candidates`, when the caller has them already)."""
    trials, without_values = candidates or pareto_candidates(study, axes)
    names = [axis.name for axis in axes]
    if not trials:
        latency = (
            " (latency is measured only when a constraint or an objective names it)"
            if any(name.startswith("latency") for name in names)
            else ""
        )
        raise UsageProblem(
            f"no complete trial of {study.path} has {', '.join(names)}{latency}: costs are measured for trials "
            "trained by this version on; run the search again (or resume it) to get them"
        )
    points = [[_value(study, trial, axis) for axis in axes] for trial in trials]
    directions = [axis.direction for axis in axes]
    reference = []
    for column, objective_direction in enumerate(directions):
        values = [point[column] for point in points]
        margin = REFERENCE_MARGIN * ((max(values) - min(values)) or abs(max(values)) or 1.0)
        reference.append(min(values) - margin if objective_direction == "max" else max(values) + margin)
    on_front = [int(index) for index in pareto_front(points, directions)]
    order = 1 if len(axes) > 1 and not axes[1].is_score else 0  # cheapest first; by score when score is second
    on_front.sort(
        key=lambda index: (points[index][order] * (1 if directions[order] == "min" else -1), trials[index].number)
    )
    return {
        "study": str(study.path),
        "objectives": [{"name": axis.name, "direction": axis.direction} for axis in axes],
        "considered": len(trials),
        "left_out_without_values": without_values,
        "left_out_without_costs": without_values,  # its name before fronts of any objective; kept for scripts
        "hypervolume": hypervolume(points, directions, reference),
        "reference": reference,
        "front": [
            {
                "number": trials[index].number,
                "score": study.objective_value(trials[index]),
                "values": dict(zip(names, points[index])),
                "costs": {
                    name: value for name, value in (trials[index].metrics.get("costs") or {}).items() if name in names
                },
                "decisions": trials[index].candidate.to_dict(),
            }
            for index in on_front
        ],
    }


def show_pareto(path: Path, costs_text: str, output_format: str) -> None:
    study = Study.open(path)
    try:
        axes = front_axes(study, costs_text)
        candidates = pareto_candidates(study, axes)
        document = front_document(study, axes, candidates)
    finally:
        study.close()
    if output_format == "json":
        click.echo(json.dumps(document, indent=1, default=str))
        return
    console = Console()
    names = [axis.name for axis in axes]
    title = " against ".join(", ".join(names[index:]) if index else names[0] for index in range(min(2, len(names))))
    table = Table("trial", *(axis.text for axis in axes), "candidate", title=f"Pareto front: {title}")
    trials = {trial.number: trial for trial in candidates[0]}
    for point in document["front"]:
        table.add_row(
            str(point["number"]),
            *(_shown(name, point["values"][name]) for name in names),
            trials[point["number"]].candidate.to_json()[:100],
        )
    console.print(table)
    reference = ", ".join(f"{name} {value:.4g}" for name, value in zip(names, document["reference"]))
    console.print(
        f"{len(document['front'])} of {document['considered']} complete trials are on the front; hypervolume "
        f"{document['hypervolume']:.6g} against the reference point ({reference}), 10% of each range past its worst.",
        highlight=False,
        soft_wrap=True,
    )
    if document["left_out_without_values"]:
        console.print(
            f"{document['left_out_without_values']} scored trials have no {', '.join(names)} and are left out.",
            highlight=False,
        )
    console.print("Ship a trial of the front with: automl export STUDY --trial N -o DIR", highlight=False)


def _shown(name: str, value: float) -> str:
    return format_cost(name, value) if name in COST_NAMES else f"{value:.4f}"


def pareto_figure(study: Study, axes: list[ObjectiveMetric]) -> Any:
    """Two objectives (the score up when it is one): every considered trial in grey, the front in colour."""
    from matplotlib.figure import Figure

    if len(axes) != 2:
        raise UsageProblem(
            f"a Pareto plot draws two objectives, this front has {len(axes)}: plot score against one cost with "
            "--pareto COST, or see every objective with automl show STUDY --pareto"
        )
    vertical, horizontal = (axes[1], axes[0]) if axes[1].is_score and not axes[0].is_score else (axes[0], axes[1])
    candidates = pareto_candidates(study, axes)
    document = front_document(study, axes, candidates)
    trials = candidates[0]
    result = Figure(figsize=(7, 4.5))
    plot = result.add_subplot()
    xs = [_value(study, trial, horizontal) for trial in trials]
    plot.scatter(xs, [_value(study, trial, vertical) for trial in trials], color="0.7", s=18, label="trials")
    front = sorted(document["front"], key=lambda point: point["values"][horizontal.name])
    front_x = [point["values"][horizontal.name] for point in front]
    front_y = [point["values"][vertical.name] for point in front]
    plot.step(front_x, front_y, where="post", color="tab:blue", linewidth=1.2)
    plot.scatter(front_x, front_y, color="tab:blue", s=30, zorder=3, label="Pareto front")
    plot.set_gid("pareto-front")
    for point, x, y in zip(front, front_x, front_y):
        plot.annotate(str(point["number"]), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if min(xs) > 0 and max(xs) / min(xs) > 100:
        plot.set_xscale("log")
    plot.set_xlabel(horizontal.text)
    plot.set_ylabel(vertical.text)
    plot.set_title(f"{len(front_x)} of {len(trials)} trials on the front; hypervolume {document['hypervolume']:.4g}")
    plot.legend(loc="best")
    result.tight_layout()
    return result


def plot_pareto(path: Path, cost_name: str, output: Path) -> Path:
    """``plot --pareto COST``: score against one cost; ``plot --pareto`` alone: a two-objective study's front."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed

    if "," in cost_name:
        raise UsageProblem(
            f"plot --pareto draws score against one cost, got {cost_name!r}: name one, e.g. --pareto params"
        )
    study = Study.open(path)
    try:
        drawn = pareto_figure(study, front_axes(study, cost_name))
    finally:
        study.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    drawn.savefig(output, dpi=120)
    return output
