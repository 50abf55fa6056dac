"""A NAS-Bench-201-shaped cell (Dong & Yang, ICLR 2020): 4 nodes, 6 edges, 5 operations each.

Node ``j`` sums one operation per edge from every earlier node ``i < j``; the
operations are those of NAS-Bench-201 (none, skip, ReLU-conv1x1-BN,
ReLU-conv3x3-BN, 3x3 average pooling), so all 5**6 = 15,625 cells exist and
every decision is present in every cell: a flat space, the shape on which
tree-walking strategies have no structure to exploit. The network is a 3x3 conv
stem (8 channels) + BN, one cell, ReLU, 4x4 average pooling to 2x2, and a linear
layer, trained on the digits images (8x8) for 4 epochs of Adam (lr 1e-2,
batch 128), seed 0.
"""

from __future__ import annotations

from typing import Any

from automl import space as s
from automl.space import Candidate
from benchmarks.tables.lookup import LookupTable, train_and_score

OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = tuple((source, target) for target in range(1, 4) for source in range(target))
CHANNELS = 8
RECIPE = {
    "epochs": 4,
    "batch_size": 128,
    "optimizer": "Adam",
    "learning_rate": 1e-2,
    "channels": CHANNELS,
    "data": "digits, 1x8x8 images",
}


def edge_operation(name: str, x: Any) -> Any:
    if name == "none":
        return s.op.zero(x)
    if name == "skip_connect":
        return s.op.identity(x)
    if name == "avg_pool_3x3":
        return s.op.avg_pool(x, kernel=3, stride=1, padding=1)
    x = s.op.relu(x)
    x = s.op.conv2d(x, filters=CHANNELS, kernel=1 if name == "nor_conv_1x1" else 3)
    return s.op.batchnorm(x)


@s.search_space
def flat_cell(x: Any) -> Any:
    """One decision per edge (``edge_<i>_<j>``), always present."""
    operation_of = {edge: s.Choice(list(OPERATIONS), name=f"edge_{edge[0]}_{edge[1]}") for edge in EDGES}
    x = s.op.conv2d(x, filters=CHANNELS, kernel=3)
    nodes = [s.op.batchnorm(x)]
    for target in range(1, 4):
        incoming = []
        for source in range(target):
            branches = {name: (lambda wire, name=name: edge_operation(name, wire)) for name in OPERATIONS}
            chosen = s.Or(branches, branch=operation_of[source, target], name=f"op_{source}_{target}")
            incoming.append(chosen(nodes[source]))
        nodes.append(s.op.add(incoming))
    x = s.op.relu(nodes[3])
    x = s.op.avg_pool(x, kernel=4, stride=4, padding=0)
    return s.op.linear(x, units=s.OUTPUTS)


def key(candidate: Candidate) -> str:
    """The operation of each edge, in edge order: ``"nor_conv_3x3|skip_connect|..."``."""
    return "|".join(str(candidate[f"edge_{source}_{target}"]) for source, target in EDGES)


def entries() -> list[str]:
    import itertools

    return ["|".join(operations) for operations in itertools.product(OPERATIONS, repeat=len(EDGES))]


def train(entry: str) -> float:
    from automl.nn import compile_architecture

    decisions = {f"edge_{source}_{target}": name for (source, target), name in zip(EDGES, entry.split("|"))}
    module = compile_architecture(flat_cell.replay(decisions), (1, 8, 8), num_outputs=10).module
    return train_and_score(module, images=True, epochs=4, batch_size=128, learning_rate=1e-2)


TABLE = LookupTable(
    name="flat_cell",
    space=flat_cell,
    description="NAS-Bench-201-shaped cell: 4 nodes, 6 edges, 5 operations (15,625 cells), a small CNN on digits",
    recipe=RECIPE,
    key=key,
    entries=entries,
    train=train,
)
