"""Categorical coding and missing-value imputation of tables, fitted on the training split only.

A categorical column reaches the model as an integer index into an embedding table
(Guo & Berkhahn, 2016, "Entity Embeddings of Categorical Variables"). The indices are
fitted on the training rows: each category seen there gets 1..K, and index
``UNKNOWN_INDEX`` (0) is reserved for everything else (a category first met at
validation or test time, or a missing value), so held-out rows never widen the table.

A missing numeric value is replaced by the training median of its column, and
optionally flagged in a 0/1 column of its own (a "missing indicator"), as scikit-learn's
``SimpleImputer(strategy="median", add_indicator=True)`` does; both come from the
training rows alone so that nothing of the held-out parts leaks into the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

UNKNOWN_INDEX = 0
UNKNOWN_CATEGORY = "<unknown>"
MISSING_INDICATOR_SUFFIX = " missing"


def code_columns(frame: pd.DataFrame, categorical: Sequence[str] = ()) -> tuple[np.ndarray, dict[str, list[str]]]:
    """A table's values as floats: numeric columns as they are (NaN where missing), the others as codes.

    Non-numeric columns, and the numeric ones named in ``categorical``, become codes into their
    sorted distinct values (NaN where missing); these codes are names only, not yet the fitted
    indices a model sees (those come from :func:`fit_table_encoding`).
    """
    columns: list[np.ndarray] = []
    categories: dict[str, list[str]] = {}
    declared = {str(name) for name in categorical}
    for name in frame.columns:
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
        if numeric and str(name) not in declared:
            columns.append(column.to_numpy(dtype=np.float64, na_value=np.nan))
            continue
        text = column.astype("string").str.strip()
        missing = text.isna() | (text == "")
        names = sorted(set(text[~missing]))
        codes = pd.Categorical(text.mask(missing), categories=names).codes.astype(np.float64)
        codes[codes < 0] = np.nan
        columns.append(codes)
        categories[str(name)] = names
    return np.column_stack(columns), categories


@dataclass(frozen=True, eq=False)
class TableEncoding:
    """What was learnt from the training rows: index tables, medians, indicator columns.

    ``categories`` maps each categorical feature to the names its indices stand for,
    ``UNKNOWN_CATEGORY`` first (index 0), then the categories seen in training.
    """

    feature_names: list[str]
    lookups: dict[int, np.ndarray]  # categorical column -> index of each data set code (0: unseen in training)
    medians: np.ndarray  # per column; NaN for categorical columns
    indicator_columns: list[int]  # numeric columns with missing training values, flagged when indicators are on
    categories: dict[str, list[str]]

    @property
    def output_names(self) -> list[str]:
        """Feature names after encoding: the columns, then one indicator per flagged column."""
        flagged = [self.feature_names[column] + MISSING_INDICATOR_SUFFIX for column in self.indicator_columns]
        return self.feature_names + flagged

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Rows encoded with the training fit: categorical indices, imputed numbers, indicators."""
        values = np.array(features, dtype=np.float64)
        missing = np.isnan(values)
        for column, lookup in self.lookups.items():
            codes = values[:, column]
            known = ~np.isnan(codes) & (codes >= 0) & (codes < len(lookup))
            indices = np.full(codes.shape, float(UNKNOWN_INDEX))
            indices[known] = lookup[codes[known].astype(np.int64)]
            values[:, column] = indices
        numeric = [column for column in range(values.shape[1]) if column not in self.lookups]
        for column in numeric:
            values[missing[:, column], column] = self.medians[column]
        indicators = missing[:, self.indicator_columns].astype(np.float64)
        return np.concatenate([values, indicators], axis=1).astype(np.float32)


def fit_table_encoding(
    train_features: np.ndarray,
    feature_names: Sequence[str],
    categories: Mapping[str, Sequence[str]] | None,
    missing_indicators: bool = False,
) -> TableEncoding:
    """Fit indices and medians on the training rows (only those: see the module docstring)."""
    names = [str(name) for name in feature_names]
    categories = dict(categories or {})
    values = np.asarray(train_features, dtype=np.float64)
    lookups: dict[int, np.ndarray] = {}
    fitted: dict[str, list[str]] = {}
    for column, name in enumerate(names):
        if name not in categories:
            continue
        codes = values[:, column]
        seen = np.unique(codes[~np.isnan(codes)]).astype(np.int64)
        lookup = np.full(len(categories[name]), UNKNOWN_INDEX, dtype=np.float64)
        lookup[seen] = np.arange(1, len(seen) + 1)
        lookups[column] = lookup
        fitted[name] = [UNKNOWN_CATEGORY, *(str(categories[name][code]) for code in seen)]
    medians = np.full(len(names), np.nan)
    indicator_columns: list[int] = []
    for column in range(len(names)):
        if column in lookups:
            continue
        present = values[:, column][~np.isnan(values[:, column])]
        # a column with no training value at all carries nothing the model could use: impute zero
        medians[column] = float(np.median(present)) if present.size else 0.0
        if missing_indicators and present.size < values.shape[0]:
            indicator_columns.append(column)
    return TableEncoding(names, lookups, medians, indicator_columns, fitted)


def needs_encoding(features: np.ndarray, categories: Mapping[str, Sequence[str]] | None) -> bool:
    """Whether a data set has categorical columns or missing values (otherwise splits keep it as it is)."""
    return features.ndim == 2 and (bool(categories) or bool(np.isnan(features).any()))
