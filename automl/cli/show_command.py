"""``automl show``: the trials of a study, readable while a search writes it."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from automl.cli.search_command import print_summary
from automl.engine.study import Study


def show(path: Path, top: int | None) -> None:
    study = Study.open(path)
    console = Console()
    trials = study.trials
    if top is not None:
        trials = sorted(
            (trial for trial in trials if trial.score is not None), key=lambda trial: trial.score, reverse=True
        )[:top]
    table = Table("trial", "status", "score", "epochs", "parameters", "seconds", "error / candidate")
    for trial in trials:
        seconds = trial.metrics.get("seconds")
        table.add_row(
            str(trial.number),
            trial.status.value + (f" ({trial.attempts} attempts)" if trial.attempts > 1 else ""),
            "" if trial.score is None else f"{study.objective_value(trial):.4f}",
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
    for key, value in sorted(study.meta.items()):
        if key.startswith("strategy.") and value is not None:
            console.print(f"[bold]{key.removeprefix('strategy.')}[/]")
            console.print(json.dumps(value, indent=1)[:4000])
