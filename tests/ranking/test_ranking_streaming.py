"""Streaming: chunked file reading counts the same as in-memory ranking; encodings are stable."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from automl.ranking import rank_file, rank_frame
from automl.ranking.encoding import MISSING_CODE, fit_column_encoding


def scores(ranking):
    return {row.feature: (row.score, row.cardinality) for row in ranking}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunked_file_matches_in_memory(tmp_path, mixed_data, suffix):
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        mixed_data.to_csv(path, index=False)
    else:
        mixed_data.to_parquet(path, index=False)
    for ranker in ("mi", "outrank"):
        in_memory = rank_frame(mixed_data, "label", ranker=ranker, chunk_rows=1_000)
        streamed = rank_file(path, "label", ranker=ranker, chunk_rows=1_000)
        assert streamed.features == in_memory.features
        for feature, (score, cardinality) in scores(in_memory).items():
            assert scores(streamed)[feature][0] == pytest.approx(score, abs=1e-12)
            assert scores(streamed)[feature][1] == cardinality


def test_mutual_information_does_not_depend_on_chunk_size(tmp_path, mixed_data):
    path = tmp_path / "data.csv"
    mixed_data.to_csv(path, index=False)
    whole = scores(rank_frame(mixed_data, "label", ranker="mi", chunk_rows=len(mixed_data)))
    for chunk_rows in (333, 2_048):
        chunked = scores(rank_file(path, "label", ranker="mi", chunk_rows=chunk_rows))
        for feature, (score, _) in whole.items():
            assert chunked[feature][0] == pytest.approx(score, abs=1e-12)


def test_outrank_on_chunks_agrees_with_whole_data(ranking_data):
    whole = rank_frame(ranking_data, "target", categorical=True, chunk_rows=len(ranking_data))
    chunked = rank_frame(ranking_data, "target", categorical=True, chunk_rows=3_000)
    assert set(whole.features[:3]) == set(chunked.features[:3])


def test_sample_rows_ranks_on_a_sample(tmp_path, ranking_data):
    path = tmp_path / "data.parquet"
    ranking_data.to_parquet(path, index=False)
    sampled = rank_file(path, "target", sample_rows=10_000, chunk_rows=4_000, categorical=True)
    assert sampled == rank_file(path, "target", sample_rows=10_000, chunk_rows=4_000, categorical=True)
    assert {row.feature: row.cardinality for row in sampled}["row_id"] <= 10_000
    assert set(sampled.features[:3]) == {"informative_a", "informative_b", "informative_c"}


def test_encoding_is_consistent_across_chunks_and_missing_is_its_own_code():
    values = pa.array(["a", "b", None, "a", "c", None])
    encoding = fit_column_encoding("column", values)
    whole = encoding.encode(values)
    pieces = np.concatenate([encoding.encode(values.slice(0, 2)), encoding.encode(values.slice(2))])
    assert list(whole) == list(pieces)
    assert whole[2] == whole[5] == MISSING_CODE
    assert whole[0] == whole[3] != whole[1]


def test_numeric_binned_only_above_bin_count():
    few = pa.array(np.arange(10, dtype=np.float64))
    many = pa.array(np.append(np.arange(1_000, dtype=np.float64), np.nan))
    assert not fit_column_encoding("few", few, bins=32).binned
    binned = fit_column_encoding("many", many, bins=32)
    assert binned.binned and binned.code_count == 32 + 1  # 32 bins and the missing code
    codes = binned.encode(many)
    assert codes[-1] == MISSING_CODE and set(np.unique(codes[:-1])) == set(range(1, 33))
    assert not fit_column_encoding("many", many, categorical=True).binned


def test_ranking_outputs(tmp_path, mixed_data):
    ranking = rank_frame(mixed_data, "label", top=2)
    assert len(ranking) == 2 and ranking.features[0] in {"signal", "measure"}
    records = ranking.to_records()
    assert list(records[0]) == ["feature", "score", "cardinality", "rank"]
    csv_text = ranking.to_csv(tmp_path / "ranking.csv").read_text()
    assert csv_text.splitlines()[0] == "feature,score,cardinality,rank"
    document = json.loads(ranking.to_json(tmp_path / "ranking.json").read_text())
    assert document["ranker"] == "outrank" and document["features"] == records
    assert ranking.top(1).features == ranking.features[:1]


def test_csv_read_in_small_blocks_and_compressed_matches(tmp_path, mixed_data, monkeypatch):
    import automl.ranking.sources as sources

    expected = scores(rank_frame(mixed_data, "label", chunk_rows=1_000))
    plain, compressed = tmp_path / "data.csv", tmp_path / "data.csv.gz"
    mixed_data.to_csv(plain, index=False)
    mixed_data.to_csv(compressed, index=False)
    monkeypatch.setattr(sources, "CSV_BLOCK_BYTES", 4_096)  # dozens of blocks, cut mid-line
    for path in (plain, compressed):
        streamed = scores(rank_file(path, "label", chunk_rows=1_000))
        for feature, (score, cardinality) in expected.items():
            assert streamed[feature][0] == pytest.approx(score, abs=1e-12)
            assert streamed[feature][1] == cardinality
