"""What one automl trial becomes in MLflow: params, tags and metrics, within MLflow's limits.

Kept apart from the client calls so that the mapping is plain data in, plain data out: a
trial's decisions are its params (the run table's columns), where it stands (status, seed,
budget) its tags, and its learning curve and final numbers its metrics.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from automl.engine.constraints import as_number  # a finite number as a float, numpy scalars included

# MLflow's own limits (mlflow.utils.validation, unchanged since MLflow 2): a longer param or tag
# value, or a longer key, is refused, and the whole batch with it.
PARAM_VALUE_LIMIT = 6000
TAG_VALUE_LIMIT = 8000
KEY_LIMIT = 250

TRIAL_TAG = "automl.trial"  # the trial number: how a resumed search finds the run it logged before
STATUS_TAG = "automl.status"
CURVE_PREFIX = "curve/"  # per-epoch metrics, step = epoch
COSTS_PREFIX = "costs/"
CURVE_SKIPPED = frozenset({"epoch", "time"})  # the step and the timestamp of an epoch, not metrics
# Scalar trial metrics logged as they are; the score is logged with the objective's own sign.
FINAL_METRICS = ("validation_loss", "parameters", "epochs", "seconds", "cost", "features", "value")
NOT_LOGGED = frozenset({"curve", "costs", "objectives", "metric"})  # logged otherwise, or not a number

_KEY_CHARACTERS = re.compile(r"[^\w./\- :]")


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int
    timestamp_ms: int


def truncated(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a marker that says how long it was; short text unchanged.

    MLflow refuses a longer value outright; a cut value that says it was cut keeps the run.
    """
    if len(text) <= limit:
        return text
    marker = f"...[{len(text)} characters]"
    return text[: limit - len(marker)] + marker


def key_of(name: str) -> str:
    """A valid MLflow key for ``name``: characters MLflow refuses become ``_``, at most ``KEY_LIMIT`` long."""
    key = _KEY_CHARACTERS.sub("_", str(name))
    if not key or posixpath.normpath(key) != key or key.startswith(("/", "..")):
        key = key.replace("/", "_")  # a key is a file path in the file store: it must not resolve elsewhere
    if key in ("", ".", ".."):
        key = f"_{key}"
    return key[:KEY_LIMIT]


def value_text(value: Any) -> str:
    """A decision's value as a param: scalars as Python prints them, anything else as JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def params_of(trial: Any) -> dict[str, str]:
    """The trial's decisions, path -> value, as MLflow params."""
    decisions = trial.candidate.to_dict()
    return {key_of(path): truncated(value_text(value), PARAM_VALUE_LIMIT) for path, value in decisions.items()}


def _status(trial: Any) -> str:
    return getattr(trial.status, "value", str(trial.status))


def tags_of(trial: Any) -> dict[str, str]:
    """Where the trial stands: number, status, seed, budget (``full`` for the full budget), and why it failed."""
    tags = {
        TRIAL_TAG: str(trial.number),
        STATUS_TAG: _status(trial),
        "automl.seed": str(trial.seed),
        "automl.budget": "full" if trial.budget is None else f"{trial.budget:g}",
        "automl.attempts": str(trial.attempts),
    }
    if trial.continues is not None:
        tags["automl.continues"] = str(trial.continues)
    if trial.error:
        tags["automl.error"] = truncated(str(trial.error), TAG_VALUE_LIMIT)
    return tags


def metrics_of(trial: Any, objective_value: float | None) -> list[MetricPoint]:
    """The curve by epoch (``curve/score``, ``curve/validation_loss``...), then the final numbers at step 0:
    ``score`` (the objective's own sign), the trial's scalar metrics (a user objective's own ones too, such as
    the other objectives of a multi-objective search), and ``costs/<name>``."""
    finished_ms = int(1000 * (trial.finished or trial.started or 0))
    points = []
    for index, entry in enumerate(trial.metrics.get("curve") or []):
        step = int(entry.get("epoch", index + 1))
        timestamp = as_number(entry.get("time"))
        timestamp_ms = int(1000 * timestamp) if timestamp is not None else finished_ms
        for name, value in entry.items():
            number = as_number(value)
            if name not in CURVE_SKIPPED and number is not None:
                points.append(MetricPoint(key_of(CURVE_PREFIX + name), number, step, timestamp_ms))
    final = {"score": as_number(objective_value)}
    final.update({name: as_number(trial.metrics.get(name)) for name in FINAL_METRICS})
    final.update(
        {
            name: as_number(value)
            for name, value in trial.metrics.items()
            if name not in final and name not in NOT_LOGGED
        }
    )
    costs = trial.metrics.get("costs") or {}
    final.update({COSTS_PREFIX + name: as_number(value) for name, value in costs.items()})
    points.extend(
        MetricPoint(key_of(name), value, 0, finished_ms) for name, value in final.items() if value is not None
    )
    return points


def run_status(trial: Any) -> str:
    """MLflow's terminal status of a finished trial: FINISHED when it completed, KILLED when a scheduler
    pruned it, FAILED when it failed or broke a constraint (the exact status is the ``automl.status`` tag)."""
    return {"complete": "FINISHED", "pruned": "KILLED"}.get(_status(trial), "FAILED")
