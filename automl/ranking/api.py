"""Rank the features of a file or an in-memory frame against a target column.

Cardinality-aware ranking after "OutRank: Speeding up AutoML-based Model Search for
Large Sparse Data sets with Cardinality-aware Feature Ranking" (Škrlj & Mramor, 2023):
keep the top features before model search so the search explores larger feature spaces
at the same cost.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from automl.ranking.encoding import DEFAULT_BINS, DEFAULT_CODE_SPACE
from automl.ranking.errors import RankingInputError
from automl.ranking.rankers import MutualInformationRanker, OutRankRanker, ThreeMRRanker
from automl.ranking.ranking import Ranking
from automl.ranking.sources import TableSource, frame_source, open_file
from automl.ranking.streaming import DEFAULT_CHUNK_ROWS, collect_statistics


def builtin_rankers() -> list[type]:
    """The ranker classes this package ships (registered through ``automl_feature_rankers``)."""
    return [OutRankRanker, MutualInformationRanker, ThreeMRRanker]


def resolve_ranker(ranker: str | Any, available: Iterable[type] | None = None) -> Any:
    """A ranker instance from a name (looked up in ``available``, default the built-ins) or an instance."""
    if not isinstance(ranker, str):
        return ranker
    classes = list(available) if available is not None else builtin_rankers()
    by_name = {ranker_class.name: ranker_class for ranker_class in classes}
    if ranker not in by_name:
        raise RankingInputError(f"unknown ranker '{ranker}'; choose one of: {', '.join(sorted(by_name))}")
    return by_name[ranker]()


def _check_positive(value: int | None, name: str) -> None:
    if value is not None and (isinstance(value, bool) or int(value) < 1):
        raise RankingInputError(f"{name} must be a positive whole number, got {value!r}")


def _describe_columns(columns: list[str], limit: int = 30) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f", ... ({len(columns) - limit} more)" if len(columns) > limit else "")


def _rank_source(
    source: TableSource,
    target: str,
    ranker: str | Any,
    top: int | None,
    sample_rows: int | None,
    seed: int,
    workers: int,
    bins: int,
    code_space: int,
    categorical: bool | Collection[str],
    rankers: Iterable[type] | None,
) -> Ranking:
    if target not in source.columns:
        raise RankingInputError(
            f"target column '{target}' not found in {source.name}; columns are: {_describe_columns(source.columns)}"
        )
    features = [name for name in source.columns if name != target]
    if not isinstance(categorical, bool):
        unknown = [name for name in categorical if name not in features]
        if unknown:
            raise RankingInputError(
                f"categorical column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} not among the "
                f"features of {source.name}; columns are: {_describe_columns(source.columns)}"
            )
    if not features:
        raise RankingInputError(f"{source.name} has no feature columns besides the target '{target}'")
    ranker_instance = resolve_ranker(ranker, rankers)
    statistics = collect_statistics(
        source,
        target,
        features,
        permutations=int(getattr(ranker_instance, "permutations", 0)),
        sample_rows=sample_rows,
        pair_sample_rows=int(getattr(ranker_instance, "pair_sample_rows", 0)),
        bins=bins,
        code_space=code_space,
        categorical=categorical,
        seed=seed,
        workers=max(int(workers), 1),
    )
    ranking = ranker_instance.rank(statistics)
    return ranking.top(top) if top is not None else ranking


def _validate(ranker: str | Any, top: int | None, sample_rows: int | None, chunk_rows: int, rankers: Any) -> None:
    resolve_ranker(ranker, rankers)  # unknown names fail before any reading
    _check_positive(top, "top")
    _check_positive(sample_rows, "sample_rows")
    _check_positive(chunk_rows, "chunk_rows")


def rank_file(
    path: str | Path,
    target: str,
    ranker: str | Any = "outrank",
    top: int | None = None,
    sample_rows: int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    seed: int = 0,
    workers: int = 2,
    *,
    bins: int = DEFAULT_BINS,
    code_space: int = DEFAULT_CODE_SPACE,
    categorical: bool | Collection[str] = (),
    rankers: Iterable[type] | None = None,
) -> Ranking:
    """Rank the columns of a CSV (.csv, .tsv, optionally .gz/.bz2) or Parquet file against ``target``.

    The file is streamed in chunks of ``chunk_rows`` rows with bounded memory.
    ``sample_rows`` ranks on a uniform random sample of that many rows instead of all.
    ``categorical`` (True for all, or column names) hashes numeric columns as categories
    instead of binning them into ``bins`` quantile bins. ``rankers`` lists the ranker
    classes that names resolve to (default: the built-ins). Bad input raises
    ``RankingInputError`` with a one-line message.
    """
    _validate(ranker, top, sample_rows, chunk_rows, rankers)
    source = open_file(path, chunk_rows, categorical)
    return _rank_source(source, target, ranker, top, sample_rows, seed, workers, bins, code_space, categorical, rankers)


def rank_frame(
    frame_or_arrays: Any,
    target: str,
    ranker: str | Any = "outrank",
    top: int | None = None,
    sample_rows: int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    seed: int = 0,
    workers: int = 2,
    *,
    bins: int = DEFAULT_BINS,
    code_space: int = DEFAULT_CODE_SPACE,
    categorical: bool | Collection[str] = (),
    rankers: Iterable[type] | None = None,
) -> Ranking:
    """Rank the columns of a pandas DataFrame, a dict of column arrays or a pyarrow Table.

    Same options and results as ``rank_file``: with equal ``chunk_rows`` and ``seed`` the
    in-memory data and the same data in a file rank identically.
    """
    _validate(ranker, top, sample_rows, chunk_rows, rankers)
    source = frame_source(frame_or_arrays, chunk_rows)
    return _rank_source(source, target, ranker, top, sample_rows, seed, workers, bins, code_space, categorical, rankers)
