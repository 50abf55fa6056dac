"""Several objectives: ``--objective accuracy:max --objective latency_ms:min``.

A search with several objectives looks for the Pareto front (no trial on it is
beaten on every objective by another) instead of one best trial, as Optuna's
multi-objective studies and SMAC's multi-objective facade do. Each objective is
a metric a trial records and a direction: the validation score (``score``, or
the task's metric name ``accuracy`` / ``r2``), ``validation_loss``, the training
``seconds``, a measured cost (``params``, ``flops``, ``latency_ms``,
``latency_batch_ms``, ``memory_mb``), or, with a user objective, a key of the
mapping it returns.

The engine reads each objective's value from a finished trial, stores the
values with it (``metrics["objectives"]``, in the user's units and signs) and
tells strategies ``TrialResult.values``: one number per objective, each to be
maximised (minimised ones negated), in the order given. The trial's ``score``
stays what training measured, so the best trial, the final test and every
single-objective tool keep their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from automl.engine.constraints import COST_NAMES, as_number

DIRECTIONS = {"max": "max", "maximize": "max", "maximise": "max", "min": "min", "minimize": "min", "minimise": "min"}
SCORE_NAMES = ("score", "accuracy", "r2")  # the validation score; accuracy/r2 name it by task
TRAINING_METRICS = ("validation_loss", "seconds")  # recorded by the built-in training, besides the costs
_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?::\s*([A-Za-z]*)\s*)?$")


class ObjectiveError(ValueError):
    """An objective that cannot be read: malformed, no direction, or a metric the search does not record."""


@dataclass(frozen=True)
class ObjectiveMetric:
    """One objective: a recorded metric and whether it is maximised (``max``) or minimised (``min``)."""

    name: str
    direction: str

    @property
    def text(self) -> str:
        return f"{self.name}:{self.direction}"

    @property
    def is_score(self) -> bool:
        return self.name in SCORE_NAMES

    def oriented(self, value: float) -> float:
        """The value as something to maximise (what strategies are told)."""
        return value if self.direction == "max" else -value


def parse_objective(text: str) -> ObjectiveMetric:
    """``"latency_ms:min"`` → ``ObjectiveMetric("latency_ms", "min")``; anything else is an ObjectiveError."""
    match = _PATTERN.match(str(text))
    if match is None:
        raise ObjectiveError(f"objective {text!r} is not NAME:max or NAME:min (e.g. accuracy:max, latency_ms:min)")
    name, direction = match.groups()
    if not direction:
        raise ObjectiveError(f"objective {text!r} has no direction; write {name}:max or {name}:min")
    if direction.lower() not in DIRECTIONS:
        raise ObjectiveError(f"objective {text!r}: direction {direction!r} is not max or min")
    return ObjectiveMetric(name, DIRECTIONS[direction.lower()])


def parse_objectives(texts: Iterable[str]) -> tuple[ObjectiveMetric, ...]:
    """Parse and check a search's objectives; one alone must be the score (it is the default)."""
    objectives = tuple(parse_objective(text) for text in texts)
    names = [objective.name for objective in objectives]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise ObjectiveError(f"objective {duplicate!r} is given twice; name each metric once")
    if sum(objective.is_score for objective in objectives) > 1:
        raise ObjectiveError(
            f"{', '.join(n for n in names if n in SCORE_NAMES)} all name the validation score; keep one"
        )
    if len(objectives) == 1 and not (objectives[0].is_score and objectives[0].direction == "max"):
        raise ObjectiveError(
            f"one objective {objectives[0].text!r} alone: the search maximises the validation score by default; "
            "give two or more --objective for a multi-objective search (e.g. accuracy:max and latency_ms:min)"
        )
    return objectives


def check_known(objectives: Iterable[ObjectiveMetric], task: str | None, user_objective: bool) -> None:
    """Refuse an objective the search will never record: a cost of a user objective, a metric of another task."""
    for objective in objectives:
        name = objective.name
        if user_objective:
            if name in ("accuracy", "r2"):
                raise ObjectiveError(
                    f"objective {objective.text!r}: a user objective's own value is 'score' (and its other metrics "
                    "are the keys of the mapping it returns)"
                )
            continue  # any key the objective returns; a trial without it fails with the keys it had
        if name == "score" or name in TRAINING_METRICS or name in COST_NAMES:
            continue
        metric = "accuracy" if task == "classification" else "r2"
        if name in SCORE_NAMES:
            if name != metric:
                raise ObjectiveError(f"objective {objective.text!r}: this {task} task's validation score is {metric}")
            continue
        known = ", ".join(("score", metric, *TRAINING_METRICS, *COST_NAMES))
        raise ObjectiveError(f"objective {objective.text!r}: unknown metric {name!r}; a trained trial records {known}")
    if not user_objective and objectives and not any(objective.is_score for objective in objectives):
        raise ObjectiveError(
            "no objective is the validation score: add accuracy:max (or r2:max), or the front ignores how good "
            "a network is"
        )


def needs_latency(objectives: Iterable[ObjectiveMetric]) -> bool:
    return any(objective.name in ("latency_ms", "latency_batch_ms") for objective in objectives)


def metric_value(name: str, score: float | None, metrics: Mapping[str, Any]) -> float | None:
    """The value of metric ``name`` a trial recorded, in its own units and sign; None when it has none.

    ``score`` is the value as the user sees it (a user objective's own sign).
    """
    if name in SCORE_NAMES:
        value: Any = score
    elif name in COST_NAMES and isinstance(metrics.get("costs"), Mapping):  # measured by the built-in training
        value = metrics["costs"].get(name)
    else:  # a user objective's own metric (which may be named like a cost)
        value = metrics.get(name)
    return as_number(value)


def objective_values(
    objectives: tuple[ObjectiveMetric, ...], score: float | None, metrics: Mapping[str, Any]
) -> tuple[list[float] | None, str | None]:
    """A finished trial's objective values (natural units), or None and why one is missing."""
    values = []
    for objective in objectives:
        value = metric_value(objective.name, score, metrics)
        if value is None:
            recorded = sorted(key for key in metrics if key not in ("curve", "costs", "objectives"))
            return None, (
                f"objective {objective.name!r} is not a finite number this trial recorded "
                f"(it recorded {', '.join(recorded) or 'nothing'})"
            )
        values.append(value)
    return values, None


def oriented_values(objectives: tuple[ObjectiveMetric, ...], values: Iterable[float]) -> tuple[float, ...]:
    """Natural values → one to maximise per objective (what strategies are told)."""
    return tuple(objective.oriented(float(value)) for objective, value in zip(objectives, values, strict=True))
