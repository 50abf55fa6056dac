"""One-shot NAS benchmark: DARTS magnitude selection vs DARTS-PT perturbation selection on digits.

For each seed: split scikit-learn's digits (1x8x8 images, 10 classes) 60/20/20,
train ONE supernet of ``search_spaces/darts_cell.py`` (small settings) with
first-order bilevel DARTS (Liu et al. 2019), read an architecture off it by
alpha magnitude, then by perturbation (DARTS-PT, Wang et al. 2021, which
mutates the supernet, so magnitude goes first), and retrain both architectures
from scratch with the same short fixed schedule (``compile_architecture``,
SGD + cosine, same seed). The table gives the retrained test accuracy of each
and the time of supernet training and of each selection.

Throughput: the supernet's train step (forward, backward, SGD step; batch 64)
against a hand-written DARTS mixed-op network of the same shape in plain torch
(softmax(alpha)-weighted ``MixedOp``s, all edges summed), timed in interleaved
rounds; the ratio is hand time / supernet time (goal >= 0.9).

Run: ``.venv/bin/python benchmarks/darts_pt.py [--seeds 5] [--threads 1] [--quick]``;
results go to ``benchmarks/results/darts_pt.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved, median, median_ratio, spread, table, write_results
from hand_darts import darts_operation

from automl.data import DataSplits, Split
from automl.nn import compile_architecture
from automl.nn.supernet import build_supernet
from automl.space import Candidate
from automl.strategies.darts import (
    SupernetSettings,
    select_by_magnitude,
    select_by_perturbation,
    train_supernet,
)
from search_spaces.darts_cell import OPERATIONS, darts_cell


def digits_splits(seed: int) -> DataSplits:
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, np.newaxis]
    target = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(images))
    train, validation, test = np.split(order, [int(0.6 * len(order)), int(0.8 * len(order))])
    return DataSplits(
        Split(images[train], target[train]),
        Split(images[validation], target[validation]),
        Split(images[test], target[test]),
        "classification",
        10,
        (1, 8, 8),
        [f"pixel_{index}" for index in range(64)],
    )


def retrain(space: Any, candidate: Candidate, data: DataSplits, epochs: int, seed: int) -> dict[str, float]:
    """Train a candidate from scratch (SGD, momentum 0.9, lr 0.05 cosine, batch 64) and score it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = compile_architecture(space.replay(candidate), data.input_shape, data.num_outputs).module
    features, target = torch.from_numpy(data.train.features), torch.from_numpy(data.train.target)
    batches = (len(features) + 63) // 64
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * batches)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(features), generator=generator)
        for batch in range(batches):
            rows = order[batch * 64 : (batch + 1) * 64]
            loss = nn.functional.cross_entropy(model(features[rows]), target[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    seconds = time.perf_counter() - started
    model.eval()
    scores = {}
    with torch.no_grad():
        for name, split in (("validation", data.validation), ("test", data.test)):
            predicted = model(torch.from_numpy(split.features)).argmax(dim=1).numpy()
            scores[name] = float((predicted == split.target).mean())
    return {**scores, "seconds": seconds}


# ----------------------------------------------------------------- hand-written reference network
class MixedOp(nn.Module):
    """DARTS' MixedOp (Liu et al. 2019, reference code): sum of w * op(x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(darts_operation(name, channels) for name in OPERATIONS)

    def forward(self, tensor: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(weight * op(tensor) for weight, op in zip(weights, self.ops))


class Cell(nn.Module):
    def __init__(self, previous_channels: int, current_channels: int, channels: int, nodes: int) -> None:
        super().__init__()
        self.preprocess0 = nn.Conv2d(previous_channels, channels, 1)
        self.preprocess1 = nn.Conv2d(current_channels, channels, 1)
        self.nodes = nodes
        self.edges = nn.ModuleList(MixedOp(channels) for node in range(nodes) for _ in range(node + 2))

    def forward(self, previous: torch.Tensor, current: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        states = [self.preprocess0(previous), self.preprocess1(current)]
        offset = 0
        for _ in range(self.nodes):
            states.append(
                sum(self.edges[offset + index](state, weights[offset + index]) for index, state in enumerate(states))
            )
            offset += len(states) - 1
        return torch.cat(states[2:], dim=1)


class HandSupernet(nn.Module):
    """The darts_cell supernet written by hand: shared alphas, all edges summed."""

    def __init__(self, nodes: int, cells: int, channels: int, classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels))
        edges = sum(node + 2 for node in range(nodes))
        self.alphas = nn.Parameter(1e-3 * torch.randn(edges, len(OPERATIONS)))
        cells_list = []
        previous_channels = current_channels = channels
        for _ in range(cells):
            cells_list.append(Cell(previous_channels, current_channels, channels, nodes))
            previous_channels, current_channels = current_channels, channels * nodes
        self.cells = nn.ModuleList(cells_list)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(current_channels, classes)

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        weights = list(torch.softmax(self.alphas, dim=-1))
        previous = current = self.stem(tensor)
        for cell in self.cells:
            previous, current = current, cell(previous, current, weights)
        return self.classifier(self.pool(current).flatten(1))


def throughput(space: Any, nodes: int, cells: int, channels: int, rounds: int) -> dict[str, Any]:
    torch.manual_seed(0)
    supernet = build_supernet(space, (1, 8, 8), 10)
    hand = HandSupernet(nodes, cells, channels, 10)
    supernet_parameters = sum(p.numel() for p in supernet.parameters())
    hand_parameters = sum(p.numel() for p in hand.parameters())
    if supernet_parameters != hand_parameters:
        raise SystemExit(f"parameter counts differ: supernet {supernet_parameters}, hand {hand_parameters}")
    generator = torch.Generator().manual_seed(0)
    batch = torch.randn(64, 1, 8, 8, generator=generator)
    target = torch.randint(0, 10, (64,), generator=generator)

    def step_of(model: nn.Module) -> Any:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step() -> None:
            loss = nn.functional.cross_entropy(model(batch), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    contenders = {"supernet": step_of(supernet.train()), "hand": step_of(hand.train())}
    interleaved(contenders, 3)  # warm-up
    seconds = interleaved(contenders, rounds)
    return {
        "parameters": supernet_parameters,
        "supernet_step_seconds": median(seconds["supernet"]),
        "hand_step_seconds": median(seconds["hand"]),
        "ratio_hand_over_supernet": median_ratio(seconds["hand"], seconds["supernet"]),
        "supernet_spread": spread(seconds["supernet"]),
        "hand_spread": spread(seconds["hand"]),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--supernet-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--retrain-epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds of the throughput comparison")
    parser.add_argument("--quick", action="store_true", help="2 seeds, short schedules (a smoke run)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.seeds, arguments.supernet_epochs, arguments.retrain_epochs, arguments.rounds = 2, 3, 5, 10
    torch.set_num_threads(arguments.threads)
    space = darts_cell.bind(nodes=arguments.nodes, cells=arguments.cells, channels=arguments.channels)
    settings = SupernetSettings(
        epochs=arguments.supernet_epochs,
        batch_size=32,
        learning_rate=0.1,
        finetune_epochs=arguments.finetune_epochs,
    )

    runs = []
    for seed in range(arguments.seeds):
        data = digits_splits(seed)
        started = time.perf_counter()
        supernet, trainer = train_supernet(space, data, settings, seed=seed)
        training_seconds = time.perf_counter() - started
        supernet_accuracy = trainer.evaluate()
        started = time.perf_counter()
        magnitude = supernet.candidate(select_by_magnitude(supernet).selection)
        magnitude_seconds = time.perf_counter() - started
        started = time.perf_counter()
        report = select_by_perturbation(supernet, trainer, seed=seed, finetune_epochs=arguments.finetune_epochs)
        perturbation = supernet.candidate(report.selection)
        perturbation_seconds = time.perf_counter() - started
        run = {
            "seed": seed,
            "supernet_validation_accuracy": supernet_accuracy,
            "supernet_training_seconds": training_seconds,
            "magnitude": {
                "candidate": magnitude.to_dict(),
                "selection_seconds": magnitude_seconds,
                **retrain(space, magnitude, data, arguments.retrain_epochs, seed),
            },
            "perturbation": {
                "candidate": perturbation.to_dict(),
                "selection_seconds": perturbation_seconds,
                "of_which_evaluation_seconds": report.seconds,
                **retrain(space, perturbation, data, arguments.retrain_epochs, seed),
            },
        }
        runs.append(run)
        print(
            f"seed {seed}: supernet {supernet_accuracy:.3f} in {training_seconds:.1f}s; "
            f"magnitude test {run['magnitude']['test']:.3f}, perturbation test {run['perturbation']['test']:.3f} "
            f"(PT selection {perturbation_seconds:.1f}s)",
            flush=True,
        )

    rows = [
        [
            run["seed"],
            run["supernet_validation_accuracy"],
            run["supernet_training_seconds"],
            run["magnitude"]["test"],
            run["magnitude"]["selection_seconds"],
            run["perturbation"]["test"],
            run["perturbation"]["selection_seconds"],
        ]
        for run in runs
    ]

    def mean(key: str, sub: str | None = None) -> float:
        return statistics.mean(run[key][sub] if sub else run[key] for run in runs)

    summary = {
        "supernet_validation_accuracy": mean("supernet_validation_accuracy"),
        "supernet_training_seconds": mean("supernet_training_seconds"),
        "magnitude_test_accuracy": mean("magnitude", "test"),
        "magnitude_test_accuracy_stdev": statistics.pstdev(run["magnitude"]["test"] for run in runs),
        "magnitude_selection_seconds": mean("magnitude", "selection_seconds"),
        "perturbation_test_accuracy": mean("perturbation", "test"),
        "perturbation_test_accuracy_stdev": statistics.pstdev(run["perturbation"]["test"] for run in runs),
        "perturbation_selection_seconds": mean("perturbation", "selection_seconds"),
        "perturbation_wins": sum(run["perturbation"]["test"] > run["magnitude"]["test"] for run in runs),
        "magnitude_wins": sum(run["magnitude"]["test"] > run["perturbation"]["test"] for run in runs),
    }
    rows.append(
        [
            "mean",
            summary["supernet_validation_accuracy"],
            summary["supernet_training_seconds"],
            summary["magnitude_test_accuracy"],
            summary["magnitude_selection_seconds"],
            summary["perturbation_test_accuracy"],
            summary["perturbation_selection_seconds"],
        ]
    )
    table(
        f"DARTS vs DARTS-PT on digits (darts_cell nodes={arguments.nodes} cells={arguments.cells} "
        f"channels={arguments.channels}; retrained {arguments.retrain_epochs} epochs)",
        ["seed", "supernet val acc", "supernet s", "magnitude test", "magnitude sel s", "PT test", "PT sel s"],
        rows,
    )
    speed = throughput(space, arguments.nodes, arguments.cells, arguments.channels, arguments.rounds)
    table(
        "Supernet train step (batch 64) vs hand-written mixed-op network",
        ["parameters", "supernet s/step", "hand s/step", "hand/supernet (goal >= 0.9)"],
        [
            [
                speed["parameters"],
                speed["supernet_step_seconds"],
                speed["hand_step_seconds"],
                speed["ratio_hand_over_supernet"],
            ]
        ],
    )
    write_results(
        "darts_pt",
        {
            "settings": {key: value for key, value in vars(arguments).items() if key != "quick"}
            | {"supernet_batch_size": settings.batch_size, "supernet_learning_rate": settings.learning_rate},
            "summary": summary,
            "runs": runs,
            "throughput": speed,
        },
    )


if __name__ == "__main__":
    main()
