"""Ensemble benchmark: does averaging a search's top candidates beat its best one on the test split?

For each of two built-in data sets (digits-flat, breast-cancer), one random search of
``search_spaces/mlp.py`` (fixed seed), then the test accuracy of

* the best single candidate (the top validation score: the search's choice, with its stored weights);
* the top-3 and top-5 ensembles chosen by greedy ensemble selection with replacement
  (Caruana et al. 2004, ``automl.evaluation.ensemble.select_ensemble``) on the validation split,
  exactly as ``automl export STUDY --ensemble K`` chooses them (``automl.engine.ensemble_export``):
  members without stored weights are retrained from their seeds; the top-3 members are the first
  three of the top-5, so each member is trained once.

Each test accuracy has its 95% bootstrap percentile interval over the test rows (10,000
resamples, seed 0), and each ensemble is compared with the best single candidate by McNemar's
test on the same test rows. The validation scores are printed too: the ensemble's is chosen on
those rows and is optimistic; the test rows take no part in any choice.

Run: ``.venv/bin/python benchmarks/ensemble.py [--quick]``; results go to
``benchmarks/results/ensemble.json``. Full: 20 trials of 20 epochs per search, under 10 minutes on 2 cores;
quick: 8 trials of 5 epochs, about 2 minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, table, write_results

SPACE = ROOT / "search_spaces" / "mlp.py"
DATA_SETS = ("digits-flat", "breast-cancer")
SIZES = (3, 5)
SEED = 0


def measure(data: str, trials: int, epochs: int, directory: Path) -> dict[str, Any]:
    """One search of ``data``, then the best single candidate and the top-K ensembles on its test split."""
    import numpy as np

    import automl
    from automl.engine.ensemble_export import ROUNDS, ensemble_candidates, ensemble_members, score_interval, truth_of
    from automl.engine.export import evaluator_of
    from automl.evaluation.ensemble import accuracy, select_ensemble
    from automl.evaluation.statistics import mcnemar_test

    started = time.perf_counter()
    study = automl.search(
        str(SPACE),
        data=data,
        strategy="random",
        trials=trials,
        epochs=epochs,
        seed=SEED,
        study=directory / f"{data}.db",
        on_notice=lambda message: None,
    )
    search_seconds = time.perf_counter() - started
    started = time.perf_counter()
    evaluator = evaluator_of(study)
    members = ensemble_members(study, evaluator, ensemble_candidates(study, max(SIZES), evaluator))
    member_seconds = time.perf_counter() - started
    splits = evaluator.splits
    validation_truth, test_truth = truth_of(splits.validation, splits), truth_of(splits.test, splits)

    def row(name: str, validation: float, test_predictions: np.ndarray, weights: dict[int, float]) -> dict[str, Any]:
        interval = score_interval(test_predictions, test_truth, "classification")
        return {
            "model": name,
            "weights": weights,
            "validation_accuracy": validation,
            "test_accuracy": accuracy(test_predictions, test_truth),
            "test_interval": [interval.low, interval.high],
            "predicted": np.argmax(test_predictions, axis=1),
        }

    best = members[0]
    rows = [row(f"best single (trial {best.trial.number})", best.validation_score, best.test, {best.trial.number: 1.0})]
    for size in SIZES:
        chosen = members[:size]
        selection = select_ensemble([member.validation for member in chosen], validation_truth, rounds=ROUNDS)
        weights = {
            member.trial.number: round(float(weight), 4)
            for member, weight in zip(chosen, selection.weights, strict=True)
            if weight > 0
        }
        rows.append(
            row(f"top-{size} ensemble", selection.score, selection.average([member.test for member in chosen]), weights)
        )
    for entry in rows[1:]:
        test = mcnemar_test(test_truth, entry["predicted"], rows[0]["predicted"], names=(entry["model"], "best single"))
        entry["mcnemar_p_vs_best_single"] = test.p_value
        entry["mcnemar_reading"] = test.reading
    for entry in rows:
        entry.pop("predicted")
    table(
        f"{data}: {trials} random trials of mlp.py, {epochs} epochs, seed {SEED} "
        f"({len(validation_truth)} validation rows, {len(test_truth)} test rows)",
        ["model", "validation acc", "test acc", "95% interval", "McNemar p vs best", "weights (trial: weight)"],
        [
            [
                entry["model"],
                entry["validation_accuracy"],
                entry["test_accuracy"],
                f"[{entry['test_interval'][0]:.4f}, {entry['test_interval'][1]:.4f}]",
                "-" if "mcnemar_p_vs_best_single" not in entry else f"{entry['mcnemar_p_vs_best_single']:.3g}",
                ", ".join(f"{trial}: {weight:.2f}" for trial, weight in entry["weights"].items()),
            ]
            for entry in rows
        ],
    )
    study.close()
    return {
        "data": data,
        "trials": trials,
        "epochs": epochs,
        "validation_rows": len(validation_truth),
        "test_rows": len(test_truth),
        "members": [
            {
                "trial": member.trial.number,
                "validation_accuracy": member.validation_score,
                "test_accuracy": accuracy(member.test, test_truth),
                "retrained": member.retrained,
            }
            for member in members
        ],
        "models": rows,
        "search_seconds": search_seconds,
        "member_seconds": member_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 trials of 5 epochs per search (about 2 minutes)")
    arguments = parser.parse_args()
    trials, epochs = (8, 5) if arguments.quick else (20, 20)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        results = [measure(data, trials, epochs, Path(directory)) for data in DATA_SETS]
    document = {
        "quick": arguments.quick,
        "space": str(SPACE.relative_to(ROOT)),
        "strategy": "random",
        "seed": SEED,
        "sizes": list(SIZES),
        "data_sets": results,
        "seconds": time.perf_counter() - started,
    }
    write_results("ensemble", document)


if __name__ == "__main__":
    main()
