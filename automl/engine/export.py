"""Export a trial's trained model: weights, architecture JSON and a ``torch.export`` program.

The program (``model.pt2``) loads with ``torch.export.load(path).module()``
and needs neither the space file nor automl. When the study kept no weights for
the trial, it is retrained with its own seed, which reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import torch

from automl.data import load_dataset, split_dataset
from automl.engine.evaluation import Evaluator
from automl.engine.search import weights_path
from automl.engine.space_loader import load_space
from automl.engine.storage import COMPLETE, StudyError
from automl.engine.study import Study
from automl.nn import compile_architecture
from automl.plugins import load_plugins
from automl.space import OUTPUTS
from automl.training import TrainingSettings


def _plain(value: Any) -> Any:
    if value is OUTPUTS:
        return "OUTPUTS"
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def export_trial(study: Study, trial_number: int | None, output: Path) -> dict[str, Path]:
    meta = study.meta
    if meta.get("input_shape") is None:
        raise StudyError(f"study {study.path} scored candidates with a custom objective; there is no model to export")
    trial = study.best_trial if trial_number is None else study.storage.trial(trial_number)
    if trial is None or trial.status != COMPLETE:
        which = "no completed trial" if trial is None else f"trial {trial.number} is {trial.status}"
        raise StudyError(f"study {study.path} has {which}; pick a completed one with --trial")
    plugins = load_plugins()
    registry = plugins.op_registry()
    space = load_space(meta["space"])
    architecture = space.replay(trial.candidate)
    settings = TrainingSettings(**meta["training"]).updated(architecture.training_values())
    input_shape, features = tuple(meta["input_shape"]), meta.get("feature_names")
    if settings.keep_features is not None and meta.get("feature_ranking"):
        features = [row["feature"] for row in meta["feature_ranking"]][: int(settings.keep_features)]
        input_shape = (len(features),)
    compiled = compile_architecture(architecture, input_shape, meta["num_outputs"], registry)
    stored = weights_path(study, trial.number)
    if stored.exists():
        state = torch.load(stored, weights_only=True)
    else:
        state = _retrain(study, trial, space, registry, plugins)
    compiled.module.load_state_dict(state)
    compiled.module.eval()

    output.mkdir(parents=True, exist_ok=True)
    written = {"weights": output / "state_dict.pt", "architecture": output / "architecture.json"}
    torch.save(compiled.module.state_dict(), written["weights"])
    graph = nx.node_link_data(architecture.to_networkx(), edges="edges")
    for node in graph["nodes"]:
        node["hyperparameters"] = {key: _plain(value) for key, value in node["hyperparameters"].items()}
    description = {
        "space": meta["space"],
        "trial": trial.number,
        "validation_score": trial.score,
        "test_score": meta.get("test_score") if meta.get("test_trial") == trial.number else None,
        "candidate": trial.candidate.to_dict(),
        "input_shape": list(input_shape),
        "num_outputs": meta["num_outputs"],
        "task": meta.get("task"),
        "feature_names": features,
        "standardisation": meta.get("standardisation"),
        "graph": graph,
    }
    written["architecture"].write_text(json.dumps(description, indent=1, default=str))
    example = torch.zeros((2, *input_shape))
    input_name = next(iter(compiled.input_shapes))
    try:
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(compiled.module, (example,), dynamic_shapes={input_name: {0: batch}})
    except Exception:  # some ops specialise the batch size; a fixed-size program still loads anywhere
        program = torch.export.export(compiled.module, (example,))
    written["program"] = output / "model.pt2"
    torch.export.save(program, written["program"])
    return written


def _retrain(study: Study, trial: Any, space: Any, registry: Any, plugins: Any) -> dict[str, Any]:
    meta = study.meta
    if not meta.get("data_source"):
        raise StudyError(f"study {study.path} kept no weights for trial {trial.number} and no data source to retrain")
    dataset = load_dataset(
        meta["data_source"], target=meta.get("target"), seed=meta["seed"], datasets=plugins.datasets()
    )
    splits = split_dataset(
        dataset,
        validation_fraction=meta.get("validation_fraction", 0.2),
        test_fraction=meta.get("test_fraction", 0.2),
        seed=meta["seed"],
    )
    feature_order = None
    if meta.get("feature_ranking"):
        position = {name: index for index, name in enumerate(splits.feature_names)}
        feature_order = [position[row["feature"]] for row in meta["feature_ranking"]]
    evaluator = Evaluator(
        space=space,
        splits=splits,
        settings=TrainingSettings(**meta["training"]),
        op_registry=registry,
        device=meta.get("device", "auto"),
        feature_order=feature_order,
    )
    result, weights = evaluator(trial.candidate, trial.seed)
    if weights is None:
        raise StudyError(f"retraining trial {trial.number} failed: {result.error}")
    return weights
