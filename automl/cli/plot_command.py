"""``automl plot``: score of every trial and the best so far, as a PNG (``--kind scores``, the default).

The other kinds (``time``, ``importance``, ``parallel``, ``architecture``) are
the report page's figures written as a PNG, chosen in :mod:`automl.cli.plot_kinds`.

When trials recorded learning curves (multi-fidelity searches, or any search
that trains by epochs), a second panel draws score against epoch for each
candidate: a promoted candidate's trials are joined along ``continues`` into one
line, its end marked by how it ended (complete, pruned, failed, running), the
best trial drawn on top, and the rung budgets of a schedule as vertical lines.
At most ``MAX_CURVES`` candidates are drawn (the best ones and a sample of the
rest, as the panel's title says), so a study of 10,000 trials plots in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.engine.storage import Trial
from automl.engine.study import Study, incumbent_order
from automl.strategies.base import TrialStatus

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_CURVES = 300  # candidates drawn at most; a third of them the best, the rest sampled
ENDINGS = {  # how a candidate's last trial ended: (colour, end marker)
    TrialStatus.COMPLETE: ("tab:blue", "o"),
    TrialStatus.PRUNED: ("tab:orange", "x"),
    TrialStatus.FAILED: ("tab:red", "X"),
    TrialStatus.INFEASIBLE: ("tab:purple", "s"),
    TrialStatus.RUNNING: ("tab:green", ">"),
}


@dataclass
class CandidateCurve:
    """One candidate's learning curve, from its first trial to the last one (``end``) along ``continues``."""

    end: Trial
    trials: list[int]  # the trial numbers the curve joins, first to last
    epochs: list[float]
    scores: list[float]

    @property
    def final(self) -> float:
        return self.scores[-1]


def full_curve(trial: Trial, by_number: dict[int, Trial]) -> tuple[list[int], list[dict[str, Any]]]:
    """The trials and points of ``trial``'s curve from the start of training, following ``continues`` back."""
    chain, seen = [trial], {trial.number}
    while chain[-1].continues is not None and chain[-1].continues in by_number and chain[-1].continues not in seen:
        chain.append(by_number[chain[-1].continues])
        seen.add(chain[-1].number)
    points: list[dict[str, Any]] = []
    for link in reversed(chain):
        last = points[-1]["epoch"] if points else float("-inf")
        points.extend(
            point
            for point in sorted(_points(link), key=lambda point: point["epoch"])
            if point["epoch"] > last  # a continued trial adds the epochs after its checkpoint's
        )
    return [link.number for link in reversed(chain)], points


def _points(trial: Trial) -> list[dict[str, Any]]:
    return [
        point
        for point in trial.curve
        if isinstance(point, dict) and point.get("epoch") is not None and point.get("score") is not None
    ]


def candidate_curves(trials: list[Trial]) -> list[CandidateCurve]:
    """One curve per candidate lineage: trials linked by promotions (``continues`` or the schedule's ``from``).

    A lineage is drawn up to its furthest trial that has a curve; a promotion
    trained from scratch (``from`` without ``continues``) starts its curve anew,
    so only its own points are drawn.
    """
    from automl.cli.show_command import promoted_from

    by_number = {trial.number: trial for trial in trials}

    def root(trial: Trial) -> int:
        seen = {trial.number}
        while (source := promoted_from(trial)) is not None and source in by_number and source not in seen:
            trial = by_number[source]
            seen.add(source)
        return trial.number

    lineages: dict[int, CandidateCurve] = {}
    for trial in trials:
        if not _points(trial):
            continue
        numbers, points = full_curve(trial, by_number)
        curve = CandidateCurve(
            trial, numbers, [float(point["epoch"]) for point in points], [float(point["score"]) for point in points]
        )
        key = root(trial)
        known = lineages.get(key)
        if known is None or (curve.epochs[-1], trial.number) > (known.epochs[-1], known.end.number):
            lineages[key] = curve
    return list(lineages.values())


def choose(curves: list[CandidateCurve], limit: int, keep: Trial | None = None) -> tuple[list[CandidateCurve], str]:
    """At most ``limit`` curves: a third the best by final score, the rest a fixed random sample; and a note."""
    if len(curves) <= limit:
        return curves, f"{len(curves)} candidates"
    ranked = sorted(curves, key=lambda curve: (curve.final, -curve.end.number), reverse=True)
    best = ranked[: max(1, limit // 3)]
    rest = ranked[len(best) :]
    if keep is not None:  # the best trial's candidate is always drawn
        best += [curve for curve in rest if keep.number in curve.trials][:1]
        rest = [curve for curve in rest if keep.number not in curve.trials]
    sampled = random.Random(0).sample(rest, max(0, limit - len(best)))
    return (
        best + sampled,
        f"{len(best) + len(sampled)} of {len(curves):,} candidates: {len(best)} best + {len(sampled)} sampled",
    )


def rung_budgets(trials: list[Trial], config: Any) -> list[float]:
    """The budgets of a schedule's rungs, in epochs (none unless the fidelity is epochs)."""
    from automl.cli.show_command import budget_of, fidelity_kind, schedule_of

    if fidelity_kind(config) != "epochs":
        return []
    budgets = {budget_of(trial, config) for trial in trials if schedule_of(trial) is not None}
    return sorted(budget for budget in budgets if budget is not None)


def draw_scores(axes: Axes, study: Study, trials: list[Trial]) -> None:
    """Every trial's score against its number, and the best so far (the original ``automl plot``)."""
    from matplotlib.ticker import MaxNLocator

    trials = [trial for trial in trials if trial.status.finished]
    completed = [trial for trial in trials if trial.score is not None]
    numbers = [trial.number for trial in completed]
    values = [study.objective_value(trial) for trial in completed]
    pruned = [trial.status is TrialStatus.PRUNED for trial in completed]
    axes.scatter(
        [n for n, p in zip(numbers, pruned, strict=True) if not p],
        [v for v, p in zip(values, pruned, strict=True) if not p],
        s=14,
        alpha=0.6,
        label="trial",
    )
    if any(pruned):
        axes.scatter(
            [n for n, p in zip(numbers, pruned, strict=True) if p],
            [v for v, p in zip(values, pruned, strict=True) if p],
            s=14,
            alpha=0.6,
            marker="x",
            color="tab:orange",
            label="pruned (lower budget)",
        )
    # the incumbent as the engine picks it: the best complete trial at the highest budget reached so far
    incumbent_numbers, incumbent_values, incumbent = [], [], None
    for trial in completed:
        if trial.status is TrialStatus.COMPLETE and (
            incumbent is None or incumbent_order(trial) > incumbent_order(incumbent)
        ):
            incumbent = trial
        if incumbent is not None:
            incumbent_numbers.append(trial.number)
            incumbent_values.append(study.objective_value(incumbent))
    axes.step(incumbent_numbers, incumbent_values, where="post", color="black", label="best so far")
    failed = [trial.number for trial in trials if trial.score is None]
    if failed:  # no score to draw: ticks along the bottom edge, apart from the scores
        axes.plot(
            failed,
            [0.0] * len(failed),
            linestyle="none",
            marker="|",
            markersize=12,
            color="red",
            transform=axes.get_xaxis_transform(),
            label=f"failed or infeasible ({len(failed)})",
        )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    metric = completed[0].metrics.get("metric", "score") if completed else "score"
    axes.set_xlabel("trial")
    axes.set_ylabel(f"validation {metric}")
    axes.set_title(f"{study.meta.get('space_name')} / {study.meta.get('strategy')}")
    axes.legend(loc="best")


def draw_curves(
    axes: Axes, study: Study, trials: list[Trial], curves: list[CandidateCurve], config: Any, limit: int
) -> None:
    """Score against epoch for each candidate (lines with gid ``candidate-<last trial>``), the best on top."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    best = study.best_trial
    shown, note = choose(curves, limit, best)
    endings: set[TrialStatus] = set()
    for curve in sorted(shown, key=lambda curve: curve.final):  # the better ones drawn last, on top
        colour, marker = ENDINGS.get(curve.end.status, ("grey", "."))
        endings.add(curve.end.status)
        (line,) = axes.plot(
            curve.epochs, curve.scores, color=colour, alpha=0.45, linewidth=0.9, marker=marker, markevery=[-1]
        )
        line.set_gid(f"candidate-{curve.end.number}")
    handles = [
        Line2D([], [], color=ENDINGS[status][0], marker=ENDINGS[status][1], label=f"ends {status.value}")
        for status in ENDINGS
        if status in endings
    ]
    by_number = {trial.number: trial for trial in trials}
    if best is not None and _points(best):
        _, points = full_curve(best, by_number)
        (line,) = axes.plot(
            [point["epoch"] for point in points],
            [point["score"] for point in points],
            color="black",
            linewidth=2.4,
            marker="*",
            markersize=12,
            markevery=[-1],
            label=f"best (trial {best.number})",
            zorder=5,
        )
        line.set_gid("best")
        handles.append(line)
    for index, budget in enumerate(rung_budgets(trials, config)):
        line = axes.axvline(
            budget, color="grey", linestyle=":", linewidth=1, label="rung budget" if index == 0 else None
        )
        line.set_gid(f"rung-{budget:g}")
        if index == 0:
            handles.append(line)
    metric = next((trial.metrics.get("metric") for trial in trials if trial.metrics.get("metric")), "score")
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(f"validation {metric}")
    axes.set_title(f"learning curves ({note})")
    axes.legend(handles=handles, loc="best", fontsize="small")


def figure(study: Study, limit: int = MAX_CURVES) -> Figure:
    """The plot of a study: the scores panel, and a learning-curves panel when trials have curves."""
    from matplotlib.figure import Figure

    from automl.cli.show_command import study_config

    trials = study.trials
    curves = candidate_curves(trials)
    if not curves:
        result = Figure(figsize=(7, 4))
        draw_scores(result.add_subplot(), study, trials)
    else:
        result = Figure(figsize=(14, 4.8))
        scores, learning = result.subplots(1, 2)
        draw_scores(scores, study, trials)
        draw_curves(learning, study, trials, curves, study_config(study), limit)
        learning.set_label("learning curves")
    result.tight_layout()
    return result
