"""Learning-curve lookup table for the multi-fidelity benchmark (``benchmarks/multi_fidelity.py``).

Every candidate of a small finite space (:func:`table_space`: an MLP of 1 to 3
layers, each 16, 64 or 256 units wide, one activation shared by all layers,
relu or tanh, and the learning rate of Adam, 1e-3, 1e-2 or 1e-1: 234
candidates) is trained once on the built-in ``digits`` data set (the engine's
own splits: ``split_dataset(load_dataset("digits"), seed=0)``, 60/20/20,
standardised), for 27 epochs without early stopping, with a fixed seed, on the
CPU, through the engine's own ``train_model``. Validation accuracy and
validation loss are recorded after *every* epoch, so a benchmark can replay any
budget from 1 to 27 epochs: epoch ``k`` of the table is what a training stopped
(or paused and continued) at ``k`` epochs would have seen, in the spirit of
the learning-curve tables of LCBench (Zimmer et al., 2021) and NAS-Bench-201
(Dong & Yang, 2020).

A low learning rate looks bad after a few epochs and can catch up or win late,
a high one looks good early and plateaus or diverges: what makes early
stopping by low-budget scores risky.

    python -m benchmarks.learning_curves              # about 2 minutes on 2 cores; writes the table
    python -m benchmarks.learning_curves --workers 2  # two processes

The table (``benchmarks/data/learning_curves.json``) is kept in the repository;
nothing rebuilds it implicitly. Accuracies and losses are rounded to 4 decimals,
one candidate per line (valid JSON, small diffs). A training that fails
(non-finite loss) keeps the epochs it reached and scores 0.0 accuracy (loss
null) for the rest, with the reason under ``"failure"``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from automl import space as s  # noqa: E402
from automl.space import Candidate, SearchSpace  # noqa: E402

TABLE_PATH = ROOT / "benchmarks" / "data" / "learning_curves.json"
MAX_EPOCHS = 27
SEED = 0
BATCH_SIZE = 64
DATA = "digits"
SPACE_DESCRIPTION = (
    "benchmarks/learning_curves.py:table_space: training.learning_rate in {1e-3, 1e-2, 1e-1} (Adam); "
    "1-3 linear layers (repeat.times), units in {16, 64, 256} per layer; one activation for all layers in "
    "{relu, tanh}; then a linear output layer"
)


@s.search_space
def table_space(x: Any) -> Any:
    """234 candidates: learning rate x (1 to 3 layers of 16/64/256 units) x shared activation."""
    x = s.training(x, learning_rate=s.Choice([1e-3, 1e-2, 1e-1]))
    activation = s.Choice(["relu", "tanh"], name="activation")

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([16, 64, 256]))
        return s.op.activation(x, kind=activation)

    x = s.Repeat(layer, times=s.Int(1, 3))(x)
    return s.op.linear(x, units=s.OUTPUTS)


def canonical_key(space: SearchSpace, candidate: Any) -> str:
    """The table key of a candidate whatever the order (or number types) of its decisions."""
    return Candidate(space.replay(candidate).decisions).key


# ------------------------------------------------------------------------------------------------ build
_SPLITS: Any = None


def _splits() -> Any:
    global _SPLITS
    if _SPLITS is None:
        from automl.data import load_dataset, split_dataset

        _SPLITS = split_dataset(load_dataset(DATA), seed=SEED)
    return _SPLITS


def train_curve(candidate_json: str) -> tuple[str, dict[str, Any]]:
    """Train one candidate for MAX_EPOCHS epochs; its accuracy and loss after every epoch."""
    import torch

    from automl.nn import compile_architecture
    from automl.training import TrainingSettings, TrialFailure, train_model

    torch.set_num_threads(1)
    splits = _splits()
    candidate = Candidate.from_json(candidate_json)
    architecture = table_space.replay(candidate)
    settings = (
        TrainingSettings()
        .updated(architecture.training_values())
        .updated({"epochs": MAX_EPOCHS, "patience": None, "batch_size": BATCH_SIZE})
    )
    torch.manual_seed(SEED)  # the initial weights, as the engine's evaluator fixes them
    module = compile_architecture(architecture, splits.input_shape, num_outputs=splits.num_outputs).module
    accuracy: list[float] = []
    loss: list[float | None] = []

    def record(epoch: int, score: float, validation_loss: float) -> None:
        accuracy.append(round(float(score), 4))
        loss.append(round(float(validation_loss), 4))

    entry: dict[str, Any] = {}
    try:
        train_model(module, splits, settings, SEED, torch.device("cpu"), on_epoch=record)
    except TrialFailure as failure:
        entry["failure"] = f"after epoch {len(accuracy)}: {failure}"
        accuracy.extend([0.0] * (MAX_EPOCHS - len(accuracy)))
        loss.extend([None] * (MAX_EPOCHS - len(loss)))
    if len(accuracy) != MAX_EPOCHS:
        raise RuntimeError(f"{candidate.key}: {len(accuracy)} epochs recorded, not {MAX_EPOCHS}")
    entry = {"decisions": json.loads(candidate.key), "accuracy": accuracy, "loss": loss, **entry}
    return candidate.key, entry


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def write_table(document: dict[str, Any], path: Path = TABLE_PATH) -> None:
    """Valid JSON with one entry per line: compact, and a rebuild diffs line by line."""
    header = {key: value for key, value in document.items() if key != "entries"}
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"{json.dumps(key)}: {json.dumps(value)},")
    lines.append('"entries": {')
    entries = list(document["entries"].items())
    for index, (key, entry) in enumerate(entries):
        comma = "," if index < len(entries) - 1 else ""
        lines.append(f"{json.dumps(key)}: {json.dumps(entry, separators=(',', ':'))}{comma}")
    lines.append("}}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def build_table(workers: int = 1) -> dict[str, Any]:
    from benchmarks.tables.lookup import enumerate_candidates  # the lookup tables' depth-first walk

    candidates = list(enumerate_candidates(table_space))
    print(f"training {len(candidates)} candidates x {MAX_EPOCHS} epochs with {workers} worker(s)...", flush=True)
    started = time.time()
    entries: dict[str, Any] = {}
    jobs = [candidate.to_json() for candidate in candidates]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(_progress(pool.map(train_curve, jobs, chunksize=4), len(jobs), started))
    else:
        results = list(_progress(map(train_curve, jobs), len(jobs), started))
    for key, entry in results:
        entries[key] = entry
    seconds = time.time() - started
    import torch

    document = {
        "space": SPACE_DESCRIPTION,
        "candidates": len(entries),
        "max_epochs": MAX_EPOCHS,
        "data": DATA,
        "splits": "automl.data.split_dataset(load_dataset('digits'), seed=0): 60/20/20 stratified, standardised",
        "recipe": {
            "trainer": "automl.training.train_model, patience=None (no early stopping), on_epoch records",
            "optimizer": "adam",
            "batch_size": BATCH_SIZE,
            "learning_rate": "the candidate's training.learning_rate",
            "device": "cpu",
            "torch_threads": 1,
        },
        "seed": SEED,
        "metrics": {"accuracy": "validation accuracy after each epoch", "loss": "validation cross-entropy"},
        "provenance": {
            "git_commit": git_commit(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": "python -m benchmarks.learning_curves " + " ".join(sys.argv[1:]),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "seconds": round(seconds, 1),
            "workers": workers,
        },
        "entries": entries,
    }
    write_table(document)
    finals = [entry["accuracy"][-1] for entry in entries.values()]
    print(
        f"wrote {TABLE_PATH} ({len(entries)} candidates in {seconds:.0f} s; "
        f"final accuracy best {max(finals):.4f}, median {sorted(finals)[len(finals) // 2]:.4f})"
    )
    return document


def _progress(results: Iterator[Any], total: int, started: float) -> Iterator[Any]:
    for done, result in enumerate(results, 1):
        if done % 25 == 0 or done == total:
            print(f"  {done}/{total} in {time.time() - started:.0f} s", flush=True)
        yield result


def load_table(path: Path = TABLE_PATH) -> dict[str, Any]:
    """The cached table; never builds it (build with ``python -m benchmarks.learning_curves``)."""
    if not path.exists():
        raise SystemExit(f"no learning-curve table at {path}; build it with: python -m benchmarks.learning_curves")
    document = json.loads(path.read_text())
    for key, entry in document["entries"].items():
        if len(entry["accuracy"]) != document["max_epochs"] or not all(math.isfinite(a) for a in entry["accuracy"]):
            raise SystemExit(f"{path}: entry {key} does not have {document['max_epochs']} finite accuracies")
    return document


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="training processes (default 1)")
    arguments = parser.parse_args(argv)
    build_table(arguments.workers)


if __name__ == "__main__":
    main()
