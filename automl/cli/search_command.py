"""``automl search``: run a search with a live progress bar and a final table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from automl.cli.errors import UsageProblem
from automl.engine.storage import Trial
from automl.engine.study import Study
from automl.strategies.base import TrialStatus


def run_search(
    space: str | None,
    data: str | None,
    study: Path | None,
    resume: bool,
    fresh: bool,
    quiet: bool,
    config: Path | None = None,
    **options: Any,
) -> None:
    """``options`` are the search configuration's fields as the command line names them."""
    import automl

    if not space:
        raise UsageProblem("give the space file: automl search SPACE_FILE[:FUNCTION] --data NAME")
    if not data:
        raise UsageProblem("give the data: --data digits (a built-in) or --data file.csv --target COLUMN")
    if resume and fresh:
        raise UsageProblem("--resume and --fresh contradict each other; pick one")
    if study is None:
        study = Path("runs") / f"{Path(space.partition(':')[0]).stem}-{options.get('strategy', 'random')}.db"
    if study.exists() and not resume and not fresh:
        Study.open(study).close()  # a file that is not a study is reported before anything else
    trials = int(options.get("trials") or 1)
    console = Console(stderr=False)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        disable=quiet,
    )
    task_id = progress.add_task("searching", total=trials, status="")
    best: dict[str, float] = {}

    def on_start(_study: Study, already: int) -> None:
        progress.start()  # only once the setup has passed: a bad input reports without a bar
        progress.update(task_id, completed=already)

    def on_trial(trial: Trial, _study: Study) -> None:
        if trial.score is not None and trial.score > best.get("score", float("-inf")):
            best["score"] = trial.score
        status = f"best {best['score']:.4f}" if best else "no trial finished yet"
        if trial.status is not TrialStatus.COMPLETE:
            status += f" | trial {trial.number} {trial.status.value}: {(trial.error or '')[:60]}"
        progress.update(task_id, advance=1, status=status)

    try:
        result = automl.search(
            space,
            data,
            study=study,
            resume=resume,
            fresh=fresh,
            on_trial=on_trial,
            on_start=on_start,
            on_notice=lambda message: Console(stderr=True).print(f"note: {message}", highlight=False),
            **options,
        )
    finally:
        progress.stop()
    print_summary(console, result)


def print_summary(console: Console, study: Study) -> None:
    trials = study.trials
    best = study.best_trial
    meta = study.meta
    table = Table(title=f"study {study.path}", show_header=False)
    table.add_row("space", str(meta.get("space_name")))
    table.add_row("strategy", str(meta.get("strategy")))
    table.add_row("data", str(meta.get("data")))
    table.add_row("trials", trial_counts(trials))
    if best is None:
        table.add_row("best", "no trial completed")
    else:
        metric = best.metrics.get("metric", "score")
        table.add_row("best trial", str(best.number))
        table.add_row(f"validation {metric}", f"{best.score:.4f}")
        if study.test_score is not None:
            table.add_row(f"test {metric}", f"{study.test_score:.4f}")
        if "parameters" in best.metrics:
            table.add_row("parameters", f"{best.metrics['parameters']:,}")
        if isinstance(best.metrics.get("costs"), dict):
            table.add_row("costs", format_costs(best.metrics["costs"]))
        table.add_row("candidate", best.candidate.to_json())
        if meta.get("model"):
            table.add_row("model weights", str(meta["model"]))
        table.add_row("export", f"automl export {study.path} -o exported/")
    if meta.get("objectives"):
        table.add_row("objectives", ", ".join(meta["objectives"]))
        table.add_row("Pareto front", front_summary(study))
    console.print(table)


def front_summary(study: Study) -> str:
    """ "4 trials (2, 5, 7, 11): automl show STUDY --pareto": the front of a multi-objective study, in one line."""
    from automl.engine.objectives import parse_objective
    from automl.evaluation.pareto import pareto_front

    objectives = [parse_objective(text) for text in study.meta["objectives"]]
    scored = [
        trial
        for trial in study.trials
        if trial.status is TrialStatus.COMPLETE and len(trial.metrics.get("objectives") or []) == len(objectives)
    ]
    if not scored:
        return "no complete trial yet"
    points = [trial.metrics["objectives"] for trial in scored]
    front = [scored[index].number for index in pareto_front(points, [item.direction for item in objectives])]
    numbers = ", ".join(map(str, front[:12])) + (", ..." if len(front) > 12 else "")
    return f"{len(front)} trials ({numbers}): automl show {study.path} --pareto"


def format_costs(costs: dict[str, float]) -> str:
    """ "params 12,345, flops 1.2M, memory_mb 0.31, latency_ms 0.084": the measured costs of a trial."""
    from automl.engine.constraints import format_cost

    return ", ".join(f"{name} {format_cost(name, value)}" for name, value in costs.items())


def trial_counts(trials: list[Trial]) -> str:
    """ "38 complete, 2 failed, 1 running": each trial counted once, by its status."""
    counts = {status: 0 for status in TrialStatus}
    for trial in trials:
        counts[trial.status] += 1
    order = (TrialStatus.COMPLETE, TrialStatus.FAILED, TrialStatus.PRUNED, TrialStatus.INFEASIBLE, TrialStatus.RUNNING)
    parts = [f"{counts[status]} {status.value}" for status in order if counts[status] or status is TrialStatus.COMPLETE]
    return ", ".join(parts)
