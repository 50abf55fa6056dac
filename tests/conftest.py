"""Shared fixtures: the ready spaces, importable from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def ready_spaces():
    """(space, input shape) of every ready space, small enough to compile fast."""
    from search_spaces.cnn import cnn
    from search_spaces.darts_cell import darts_cell
    from search_spaces.mlp import mlp
    from search_spaces.tabular import tabular

    return {
        "mlp": (mlp, (64,)),
        "tabular": (tabular, (13,)),
        "cnn": (cnn, (1, 8, 8)),
        "darts_cell": (darts_cell.bind(nodes=3, cells=2, channels=8), (1, 8, 8)),
    }
