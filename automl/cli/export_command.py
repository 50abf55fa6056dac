"""``automl export``: a trained candidate as files that load without the space file."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from automl.engine.export import export_trial
from automl.engine.study import Study


def export(path: Path, trial_number: int | None, output: Path) -> None:
    study = Study.open(path)
    written = export_trial(study, trial_number, output)
    console = Console()
    for name, file in written.items():
        console.print(f"{name:>12}: {file}")
    console.print(f"load it with: torch.export.load('{written['program']}').module()")
