"""A lookup table: a finite (or binned) space, the key of a candidate, and how an entry is trained."""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.space import Candidate, SearchSpace
from automl.space.hyperparameters import Float, Hyperparameter, Int

DATA_DIRECTORY = Path(__file__).resolve().parent.parent / "data" / "tables"
_PARTIAL_EVERY = 200  # entries between two saves of a table being built


@dataclass(frozen=True)
class LookupTable:
    """One table: ``key(candidate)`` names its entry; ``train(key)`` computes an entry's score.

    ``entries()`` lists every key to train; the scores live in ``path`` (JSON:
    the recipe and ``{"table": {key: score}}``).
    """

    name: str
    space: SearchSpace
    description: str
    recipe: dict[str, Any]
    key: Callable[[Candidate], str]
    entries: Callable[[], list[str]]
    train: Callable[[str], float]

    @property
    def path(self) -> Path:
        return DATA_DIRECTORY / f"{self.name}.json"

    @functools.cached_property
    def scores(self) -> dict[str, float]:
        if not self.path.exists():
            raise SystemExit(f"no lookup table at {self.path}; run: python -m benchmarks.tables build {self.name}")
        return json.loads(self.path.read_text())["table"]

    def objective(self) -> Callable[[Candidate], float]:
        """The table look-up as a search objective."""
        scores, key = self.scores, self.key
        return lambda candidate: scores[key(candidate)]

    @property
    def optimum(self) -> float:
        return max(self.scores.values())


def enumerate_candidates(space: SearchSpace) -> Iterator[Candidate]:
    """Every candidate of a finite space, depth first (replays each prefix: fine for small spaces)."""
    stack: list[dict[str, Any]] = [{}]
    while stack:
        prefix = stack.pop()
        architecture = space.new()
        for path, value in prefix.items():
            architecture.assign(path, value)
        decision = architecture.next_decision()
        if decision is None:
            yield Candidate(architecture.decisions)
            continue
        path, hyperparameter = decision
        values = hyperparameter.finite_values()
        if values is None:
            raise ValueError(f"{path} is continuous; enumerate a finite space (or bin it first)")
        stack.extend({**prefix, path: value} for value in reversed(values))


# ------------------------------------------------------------------------------------------------ bins
def bin_index(hyperparameter: Hyperparameter, value: float, bins: int) -> int:
    """Which of ``bins`` equal-width bins (equal log-width for a log range) a value of a range falls in."""
    assert isinstance(hyperparameter, (Int, Float))
    low, high = float(hyperparameter.low), float(hyperparameter.high)
    if isinstance(hyperparameter, Int):
        high += 1.0  # an int range [low, high] covers [low, high + 1) as numbers
    if hyperparameter.log:
        position = (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    else:
        position = (value - low) / (high - low)
    return min(bins - 1, max(0, int(math.floor(position * bins))))


def bin_value(hyperparameter: Hyperparameter, index: int, bins: int) -> float:
    """The centre of a bin (geometric for a log range; rounded down to an int for an Int)."""
    assert isinstance(hyperparameter, (Int, Float))
    low, high = float(hyperparameter.low), float(hyperparameter.high)
    if isinstance(hyperparameter, Int):
        high += 1.0
    if hyperparameter.log:
        edges = np.geomspace(low, high, bins + 1)
        centre = float(np.sqrt(edges[index] * edges[index + 1]))
    else:
        edges = np.linspace(low, high, bins + 1)
        centre = float((edges[index] + edges[index + 1]) / 2)
    return float(int(centre)) if isinstance(hyperparameter, Int) else centre


# ----------------------------------------------------------------------------------------------- data
@functools.lru_cache(maxsize=2)
def digits_split(images: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits, features / 16, a stratified 67/33 split (seed 0); (N, 1, 8, 8) as images."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    features, labels = load_digits(return_X_y=True)
    features = (features / 16.0).astype(np.float32)
    if images:
        features = features.reshape(-1, 1, 8, 8)
    return train_test_split(features, labels, test_size=0.33, random_state=0, stratify=labels)


def train_and_score(
    module: Any, images: bool, epochs: int, batch_size: int, learning_rate: float, seed: int = 0
) -> float:
    """Adam for a fixed number of epochs on the digits split; the validation accuracy (0 if training diverged)."""
    import torch

    torch.manual_seed(seed)
    train_x, valid_x, train_y, valid_y = digits_split(images)
    optimiser = torch.optim.Adam(module.parameters(), lr=learning_rate)
    inputs, targets = torch.from_numpy(train_x), torch.from_numpy(train_y).long()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), batch_size):
            batch = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(inputs[batch]), targets[batch])
            if not torch.isfinite(loss):
                return 0.0
            loss.backward()
            optimiser.step()
    module.eval()
    with torch.no_grad():
        predictions = module(torch.from_numpy(valid_x)).argmax(dim=1).numpy()
    return float((predictions == valid_y).mean())


# ---------------------------------------------------------------------------------------------- build
def _train_entry(table_name: str, key: str) -> tuple[str, float]:
    import torch

    from benchmarks.tables import load_table

    torch.set_num_threads(1)
    return key, round(load_table(table_name).train(key), 6)


def _write(table: LookupTable, scores: dict[str, float], seconds: float, path: Path) -> None:
    document = {
        "name": table.name,
        "description": table.description,
        "recipe": table.recipe,
        "metric": "validation accuracy",
        "entries": len(scores),
        "seconds": round(seconds, 1),
        "table": dict(sorted(scores.items())),
    }
    text = "{\n" + "\n".join(
        f"{json.dumps(name)}: {json.dumps(value)}," for name, value in document.items() if name != "table"
    )
    lines = [f"{json.dumps(key)}: {value}" for key, value in document["table"].items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + '\n"table": {\n' + ",\n".join(lines) + "\n}}\n")


def build(table: LookupTable, workers: int) -> None:
    """Train every entry of a table; resumable (a partial file is saved every few hundred entries)."""
    partial = table.path.with_suffix(".partial.json")
    scores: dict[str, float] = {}
    seconds_before = 0.0
    if partial.exists():
        stored = json.loads(partial.read_text())
        scores, seconds_before = dict(stored["table"]), float(stored["seconds"])
    todo = [key for key in table.entries() if key not in scores]
    print(f"{table.name}: {len(scores)} entries stored, {len(todo)} to train with {workers} worker(s)", flush=True)
    started = time.time()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = pool.map(functools.partial(_train_entry, table.name), todo, chunksize=4)
        for done, (key, score) in enumerate(jobs, 1):
            scores[key] = score
            if done % _PARTIAL_EVERY == 0:
                _write(table, scores, seconds_before + time.time() - started, partial)
                rate = done / (time.time() - started)
                left = (len(todo) - done) / rate / 60
                print(f"  {done}/{len(todo)}, {rate:.2f} entries/s, {left:.0f} min left", flush=True)
    _write(table, scores, seconds_before + time.time() - started, table.path)
    partial.unlink(missing_ok=True)
    print(f"wrote {table.path}: {len(scores)} entries, best {max(scores.values()):.4f}", flush=True)
