"""Turn columns into small non-negative integer codes for contingency counting.

Why codes: mutual information between discrete variables only needs a contingency
table, and ``np.bincount`` builds one in O(rows) once every column is a small integer
code (OutRank, Škrlj & Mramor, 2023, ranks large sparse categorical data this way).

How a column is coded, decided once on a leading sample of rows (``fit_column_encoding``)
and then applied unchanged to every chunk, so codes mean the same in every chunk:

* missing values (null / NaN) get code 0, a category of their own;
* numeric columns with more distinct values than ``bins`` get codes 1..bins from
  quantile bin edges computed on the leading sample (values outside the sample's range
  fall into the first or last bin);
* every other column (strings, booleans, dictionaries, numbers with few distinct
  values, columns declared categorical) is hashed: code = 1 + stable_hash(value) mod
  (code_space - 1).

Why hashing and not a dictionary built across chunks: a dictionary of a column with
millions of distinct ids grows with the file and breaks the memory bound; a hash into a
fixed code space keeps every contingency table at ``code_space`` rows whatever the file
size, and needs no first pass. The hash is pandas' SipHash with its fixed key
(``pandas.util.hash_array``), which hashes the value's bytes and is the same in every
process — unlike Python's salted ``hash``. The price is that distinct values may share a
code (expected k**2 / (2 * code_space) colliding pairs for k distinct values), which
merges a few categories and caps reported cardinality at ``code_space``; the noise term
of OutRank sees exactly the same codes, so the comparison stays fair.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from automl.ranking.errors import RankingInputError

MISSING_CODE = 0
DEFAULT_BINS = 32
DEFAULT_CODE_SPACE = 1 << 16
DEFAULT_MAXIMUM_TARGET_CLASSES = 4096


def stable_hash(values: np.ndarray) -> np.ndarray:
    """Hash values to uint64 with a fixed key, identical across processes and runs."""
    return pd.util.hash_array(values, categorize=False)


def _is_numeric(data_type: pa.DataType) -> bool:
    return pa.types.is_integer(data_type) or pa.types.is_floating(data_type)


def _combine(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def _as_float(array: pa.Array) -> np.ndarray:
    """Float64 numpy view of a numeric arrow array with NaN for nulls."""
    return np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _hash_codes(array: pa.Array, code_space: int) -> np.ndarray:
    """Hash every value of an arrow array into 1..code_space-1; nulls and NaN to 0."""
    data_type = array.type
    if pa.types.is_dictionary(data_type):
        dictionary_codes = _hash_codes(array.dictionary, code_space)
        indices = array.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        codes = dictionary_codes[indices] if len(dictionary_codes) else np.zeros(len(array), dtype=np.int64)
    elif pa.types.is_boolean(data_type) or pa.types.is_integer(data_type):
        values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        codes = (stable_hash(values) % np.uint64(code_space - 1)).astype(np.int64) + 1
    elif pa.types.is_floating(data_type):
        values = _as_float(array)
        codes = (stable_hash(values) % np.uint64(code_space - 1)).astype(np.int64) + 1
        codes[np.isnan(values)] = MISSING_CODE
    else:
        if not (pa.types.is_string(data_type) or pa.types.is_large_string(data_type)):
            array = array.cast(pa.string())
        # Hash each distinct value once: encoding to a dictionary is O(rows) in C++, the
        # hashing then touches only the distinct values of this chunk.
        encoded = array.dictionary_encode()
        uniques = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
        unique_codes = (stable_hash(uniques) % np.uint64(code_space - 1)).astype(np.int64) + 1
        indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        codes = unique_codes[indices] if len(unique_codes) else np.zeros(len(array), dtype=np.int64)
    if array.null_count:
        codes[np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = MISSING_CODE
    return codes


@dataclass(frozen=True)
class ColumnEncoding:
    """How one column becomes codes: quantile bins (``edges`` set) or hashing."""

    name: str
    edges: np.ndarray | None
    code_space: int

    @property
    def binned(self) -> bool:
        return self.edges is not None

    @property
    def code_count(self) -> int:
        """Number of possible codes (the row count of this column's contingency table)."""
        return len(self.edges) + 2 if self.edges is not None else self.code_space

    def encode(self, array: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Codes (int64, in [0, code_count)) of one chunk of this column."""
        array = _combine(array)
        if self.edges is None:
            return _hash_codes(array, self.code_space)
        values = _as_float(array)
        codes = np.searchsorted(self.edges, values, side="right").astype(np.int64) + 1
        codes[np.isnan(values)] = MISSING_CODE
        return codes


def fit_column_encoding(
    name: str,
    sample: pa.ChunkedArray | pa.Array,
    bins: int = DEFAULT_BINS,
    code_space: int = DEFAULT_CODE_SPACE,
    categorical: bool = False,
) -> ColumnEncoding:
    """Decide binning or hashing for a column from a leading sample of its values."""
    sample = _combine(sample)
    if categorical or not _is_numeric(sample.type):
        return ColumnEncoding(name, None, code_space)
    values = _as_float(sample)
    values = values[~np.isnan(values)]
    distinct = np.unique(values)
    if len(distinct) <= bins:
        return ColumnEncoding(name, None, code_space)
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    return ColumnEncoding(name, edges, code_space)


def fit_feature_encodings(
    sample: pa.Table,
    features: list[str],
    bins: int = DEFAULT_BINS,
    code_space: int = DEFAULT_CODE_SPACE,
    categorical: bool | Collection[str] = (),
) -> list[ColumnEncoding]:
    """One encoding per feature column, fitted on the same leading sample."""
    return [
        fit_column_encoding(
            name,
            sample.column(name),
            bins=bins,
            code_space=code_space,
            categorical=categorical if isinstance(categorical, bool) else name in categorical,
        )
        for name in features
    ]


class TargetEncoder:
    """Codes 0..n_classes-1 for the target, stable across chunks.

    Classes are numbered in order of first appearance (a dictionary that only grows, so
    a code never changes meaning); a missing target is a class of its own. A numeric
    target with more distinct values than ``bins`` in the leading sample (regression) is
    cut into quantile bins, which bounds the number of classes.
    """

    def __init__(
        self,
        name: str,
        sample: pa.ChunkedArray | pa.Array,
        bins: int = DEFAULT_BINS,
        maximum_classes: int = DEFAULT_MAXIMUM_TARGET_CLASSES,
    ) -> None:
        self.name = name
        self.maximum_classes = maximum_classes
        self._binning = fit_column_encoding(name, sample, bins=bins)
        self._class_of_value: dict[object, int] = {}
        self.labels: list[object] = []

    @property
    def class_count(self) -> int:
        return len(self.labels)

    def _class(self, value: object) -> int:
        code = self._class_of_value.get(value)
        if code is None:
            code = len(self.labels)
            if code >= self.maximum_classes:
                raise RankingInputError(
                    f"target column '{self.name}' has more than {self.maximum_classes} distinct values; "
                    "rank against a categorical target or a numeric one (numeric targets are binned)"
                )
            self._class_of_value[value] = code
            self.labels.append(value)
        return code

    def encode(self, array: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Class codes (int64) of one chunk of the target column."""
        array = _combine(array)
        if self._binning.binned:
            bin_codes = self._binning.encode(array)
            present = np.flatnonzero(np.bincount(bin_codes, minlength=self._binning.code_count))
            lookup = np.zeros(self._binning.code_count, dtype=np.int64)
            for bin_code in present:
                lookup[bin_code] = self._class(("bin", int(bin_code)) if bin_code else None)
            return lookup[bin_codes]
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_floating(array.type):
            array = pc.if_else(pc.is_nan(array), pa.scalar(None, array.type), array)
        encoded = array.dictionary_encode()
        lookup = np.array([self._class(value) for value in encoded.dictionary.to_pylist()] + [0], dtype=np.int64)
        if array.null_count:
            lookup[-1] = self._class(None)
        indices = encoded.indices.fill_null(len(lookup) - 1).to_numpy(zero_copy_only=False)
        return lookup[np.asarray(indices, dtype=np.int64)]
