"""Multi-fidelity benchmark, part 2: real training under the same wall-clock budget.

The ``search_spaces/cnn.py`` space on the digits images (8x8), trained for
real on a Dask LocalCluster of 2 workers, each method given the same wall-clock
seconds for its search: random search training every candidate to the full
budget, random search under Hyperband, and MCTS under ASHA (both from 1 to
``--max-budget`` epochs, eta 3, promoted trials continuing from their
checkpoints). Reported per method and seed: the best validation accuracy at the
full budget, the test accuracy of that incumbent, how many distinct candidates
were trained (at any budget) and how many reached the full budget, and the
epochs trained in all.

    python -m benchmarks.multi_fidelity_training                 # 2 seeds, 150 s per method and seed
    python -m benchmarks.multi_fidelity_training --seconds 60 --seeds 1   # a quick look

Part 1 (replay of a learning-curve table, many seeds) is ``benchmarks/multi_fidelity.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import console, table, write_results  # noqa: E402

RESULT_NAME = "multi_fidelity_training"
METHODS: dict[str, dict[str, Any]] = {
    "random (full budget)": {"strategy": "random"},
    "random + hyperband": {"strategy": "random", "multi_fidelity": "hyperband"},
    "mcts + asha": {"strategy": "mcts", "multi_fidelity": "asha"},
}


def run_method(name: str, seed: int, seconds: float, max_budget: int, workers: int, folder: Path) -> dict[str, Any]:
    import automl

    settings = dict(METHODS[name])
    if "multi_fidelity" in settings:
        settings.update(min_budget=1, max_budget=max_budget, eta=3)
    started = time.monotonic()
    study = automl.search(
        str(ROOT / "search_spaces" / "cnn.py"),
        "digits",
        study=folder / f"{name.replace(' ', '_')}-{seed}.db",
        trials=100_000,  # the wall clock ends every search
        time_budget=seconds,
        epochs=max_budget,
        workers=workers,
        seed=seed,
        device="cpu",
        **settings,
    )
    elapsed = time.monotonic() - started
    trials = study.trials
    full = [
        trial for trial in trials if trial.status == "complete" and (trial.budget is None or trial.budget >= max_budget)
    ]
    # ties (digits saturates: several candidates reach 100 % validation accuracy) go to the lower loss
    best = max(full, key=lambda trial: (trial.score, -trial.metrics["validation_loss"]), default=None)
    incumbent = study.best_trial  # the engine's: the best score at the highest budget, its weights tested
    return {
        "method": name,
        "seed": seed,
        "seconds": elapsed,
        "trials": len(trials),
        "candidates": len({trial.candidate.key for trial in trials}),
        "full_budget_candidates": len({trial.candidate.key for trial in full}),
        "epochs": sum(int(trial.metrics.get("epochs", 0)) for trial in trials),
        "best_validation_accuracy": None if best is None else best.score,
        "best_validation_loss": None if best is None else best.metrics["validation_loss"],
        "test_accuracy": study.test_score,  # of the engine's incumbent
        "incumbent": None if incumbent is None else incumbent.number,
        "seconds_to_first_full_budget": min((trial.finished - trials[0].started for trial in full), default=None),
        "statuses": {status: sum(trial.status == status for trial in trials) for status in {t.status for t in trials}},
    }


def _mean(values: list[Any]) -> float | None:
    known = [value for value in values if value is not None]
    return sum(known) / len(known) if known else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="wall-clock seconds per method and seed")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--max-budget", type=int, default=27, help="epochs of a full training")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 seed, 30 s per method, 9 epochs: a smoke run")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.seeds, arguments.seconds, arguments.max_budget = 1, min(arguments.seconds, 30.0), 9
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="automl-mf-") as folder:
        for seed in range(arguments.seeds):
            for name in METHODS:  # methods interleaved per seed: a slow phase of the machine hits all alike
                console.print(f"{name}, seed {seed}: {arguments.seconds:g} s on {arguments.workers} workers")
                rows.append(
                    run_method(name, seed, arguments.seconds, arguments.max_budget, arguments.workers, Path(folder))
                )
    table(
        f"part 2: cnn on digits, {arguments.seconds:g} s per search on {arguments.workers} workers",
        [
            "method",
            "seed",
            "best val. acc. (full budget)",
            "its val. loss",
            "test acc. (incumbent)",
            "candidates",
            "at full budget",
            "epochs",
        ],
        [
            [
                row["method"],
                row["seed"],
                row["best_validation_accuracy"] if row["best_validation_accuracy"] is not None else "none",
                row["best_validation_loss"] if row["best_validation_loss"] is not None else "-",
                row["test_accuracy"] if row["test_accuracy"] is not None else "-",
                row["candidates"],
                row["full_budget_candidates"],
                row["epochs"],
            ]
            for row in rows
        ],
    )
    summary = {}
    for name in METHODS:
        mine = [row for row in rows if row["method"] == name]
        summary[name] = {
            key: _mean([row[field] for row in mine])
            for key, field in (
                ("mean_best_validation_accuracy", "best_validation_accuracy"),
                ("mean_best_validation_loss", "best_validation_loss"),
                ("mean_test_accuracy", "test_accuracy"),
                ("mean_candidates", "candidates"),
                ("mean_full_budget_candidates", "full_budget_candidates"),
                ("mean_epochs", "epochs"),
            )
        }
    table(
        "part 2 summary (mean over seeds)",
        ["method", "best val. acc.", "its val. loss", "test acc.", "candidates", "at full budget", "epochs"],
        [[name, *summary[name].values()] for name in METHODS],
    )
    write_results(
        RESULT_NAME,
        {
            "command": " ".join(["python -m benchmarks.multi_fidelity_training", *(argv or sys.argv[1:])]),
            "settings": vars(arguments),
            "runs": rows,
            "summary": summary,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
