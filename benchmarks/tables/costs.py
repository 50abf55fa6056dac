"""Measured costs of every entry of a lookup table, for multi-objective and constrained benchmarks.

Each entry's network is compiled as its table trains it and measured by the
engine's own cost meter (``automl.engine.costs``: parameters, FLOPs by torch's
counter, peak forward memory, and for ``digits_tree`` latency at batch 1 on this
CPU, one thread, median of timed blocks after warm-up). The costs live beside the
scores in ``benchmarks/data/tables/<name>.costs.json``, so a multi-objective
search reads accuracy and cost of a candidate from the tables, exactly as
NAS-Bench-201 (Dong & Yang, 2020) and HW-NAS-Bench (Li et al., ICLR 2021) ship
accuracy with measured latency.

    python -m benchmarks.tables costs digits_tree      # ~4 minutes (latency timed)
    python -m benchmarks.tables costs flat_cell        # parameters and FLOPs of 15,625 cells
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.tables.lookup import DATA_DIRECTORY, LookupTable

TIMED = ("digits_tree",)  # tables whose entries are timed (latency); the others get parameters and FLOPs


def costs_path(name: str) -> Path:
    return DATA_DIRECTORY / f"{name}.costs.json"


def _module_and_input(name: str, entry: str) -> tuple[Any, tuple[int, ...]]:
    """The network of one entry, compiled as the table's ``train`` compiles it, and its input shape."""
    from automl.nn import compile_architecture
    from automl.space import Candidate

    if name == "digits_tree":
        from benchmarks.tables.digits_tree import digits_tree

        architecture = digits_tree.replay(Candidate(dict(json.loads(entry))))  # a key is [[path, value], ...]
        return compile_architecture(architecture, (64,), num_outputs=10).module, (64,)
    if name == "flat_cell":
        from benchmarks.tables.flat_cell import EDGES, flat_cell

        operations = entry.split("|")
        decisions = {f"edge_{source}_{target}": operation for (source, target), operation in zip(EDGES, operations)}
        return compile_architecture(flat_cell.replay(decisions), (1, 8, 8), num_outputs=10).module, (1, 8, 8)
    raise SystemExit(f"no cost measurement for table {name!r}; known: digits_tree, flat_cell")


def build_costs(table: LookupTable) -> Path:
    """Measure every entry of ``table`` (one thread, CPU) and write the costs file."""
    import torch

    from automl.engine.costs import measure_costs

    torch.set_num_threads(1)
    device = torch.device("cpu")
    timed = table.name in TIMED
    started = time.monotonic()
    costs: dict[str, dict[str, float]] = {}
    entries = table.entries()
    for index, entry in enumerate(entries):
        module, shape = _module_and_input(table.name, entry)
        torch.manual_seed(0)
        measured = measure_costs(module, torch.randn(1, *shape), device, latency=timed)
        values = {"params": measured.params, "flops": measured.flops, "memory_mb": measured.memory_mb}
        if timed:
            values["latency_ms"] = measured.latency_ms
        costs[entry] = values
        if index % 500 == 0:
            print(f"{table.name}: {index}/{len(entries)} measured", flush=True)
    document = {
        "table": table.name,
        "measured": "automl.engine.costs on one CPU thread, batch 1" + (", latency timed" if timed else ""),
        "seconds": round(time.monotonic() - started, 1),
        "costs": costs,
    }
    path = costs_path(table.name)
    path.write_text(json.dumps(document, indent=0, sort_keys=True))
    return path


@functools.cache
def load_costs(name: str) -> dict[str, dict[str, float]]:
    path = costs_path(name)
    if not path.exists():
        raise SystemExit(f"no costs for table {name!r} at {path}; run: python -m benchmarks.tables costs {name}")
    return json.loads(path.read_text())["costs"]
