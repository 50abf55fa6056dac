"""From a :class:`SearchConfig` to the objects a search runs on: the space, the data splits, the evaluator.

Shared by ``automl.search`` and ``export`` so a study's trials are rebuilt
exactly the way they were searched.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automl.data import Dataset, DataSplits, load_dataset, split_dataset
from automl.engine.config import SearchConfig, SearchSetupError, arrays_hash, source_hash
from automl.engine.constraints import parse_constraints
from automl.engine.evaluation import Evaluator, Objective
from automl.engine.objectives import needs_latency
from automl.engine.space_loader import load_space
from automl.space import SearchSpace


def resolve_space(space: SearchSpace | str) -> tuple[SearchSpace, str, str | None]:
    """The space, its reference (a file path, or ``python:<name>``) and the hash of its source."""
    if isinstance(space, str):
        path_text, separator, function = space.partition(":")
        path = Path(path_text)
        loaded = load_space(space)
        reference = str(path.resolve()) + (separator + function if separator else "")
        return loaded, reference, source_hash(path.read_text())
    if not isinstance(space, SearchSpace):
        raise SearchSetupError(f"space must be a @search_space function or a file path, not {type(space).__name__}")
    try:
        text = inspect.getsource(space.function) + repr(sorted(space.options.items()))
    except (OSError, TypeError):
        text = None
    return space, f"python:{space.name}", None if text is None else source_hash(text)


def load_splits(
    data: Any, config: SearchConfig, datasets: Mapping[str, Any]
) -> tuple[DataSplits | None, str | None, str | None, str | None]:
    """The splits, the data's reference, its hash and a description; all None without data."""
    if data is None:
        return None, None, None, None
    if isinstance(data, DataSplits):
        parts = [part for split in (data.train, data.validation, data.test) for part in (split.features, split.target)]
        return data, "python:splits", arrays_hash(*parts), "splits given in Python"
    reference = None
    if isinstance(data, (str, Path)):
        reference = str(data)
        data = load_dataset(reference, target=config.target, seed=config.seed, datasets=datasets)
        # a file or an image folder is stored by its absolute path, so resume and export find it from anywhere;
        # a built-in name stays a name (it wins over a folder of the same name)
        if reference not in (datasets or {}) and Path(reference).exists():
            reference = str(Path(reference).resolve())
    if not isinstance(data, Dataset):
        raise SearchSetupError(f"data must be a data set name, a file path, a Dataset or DataSplits, not {type(data)}")
    data_hash = arrays_hash(data.features, data.target)
    splits = split_dataset(
        data, validation_fraction=config.validation_fraction, test_fraction=config.test_fraction, seed=config.seed
    )
    return splits, reference or f"python:{data.name}", data_hash, data.describe()


def _feature_order(ranking_features: list[str] | None, splits: DataSplits | None) -> list[int] | None:
    if ranking_features is None or splits is None:
        return None
    position = {name: index for index, name in enumerate(splits.feature_names)}
    return [position[name] for name in ranking_features]


def build_evaluator(
    config: SearchConfig,
    space: SearchSpace,
    splits: DataSplits | None,
    plugins: Any,
    objective: Objective | None = None,
    ranked_features: list[str] | None = None,
) -> Evaluator:
    """The evaluator a config describes, for the search and for export alike."""
    return Evaluator(
        space=bind_categories(space, splits, ranked_features),
        splits=splits,
        settings=config.training,
        op_registry=plugins.op_registry(),
        device=config.device,
        objective=objective,
        max_parameters=config.max_parameters,
        constraints=parse_constraints(config.constraints, any_metric=objective is not None),
        measure_latency=True if needs_latency(config.objective_metrics()) else None,
        trial_seconds=config.trial_seconds,
        direction=config.direction,
        feature_order=_feature_order(ranked_features, splits),
        fidelity=config.fidelity_settings(),
    )


def bind_categories(space: SearchSpace, splits: DataSplits | None, ranked_features: list[str] | None) -> SearchSpace:
    """The space with the data's categorical columns bound to its ``categories`` option, when it has one.

    A space opts in with a keyword-only parameter ``categories`` (``search_spaces/tabular.py``),
    passed on to ``s.op.embedding``; it is a constant, not a decision, so the strategy's candidates
    are the same with or without it. One the user bound keeps its value.
    """
    if splits is None or not splits.categorical_columns or "categories" in space.options:
        return space
    parameter = inspect.signature(space.function).parameters.get("categories")
    if parameter is None or parameter.kind is not parameter.KEYWORD_ONLY:
        return space
    if ranked_features is not None:
        raise SearchSetupError(
            f"space {space.name!r} embeds categorical columns by position, which keep_features would move; "
            "drop --rank-features, or bind categories yourself"
        )
    return space.bind(categories=splits.categorical_columns)
