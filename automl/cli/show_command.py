"""``automl show``: the trials of a study, readable while a search writes it.

Multi-fidelity studies (Hyperband, ASHA, successive halving) also get a table of
their rungs (one row per schedule bracket and rung: budget, trials by status,
promotions out of it, best score) and the last few promotions; both are
summaries, so they stay short for a study of any size.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from automl.cli.search_command import print_summary
from automl.engine.storage import Trial
from automl.engine.study import Study
from automl.strategies.base import TrialStatus

MAX_RUNG_ROWS = 40  # more rows than this (many bracket instances): the rungs are summed over brackets
SHOWN_PROMOTIONS = 5
RUNG_STATUSES = (TrialStatus.COMPLETE, TrialStatus.PRUNED, TrialStatus.FAILED, TrialStatus.RUNNING)


# ----------------------------------------------------------------------------- reading a study's fidelity


def schedule_of(trial: Trial) -> Mapping[str, Any] | None:
    """The scheduler's note on a trial (``{"name", "bracket", "rung", "from"}``), or None when not scheduled."""
    schedule = trial.proposal_data.get("schedule") if isinstance(trial.proposal_data, Mapping) else None
    return schedule if isinstance(schedule, Mapping) else None


def promoted_from(trial: Trial) -> int | None:
    """The trial this one was promoted from: the one it continued, or its schedule's ``from``."""
    if trial.continues is not None:
        return int(trial.continues)
    schedule = schedule_of(trial)
    source = schedule.get("from") if schedule else None
    return None if source is None else int(source)


def study_config(study: Study) -> Any:
    """The stored :class:`SearchConfig`, or None for a study without (or with an unreadable) one."""
    try:
        return study.config
    except (ValueError, TypeError, KeyError):  # StudyError / SearchSetupError are ValueErrors
        return None


def fidelity_kind(config: Any) -> str:
    """``epochs`` (the default) or ``rows``; ``fidelity`` may be a name or an object with ``kind``."""
    fidelity = getattr(config, "fidelity", None)
    kind = getattr(fidelity, "kind", fidelity)
    return str(kind) if kind else "epochs"


def full_budget(config: Any) -> float | None:
    """The budget a trial without one trains at: ``max_budget``, else the configured epochs."""
    for value in (getattr(config, "max_budget", None), getattr(getattr(config, "fidelity", None), "max_budget", None)):
        if value is not None:
            return float(value)
    if fidelity_kind(config) == "epochs":
        epochs = getattr(getattr(config, "training", None), "epochs", None)
        return None if epochs is None else float(epochs)
    return None


def budget_of(trial: Trial, config: Any) -> float | None:
    return full_budget(config) if trial.budget is None else float(trial.budget)


def format_budget(budget: float | None, config: Any) -> str:
    if budget is None:
        return "full"
    if fidelity_kind(config) != "epochs":
        return f"budget {budget:g}"
    return f"{budget:g} epoch" + ("" if budget == 1 else "s")


def uses_budgets(trials: Iterable[Trial]) -> bool:
    return any(
        trial.budget is not None or trial.continues is not None or schedule_of(trial) is not None for trial in trials
    )


# ----------------------------------------------------------------------------------------------- rungs


@dataclass
class Rung:
    """One rung of one bracket of a schedule, as the study's trials fill it."""

    name: str
    bracket: int | None
    rung: int
    budgets: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)  # TrialStatus -> trials
    promoted: int = 0  # trials of this rung that a later trial was promoted from
    best: Trial | None = None  # the best-scored trial (complete, or pruned with a score)

    @property
    def trials(self) -> int:
        return sum(self.counts.values())

    @property
    def budget(self) -> float | None:
        """The budget most trials of the rung trained to (they normally share one)."""
        return self.budgets.most_common(1)[0][0] if self.budgets else None


def rungs(trials: list[Trial], config: Any = None, by_bracket: bool = True) -> list[Rung]:
    """The scheduled trials grouped by (schedule, bracket, rung), in order; ``by_bracket=False`` sums brackets."""
    sources = {source for trial in trials if (source := promoted_from(trial)) is not None}
    found: dict[tuple[str, int | None, int], Rung] = {}
    for trial in trials:
        schedule = schedule_of(trial)
        if schedule is None:
            continue
        name = str(schedule.get("name", "schedule"))
        bracket = schedule.get("bracket") if by_bracket else None
        rung_index = int(schedule.get("rung", 0))
        key = (name, None if bracket is None else int(bracket), rung_index)
        rung = found.setdefault(key, Rung(*key))
        budget = budget_of(trial, config)
        if budget is not None:
            rung.budgets[budget] += 1
        rung.counts[trial.status] += 1
        if trial.number in sources:
            rung.promoted += 1
        if trial.score is not None and (rung.best is None or trial.score > rung.best.score):
            rung.best = trial
    return [found[key] for key in sorted(found, key=lambda key: (key[0], key[1] is not None, key[1] or 0, key[2]))]


def promotions(trials: list[Trial]) -> list[tuple[Trial | None, Trial]]:
    """(source, promoted trial) for every promotion, in the order the promoted trials were asked."""
    by_number = {trial.number: trial for trial in trials}
    return [
        (by_number.get(source), trial) for trial in trials if (source := promoted_from(trial)) is not None
    ]  # source None: not in the study (should not happen)


def _score(study: Study, trial: Trial) -> str:
    value = study.objective_value(trial)
    return "" if value is None else f"{value:.4f}"


def describe_promotion(study: Study, source: Trial | None, target: Trial, config: Any) -> str:
    """``trial 12 (3 epochs, 0.9100) -> trial 40 (9 epochs, running)``."""

    def side(trial: Trial) -> str:
        details = [format_budget(budget_of(trial, config), config)]
        if trial.score is not None:
            details.append(_score(study, trial) + (" pruned" if trial.status is TrialStatus.PRUNED else ""))
        elif trial.status is not TrialStatus.COMPLETE:
            details.append(trial.status.value)
        return f"trial {trial.number} ({', '.join(details)})"

    origin = f"trial {promoted_from(target)} (?)" if source is None else side(source)
    how = "" if target.continues is not None else ", trained from scratch"
    return f"{origin} -> {side(target)}{how}"


def fidelity_line(config: Any) -> str | None:
    """``fidelity: epochs, budgets 1 to 27, eta 3, hyperband, pruning median`` from whatever the config holds."""
    if config is None:
        return None
    fidelity = getattr(config, "fidelity", None)
    nested = fidelity if fidelity is not None and not isinstance(fidelity, str) else None
    values = {
        name: getattr(config, name, None) if getattr(config, name, None) is not None else getattr(nested, name, None)
        for name in ("min_budget", "max_budget", "eta", "multi_fidelity", "prune")
    }
    if getattr(nested, "schedule", None) and values["multi_fidelity"] is None:
        values["multi_fidelity"] = nested.schedule
    if fidelity is None and all(value is None for value in values.values()):
        return None
    parts = [fidelity_kind(config)]
    if values["min_budget"] is not None or values["max_budget"] is not None:
        low = "?" if values["min_budget"] is None else f"{float(values['min_budget']):g}"
        high = "?" if values["max_budget"] is None else f"{float(values['max_budget']):g}"
        parts.append(f"budgets {low} to {high}")
    if values["eta"] is not None:
        parts.append(f"eta {values['eta']:g}" if isinstance(values["eta"], int | float) else f"eta {values['eta']}")
    if values["multi_fidelity"] not in (None, False):
        parts.append(f"schedule {values['multi_fidelity']}")
    if values["prune"] not in (None, False):
        parts.append(f"pruning {values['prune']}")
    return "fidelity: " + ", ".join(parts)


def print_rungs(console: Console, study: Study, trials: list[Trial], config: Any) -> None:
    """The rungs table and the last promotions; prints nothing for a study without scheduled trials."""
    found = rungs(trials, config)
    if not found:
        return
    note = ""
    if len(found) > MAX_RUNG_ROWS:
        brackets = len({(rung.name, rung.bracket) for rung in found})
        found = rungs(trials, config, by_bracket=False)
        note = f" ({brackets} brackets, summed by rung)"
    names = sorted({rung.name for rung in found})
    with_bracket = any(rung.bracket is not None for rung in found)
    statuses = list(RUNG_STATUSES)
    if any(rung.counts[TrialStatus.INFEASIBLE] for rung in found):
        statuses.append(TrialStatus.INFEASIBLE)
    columns = (["schedule"] if len(names) > 1 else []) + (["bracket"] if with_bracket else [])
    columns += ["rung", "budget", *(status.value for status in statuses), "promoted", "best score", "best trial"]
    table = Table(*columns, title=f"rungs ({', '.join(names)}){note}")
    for rung in found:
        cells = [rung.name] if len(names) > 1 else []
        if with_bracket:
            cells.append("" if rung.bracket is None else str(rung.bracket))
        budgets = " / ".join(f"{budget:g}" for budget in sorted(rung.budgets)) if len(rung.budgets) > 1 else None
        cells += [str(rung.rung), budgets or ("full" if rung.budget is None else f"{rung.budget:g}")]
        cells += [str(rung.counts[status]) for status in statuses]
        cells += [str(rung.promoted)]
        cells += ["", ""] if rung.best is None else [_score(study, rung.best), str(rung.best.number)]
        table.add_row(*cells)
    console.print(table)
    moves = promotions(trials)
    if moves:
        continued = sum(target.continues is not None for _, target in moves)
        console.print(
            f"[bold]promotions[/]: {len(moves)} ({continued} continued from a checkpoint); "
            f"the last {min(SHOWN_PROMOTIONS, len(moves))}:"
        )
        for source, target in moves[-SHOWN_PROMOTIONS:]:
            console.print("  " + describe_promotion(study, source, target, config), highlight=False, markup=False)


# ------------------------------------------------------------------------------------------------- show


def best_first(trials: list[Trial], top: int | None) -> list[Trial]:
    """All trials in order, or the ``top`` best scored ones, best first."""
    if top is None:
        return trials
    return sorted((trial for trial in trials if trial.score is not None), key=lambda trial: trial.score, reverse=True)[
        :top
    ]


def show_json(path: Path, top: int | None) -> None:
    """The study as one JSON document on stdout: its summary and every trial as :meth:`Study.trial_record` gives it."""
    study = Study.open(path)
    meta = study.meta
    best = study.best_trial
    document = {
        "study": str(study.path),
        "direction": meta.get("direction", "maximize"),
        "best_trial": None if best is None else best.number,
        "best_score": None if best is None else study.objective_value(best),
        "test_score": study.test_score,
        "test_trial": meta.get("test_trial"),
        "config": meta.get("config"),
        "evaluation": meta.get("evaluation"),
        "trials": [study.trial_record(trial) for trial in best_first(study.trials, top)],
    }
    click.echo(json.dumps(document, indent=1, default=str))


def show(path: Path, top: int | None) -> None:
    study = Study.open(path)
    console = Console()
    all_trials = study.trials
    config = study_config(study)
    budgets = uses_budgets(all_trials)
    trials = best_first(all_trials, top)
    columns = ["trial", "status", "score", *(["budget"] if budgets else []), "epochs", "parameters", "seconds"]
    table = Table(*columns, "error / candidate")
    for trial in trials:
        seconds = trial.metrics.get("seconds")
        budget = []
        if budgets:
            budget = ["full" if trial.budget is None else f"{trial.budget:g}"]
            if (source := promoted_from(trial)) is not None:
                budget[0] += f" (from {source})"
        table.add_row(
            str(trial.number),
            trial.status.value + (f" ({trial.attempts} attempts)" if trial.attempts > 1 else ""),
            "" if trial.score is None else f"{study.objective_value(trial):.4f}",
            *budget,
            str(trial.metrics.get("epochs", "")),
            f"{trial.metrics['parameters']:,}" if "parameters" in trial.metrics else "",
            "" if seconds is None else f"{seconds:.1f}",
            trial.error or trial.candidate.to_json()[:100],
        )
    console.print(table)
    for trial in trials:
        for attempt, reason in study.storage.attempt_history(trial.number):
            console.print(f"trial {trial.number}, attempt {attempt}: {reason}")
    print_summary(console, study)
    line = fidelity_line(config) if budgets else None
    if line:
        console.print(line, highlight=False)
    print_rungs(console, study, all_trials, config)
    print_evaluation(console, study)
    for key, value in sorted(study.meta.items()):
        if key.startswith("strategy.") and value is not None:
            console.print(f"[bold]{key.removeprefix('strategy.')}[/]")
            if key == "strategy.cost" and isinstance(value, dict) and "selected" in value:  # darts cost=...
                console.print(
                    f"selected cell: {value['selected']:,.6g} {value['kind']} (at uniform alphas "
                    f"{value['expected_uniform']:,.6g}); whole network {value['network_flops']:,} flops per row; "
                    f"cost_weight {value['weight']:g}",
                    highlight=False,
                    soft_wrap=True,
                )
            console.print(json.dumps(value, indent=1)[:4000])


def print_evaluation(console: Console, study: Study) -> None:
    """The short section of a stored ``automl evaluate`` result; nothing when the study has none."""
    from automl.cli.evaluate_command import META_KEY, summary_lines

    document = study.meta.get(META_KEY)
    if document is None:
        return
    try:
        lines = summary_lines(document, len(study.completed()))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):  # written by another version of automl
        lines = [f"evaluation: stored, in a form this automl cannot read; run automl evaluate {study.path} again"]
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
