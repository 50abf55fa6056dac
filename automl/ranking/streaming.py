"""One bounded-memory pass over chunks of rows, producing ``FeatureStatistics``.

Data larger than memory is read chunk by chunk (``sources``): the first ``fit_rows``
rows fix the encodings (bin edges, which columns are hashed), then every chunk is
encoded and counted and dropped. Memory is a few chunks plus the contingency tables
(features x code space x classes x (1 + permutations)), independent of the row count.

The noise term of OutRank needs the feature's histogram with no relation to the target.
A permutation within each chunk gives exactly that (it keeps the histogram of every
chunk, hence of the whole file, and breaks the pairing with the target), so no global
shuffle of a file larger than memory is needed.

With ``sample_rows`` the pass keeps a uniform random sample of encoded rows instead of
counting every chunk, and counts the sample at the end (one chunk, one permutation over
the whole sample).

Encoding and counting run in a thread pool over features: the heavy steps (arrow
kernels, hashing, ``np.bincount``) spend much of their time outside the GIL, and threads
share the chunk without copying it, where processes would have to pickle every chunk's
columns to the workers. Measured on 200,000 rows x 30 features: 0.37 s with 2 threads
against 0.55 s with 1 (a process pool was not tried).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pyarrow as pa

from automl.ranking.encoding import (
    DEFAULT_BINS,
    DEFAULT_CODE_SPACE,
    ColumnEncoding,
    TargetEncoder,
    fit_feature_encodings,
)
from automl.ranking.errors import RankingInputError
from automl.ranking.sources import TableSource
from automl.ranking.statistics import ContingencyCounts, FeatureStatistics, RowReservoir

DEFAULT_CHUNK_ROWS = 262_144
DEFAULT_FIT_ROWS = 100_000


def _leading_chunks(chunks: Iterator[pa.Table], fit_rows: int) -> list[pa.Table]:
    """Read chunks until at least ``fit_rows`` rows (or the end of the data)."""
    leading: list[pa.Table] = []
    rows = 0
    for chunk in chunks:
        if chunk.num_rows == 0:
            continue
        leading.append(chunk)
        rows += chunk.num_rows
        if rows >= fit_rows:
            break
    return leading


def _encode_chunk(chunk: pa.Table, encodings: list[ColumnEncoding], executor: Executor | None) -> list[np.ndarray]:
    def encode(encoding: ColumnEncoding) -> np.ndarray:
        return encoding.encode(chunk.column(encoding.name))

    if executor is None:
        return [encode(encoding) for encoding in encodings]
    return list(executor.map(encode, encodings))


def collect_statistics(
    source: TableSource,
    target: str,
    features: list[str],
    *,
    permutations: int = 0,
    sample_rows: int | None = None,
    pair_sample_rows: int = 0,
    bins: int = DEFAULT_BINS,
    code_space: int = DEFAULT_CODE_SPACE,
    categorical: bool | Collection[str] = (),
    seed: int = 0,
    workers: int = 2,
    fit_rows: int = DEFAULT_FIT_ROWS,
) -> FeatureStatistics:
    """Encode and count every chunk of ``source`` once; see the module docstring."""
    leading = _leading_chunks(source.chunks, fit_rows)
    if not leading:
        raise RankingInputError(f"{source.name} has no data rows; it needs at least one row besides the header")
    fit_sample = pa.concat_tables(leading).slice(0, fit_rows)
    encodings = fit_feature_encodings(fit_sample, features, bins=bins, code_space=code_space, categorical=categorical)
    target_encoder = TargetEncoder(target, fit_sample.column(target), bins=bins)
    del fit_sample

    counts = ContingencyCounts([encoding.code_count for encoding in encodings], permutations, seed)
    reservoir_capacity = max(sample_rows or 0, pair_sample_rows)
    reservoir = RowReservoir(reservoir_capacity, len(features), seed) if reservoir_capacity else None

    def all_chunks() -> Iterator[pa.Table]:
        while leading:
            yield leading.pop(0)
        yield from source.chunks

    pool: AbstractContextManager[Executor | None] = (
        ThreadPoolExecutor(max_workers=workers) if workers > 1 else nullcontext()
    )
    with pool as executor:
        for chunk_index, chunk in enumerate(all_chunks()):
            if chunk.num_rows == 0:
                continue
            feature_codes = _encode_chunk(chunk, encodings, executor)
            target_codes = target_encoder.encode(chunk.column(target))
            if reservoir is not None:
                reservoir.add(feature_codes, target_codes, chunk_index)
            if sample_rows is None:
                counts.add(feature_codes, target_codes, target_encoder.class_count, chunk_index, executor)
        if sample_rows is not None and reservoir is not None:
            sample_codes, sample_target = reservoir.sample(sample_rows)
            counts.add(list(sample_codes), sample_target, target_encoder.class_count, 0, executor)

    class_totals = counts.tables[0].sum(axis=1) if counts.tables else np.zeros(0)
    observed = np.flatnonzero(class_totals)
    if len(observed) < 2:
        label = target_encoder.labels[observed[0]] if len(observed) else None
        shown = label[1] if isinstance(label, tuple) else label
        raise RankingInputError(
            f"target column '{target}' has a single value ({shown!r}) in {source.name}; "
            "ranking needs a target with at least two distinct values"
        )

    pair_codes = pair_target = None
    if reservoir is not None and pair_sample_rows:
        pair_codes, pair_target = reservoir.sample(pair_sample_rows)
    return FeatureStatistics(
        feature_names=list(features),
        tables=counts.tables,
        noise_tables=counts.noise_tables,
        row_count=counts.row_count,
        class_count=counts.class_count,
        seed=seed,
        workers=workers,
        sample_codes=pair_codes,
        sample_target=pair_target,
    )
