"""Plug-in mutual information from contingency tables built with ``np.bincount``.

Counting ``x * n_classes + y`` with one ``bincount`` is O(rows) per feature and has no
Python loop over rows or values; the reference OutRank tool instead loops over distinct
values, O(rows x cardinality) (OutRank, Škrlj & Mramor, 2023). All values are in nats,
like scikit-learn's ``mutual_info_score``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# A dense joint table is used while it has at most this many cells, or no more cells
# than rows; beyond that, counting only the observed pairs (a factorisation, at most one
# cell per row) is cheaper than allocating and scanning mostly empty cells.
DENSE_TABLE_CELL_LIMIT = 1 << 16


def contingency_table(x_codes: np.ndarray, y_codes: np.ndarray, x_count: int, y_count: int) -> np.ndarray:
    """Counts of each (x, y) code pair as an (x_count, y_count) int64 table, in O(rows)."""
    flat = np.bincount(x_codes * y_count + y_codes, minlength=x_count * y_count)
    return flat.reshape(x_count, y_count)


def sum_x_log_x(counts: np.ndarray, lookup: np.ndarray | None = None) -> float:
    """Sum of n * log(n) over the counts (0 log 0 = 0).

    With ``lookup`` (from ``x_log_x_lookup``) counts below its length are gathered from it
    instead of taking a logarithm each; most cells of sparse tables are small counts.
    """
    counts = np.asarray(counts)
    if lookup is None:
        nonzero = counts[counts > 0].astype(np.float64)
        return float(np.dot(nonzero, np.log(nonzero)))
    counts = counts.ravel()
    if counts.size and int(counts.max()) < len(lookup):
        return float(lookup[counts].sum())
    small = counts < len(lookup)
    large = counts[~small].astype(np.float64)
    return float(lookup[counts[small]].sum() + np.dot(large, np.log(large)))


def mutual_information_from_table(table: np.ndarray, lookup: np.ndarray | None = None) -> float:
    """Plug-in estimate of I(X;Y) in nats from a table of joint counts (either orientation).

    Uses I = (S_xy - S_x - S_y + N log N) / N with S = sum of n log n over cells, row sums
    and column sums: one logarithm (or ``lookup`` gather) per count, no per-cell division.
    """
    table = np.asarray(table)
    total = int(table.sum())
    if total == 0:
        return 0.0
    cells = sum_x_log_x(table, lookup)
    rows, columns = sum_x_log_x(table.sum(axis=0), lookup), sum_x_log_x(table.sum(axis=1), lookup)
    value = (cells - rows - columns + total * np.log(total)) / total
    return max(float(value), 0.0)


def compact_codes(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber codes to 0..k-1 (k = number of distinct codes), keeping equal codes equal."""
    dense, uniques = pd.factorize(codes, sort=False)
    return dense.astype(np.int64, copy=False), len(uniques)


def joint_codes(a_codes: np.ndarray, b_codes: np.ndarray, a_count: int, b_count: int) -> tuple[np.ndarray, int]:
    """One code per distinct (a, b) pair, and the code count, for the joint variable (A, B)."""
    joint = a_codes * b_count + b_codes
    if a_count * b_count <= max(DENSE_TABLE_CELL_LIMIT, 2 * len(joint)):
        return joint, a_count * b_count
    return compact_codes(joint)


def mutual_information(x_codes: np.ndarray, y_codes: np.ndarray) -> float:
    """Plug-in I(X;Y) in nats of two arrays of non-negative integer codes."""
    x_codes = np.asarray(x_codes, dtype=np.int64)
    y_codes = np.asarray(y_codes, dtype=np.int64)
    if len(x_codes) == 0:
        return 0.0
    x_count = int(x_codes.max()) + 1
    y_count = int(y_codes.max()) + 1
    if x_count * y_count > max(DENSE_TABLE_CELL_LIMIT, 2 * len(x_codes)):
        x_codes, x_count = compact_codes(x_codes)
        y_codes, y_count = compact_codes(y_codes)
    if x_count * y_count <= max(DENSE_TABLE_CELL_LIMIT, 2 * len(x_codes)):
        return mutual_information_from_table(contingency_table(x_codes, y_codes, x_count, y_count))
    return _sparse_mutual_information(x_codes, y_codes, x_count, y_count)


def _sparse_mutual_information(x_codes: np.ndarray, y_codes: np.ndarray, x_count: int, y_count: int) -> float:
    """I(X;Y) when the dense table would be too large: count only the observed pairs."""
    pair_codes, pairs = pd.factorize(x_codes * y_count + y_codes, sort=False)
    joint = np.bincount(pair_codes).astype(np.float64)
    x_of_pair = pairs // y_count
    y_of_pair = pairs % y_count
    x_sums = np.bincount(x_codes, minlength=x_count).astype(np.float64)
    y_sums = np.bincount(y_codes, minlength=y_count).astype(np.float64)
    total = float(len(x_codes))
    ratio = joint * total / (x_sums[x_of_pair] * y_sums[y_of_pair])
    return max(float(np.dot(joint, np.log(ratio)) / total), 0.0)


def mutual_information_of_codes(x_codes: np.ndarray, x_count: int, y_codes: np.ndarray, y_count: int) -> float:
    """I(X;Y) of codes in [0, x_count) and [0, y_count), dense table when small, else observed pairs only."""
    if x_count * y_count <= max(DENSE_TABLE_CELL_LIMIT, 2 * len(x_codes)):
        return mutual_information_from_table(contingency_table(x_codes, y_codes, x_count, y_count))
    return _sparse_mutual_information(x_codes, y_codes, x_count, y_count)


def x_log_x_lookup(largest_count: int) -> np.ndarray:
    """``lookup[n] = n log n`` for n = 0..largest_count: a gather instead of a logarithm per count."""
    counts = np.arange(largest_count + 1, dtype=np.float64)
    lookup = np.zeros_like(counts)
    lookup[1:] = counts[1:] * np.log(counts[1:])
    return lookup
