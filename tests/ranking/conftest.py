"""Synthetic data with known informative features among noise of varied cardinality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

INFORMATIVE = ["informative_a", "informative_b", "informative_c"]


def make_ranking_data(rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Three weakly informative 4-valued features, noise from 2 values up to one per row, a binary target."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, rows)
    columns: dict[str, np.ndarray] = {}
    for index, name in enumerate(INFORMATIVE):
        # With probability 0.75 the value is random, else it reveals the target: MI of roughly 0.05 nats.
        flip = rng.random(rows) < 0.75 - 0.03 * index
        columns[name] = np.where(flip, rng.integers(0, 4, rows), target * 2 + rng.integers(0, 2, rows))
    for cardinality in (2, 7, 50, 500, 5_000, rows // 2, rows):
        columns[f"noise_{cardinality}"] = rng.integers(0, cardinality, rows)
    columns["row_id"] = rng.permutation(rows)
    columns["target"] = target
    return pd.DataFrame(columns)


@pytest.fixture(scope="session")
def ranking_data() -> pd.DataFrame:
    return make_ranking_data()


@pytest.fixture(scope="session")
def mixed_data() -> pd.DataFrame:
    """Strings with missing values, a binned float column, small ints, a string target."""
    rng = np.random.default_rng(1)
    rows = 6_000
    label = rng.integers(0, 3, rows)
    city = np.array([f"city-{value}" for value in rng.integers(0, 300, rows)], dtype=object)
    city[rng.random(rows) < 0.05] = None
    measure = label + rng.normal(0, 1.0, rows)
    measure[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "city": city,
            "measure": measure,
            "small": rng.integers(0, 5, rows),
            "signal": np.where(rng.random(rows) < 0.5, label, rng.integers(0, 3, rows)),
            "label": np.array(["low", "mid", "high"], dtype=object)[label],
        }
    )
