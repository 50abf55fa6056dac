"""Lookup tables for benchmarking search strategies: every architecture of a space trained once.

A strategy searching a table replays candidates and reads their score, so many
seeds are cheap and the comparison is exact (regret = the table's best score
minus the best found), as in NAS-Bench-101 (Ying et al., 2019), NAS-Bench-201
(Dong & Yang, 2020) and the tabular HPO benchmarks of Klein & Hutter (2019).
Three shapes, because a strategy that wins on one proves little:

- ``digits_tree``: a deep tree (an Or between a 1-3 layer MLP with per-layer
  widths and activations and a narrow branch; 1,662 architectures);
- ``flat_cell``: a NAS-Bench-201-shaped cell (4 nodes, 6 edges, 5 operations:
  15,625 cells), a small CNN on the digits images;
- ``continuous_grid``: continuous and integer hyperparameters (learning rate,
  width, batch size, an optional dropout's rate) searched over their ranges and
  read from a grid of bins (2,160 entries).

    python -m benchmarks.tables build flat_cell --workers 2    # trains every entry (resumable)
    python -m benchmarks.tables describe                      # size, best, median of each table
"""

from __future__ import annotations

import importlib

from benchmarks.tables.lookup import LookupTable

TABLE_NAMES = ("digits_tree", "flat_cell", "continuous_grid")


def load_table(name: str) -> LookupTable:
    """The table definition of that name (its space, key function and trainer)."""
    if name not in TABLE_NAMES:
        raise SystemExit(f"unknown lookup table {name!r}; known: {', '.join(TABLE_NAMES)}")
    return importlib.import_module(f"benchmarks.tables.{name}").TABLE
