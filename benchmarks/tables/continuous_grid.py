"""Continuous and integer hyperparameters, searched over their ranges and read from a grid of bins.

The strategies see real ranges (a log-scaled learning rate, a log-scaled int
width, an int depth, a batch size, and an optional dropout whose rate exists
only when the dropout does); the table holds one trained entry per bin of each
range (8 learning-rate bins, 6 width bins, 5 dropout settings: absent or one of
4 rate bins) and a proposed value is read from the bin it falls in, as
tabular HPO benchmarks do (Klein & Hutter, 2019). 8 x 3 x 6 x 3 x 5 = 2,160
entries; an MLP on digits (flattened), Adam for 5 epochs, the trained value at
each bin's centre.
"""

from __future__ import annotations

import itertools
from typing import Any

from automl import space as s
from automl.space import Candidate
from benchmarks.tables.lookup import LookupTable, bin_index, bin_value, train_and_score

LEARNING_RATE = s.Float(1e-4, 3e-1, log=True, name="learning_rate")
BATCH_SIZE = s.Choice([16, 64, 256], name="batch_size")
WIDTH = s.Int(16, 512, log=True, name="width")
DEPTH = s.Int(1, 3, name="depth")
DROPOUT = s.Float(0.05, 0.6, name="rate")
BINS = {"learning_rate": 8, "width": 6, "rate": 4}
EPOCHS = 5
RECIPE = {"epochs": EPOCHS, "optimizer": "Adam", "bins": BINS, "data": "digits, flat"}


@s.search_space
def continuous_grid(x: Any) -> Any:
    x = s.training(x, learning_rate=LEARNING_RATE, batch_size=BATCH_SIZE)

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=WIDTH)
        return s.op.activation(x, kind="relu")

    x = s.Repeat(layer, times=DEPTH, name="layers")(x)
    x = s.Optional(lambda x: s.op.dropout(x, p=DROPOUT), name="dropout")(x)
    return s.op.linear(x, units=s.OUTPUTS)


def key(candidate: Candidate) -> str:
    """``"<lr bin>,<batch size>,<width bin>,<depth>,<dropout: - or its rate bin>"``."""
    rate = "-"
    if candidate["dropout.present"]:
        rate = str(bin_index(DROPOUT, candidate["rate"], BINS["rate"]))
    return ",".join(
        [
            str(bin_index(LEARNING_RATE, candidate["learning_rate"], BINS["learning_rate"])),
            str(candidate["batch_size"]),
            str(bin_index(WIDTH, candidate["width"], BINS["width"])),
            str(candidate["depth"]),
            rate,
        ]
    )


def entries() -> list[str]:
    rates = ["-", *map(str, range(BINS["rate"]))]
    grid = itertools.product(
        range(BINS["learning_rate"]), BATCH_SIZE.values, range(BINS["width"]), range(DEPTH.low, DEPTH.high + 1), rates
    )
    return [",".join(map(str, entry)) for entry in grid]


def train(entry: str) -> float:
    import torch

    learning_rate, batch_size, width, depth, rate = entry.split(",")
    units = int(bin_value(WIDTH, int(width), BINS["width"]))
    layers: list[torch.nn.Module] = []
    inputs = 64
    for _ in range(int(depth)):
        layers += [torch.nn.Linear(inputs, units), torch.nn.ReLU()]
        inputs = units
    if rate != "-":
        layers.append(torch.nn.Dropout(bin_value(DROPOUT, int(rate), BINS["rate"])))
    layers.append(torch.nn.Linear(inputs, 10))
    return train_and_score(
        torch.nn.Sequential(*layers),
        images=False,
        epochs=EPOCHS,
        batch_size=int(batch_size),
        learning_rate=bin_value(LEARNING_RATE, int(learning_rate), BINS["learning_rate"]),
    )


TABLE = LookupTable(
    name="continuous_grid",
    space=continuous_grid,
    description="an MLP's learning rate, batch size, width, depth and optional dropout rate, read from a grid of bins",
    recipe=RECIPE,
    key=key,
    entries=entries,
    train=train,
)
