"""Search with your own objective instead of automl's training loop.

The space describes a scikit-learn MLP (layer widths, depth, regularisation); the
objective replays each candidate, reads the widths off its graph, fits the
scikit-learn model on the built-in ``wine`` data set and returns its
cross-validated accuracy. ``automl.search(..., objective=...)`` needs no ``data``:
the objective does the scoring (use ``direction="minimize"`` for a loss).

    python examples/custom_objective.py --trials 10 --strategy random
"""

from __future__ import annotations

import argparse
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import automl
from automl import space as s
from automl.data import load_dataset


@s.search_space
def sklearn_mlp(x):
    x = s.training(x, alpha=s.Float(1e-5, 1e-1, log=True, name="alpha"))

    def layer(x):
        return s.op.linear(x, units=s.Choice([8, 16, 32, 64]))

    x = s.Repeat(layer, times=s.Int(1, 3), name="layers")(x)
    return s.op.linear(x, units=s.OUTPUTS, name="head")


WINE = load_dataset("wine")


def objective(candidate: s.Candidate) -> dict[str, float]:
    """Cross-validated accuracy of the scikit-learn MLP this candidate describes."""
    architecture = sklearn_mlp.replay(candidate)
    graph = architecture.to_networkx()
    widths = tuple(
        graph.nodes[path]["hyperparameters"]["units"]
        for path in graph.nodes
        if graph.nodes[path]["kind"] == "linear" and path != "head"
    )
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=widths, alpha=architecture.training_values()["alpha"], max_iter=200, random_state=0
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, WINE.features, WINE.target, cv=3)
    return {"score": float(scores.mean()), "std": float(scores.std())}  # extra keys are stored as metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--study", help="SQLite file of the study (a temporary one by default)")
    arguments = parser.parse_args()

    study = automl.search(
        sklearn_mlp,
        objective=objective,
        direction="maximize",
        strategy=arguments.strategy,
        trials=arguments.trials,
        seed=arguments.seed,
        study=arguments.study,
    )
    best = study.best_trial
    print(f"study: {study.path} ({len(study.completed())} trials completed)")
    print(f"best accuracy: {study.objective_value(best):.4f} (trial {best.number})")
    print(f"best candidate: {best.candidate.to_json()}")
    study.close()


if __name__ == "__main__":
    main()
