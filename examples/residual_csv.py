"""A custom space with a residual block, searched on your own CSV file.

The script writes scikit-learn's wine data to ``wine.csv`` (column ``label`` is the
target) in ``--folder`` (a temporary folder by default), then searches the
``residual_net`` space defined below on it. The residual block adds its input to
the output of two linear layers; ``s.op.add`` needs equal shapes, so the stem and
the block's last layer share one ``width`` decision.

The same search from the command line (after the script wrote the CSV)::

    automl search examples/residual_csv.py --data /path/to/wine.csv --target label \
        --trials 10 --epochs 20 --study runs/residual.db
    automl show runs/residual.db

    python examples/residual_csv.py --trials 3 --epochs 3
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sklearn.datasets import load_wine

import automl
from automl import space as s


@s.search_space
def residual_net(x):
    x = s.training(x, learning_rate=s.Float(1e-3, 3e-2, log=True))
    width = s.Choice([32, 64, 128], name="width")  # one decision shared by the stem and every block
    x = s.op.linear(x, units=width, name="stem")

    def block(x):
        h = s.op.linear(x, units=s.Choice([32, 64, 128]))
        h = s.op.activation(h, kind=s.Choice(["relu", "gelu"]))
        h = s.op.linear(h, units=width)  # back to `width`, so that the add sees equal shapes
        x = s.op.add(x, h)
        return s.op.layernorm(x)

    x = s.Repeat(block, times=s.Int(1, 3), name="blocks")(x)
    x = s.Optional(lambda x: s.op.dropout(x, p=s.Choice([0.1, 0.3])), name="dropout")(x)
    return s.op.linear(x, units=s.OUTPUTS, name="head")


def write_csv(folder: Path) -> Path:
    """scikit-learn's wine data as a CSV with a ``label`` column."""
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "label"})
    path = folder / "wine.csv"
    frame.to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="where to write wine.csv and the study (a temporary folder)")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    folder = arguments.folder or Path(tempfile.mkdtemp(prefix="automl-example-"))
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(folder)
    print(f"wrote {csv_path}")

    study = automl.search(
        residual_net,
        str(csv_path),
        target="label",
        strategy=arguments.strategy,
        trials=arguments.trials,
        epochs=arguments.epochs,
        seed=arguments.seed,
        study=folder / "residual.db",
        device="cpu",
    )
    best = study.best_trial
    if best is None:
        raise SystemExit("no trial completed")
    print(f"study: {study.path} ({len(study.completed())} completed, {len(study.failed())} failed)")
    print(f"best validation {best.metrics.get('metric', 'score')}: {best.score:.4f} (trial {best.number})")
    if study.test_score is not None:
        print(f"test score of the best: {study.test_score:.4f}")
    print(f"best candidate: {best.candidate.to_json()}")
    study.close()


if __name__ == "__main__":
    main()
