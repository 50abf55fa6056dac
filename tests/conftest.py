"""Shared fixtures: the ready spaces, importable from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def no_tracking(monkeypatch):
    """Installed tracking plugins (automl-mlflow, automl-tensorboard) log every search beside its study; the
    engine's tests need neither their folders nor their cost (the plugins' own tests are in plugins/*/tests).
    Set per test, so subprocesses (the CLI, Dask workers) inherit it and the plugins' tests never see it."""
    monkeypatch.setenv("AUTOML_MLFLOW", "off")
    monkeypatch.setenv("AUTOML_TENSORBOARD", "off")


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
