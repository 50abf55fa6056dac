"""Export a trial's trained model: weights, architecture JSON and a ``torch.export`` program.

The program (``model.pt2``) loads with ``torch.export.load(path).module()``
and needs neither the space file nor automl. When the study kept no weights for
the trial, it is retrained with its own seed, which reproduces it. The helpers
(:func:`trained_model`, :func:`describe`, :func:`save_program`) serve the
ensemble export too (:mod:`automl.engine.ensemble_export`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import torch

from automl.engine.assembly import build_evaluator, load_splits
from automl.engine.config import SearchConfig, SearchSetupError, source_hash
from automl.engine.evaluation import BuiltCandidate, Evaluator, TrialPlan
from automl.engine.search import weights_path
from automl.engine.space_loader import load_space
from automl.engine.storage import COMPLETE, StudyError, Trial
from automl.engine.study import Study
from automl.plugins import load_plugins
from automl.space import OUTPUTS


def _plain(value: Any) -> Any:
    if value is OUTPUTS:
        return "OUTPUTS"
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def evaluator_of(study: Study) -> Evaluator:
    """The evaluator the study's search used, rebuilt from its stored configuration.

    The space file and the data must be the ones searched: a changed source or
    data hash is refused, since the trial's candidate and weights would not match.
    """
    meta = study.meta
    if "config" not in meta:
        raise StudyError(f"study {study.path} has no stored search configuration (made by an older automl)")
    config = SearchConfig.from_dict(meta["config"])
    if config.objective is not None or meta.get("input_shape") is None:
        raise StudyError(f"study {study.path} scored candidates with a custom objective; there is no model to export")
    for what, reference in (("space", config.space), ("data", config.data)):
        if reference is None or reference.startswith("python:"):
            raise StudyError(
                f"study {study.path}: its {what} was given as a Python object, which export cannot load again; "
                "call automl.engine.export.export_trial(study, trial, output, evaluator=...) with it"
            )
    plugins = load_plugins()
    space_file = Path(config.space.partition(":")[0])
    if not space_file.is_file():
        raise StudyError(f"study {study.path}: its space file {space_file} is gone; restore it to export")
    if config.space_hash is not None and source_hash(space_file.read_text()) != config.space_hash:
        raise StudyError(f"study {study.path}: its space file {space_file} changed since the search; restore it")
    space = load_space(config.space)
    try:
        splits, _, data_hash, _ = load_splits(config.data, config, plugins.datasets())
    except SearchSetupError as error:
        raise StudyError(f"study {study.path}: {error}") from None
    if config.data_hash is not None and data_hash != config.data_hash:
        raise StudyError(f"study {study.path}: its data {config.data} changed since the search; restore it")
    ranking = meta.get("feature_ranking")
    ranked = [row["feature"] for row in ranking] if ranking else None
    return build_evaluator(config, space, splits, plugins, None, ranked)


def trained_model(study: Study, evaluator: Evaluator, trial: Trial) -> tuple[BuiltCandidate, bool]:
    """Trial ``trial``'s model with its trained weights, in eval mode, and whether it had to be retrained.

    A search keeps the weights of its best trial only; any other trial is
    retrained with its own seed to its budget, which reproduces it (a continued
    trial's too).
    """
    built = evaluator.build(trial.candidate, trial.budget)
    stored = weights_path(study, trial.number)
    retrained = not stored.exists()
    if retrained:
        result, state = evaluator(trial.candidate, trial.seed, TrialPlan(budget=trial.budget))
        if state is None:
            raise StudyError(f"retraining trial {trial.number} failed: {result.error}")
    else:
        state = torch.load(stored, weights_only=True)
    built.compiled.module.load_state_dict(state)
    built.compiled.module.eval()
    return built, retrained


def describe(study: Study, trial: Trial, built: BuiltCandidate) -> dict[str, Any]:
    """The architecture JSON of a trial's model: what it is, what it takes, and the graph of its layers."""
    meta = study.meta
    graph = nx.node_link_data(built.architecture.to_networkx(), edges="edges")
    for node in graph["nodes"]:
        node["hyperparameters"] = {key: _plain(value) for key, value in node["hyperparameters"].items()}
    return {
        "space": meta["space"],
        "trial": trial.number,
        "validation_score": trial.score,
        "test_score": meta.get("test_score") if meta.get("test_trial") == trial.number else None,
        "candidate": trial.candidate.to_dict(),
        "input_shape": list(built.splits.input_shape),
        "num_outputs": built.splits.num_outputs,
        "task": meta.get("task"),
        "feature_names": list(built.splits.feature_names),
        "standardisation": meta.get("standardisation"),
        "graph": graph,
    }


def save_program(module: torch.nn.Module, input_shape: tuple[int, ...], input_name: str, path: Path) -> None:
    """``torch.export`` ``module`` to ``path``, with a dynamic batch size where its ops allow one."""
    example = torch.zeros((2, *input_shape))
    try:
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(module, (example,), dynamic_shapes={input_name: {0: batch}})
    except Exception:  # some ops specialise the batch size; a fixed-size program still loads anywhere
        program = torch.export.export(module, (example,))
    torch.export.save(program, path)


def refuse_non_empty(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise StudyError(f"export folder {output} exists and is not empty; give a new or empty folder with -o")


def export_trial(
    study: Study, trial_number: int | None, output: Path, evaluator: Evaluator | None = None
) -> dict[str, Path]:
    meta = study.meta
    if meta.get("input_shape") is None:
        raise StudyError(f"study {study.path} scored candidates with a custom objective; there is no model to export")
    trial = study.best_trial if trial_number is None else study.storage.trial(trial_number)
    if trial is None or trial.status != COMPLETE:
        which = "no completed trial" if trial is None else f"trial {trial.number} is {trial.status.value}"
        raise StudyError(f"study {study.path} has {which}; pick a completed one with --trial")
    refuse_non_empty(output)
    evaluator = evaluator or evaluator_of(study)
    built, _ = trained_model(study, evaluator, trial)
    compiled = built.compiled

    output.mkdir(parents=True, exist_ok=True)
    written = {"weights": output / "state_dict.pt", "architecture": output / "architecture.json"}
    torch.save(compiled.module.state_dict(), written["weights"])
    written["architecture"].write_text(json.dumps(describe(study, trial, built), indent=1, default=str))
    written["program"] = output / "model.pt2"
    input_name = next(iter(compiled.input_shapes))
    save_program(compiled.module, tuple(built.splits.input_shape), input_name, written["program"])
    return written
