"""Small helpers shared by the benchmarks: interleaved timing, medians, a rich table, the JSON result file."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# ``make bench`` (quick runs) points this elsewhere, so quick numbers never replace a full run's
RESULTS_DIRECTORY = Path(os.environ.get("AUTOML_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")
console = Console(width=max(Console().width, 130))
# Tracking plugins, when installed, log every search; benchmarks measure the engine, so they run without them
# (set before any search: the processes a benchmark starts inherit it). AUTOML_MLFLOW=on measures them too.
os.environ.setdefault("AUTOML_MLFLOW", "off")
os.environ.setdefault("AUTOML_TENSORBOARD", "off")


def timed(function: Callable[[], Any]) -> float:
    """Wall seconds of one call (``time.perf_counter``)."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def interleaved(
    contenders: dict[str, Callable[[], Any]], rounds: int, alternate: bool = True
) -> dict[str, list[float]]:
    """Seconds of each contender per round, run A, B, A, B ... (order reversed every other round).

    Running the contenders back to back within a round, and reversing the order,
    makes a slow phase of a noisy machine hit all of them alike; compare them
    with :func:`median_ratio` of the per-round times.
    """
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for index in range(rounds):
        order = names[::-1] if alternate and index % 2 else names
        for name in order:
            seconds[name].append(timed(contenders[name]))
    return seconds


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median over rounds of numerator / denominator (each round's own pair)."""
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(min, max) of the values, for a table's noise column."""
    return min(values), max(values)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table; floats are shown with 4 significant digits."""
    shown = Table(title=title)
    for index, column in enumerate(columns):
        shown.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        shown.add_row(*(f"{cell:.4g}" if isinstance(cell, float) else str(cell) for cell in row))
    console.print(shown)


ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("torch", "numpy", "scipy", "scikit-learn", "optuna", "smac", "ConfigSpace", "dask", "distributed")


# The files each result measures: a change to any of them makes the result stale.
MEASURED: dict[str, tuple[str, ...]] = {
    "multi_fidelity": (
        "automl/schedulers",
        "automl/strategies/base.py",
        "automl/strategies/fidelity.py",
        "automl/strategies/random.py",
        "automl/strategies/mcts.py",
        "automl/strategies/smbo.py",
        "benchmarks/multi_fidelity.py",
        "benchmarks/data/learning_curves.json",
    ),
    "overhead": (
        "automl/api.py",
        "automl/engine/search.py",
        "automl/engine/storage.py",
        "automl/engine/runners.py",
        "automl/engine/evaluation.py",
        "automl/engine/config.py",
        "automl/engine/study.py",
        "automl/engine/lock.py",
        "automl/schedulers",
        "automl/space",
        "automl/strategies/base.py",
        "automl/strategies/fidelity.py",
        "automl/strategies/random.py",
        "automl/strategies/mcts.py",
        "automl/strategies/smbo.py",
        "automl/strategies/tpe.py",
        "automl/strategies/sampling.py",
        "plugins/automl-evolution/src/automl_evolution/strategy.py",
        "benchmarks/overhead.py",
    ),
    "feature_ranking": ("automl/ranking", "automl/cli/rank_command.py", "benchmarks/feature_ranking.py"),
    "cli_startup": ("automl/cli", "automl/__init__.py", "benchmarks/cli_startup.py"),
    "compile": (
        "automl/nn/compile.py",
        "automl/nn/ops.py",
        "automl/nn/registry.py",
        "search_spaces",
        "benchmarks/compile.py",
    ),
    "darts_pt": (
        "automl/nn/supernet.py",
        "automl/nn/mixed_ops.py",
        "automl/strategies/darts.py",
        "automl/nn/operation_costs.py",
        "search_spaces/darts_cell.py",
        "benchmarks/darts_pt.py",
        "benchmarks/hand_darts.py",
    ),
    "scaling": (
        "automl/engine/dask_runner.py",
        "automl/engine/resources.py",
        "automl/engine/runners.py",
        "automl/engine/search.py",
        "benchmarks/scaling.py",
    ),
    "strategies": (
        "automl/strategies/base.py",
        "automl/strategies/random.py",
        "automl/strategies/sampling.py",
        "automl/strategies/mcts.py",
        "automl/strategies/smbo.py",
        "automl/strategies/tpe.py",
        "automl/space/configspace.py",
        "plugins/automl-evolution/src/automl_evolution/strategy.py",
        "benchmarks/strategies.py",
        "benchmarks/tables",
        "benchmarks/data/tables/digits_tree.json",
        "benchmarks/data/tables/flat_cell.json",
        "benchmarks/data/tables/continuous_grid.json",
    ),
    "multi_objective": (
        "automl/engine/objectives.py",
        "automl/engine/search.py",
        "automl/engine/evaluation.py",
        "automl/engine/constraints.py",
        "automl/engine/costs.py",
        "automl/evaluation/pareto.py",
        "automl/strategies/base.py",
        "automl/strategies/random.py",
        "automl/strategies/smbo.py",
        "automl/strategies/tpe.py",
        "plugins/automl-evolution/src/automl_evolution/strategy.py",
        "search_spaces/cnn.py",
        "benchmarks/multi_objective.py",
        "benchmarks/tables/costs.py",
        "benchmarks/data/tables/digits_tree.costs.json",
        "benchmarks/data/tables/flat_cell.costs.json",
    ),
    "multi_fidelity_training": (
        "automl/schedulers",
        "automl/engine/search.py",
        "automl/engine/evaluation.py",
        "automl/engine/dask_runner.py",
        "automl/engine/resources.py",
        "automl/training/trainer.py",
        "search_spaces/cnn.py",
        "benchmarks/multi_fidelity_training.py",
    ),
    "data_loading": ("automl/data/images.py", "benchmarks/data_loading.py"),
    "ensemble": (
        "automl/evaluation/ensemble.py",
        "automl/engine/ensemble_export.py",
        "automl/engine/export.py",
        "search_spaces/mlp.py",
        "benchmarks/ensemble.py",
    ),
}


def measured_hash(paths: Iterable[str]) -> str:
    """sha256 over the measured files (every file under a folder), names and bytes, in a fixed order."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for name in paths:
        path = ROOT / name
        files.extend(sorted(item for item in path.rglob("*.py")) if path.is_dir() else [path])
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes() if path.exists() else b"(missing)")
    return digest.hexdigest()


def measured(name: str) -> dict[str, Any] | None:
    """What ``write_results`` stores about the code a result measured (None: not declared here)."""
    paths = MEASURED.get(name)
    return None if paths is None else {"files": list(paths), "sha256": measured_hash(paths)}


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict[str, Any]:
    import importlib.metadata

    import torch

    versions = {}
    for library in LIBRARIES:
        try:
            versions[library] = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            versions[library] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        # other work on the machine when the result was written (1, 5, 15 minutes): a loaded machine slows
        # absolute times; interleaved ratios suffer less
        "load_average": [round(value, 2) for value in os.getloadavg()],
        **versions,
    }


def provenance() -> dict[str, Any]:
    """What produced a result: the commit (and whether the tree had changes), the date, the exact command."""
    import datetime
    import subprocess

    def git(*arguments: str) -> str | None:
        try:
            return subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no", "--", "automl", "benchmarks", "search_spaces")
    return {
        "commit": None if commit is None else commit.strip(),
        "uncommitted_changes": None if changes is None else bool(changes.strip()),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def write_results(name: str, document: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (with the machine and the provenance) and return its path."""
    RESULTS_DIRECTORY.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIRECTORY / f"{name}.json"
    header = {"machine": machine(), "provenance": provenance(), "measured": measured(name)}
    path.write_text(json.dumps({**header, **document}, indent=2, default=str) + "\n")
    console.print(f"results written to {path}")
    return path
