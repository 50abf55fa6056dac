"""Where rows come from: CSV / Parquet files read in chunks, or in-memory frames.

Every source yields ``pyarrow.Table`` chunks of exactly ``chunk_rows`` rows (the last
may be shorter), whatever the block sizes of the reader, so counting, sampling and the
within-chunk noise permutations give the same result for a file and for the same data in
memory.
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from automl.ranking.errors import RankingInputError

CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".csv.bz2", ".tsv.bz2")
PARQUET_SUFFIXES = (".parquet", ".pq")
# Bytes per CSV block: types are inferred on the first block, so a larger block makes a
# late change of a column's type less likely; memory stays bounded by a few blocks.
CSV_BLOCK_BYTES = 16 << 20


@dataclass
class TableSource:
    """A named stream of chunks with known column names."""

    name: str
    columns: list[str]
    chunks: Iterator[pa.Table]


def rechunk(batches: Iterable[pa.RecordBatch | pa.Table], chunk_rows: int) -> Iterator[pa.Table]:
    """Regroup batches of any size into tables of exactly ``chunk_rows`` rows (zero-copy slices)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pieces = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
        for piece in pieces:
            offset = 0
            while offset < piece.num_rows:
                take = min(chunk_rows - pending_rows, piece.num_rows - offset)
                pending.append(piece.slice(offset, take))
                pending_rows += take
                offset += take
                if pending_rows == chunk_rows:
                    yield pa.Table.from_batches(pending)
                    pending, pending_rows = [], 0
    if pending_rows:
        yield pa.Table.from_batches(pending)


def _suffix_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def _guard_reader(batches: Iterable[Any], name: str) -> Iterator[Any]:
    """Turn a conversion failure in the middle of a file into a one-line input error."""
    try:
        yield from batches
    except pa.ArrowInvalid as error:
        first_line = str(error).strip().splitlines()[0]
        raise RankingInputError(
            f"cannot read {name}: {first_line}; if a column's type changes within the file, declare it categorical"
        ) from None


def _open_bytes(path: Path) -> BinaryIO:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return path.open("rb")


def _csv_blocks(path: Path, block_bytes: int) -> Iterator[bytes]:
    """The data lines of a CSV in blocks of about ``block_bytes``, each cut after a newline and led by the header.

    Reading the bytes ourselves, one block at a time, bounds memory: arrow's streaming CSV
    reader prefetches raw blocks on its IO threads as fast as the disk allows, which for a
    large file meant most of the file in memory. Like arrow's default, values must not
    contain newlines.
    """
    with _open_bytes(path) as handle:
        header = handle.readline()
        remainder = b""
        while True:
            data = handle.read(block_bytes)
            if not data:
                break
            data = remainder + data
            cut = data.rfind(b"\n")
            if cut < 0:
                remainder = data
                continue
            remainder = data[cut + 1 :]
            yield header + data[: cut + 1]
        if remainder.strip():
            yield header + remainder


def _csv_tables(
    path: Path, parse_options: pa_csv.ParseOptions, column_types: dict[str, pa.DataType]
) -> Iterator[pa.Table]:
    """Parse block after block; types inferred on the first block are imposed on the rest."""
    column_types = dict(column_types)
    for block_index, block in enumerate(_csv_blocks(path, CSV_BLOCK_BYTES)):
        table = pa_csv.read_csv(
            pa.py_buffer(block),
            read_options=pa_csv.ReadOptions(use_threads=True),
            parse_options=parse_options,
            convert_options=pa_csv.ConvertOptions(column_types=column_types),
        )
        if block_index == 0:
            # A column empty in the first block has type null; read it as text from now on.
            column_types = {
                field.name: (pa.string() if pa.types.is_null(field.type) else field.type) for field in table.schema
            }
            table = table.cast(pa.schema([pa.field(name, data_type) for name, data_type in column_types.items()]))
        yield table


def open_file(path: str | Path, chunk_rows: int, categorical: bool | Collection[str] = ()) -> TableSource:
    """Open a CSV or Parquet file for chunked reading, with one-line errors for bad files."""
    path = Path(path)
    if not path.exists():
        raise RankingInputError(f"file not found: {path}; check the path")
    if path.is_dir():
        raise RankingInputError(f"{path} is a directory; pass a .csv or .parquet file")
    kind = _suffix_kind(path)
    if kind is None:
        raise RankingInputError(
            f"unsupported file type '{''.join(path.suffixes) or path.name}' for {path}; "
            f"use one of {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}"
        )
    if path.stat().st_size == 0:
        raise RankingInputError(f"file {path} is empty; it needs a header row and at least one data row")
    if kind == "parquet":
        try:
            parquet_file = pa_parquet.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise RankingInputError(f"cannot read {path} as Parquet: {str(error).splitlines()[0]}") from None
        columns = list(parquet_file.schema_arrow.names)
        batches = parquet_file.iter_batches(batch_size=chunk_rows)
        return TableSource(str(path), columns, rechunk(_guard_reader(batches, str(path)), chunk_rows))
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    parse_options = pa_csv.ParseOptions(delimiter=delimiter)
    with _open_bytes(path) as handle:
        header = handle.readline()
    if not header.strip():
        raise RankingInputError(f"file {path} is empty; it needs a header row and at least one data row")
    try:
        columns = list(pa_csv.read_csv(pa.py_buffer(header), parse_options=parse_options).column_names)
    except pa.ArrowInvalid as error:
        raise RankingInputError(f"cannot read {path} as CSV: {str(error).strip().splitlines()[0]}") from None
    chosen = columns if categorical is True else [name for name in columns if name in (categorical or ())]
    # Categorical columns are read as text so a late non-numeric value cannot break them.
    tables = _csv_tables(path, parse_options, dict.fromkeys(chosen, pa.string()))
    return TableSource(str(path), columns, rechunk(_guard_reader(tables, str(path)), chunk_rows))


def table_from_frame(frame: Any) -> pa.Table:
    """An arrow table from a pandas DataFrame, a mapping of column name to array, or a table."""
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    if isinstance(frame, Mapping):
        frame = pd.DataFrame({str(name): np.asarray(values) for name, values in frame.items()})
    if not isinstance(frame, pd.DataFrame):
        raise RankingInputError(
            f"cannot rank a {type(frame).__name__}; pass a pandas DataFrame, a dict of column arrays or a pyarrow Table"
        )
    frame = frame.rename(columns=str)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Columns of mixed Python objects: compare them as text, keeping missing values missing.
        fixed = frame.copy()
        for name in fixed.columns:
            if fixed[name].dtype == object:
                fixed[name] = fixed[name].map(lambda value: None if pd.isna(value) else str(value))
        return pa.Table.from_pandas(fixed, preserve_index=False)


def frame_source(frame: Any, chunk_rows: int) -> TableSource:
    """Chunks of an in-memory frame, sliced without copying."""
    table = table_from_frame(frame)

    def chunks() -> Iterator[pa.Table]:
        for offset in range(0, table.num_rows, chunk_rows):
            yield table.slice(offset, chunk_rows)

    return TableSource("the data", list(table.column_names), chunks())
