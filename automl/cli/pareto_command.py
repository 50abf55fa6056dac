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


def pareto_candidates(study: Study, cost_names: list[str]) -> tuple[list[Trial], int]:
    """Complete trials scored at the full budget that carry every named cost, and how many scored ones do not."""
    config = study_config(study)
    full = full_budget(config)
    scored = [
        trial
        for trial in study.trials
        if trial.status is TrialStatus.COMPLETE
        and trial.score is not None
        and (full is None or budget_of(trial, config) == full)
    ]
    with_costs = [
        trial
        for trial in scored
        if isinstance(trial.metrics.get("costs"), dict)
        and all(isinstance(trial.metrics["costs"].get(name), (int, float)) for name in cost_names)
    ]
    return with_costs, len(scored) - len(with_costs)


def front_document(
    study: Study, cost_names: list[str], candidates: tuple[list[Trial], int] | None = None
) -> dict[str, Any]:
    """The front, its hypervolume and reference point, as JSON-ready values (``candidates``: from
    :func:`pareto_candidates`, when the caller has them already)."""
    trials, without_costs = candidates or pareto_candidates(study, cost_names)
    if not trials:
        latency = " (latency_ms is measured only when a constraint names it)" if "latency_ms" in cost_names else ""
        raise UsageProblem(
            f"no complete trial of {study.path} has the costs {', '.join(cost_names)}{latency}: costs are measured "
            "for trials trained by this version on; run the search again (or resume it) to get them"
        )
    direction = study.meta.get("direction", "maximize")
    scores = [study.objective_value(trial) for trial in trials]
    points = [[score, *(trial.metrics["costs"][name] for name in cost_names)] for trial, score in zip(trials, scores)]
    directions = ["max" if direction == "maximize" else "min", *(["min"] * len(cost_names))]
    reference = []
    for column, objective_direction in enumerate(directions):
        values = [point[column] for point in points]
        margin = REFERENCE_MARGIN * ((max(values) - min(values)) or abs(max(values)) or 1.0)
        reference.append(min(values) - margin if objective_direction == "max" else max(values) + margin)
    front = [trials[index] for index in pareto_front(points, directions)]
    front.sort(key=lambda trial: (trial.metrics["costs"][cost_names[0]], trial.number))
    return {
        "study": str(study.path),
        "objectives": [{"name": "score", "direction": directions[0]}]
        + [{"name": name, "direction": "min"} for name in cost_names],
        "considered": len(trials),
        "left_out_without_costs": without_costs,
        "hypervolume": hypervolume(points, directions, reference),
        "reference": reference,
        "front": [
            {
                "number": trial.number,
                "score": study.objective_value(trial),
                "costs": {name: trial.metrics["costs"][name] for name in cost_names},
                "decisions": trial.candidate.to_dict(),
            }
            for trial in front
        ],
    }


def show_pareto(path: Path, costs_text: str, output_format: str) -> None:
    cost_names = parse_cost_names(costs_text)
    study = Study.open(path)
    candidates = pareto_candidates(study, cost_names)
    document = front_document(study, cost_names, candidates)
    if output_format == "json":
        click.echo(json.dumps(document, indent=1, default=str))
        return
    console = Console()
    named = ", ".join(cost_names)
    table = Table("trial", "score", *cost_names, "candidate", title=f"Pareto front: score against {named}")
    trials = {trial.number: trial for trial in candidates[0]}
    for point in document["front"]:
        table.add_row(
            str(point["number"]),
            f"{point['score']:.4f}",
            *(format_cost(name, point["costs"][name]) for name in cost_names),
            trials[point["number"]].candidate.to_json()[:100],
        )
    console.print(table)
    reference = ", ".join(f"{name} {value:.4g}" for name, value in zip(["score", *cost_names], document["reference"]))
    console.print(
        f"{len(document['front'])} of {document['considered']} complete trials are on the front; hypervolume "
        f"{document['hypervolume']:.6g} against the reference point ({reference}), 10% of each range past its worst.",
        highlight=False,
        soft_wrap=True,
    )
    if document["left_out_without_costs"]:
        console.print(
            f"{document['left_out_without_costs']} scored trials have no measured {named} and are left out.",
            highlight=False,
        )
    console.print("Ship a trial of the front with: automl export STUDY --trial N -o DIR", highlight=False)


def pareto_figure(study: Study, cost_name: str) -> Any:
    """Score against one cost: every considered trial in grey, the front in colour joined by its steps."""
    from matplotlib.figure import Figure

    candidates = pareto_candidates(study, [cost_name])
    document = front_document(study, [cost_name], candidates)
    trials = candidates[0]
    result = Figure(figsize=(7, 4.5))
    axes = result.add_subplot()
    costs = [trial.metrics["costs"][cost_name] for trial in trials]
    axes.scatter(costs, [study.objective_value(trial) for trial in trials], color="0.7", s=18, label="trials")
    front_costs = [point["costs"][cost_name] for point in document["front"]]
    front_scores = [point["score"] for point in document["front"]]
    axes.step(front_costs, front_scores, where="post", color="tab:blue", linewidth=1.2)
    axes.scatter(front_costs, front_scores, color="tab:blue", s=30, zorder=3, label="Pareto front")
    axes.set_gid("pareto-front")
    for point in document["front"]:
        axes.annotate(
            str(point["number"]),
            (point["costs"][cost_name], point["score"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    if min(costs) > 0 and max(costs) / min(costs) > 100:
        axes.set_xscale("log")
    axes.set_xlabel(cost_name)
    axes.set_ylabel("score")
    axes.set_title(
        f"{len(front_costs)} of {len(trials)} trials on the front; hypervolume {document['hypervolume']:.4g}"
    )
    axes.legend(loc="lower right")
    result.tight_layout()
    return result


def plot_pareto(path: Path, cost_name: str, output: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed

    if "," in cost_name:
        raise UsageProblem(
            f"plot --pareto draws score against one cost, got {cost_name!r}: name one, e.g. --pareto params"
        )
    (cost,) = parse_cost_names(cost_name)
    study = Study.open(path)
    try:
        drawn = pareto_figure(study, cost)
    finally:
        study.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    drawn.savefig(output, dpi=120)
    return output
