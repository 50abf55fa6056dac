"""A deep tree: an Or between a 1-3 layer MLP (per-layer width and activation) and a narrow branch.

1,662 architectures, all choices finite, trained on digits (flattened) for 10
epochs of Adam (lr 1e-3, batch 64). The key is the candidate's own JSON key.
"""

from __future__ import annotations

from typing import Any

from automl import space as s
from automl.space import Candidate
from benchmarks.tables.lookup import LookupTable, enumerate_candidates, train_and_score

RECIPE = {"epochs": 10, "batch_size": 64, "optimizer": "Adam", "learning_rate": 1e-3, "data": "digits, flat"}


@s.search_space
def digits_tree(x: Any) -> Any:
    """1,662 architectures: an Or of a deep and a narrow branch, then an optional dropout."""

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([16, 64, 256]))
        return s.op.activation(x, kind=s.Choice(["relu", "tanh", "sigmoid"]))

    def deep(x: Any) -> Any:
        return s.Repeat(layer, times=s.Int(1, 3))(x)

    def narrow(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([4, 8, 16, 32]))
        x = s.op.activation(x, kind="relu")
        return s.Optional(lambda x: s.op.dropout(x, p=s.Choice([0.1, 0.5])))(x)

    x = s.Or({"deep": deep, "narrow": narrow})(x)
    x = s.Optional(lambda x: s.op.dropout(x, p=0.3))(x)
    return s.op.linear(x, units=s.OUTPUTS)


def key(candidate: Candidate) -> str:
    return candidate.key


def entries() -> list[str]:
    return [candidate.key for candidate in enumerate_candidates(digits_tree)]


def train(entry: str) -> float:
    from automl.nn import compile_architecture

    candidate = Candidate.from_json(entry)
    module = compile_architecture(digits_tree.replay(candidate), (64,), num_outputs=10).module
    return train_and_score(module, images=False, epochs=10, batch_size=64, learning_rate=1e-3)


TABLE = LookupTable(
    name="digits_tree",
    space=digits_tree,
    description="an Or of a deep MLP branch (1-3 layers, width and activation per layer) and a narrow branch",
    recipe=RECIPE,
    key=key,
    entries=entries,
    train=train,
)
