"""Compile benchmark: sampling and compile rates of the ready spaces, and train-step speed of compiled candidates.

(a) For each ready space (``mlp`` and ``tabular`` on input (64,), ``cnn`` and
``darts_cell`` on input (1, 8, 8), 10 outputs): candidates sampled per second
(``space.sample``) and candidates sampled and compiled per second
(``compile_architecture``, which builds a torch.fx GraphModule).

(b) The train-step throughput (forward, backward and an Adam step, batch 64, random
data, CPU, ``torch.set_num_threads(--threads)``) of a compiled candidate divided by
that of the same network written by hand in plain torch: the same layers in the same
order. Before timing, the hand network gets the compiled one's weights (state dict
copied through an explicit name map), and the benchmark checks that both have the
same parameter count and give the same outputs in eval mode. The two are timed in
interleaved rounds (compiled, hand, hand, compiled, ...) and the table reports the
median of the per-round ratios: above 1 the compiled candidate is faster. Goal: >= 0.97.

Run: ``.venv/bin/python benchmarks/compile.py [--quick] [--threads N]``; results go to
``benchmarks/results/compile.json``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved, median, median_ratio, spread, table, write_results
from hand_darts import darts_operation

from automl.nn import compile_architecture
from automl.space import SearchSpace
from search_spaces.cnn import cnn
from search_spaces.darts_cell import darts_cell
from search_spaces.mlp import mlp
from search_spaces.tabular import tabular

OUTPUTS = 10
BATCH = 64
TABULAR_INPUT = (64,)
IMAGE_INPUT = (1, 8, 8)
SPACES: list[tuple[SearchSpace, tuple[int, ...]]] = [
    (mlp, TABULAR_INPUT),
    (tabular, TABULAR_INPUT),
    (cnn, IMAGE_INPUT),
    (darts_cell, IMAGE_INPUT),
]


# ----------------------------------------------------------------------------- (a) rates
def sampling_rates(space: SearchSpace, input_shape: tuple[int, ...], samples: int, compiles: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    space.sample(rng)  # warm imports and caches
    started = time.perf_counter()
    for _ in range(samples):
        space.sample(rng)
    sample_seconds = time.perf_counter() - started
    warm_started = time.perf_counter()
    compile_architecture(space.sample(rng), input_shape, OUTPUTS)  # the first compile pays one-time imports
    first_compile_seconds = time.perf_counter() - warm_started
    parameters = []
    started = time.perf_counter()
    for _ in range(compiles):
        compiled = compile_architecture(space.sample(rng), input_shape, OUTPUTS)
        parameters.append(compiled.parameter_count)
    compile_seconds = time.perf_counter() - started
    return {
        "space": space.name,
        "input_shape": list(input_shape),
        "samples": samples,
        "sampled_per_second": samples / sample_seconds,
        "compiles": compiles,
        "sampled_and_compiled_per_second": compiles / compile_seconds,
        "first_compile_seconds": first_compile_seconds,
        "median_parameters": int(median(parameters)),
    }


# ------------------------------------------------------------------- (b) hand networks
MLP_UNITS = (256, 128, 64)
MLP_DROPOUT = 0.1
MLP_CANDIDATE: dict[str, Any] = {"repeat.times": len(MLP_UNITS), "activation": "gelu"}
for _layer, _units in enumerate(MLP_UNITS):
    MLP_CANDIDATE[f"repeat.{_layer}.linear.units"] = _units
    MLP_CANDIDATE[f"repeat.{_layer}.optional.present"] = True
    MLP_CANDIDATE[f"repeat.{_layer}.optional.dropout.p"] = MLP_DROPOUT


class HandMLP(nn.Module):
    """mlp: 3 x (linear, gelu, dropout), then the output layer."""

    def __init__(self, features: int, units: tuple[int, ...], outputs: int, p: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(features, units[0])
        self.act1 = nn.GELU()
        self.drop1 = nn.Dropout(p)
        self.fc2 = nn.Linear(units[0], units[1])
        self.act2 = nn.GELU()
        self.drop2 = nn.Dropout(p)
        self.fc3 = nn.Linear(units[1], units[2])
        self.act3 = nn.GELU()
        self.drop3 = nn.Dropout(p)
        self.out = nn.Linear(units[2], outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop1(self.act1(self.fc1(x)))
        x = self.drop2(self.act2(self.fc2(x)))
        x = self.drop3(self.act3(self.fc3(x)))
        return self.out(x)

    @staticmethod
    def compiled_key(key: str) -> str:
        match = re.fullmatch(r"fc(\d)\.(.*)", key)
        if match:
            return f"repeat__{int(match[1]) - 1}__linear.{match[2]}"
        return key.replace("out.", "linear.", 1)


CNN_WIDTH = 32
CNN_CANDIDATE: dict[str, Any] = {
    "training.learning_rate": 0.01,
    "width": CNN_WIDTH,
    "repeat.times": 2,
    "repeat.0.or.branch": "residual",
    "repeat.0.or.residual.conv2d.kernel": 3,
    "repeat.0.optional.present": True,
    "repeat.1.or.branch": "plain",
    "repeat.1.or.plain.conv2d.kernel": 5,
    "repeat.1.optional.present": False,
    "optional.present": True,
    "optional.dropout.p": 0.3,
}


class HandCNN(nn.Module):
    """cnn: stem conv-bn-relu, a residual block and max pool, a plain 5x5 block, pool, dropout, linear."""

    def __init__(self, channels: int, width: int, outputs: int) -> None:
        super().__init__()
        self.stem_conv = nn.Conv2d(channels, width, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(width)
        self.stem_relu = nn.ReLU()
        self.block1_conv = nn.Conv2d(width, width, 3, padding=1)
        self.block1_bn = nn.BatchNorm2d(width)
        self.block1_relu = nn.ReLU()
        self.block1_pool = nn.MaxPool2d(2)
        self.block2_conv = nn.Conv2d(width, width, 5, padding=2)
        self.block2_bn = nn.BatchNorm2d(width)
        self.block2_relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_relu(self.stem_bn(self.stem_conv(x)))
        x = x + self.block1_relu(self.block1_bn(self.block1_conv(x)))
        x = self.block1_pool(x)
        x = self.block2_relu(self.block2_bn(self.block2_conv(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.head(self.dropout(x))

    @staticmethod
    def compiled_key(key: str) -> str:
        prefixes = {
            "stem_conv.": "conv2d.",
            "stem_bn.": "batchnorm.",
            "block1_conv.": "repeat__0__or__residual__conv2d.",
            "block1_bn.": "repeat__0__or__residual__batchnorm.",
            "block2_conv.": "repeat__1__or__plain__conv2d.",
            "block2_bn.": "repeat__1__or__plain__batchnorm.",
            "head.": "linear.",
        }
        for prefix, replacement in prefixes.items():
            if key.startswith(prefix):
                return replacement + key[len(prefix) :]
        raise KeyError(key)


# A DARTS genotype: per node, its two inputs (states 0, 1 are the cell inputs) and the op on each edge.
DARTS_GENOTYPE = [
    ((0, "sep_conv_3x3"), (1, "dil_conv_3x3")),
    ((0, "max_pool_3x3"), (2, "sep_conv_5x5")),
    ((1, "skip_connect"), (3, "avg_pool_3x3")),
]
DARTS_CHANNELS = 16
DARTS_CELLS = 2
DARTS_CANDIDATE: dict[str, Any] = {}
for _node, _edges in enumerate(DARTS_GENOTYPE):
    DARTS_CANDIDATE[f"node{_node}_inputs"] = tuple(source for source, _ in _edges)
    for _source, _operation in _edges:
        DARTS_CANDIDATE[f"node{_node}_edge{_source}"] = _operation


class HandCell(nn.Module):
    """One DARTS cell, written as in the DARTS code: 1x1 preprocessing, node sums, concat of the nodes."""

    def __init__(self, previous_channels: int, current_channels: int, channels: int, genotype: list) -> None:
        super().__init__()
        self.genotype = genotype
        self.pre0 = nn.Conv2d(previous_channels, channels, 1)
        self.pre1 = nn.Conv2d(current_channels, channels, 1)
        self.edges = nn.ModuleDict(
            {
                f"node{node}_input{source}": darts_operation(operation, channels)
                for node, edges in enumerate(genotype)
                for source, operation in edges
            }
        )

    def forward(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(previous), self.pre1(current)]
        for node, ((first, _), (second, _)) in enumerate(self.genotype):
            states.append(
                self.edges[f"node{node}_input{first}"](states[first])
                + self.edges[f"node{node}_input{second}"](states[second])
            )
        return torch.cat(states[2:], dim=1)


class HandDarts(nn.Module):
    """darts_cell: stem conv-bn, two cells of one genotype, global average pool, linear."""

    def __init__(self, channels_in: int, channels: int, cells: int, outputs: int, genotype: list) -> None:
        super().__init__()
        self.stem_conv = nn.Conv2d(channels_in, channels, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(channels)
        concatenated = channels * len(genotype)
        self.cells = nn.ModuleList(
            HandCell(channels, channels if index == 0 else concatenated, channels, genotype) for index in range(cells)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(concatenated, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        previous = current = self.stem_bn(self.stem_conv(x))
        for cell in self.cells:
            previous, current = current, cell(previous, current)
        return self.classifier(torch.flatten(self.pool(current), 1))

    def compiled_key(self, key: str) -> str:
        prefixes = {"stem_conv.": "conv2d.", "stem_bn.": "batchnorm.", "classifier.": "linear."}
        for prefix, replacement in prefixes.items():
            if key.startswith(prefix):
                return replacement + key[len(prefix) :]
        match = re.fullmatch(r"cells\.(\d+)\.pre([01])\.(.*)", key)
        if match:
            return f"cell{match[1]}__conv2d{'_1' if match[2] == '1' else ''}.{match[3]}"
        match = re.fullmatch(r"cells\.(\d+)\.edges\.node(\d+)_input(\d+)\.(\d+)\.(.*)", key)
        if match:
            cell, node, source, index, rest = match.groups()
            operation = dict(DARTS_GENOTYPE[int(node)])[int(source)]
            # positions in the hand Sequential -> op names in the compiled graph (second use gets "_1")
            names = {"1": "separable_conv", "2": "batchnorm", "4": "separable_conv_1", "5": "batchnorm_1"}
            return f"cell{cell}__node{node}__input_{source}__op__{operation}__{names[index]}.{rest}"
        raise KeyError(key)


def copy_weights(compiled: nn.Module, hand: nn.Module, compiled_key: Callable[[str], str]) -> None:
    """Load the compiled network's state into the hand one through the name map; every key must match."""
    source = compiled.state_dict()
    mapped = {key: compiled_key(key) for key in hand.state_dict()}
    unmatched = set(source) ^ set(mapped.values())
    if unmatched:
        raise AssertionError(f"state dicts do not correspond: {sorted(unmatched)}")
    hand.load_state_dict({key: source[compiled_name] for key, compiled_name in mapped.items()})


def train_step(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> Callable[[int], None]:
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def steps(count: int) -> None:
        for _ in range(count):
            optimiser.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            optimiser.step()

    return steps


def compare_train_steps(
    label: str,
    space: SearchSpace,
    candidate: dict[str, Any],
    input_shape: tuple[int, ...],
    hand: nn.Module,
    compiled_key: Callable[[str], str],
    rounds: int,
    block_seconds: float,
) -> dict[str, Any]:
    torch.manual_seed(0)
    compiled = compile_architecture(space.replay(candidate), input_shape, OUTPUTS)
    module = compiled.module
    hand_parameters = sum(parameter.numel() for parameter in hand.parameters())
    if hand_parameters != compiled.parameter_count:
        raise AssertionError(f"{label}: {compiled.parameter_count} parameters compiled, {hand_parameters} by hand")
    copy_weights(module, hand, compiled_key)
    inputs = torch.randn(BATCH, *input_shape)
    targets = torch.randint(0, OUTPUTS, (BATCH,))
    module.eval()
    hand.eval()
    with torch.no_grad():
        difference = (module(inputs) - hand(inputs)).abs().max().item()
    if difference > 1e-5:
        raise AssertionError(f"{label}: compiled and hand outputs differ by {difference}")

    run_compiled = train_step(module, inputs, targets)
    run_hand = train_step(hand, inputs, targets)
    run_compiled(5)
    run_hand(5)
    started = time.perf_counter()
    run_hand(10)
    per_step = (time.perf_counter() - started) / 10
    steps = max(5, int(block_seconds / per_step))
    seconds = interleaved({"compiled": lambda: run_compiled(steps), "hand": lambda: run_hand(steps)}, rounds)
    ratios = [hand_time / compiled_time for compiled_time, hand_time in zip(seconds["compiled"], seconds["hand"])]
    return {
        "candidate": label,
        "space": space.name,
        "parameters": compiled.parameter_count,
        "max_output_difference": difference,
        "steps_per_round": steps,
        "rounds": rounds,
        "compiled_steps_per_second": steps / median(seconds["compiled"]),
        "hand_steps_per_second": steps / median(seconds["hand"]),
        "ratio": median_ratio(seconds["hand"], seconds["compiled"]),
        "ratio_min_max": list(spread(ratios)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (fewer samples and rounds)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads for the train steps (1)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per train-step comparison")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    samples, compiles = (50, 10) if arguments.quick else (300, 40)
    rounds = arguments.rounds or (5 if arguments.quick else 21)
    block_seconds = 0.15 if arguments.quick else 0.3

    rates = [sampling_rates(space, shape, samples, compiles) for space, shape in SPACES]
    table(
        "Sampling and compiling (CPU)",
        ["space", "input", "sampled / s", "sampled+compiled / s", "first compile s", "median parameters"],
        [
            [
                rate["space"],
                str(tuple(rate["input_shape"])),
                rate["sampled_per_second"],
                rate["sampled_and_compiled_per_second"],
                rate["first_compile_seconds"],
                rate["median_parameters"],
            ]
            for rate in rates
        ],
    )

    channels = IMAGE_INPUT[0]
    darts = HandDarts(channels, DARTS_CHANNELS, DARTS_CELLS, OUTPUTS, DARTS_GENOTYPE)
    comparisons = [
        compare_train_steps(
            "mlp 256/128/64 gelu dropout",
            mlp,
            MLP_CANDIDATE,
            TABULAR_INPUT,
            HandMLP(TABULAR_INPUT[0], MLP_UNITS, OUTPUTS, MLP_DROPOUT),
            HandMLP.compiled_key,
            rounds,
            block_seconds,
        ),
        compare_train_steps(
            "cnn residual+plain, width 32",
            cnn,
            CNN_CANDIDATE,
            IMAGE_INPUT,
            HandCNN(channels, CNN_WIDTH, OUTPUTS),
            HandCNN.compiled_key,
            rounds,
            block_seconds,
        ),
        compare_train_steps(
            "darts_cell 2 cells, 16 channels",
            darts_cell,
            DARTS_CANDIDATE,
            IMAGE_INPUT,
            darts,
            darts.compiled_key,
            rounds,
            block_seconds,
        ),
    ]
    table(
        f"Train step, compiled / hand-written (batch {BATCH}, Adam, {arguments.threads} thread(s); goal >= 0.97)",
        ["candidate", "parameters", "compiled steps / s", "hand steps / s", "ratio (median)", "ratio min..max"],
        [
            [
                row["candidate"],
                row["parameters"],
                row["compiled_steps_per_second"],
                row["hand_steps_per_second"],
                row["ratio"],
                f"{row['ratio_min_max'][0]:.3f}..{row['ratio_min_max'][1]:.3f}",
            ]
            for row in comparisons
        ],
    )
    write_results(
        "compile",
        {
            "quick": arguments.quick,
            "threads": arguments.threads,
            "batch": BATCH,
            "goal_ratio": 0.97,
            "sampling": rates,
            "train_step": comparisons,
        },
    )


if __name__ == "__main__":
    main()
