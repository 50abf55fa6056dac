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


def run_search(
    space: str | None,
    data: str | None,
    target: str | None,
    strategy: str,
    trials: int,
    time_budget: float | None,
    epochs: int,
    trial_seconds: float | None,
    batch_size: int,
    learning_rate: float,
    max_parameters: int | None,
    rank_features: str | None,
    keep: int | None,
    seed: int,
    study: Path | None,
    resume: bool,
    fresh: bool,
    device: str,
    strategy_options: dict[str, Any],
    quiet: bool,
    config: Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    trial_memory: str | None = None,
    retries: int = 1,
    threads_per_worker: int = 1,
) -> None:
    import automl
    from automl.training import TrainingSettings

    if not space:
        raise UsageProblem("give the space file: automl search SPACE_FILE[:FUNCTION] --data NAME")
    if not data:
        raise UsageProblem("give the data: --data digits (a built-in) or --data file.csv --target COLUMN")
    if resume and fresh:
        raise UsageProblem("--resume and --fresh contradict each other; pick one")
    if trials < 1:
        raise UsageProblem("--trials must be at least 1")
    space_path = Path(space.partition(":")[0])
    space_reference = str(space_path.resolve()) + (":" + space.partition(":")[2] if ":" in space else "")
    if study is None:
        study = Path("runs") / f"{space_path.stem}-{strategy}.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(str(study) + suffix).unlink(missing_ok=True)
    if study.exists() and not resume and not fresh:
        Study.open(study).close()  # a file that is not a study is reported before anything else
    console = Console(stderr=False)
    settings = TrainingSettings(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seconds=trial_seconds
    )
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
        if trial.status == "failed":
            status += f" | trial {trial.number} failed: {(trial.error or '')[:60]}"
        progress.update(task_id, advance=1, status=status)

    try:
        result = automl.search(
            space_reference,
            data,
            strategy=strategy,
            trials=trials,
            time_budget=time_budget,
            epochs=epochs,
            trial_seconds=trial_seconds,
            seed=seed,
            study=study,
            resume=resume,
            target=target,
            device=device,
            training=settings,
            strategy_options=strategy_options,
            max_parameters=max_parameters,
            rank_features=rank_features,
            keep=keep,
            on_trial=on_trial,
            on_start=on_start,
            workers=workers,
            scheduler=scheduler,
            trial_memory=trial_memory,
            retries=retries,
            threads_per_worker=threads_per_worker,
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
    finished = [trial for trial in trials if trial.status != "running"]
    failed = [trial for trial in trials if trial.status == "failed"]
    table.add_row("trials", f"{len(finished)} finished, {len(failed)} failed")
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
        table.add_row("candidate", best.candidate.to_json())
        if meta.get("model"):
            table.add_row("model weights", str(meta["model"]))
        table.add_row("export", f"automl export {study.path} -o exported/")
    console.print(table)
