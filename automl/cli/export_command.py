"""``automl export``: a trained candidate, or an ensemble of the best ones, as files that need no space file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from automl.cli.errors import UsageProblem
from automl.engine.export import export_trial
from automl.engine.study import Study

FORMATS = ("torch", "onnx")


def export(path: Path, trial_number: int | None, output: Path, file_format: str = "torch") -> None:
    """One trial (the best by default): its state dict, architecture JSON, program, and ``model.onnx`` if asked."""
    require_format(file_format)
    study = Study.open(path)
    written = export_trial(study, trial_number, output)
    console = Console()
    for name, file in written.items():
        console.print(f"{name:>12}: {file}")
    console.print(f"load it with: torch.export.load('{written['program']}').module()")
    if file_format == "onnx":
        import click

        _write_onnx(written["program"], output, click.echo)  # plain lines: rich would wrap the paths


def require_format(file_format: str) -> None:
    """Refuse an unknown format, or ``onnx`` without its packages, before any model is loaded or retrained."""
    if file_format not in FORMATS:
        raise UsageProblem(f"unknown export format {file_format!r}; use one of {', '.join(FORMATS)}")
    if file_format == "onnx":
        from automl.engine.onnx_export import INSTALL, missing_packages

        missing = missing_packages()
        if missing:
            raise UsageProblem(
                f"--format onnx needs the package{'s' if len(missing) > 1 else ''} {' and '.join(missing)}: {INSTALL}"
            )


def _write_onnx(program: Path, output: Path, echo: Callable[[str], Any]) -> None:
    from automl.engine.onnx_export import save_onnx

    written = save_onnx(program, output / "model.onnx")
    batch = "any batch size" if written.dynamic_batch else f"a fixed batch size of {written.input_shape[0]}"
    rows = "rows" if written.dynamic_batch else str(written.input_shape[0])
    shape = ", ".join([rows, *map(str, written.input_shape[1:])])
    echo(f"{'onnx':>12}: {written.path} (checked with onnx.checker; input 'features', {batch})")
    echo(
        f"run it with: onnxruntime.InferenceSession('{written.path}').run(None, {{'features': x}})[0], "
        f"x a float32 array of shape ({shape})"
    )


def export_ensemble_command(
    path: Path, size: int, trial_number: int | None, output: Path, file_format: str = "torch"
) -> None:
    """``--ensemble K``: select, write and score an ensemble of the study's K best trials (the study is only read)."""
    from automl.engine.ensemble_export import export_ensemble

    require_format(file_format)
    if trial_number is not None:
        raise UsageProblem("--trial and --ensemble exclude each other: --ensemble K takes the K best trials")
    if size < 2:
        raise UsageProblem(f"--ensemble needs 2 or more members, got {size}; e.g. --ensemble 5")
    import click

    echo = click.echo  # plain lines: rich would wrap them at the terminal's width
    study = Study.open(path)
    try:

        def on_member(trial: Any, retrained: bool) -> None:
            how = f"retraining from its seed {trial.seed} (no stored weights)" if retrained else "stored weights"
            echo(f"member trial {trial.number}: {how}")

        result = export_ensemble(study, size, output, on_member=on_member)
    finally:
        study.close()
    metric, selection = result.metric, result.selection
    echo(
        f"ensemble of the {size} best complete full-budget trials: greedy selection with replacement "
        f"(Caruana et al. 2004) on the {result.validation_rows} validation rows, starting from the best single "
        f"member, {len(selection.history) - 1} more picks; the weights are those of the best-scoring prefix"
    )
    echo(f"  {'trial':>5}  {'weight':>7}  {'picks':>5}  {'validation ' + metric:>20}  weights")
    for member, weight, count in zip(result.members, selection.weights, selection.counts, strict=True):
        source = "retrained from its seed" if member.retrained else "stored"
        echo(f"  {member.trial.number:>5}  {weight:>7.4f}  {int(count):>5}  {member.validation_score:>20.4f}  {source}")
        stored = member.trial.score
        if stored is not None and abs(stored - member.validation_score) > 1e-6:
            echo(f"         trial {member.trial.number}'s stored validation score is {stored:.4f}")
    best = result.best_member
    echo(
        f"validation {metric}: ensemble {selection.score:.4f}, best single member (trial {best.trial.number}) "
        f"{selection.best_member_score:.4f} (the selection chose on these rows, so both are optimistic)"
    )
    echo(
        f"test {metric} over {result.test_rows} test rows: ensemble {_with_interval(result.test_score, result.test)}; "
        f"best single member {_with_interval(result.best_member_test_score, result.best_member_test)}"
    )
    for name, file in result.written.items():
        if "trial" not in name:
            echo(f"{name:>12}: {file}")
    echo(f"     members: {output}/trial-N/state_dict.pt and architecture.json")
    output_kind = "class probabilities" if result.task == "classification" else "predictions"
    echo(
        f"load it with: torch.export.load('{result.written['program']}').module()(x) gives the ensemble's {output_kind}"
    )
    if file_format == "onnx":
        _write_onnx(result.written["program"], output, echo)


def _with_interval(score: float, interval: Any) -> str:
    if interval is None:
        return f"{score:.4f} (too few test rows for an interval)"
    return f"{score:.4f}, 95% bootstrap interval [{interval.low:.4f}, {interval.high:.4f}]"
