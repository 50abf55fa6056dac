"""The ``embedding`` op: categorical index columns of a table to learnt vectors, next to its numbers.

Entity embeddings (Guo & Berkhahn, 2016, "Entity Embeddings of Categorical Variables")
give each category of a column a vector of ``size`` learnt numbers instead of one
arbitrary code; the vectors of every categorical column are concatenated after the
numeric columns, so the layers that follow see a plain (features,) input.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from automl.nn.registry import CompileError, Shape


class CategoricalEmbedding(nn.Module):
    """(numeric columns, one ``size``-vector per categorical column), from one (features,) row of floats."""

    def __init__(self, features: int, categories: Sequence[tuple[int, int]], size: int) -> None:
        super().__init__()
        columns = [column for column, _ in categories]
        numeric = [column for column in range(features) if column not in set(columns)]
        self.register_buffer("categorical_columns", torch.tensor(columns, dtype=torch.long), persistent=False)
        self.register_buffer("numeric_columns", torch.tensor(numeric, dtype=torch.long), persistent=False)
        self.tables = nn.ModuleList(nn.Embedding(count, size) for _, count in categories)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        indices = rows.index_select(1, self.categorical_columns).long()
        parts = [rows.index_select(1, self.numeric_columns)]
        parts.extend(table(indices[:, position]) for position, table in enumerate(self.tables))
        return torch.cat(parts, dim=1)


def build_embedding(shapes: list[Shape], size: int, categories: Sequence[Sequence[int]] | None = ()) -> nn.Module:
    """The op for input (features,): ``categories`` lists (column, number of indices), as
    ``DataSplits.categorical_columns`` gives them; without any, the input passes through."""
    if len(shapes) != 1 or len(shapes[0]) != 1:
        raise CompileError(f"embedding needs one tabular input of shape (features,), got {shapes}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise CompileError(f"embedding size must be a positive int, got {size!r}")
    features = shapes[0][0]
    pairs: list[tuple[int, int]] = []
    for item in categories or ():
        if len(item) != 2:
            raise CompileError(f"embedding categories must be (column, number of indices) pairs, got {item!r}")
        column, count = int(item[0]), int(item[1])
        if not 0 <= column < features or count < 1:
            raise CompileError(
                f"embedding category column {column} with {count} indices does not fit an input of {features} features"
            )
        pairs.append((column, count))
    if len({column for column, _ in pairs}) != len(pairs):
        raise CompileError("embedding categories name a column twice")
    if not pairs:
        return nn.Identity()
    return CategoricalEmbedding(features, pairs, size)
