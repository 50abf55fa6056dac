"""``automl plot``: score of every trial and the best so far, as a PNG."""

from __future__ import annotations

from pathlib import Path

from automl.engine.study import Study


def plot(path: Path, output: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    from matplotlib import pyplot

    study = Study.open(path)
    trials = [trial for trial in study.trials if trial.status.finished]
    completed = [trial for trial in trials if trial.score is not None]
    figure, axes = pyplot.subplots(figsize=(7, 4))
    numbers = [trial.number for trial in completed]
    values = [study.objective_value(trial) for trial in completed]
    axes.scatter(numbers, values, s=14, alpha=0.6, label="trial")
    best_so_far, best = [], None
    minimise = study.meta.get("direction") == "minimize"
    for value in values:
        best = value if best is None or (value < best if minimise else value > best) else best
        best_so_far.append(best)
    axes.step(numbers, best_so_far, where="post", color="black", label="best so far")
    failed = [trial.number for trial in trials if trial.score is None]
    if failed and values:
        axes.scatter(failed, [min(values)] * len(failed), marker="x", color="red", label="failed")
    metric = completed[0].metrics.get("metric", "score") if completed else "score"
    axes.set_xlabel("trial")
    axes.set_ylabel(f"validation {metric}")
    axes.set_title(f"{study.meta.get('space_name')} / {study.meta.get('strategy')}")
    axes.legend(loc="best")
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=120)
    pyplot.close(figure)
    return output
