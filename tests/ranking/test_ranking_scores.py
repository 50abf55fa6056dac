"""Rankers: OutRank fixes the cardinality bias of plain MI; 3MR demotes copies; MI is exact."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import INFORMATIVE
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mutual_info_score

from automl.ranking import builtin_rankers, rank_frame
from automl.ranking.mutual_information import (
    contingency_table,
    mutual_information,
    mutual_information_from_table,
    mutual_information_of_codes,
    x_log_x_lookup,
)


def test_outrank_puts_informative_first_where_mi_does_not(ranking_data):
    outrank = rank_frame(ranking_data, "target", ranker="outrank", categorical=True)
    plain = rank_frame(ranking_data, "target", ranker="mi", categorical=True)
    assert set(outrank.features[:3]) == set(INFORMATIVE)
    assert not set(plain.features[:3]) & set(INFORMATIVE)
    assert plain.features[0] in {"row_id", f"noise_{len(ranking_data)}"}


def test_outrank_scores_noise_near_zero(ranking_data):
    scores = {row.feature: row.score for row in rank_frame(ranking_data, "target", categorical=True)}
    informative_floor = min(scores[name] for name in INFORMATIVE)
    noise_ceiling = max(score for name, score in scores.items() if name not in INFORMATIVE)
    assert noise_ceiling < informative_floor / 5


def test_three_mr_demotes_exact_copy_of_chosen_feature(ranking_data):
    data = ranking_data.copy()
    data["copy_of_a"] = data["informative_a"]
    outrank = rank_frame(data, "target", ranker="outrank", categorical=True)
    three_mr = rank_frame(data, "target", ranker="3mr", categorical=True)
    # Plain relevance cannot tell the copy from the original ...
    assert set(outrank.features[:4]) == {*INFORMATIVE, "copy_of_a"}
    # ... 3MR picks one of the two and pushes the other below every other informative feature.
    assert set(three_mr.features[:3]) == set(INFORMATIVE) or set(three_mr.features[:3]) == {
        "copy_of_a",
        "informative_b",
        "informative_c",
    }
    assert three_mr.features.index("copy_of_a") >= 3 or three_mr.features.index("informative_a") >= 3


def test_every_ranker_orders_all_features(ranking_data):
    features = [name for name in ranking_data.columns if name != "target"]
    for ranker_class in builtin_rankers():
        assert ranker_class.name and ranker_class.description
        ranking = rank_frame(ranking_data, "target", ranker=ranker_class.name, categorical=True)
        assert sorted(ranking.features) == sorted(features)
        assert [row.rank for row in ranking] == list(range(1, len(features) + 1))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 5)), min_size=1, max_size=200),
)
def test_mutual_information_equals_sklearn(pairs):
    x_codes = np.array([pair[0] for pair in pairs])
    y_codes = np.array([pair[1] for pair in pairs])
    expected = mutual_info_score(x_codes, y_codes)
    assert mutual_information(x_codes, y_codes) == pytest.approx(expected, abs=1e-12)
    x_count, y_count = int(x_codes.max()) + 1, int(y_codes.max()) + 1
    table = contingency_table(x_codes, y_codes, x_count, y_count)
    assert mutual_information_from_table(table) == pytest.approx(expected, abs=1e-12)
    # A short lookup mixes gathered and computed n log n terms; a long one gathers all.
    for lookup_size in (3, 256):
        with_lookup = mutual_information_from_table(table.T, x_log_x_lookup(lookup_size))
        assert with_lookup == pytest.approx(expected, abs=1e-12)


def test_mutual_information_of_large_code_spaces_equals_sklearn():
    rng = np.random.default_rng(3)
    x_codes = rng.integers(0, 3_000_000, 5_000)
    y_codes = rng.integers(0, 4_000, 5_000)
    expected = mutual_info_score(x_codes, y_codes)
    assert mutual_information(x_codes, y_codes) == pytest.approx(expected, rel=1e-10)
    assert mutual_information_of_codes(x_codes, 3_000_000, y_codes, 4_000) == pytest.approx(expected, rel=1e-10)


def test_same_seed_same_ranking_and_seed_matters(ranking_data):
    first = rank_frame(ranking_data, "target", seed=7, categorical=True)
    second = rank_frame(ranking_data, "target", seed=7, categorical=True)
    other = rank_frame(ranking_data, "target", seed=8, categorical=True)
    assert first == second
    assert [row.score for row in first] != [row.score for row in other]
    assert first == rank_frame(ranking_data, "target", seed=7, categorical=True, workers=1)
