"""Feature ranking in front of the search: top-K features, K fixed or searched."""

import numpy as np
import pandas as pd
import pytest

import automl
from automl import space as s


@pytest.fixture
def informative_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = 600
    signal = rng.integers(0, 4, size=(rows, 2))
    label = (signal[:, 0] + signal[:, 1]) % 3
    frame = pd.DataFrame({f"noise{index}": rng.integers(0, rows, rows) for index in range(6)})
    frame["signal_a"], frame["signal_b"], frame["label"] = signal[:, 0], signal[:, 1], label
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


@s.search_space
def net(x):
    x = s.op.linear(x, units=32)
    x = s.op.relu(x)
    return s.op.linear(x, units=s.OUTPUTS)


@s.search_space
def net_with_feature_count(x):
    x = s.training(x, keep_features=s.Int(1, 4))
    x = s.op.linear(x, units=16)
    return s.op.linear(x, units=s.OUTPUTS)


def test_keep_trains_on_the_top_ranked_features(tmp_path, informative_csv):
    study = automl.search(
        net,
        informative_csv,
        target="label",
        rank_features="outrank",
        keep=2,
        trials=1,
        epochs=2,
        study=tmp_path / "k.db",
    )
    ranking = [row["feature"] for row in study.meta["feature_ranking"]]
    assert set(ranking[:2]) == {"signal_a", "signal_b"}
    assert study.trials[0].metrics["features"] == 2
    assert study.trials[0].metrics["parameters"] == 2 * 32 + 32 + 32 * 3 + 3


def test_feature_count_as_a_decision_of_the_space(tmp_path, informative_csv):
    study = automl.search(
        net_with_feature_count, informative_csv, target="label", trials=4, epochs=1, seed=1, study=tmp_path / "d.db"
    )
    assert study.meta["feature_ranker"] == "outrank"
    for trial in study.trials:
        assert trial.metrics["features"] == trial.candidate["training.keep_features"]


def test_ranking_needs_tabular_data(tmp_path):
    with pytest.raises(ValueError, match="tabular"):
        automl.search(net, "digits", rank_features="mi", keep=3, trials=1, study=tmp_path / "i.db")
