"""``s.op.embedding``: categorical index columns become learnt vectors next to the numeric columns."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import automl
from automl import space as s
from automl.data import Dataset, split_dataset
from automl.engine.assembly import bind_categories
from automl.engine.config import SearchSetupError
from automl.engine.space_loader import load_space
from automl.nn import CompileError, compile_architecture
from automl.nn.embedding import CategoricalEmbedding

TABULAR = Path(__file__).resolve().parents[2] / "search_spaces" / "tabular.py"


def categorical_table(rows: int = 120, seed: int = 0) -> Dataset:
    """Two numeric columns and two categorical ones, the target depending on both kinds."""
    generator = np.random.default_rng(seed)
    colour = generator.integers(0, 3, rows)
    size = generator.integers(0, 5, rows)
    height = generator.normal(size=rows)
    weight = generator.normal(size=rows)
    target = ((colour == 1) ^ (height > 0)).astype(np.int64)
    features = np.column_stack([height, colour, weight, size])
    categories = {"colour": ["blue", "red", "green"], "size": ["xs", "s", "m", "l", "xl"]}
    return Dataset(
        "shapes", features, target, "classification", ["height", "colour", "weight", "size"], None, categories
    )


@s.search_space
def embedded(x, *, categories=()):
    x = s.op.embedding(x, size=s.Choice([2, 8], name="embedding_size"), categories=categories)
    return s.op.linear(x, units=s.OUTPUTS)


def test_compile_and_forward_on_a_table_with_categorical_columns() -> None:
    splits = split_dataset(categorical_table(), seed=0)
    assert splits.categorical_columns == [(1, 4), (3, 6)]
    space = bind_categories(load_space(str(TABULAR)), splits, None)
    compiled = compile_architecture(space.default(), splits.input_shape, num_outputs=splits.num_outputs)
    embeddings = [module for module in compiled.module.modules() if isinstance(module, CategoricalEmbedding)]
    assert len(embeddings) == 1
    assert [table.num_embeddings for table in embeddings[0].tables] == [4, 6]
    compiled.module.eval()
    logits = compiled.module(torch.from_numpy(splits.validation.features))
    assert logits.shape == (splits.validation.rows, 2)
    assert torch.isfinite(logits).all()


def test_the_embedding_size_decision_changes_the_parameter_count() -> None:
    space = embedded.bind(categories=[(1, 4), (3, 6)])
    counts = {}
    for size in (2, 8):
        compiled = compile_architecture(space.replay({"embedding_size": size}), (4,), num_outputs=3)
        counts[size] = compiled.parameter_count
        # two numeric columns and two vectors of `size` feed the output layer
        assert compiled.output_shapes == [(3,)]
        assert counts[size] == (4 + 6) * size + (2 + 2 * size) * 3 + 3
    assert counts[8] > counts[2]


def test_the_unknown_index_has_a_vector_of_its_own() -> None:
    module = CategoricalEmbedding(3, [(0, 4)], size=2)
    rows = torch.tensor([[0.0, 1.5, -1.0], [3.0, 1.5, -1.0]])
    out = module(rows)
    assert out.shape == (2, 4)
    assert torch.equal(out[:, :2], rows[:, 1:])
    assert not torch.equal(out[0, 2:], out[1, 2:])


def test_without_categorical_columns_the_op_passes_the_input_through() -> None:
    compiled = compile_architecture(embedded.replay({"embedding_size": 8}), (4,), num_outputs=3)
    assert compiled.parameter_count == 4 * 3 + 3


def test_bad_categories_name_the_op() -> None:
    with pytest.raises(CompileError, match=r"embedding.*column 7"):
        compile_architecture(embedded.bind(categories=[(7, 3)]).replay({"embedding_size": 2}), (4,), num_outputs=3)


def test_a_small_search_on_a_csv_with_categorical_columns_finishes(tmp_path: Path) -> None:
    dataset = categorical_table(rows=150, seed=1)
    frame = pd.DataFrame(dataset.features, columns=dataset.feature_names)
    frame["colour"] = np.array(dataset.categories["colour"])[frame["colour"].astype(int)]
    frame["size"] = np.array(dataset.categories["size"])[frame["size"].astype(int)]
    frame.loc[[3, 40], "height"] = np.nan
    frame["label"] = dataset.target
    path = tmp_path / "shapes.csv"
    frame.to_csv(path, index=False)
    study = automl.search(str(TABULAR), str(path), target="label", trials=3, epochs=2, seed=0, study=tmp_path / "s.db")
    assert [trial.status for trial in study.trials] == ["complete"] * 3
    splits = split_dataset(automl.data.load_file(path, "label"), seed=0)
    space = bind_categories(load_space(str(TABULAR)), splits, None)
    for trial in study.trials:
        # the trained model is the one with embeddings: its size is what compiling with the categories gives
        compiled = compile_architecture(space.replay(trial.candidate), splits.input_shape, splits.num_outputs)
        assert trial.metrics["parameters"] == compiled.parameter_count
        assert 0.0 <= trial.score <= 1.0


def test_bind_categories_only_fills_an_unbound_categories_option() -> None:
    splits = split_dataset(categorical_table(), seed=0)
    assert bind_categories(embedded, splits, None).options == {"categories": [(1, 4), (3, 6)]}
    mine = embedded.bind(categories=[(1, 4)])
    assert bind_categories(mine, splits, None) is mine

    @s.search_space
    def plain(x):
        return s.op.linear(x, units=s.OUTPUTS)

    assert bind_categories(plain, splits, None) is plain
    numeric = split_dataset(dataclasses.replace(categorical_table(), categories=None), seed=0)
    assert bind_categories(embedded, numeric, None) is embedded


def test_embedding_by_position_and_feature_ranking_do_not_mix() -> None:
    splits = split_dataset(categorical_table(), seed=0)
    with pytest.raises(SearchSetupError, match="keep_features"):
        bind_categories(embedded, splits, ["height", "colour"])
