"""``SearchConfig``: everything that defines a search, in one frozen, typed value.

The CLI (flags and ``--config`` TOML) and ``automl.search(**keywords)`` build it
with :meth:`SearchConfig.from_options`; the study stores it whole; ``--resume``
compares it whole and refuses a difference in any field that changes what a
trial means (``fixed`` fields: the space and its source hash, the data and its
hash, target, splits, training, strategy, seed...), naming each field; fields
about how long and where the search runs (trials, time budget, workers, device)
may change on resume. ``export`` rebuilds the evaluator from it.

Like SMAC's ``Scenario``: one object holds the setup; unlike ad-hoc meta keys,
it is versioned and checked.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.training import TrainingSettings, TrainingSettingsError

CONFIG_VERSION = 2
# The flat names that go into ``training`` (the CLI's --epochs, --batch-size, --learning-rate ...).
TRAINING_FIELDS = tuple(item.name for item in dataclasses.fields(TrainingSettings))


class SearchSetupError(ValueError):
    """The search cannot start: a bad option value or combination."""


def _fixed(default: Any = None) -> Any:
    """A field that defines what a trial means: it must not change on --resume."""
    return field(default=default, metadata={"resume": "fixed"})


def _free(default: Any = None) -> Any:
    """A field about how the search runs: it may change on --resume."""
    return field(default=default, metadata={"resume": "free"})


@dataclass(frozen=True)
class SearchConfig:
    # --- what a trial means (fixed on resume)
    space: str = _fixed("")  # "path/to/space.py[:function]", or "python:<name>" for a space object
    space_hash: str | None = _fixed()  # sha256 of the space's source
    data: str | None = _fixed()  # a built-in name or a file path; "python:<description>" for objects
    data_hash: str | None = _fixed()  # sha256 of the loaded features and target
    target: str | None = _fixed()
    validation_fraction: float = _fixed(0.2)
    test_fraction: float = _fixed(0.2)
    training: TrainingSettings = field(default_factory=TrainingSettings, metadata={"resume": "fixed"})
    max_parameters: int | None = _fixed()
    # bounds on measured costs, e.g. ("params<=100k", "latency_ms<2"): they decide which trials train
    constraints: tuple[str, ...] = field(default=(), metadata={"resume": "fixed"})
    # several objectives, e.g. ("accuracy:max", "latency_ms:min"); empty: maximise the validation score
    objectives: tuple[str, ...] = field(default=(), metadata={"resume": "fixed"})
    rank_features: str | None = _fixed()
    keep: int | None = _fixed()
    objective: str | None = _fixed()  # qualified name of a user objective, when there is one
    direction: str = _fixed("maximize")
    strategy: str = _fixed("tpe")
    strategy_options: Mapping[str, Any] = field(default_factory=dict, metadata={"resume": "fixed"})
    seed: int = _fixed(0)
    # multi-fidelity: what a budget measures, its range, the schedule that spends it, pruning
    fidelity: str | None = _fixed()  # "epochs" or "rows"; set by itself when a schedule or pruning needs one
    min_budget: float | None = _fixed()  # [1 epoch; 1/eta**2 of the rows]
    max_budget: float | None = _fixed()  # the full budget [the training epochs; all rows (1.0)]
    eta: int = _fixed(3)
    multi_fidelity: str | None = _fixed()  # "successive-halving", "hyperband" or "asha"
    prune: str | None = _fixed()  # "median" or "percentile"
    prune_percentile: float = _fixed(50.0)
    prune_warmup: int = _fixed(1)  # no trial is pruned before this epoch
    prune_min_trials: int = _fixed(5)  # nor before this many completed trials reached that epoch
    # --- how the search runs (may change on resume)
    trials: int = _free(20)
    time_budget: float | None = _free()
    device: str = _free("auto")
    workers: int = _free(1)
    scheduler: str | None = _free()
    trial_memory: str | int | None = _free()
    retries: int = _free(1)
    threads_per_worker: int = _free(1)
    max_infeasible: int = _free(50)  # the search stops after this many infeasible candidates in a row

    def __post_init__(self) -> None:
        problems = []
        if self.trials < 1:
            problems.append(f"trials must be at least 1, got {self.trials}")
        if self.time_budget is not None and not self.time_budget > 0:
            problems.append(f"time budget must be > 0 seconds, got {self.time_budget}")
        if self.training.seconds is not None and not self.training.seconds > 0:
            problems.append(f"trial seconds must be > 0, got {self.training.seconds}")
        if self.direction not in ("maximize", "minimize"):
            problems.append(f"direction must be 'maximize' or 'minimize', not {self.direction!r}")
        for name in ("validation_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                problems.append(f"{name.replace('_', ' ')} must be between 0 and 1, got {value}")
        if self.validation_fraction + self.test_fraction >= 1.0:
            problems.append("validation and test fractions leave no training rows; their sum must be below 1")
        if self.keep is not None and self.keep < 1:
            problems.append(f"keep must be at least 1 feature, got {self.keep}")
        if self.max_parameters is not None and self.max_parameters < 1:
            problems.append(f"max parameters must be at least 1, got {self.max_parameters}")
        if self.workers < 1:
            problems.append(f"workers must be at least 1, got {self.workers}")
        if self.retries < 0:
            problems.append(f"retries must be 0 or more, got {self.retries}")
        if self.threads_per_worker < 1:
            problems.append(f"threads per worker must be at least 1, got {self.threads_per_worker}")
        if self.scheduler is not None and self.workers != 1:
            problems.append("give workers or a scheduler address, not both: a cluster brings its own workers")
        if self.scheduler is not None and "://" not in self.scheduler:
            problems.append(f"scheduler address {self.scheduler!r} needs a protocol, e.g. tcp://127.0.0.1:8786")
        problems.extend(self._constraint_problems())
        problems.extend(self._objective_problems())
        problems.extend(self._fidelity_problems())
        if problems:
            raise SearchSetupError(problems[0])

    def _constraint_problems(self) -> list[str]:
        """Check the constraints (a tuple of their texts, however given) and the infeasible-run limit."""
        from automl.engine.constraints import ConstraintError, parse_constraint

        given = self.constraints
        texts = (given,) if isinstance(given, str) else tuple(str(text) for text in (given or ()))
        object.__setattr__(self, "constraints", texts)
        if self.max_infeasible < 1:
            return [f"max infeasible must be at least 1, got {self.max_infeasible}"]
        for text in texts:
            try:
                parse_constraint(text, any_metric=self.objective is not None)  # a user objective's own metrics
            except ConstraintError as error:
                return [str(error)]
        return []

    def _objective_problems(self) -> list[str]:
        """Check the objectives (a tuple of their texts, however given); stored as ``name:direction``."""
        from automl.engine.objectives import ObjectiveError, parse_objectives

        given = self.objectives
        texts = (given,) if isinstance(given, str) else tuple(str(text) for text in (given or ()))
        try:
            parsed = parse_objectives(texts)
        except ObjectiveError as error:
            return [str(error)]
        # one objective is the validation score (parse_objectives checks it): the same search as none
        object.__setattr__(self, "objectives", tuple(objective.text for objective in parsed) if len(parsed) > 1 else ())
        if len(parsed) > 1 and (self.multi_fidelity is not None or self.prune is not None):
            return [
                "several objectives with --multi-fidelity or --prune: budgets are promoted and trials stopped by "
                "one score; search the front at the full budget (drop those), or keep one objective"
            ]
        return []

    def objective_metrics(self) -> tuple[Any, ...]:
        """The parsed objectives (``ObjectiveMetric``); empty for a single-objective search."""
        from automl.engine.objectives import parse_objectives

        return parse_objectives(self.objectives) if len(self.objectives) > 1 else ()

    def _fidelity_problems(self) -> list[str]:
        """Check the multi-fidelity fields, and fill in their defaults (a frozen dataclass: via __setattr__)."""
        from automl.strategies.fidelity import FIDELITIES, fidelity_problems

        if self.prune is not None and self.prune not in ("median", "percentile"):
            return [f"prune {self.prune!r} is not one of median, percentile"]
        if self.prune == "median":
            object.__setattr__(self, "prune_percentile", 50.0)
        if not 0.0 < float(self.prune_percentile) < 100.0:
            return [f"prune percentile must be between 0 and 100, got {self.prune_percentile:g}"]
        if self.prune_warmup < 1 or self.prune_min_trials < 1:
            return ["prune warmup and prune min trials must be at least 1"]
        given = self.min_budget is not None or self.max_budget is not None
        if self.fidelity is None and (self.multi_fidelity is not None or given):
            object.__setattr__(self, "fidelity", "epochs")
        if self.fidelity is None:
            return []
        if self.fidelity not in FIDELITIES:
            return [f"fidelity {self.fidelity!r} is not one of {', '.join(FIDELITIES)}"]
        if self.prune is not None and self.fidelity == "rows":
            return ["pruning stops trials between epochs; it needs the epochs fidelity, not rows"]
        eta = self.eta
        if self.fidelity == "epochs":
            maximum = float(self.max_budget if self.max_budget is not None else self.training.epochs)
            minimum = float(self.min_budget if self.min_budget is not None else 1.0)
            if not float(maximum).is_integer() or not float(minimum).is_integer():
                return [f"with the epochs fidelity, budgets are whole epochs, got {minimum:g} to {maximum:g}"]
        else:
            maximum = float(self.max_budget if self.max_budget is not None else 1.0)
            minimum = float(self.min_budget if self.min_budget is not None else maximum / max(2, eta) ** 2)
            if maximum > 1.0:
                return [f"with the rows fidelity, the max budget is a share of the rows (at most 1), got {maximum:g}"]
        problems = fidelity_problems(self.fidelity, minimum, maximum, eta, self.multi_fidelity)
        if problems:
            return problems
        object.__setattr__(self, "min_budget", minimum)
        object.__setattr__(self, "max_budget", maximum)
        object.__setattr__(self, "eta", int(eta))
        if self.fidelity == "epochs" and self.training.epochs != int(maximum):
            object.__setattr__(self, "training", self.training.updated({"epochs": int(maximum)}))
        return []

    def fidelity_settings(self) -> Any:
        """The :class:`~automl.strategies.fidelity.Fidelity` of this search, or None (every trial at full budget)."""
        if self.fidelity is None:
            return None
        from automl.strategies.fidelity import Fidelity

        return Fidelity(self.fidelity, self.min_budget, self.max_budget, self.eta, self.multi_fidelity)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- building
    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SearchConfig:
        """From flat options (CLI flags, TOML keys, Python keywords); training fields may be given flat.

        ``trial_seconds`` is ``training.seconds``; an unknown name is an error that suggests the closest one.
        """
        names = {item.name for item in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        training: dict[str, Any] = {}
        for key, value in options.items():
            name = key.replace("-", "_")
            if name == "trial_seconds":
                name = "seconds"
            if name == "training":
                if isinstance(value, TrainingSettings):
                    value = value.to_dict()
                training = {**dict(value or {}), **training}
            elif name in names:
                values[name] = value
            elif name in TRAINING_FIELDS:
                if value is not None or name in ("seconds", "patience", "keep_features"):
                    training[name] = value
            else:
                close = difflib.get_close_matches(name, [*names, *TRAINING_FIELDS, "trial_seconds"], n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SearchSetupError(f"unknown search option {key!r}{hint}")
        try:
            values["training"] = TrainingSettings().updated(training)
        except (TrainingSettingsError, TypeError) as error:
            raise SearchSetupError(str(error)) from None
        values["strategy_options"] = dict(values.get("strategy_options") or {})
        return cls(**values)

    def replace(self, **changes: Any) -> SearchConfig:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        values["training"] = self.training.to_dict()
        values["strategy_options"] = dict(self.strategy_options)
        return {"version": CONFIG_VERSION, **values}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> SearchConfig:
        values = dict(stored)
        version = values.pop("version", None)
        if version == 1:  # version 2 added the multi-fidelity fields; their defaults mean what version 1 did
            version = CONFIG_VERSION
        if version != CONFIG_VERSION:
            raise SearchSetupError(f"search configuration version {version!r} is not {CONFIG_VERSION}")
        values["training"] = TrainingSettings(**values["training"])
        return cls(**values)

    def differences(self, other: SearchConfig) -> list[str]:
        """The fixed fields in which ``other`` differs, as ``name: stored -> given``."""
        changed = []
        for item in dataclasses.fields(self):
            if item.metadata.get("resume") != "fixed":
                continue
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, TrainingSettings):
                mine, theirs = mine.to_dict(), theirs.to_dict()
            if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
                for key in sorted(set(mine) | set(theirs), key=str):
                    before, after = mine.get(key, "(unset)"), theirs.get(key, "(unset)")
                    if _canonical(before) != _canonical(after):
                        changed.append(f"{item.name}.{key}: {_short(before)} -> {_short(after)}")
                continue
            if _canonical(mine) != _canonical(theirs):
                changed.append(f"{item.name}: {_short(mine)} -> {_short(theirs)}")
        return changed

    @property
    def trial_seconds(self) -> float | None:
        return self.training.seconds


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]


def file_hash(path: str | Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def arrays_hash(*arrays: Any) -> str:
    """sha256 of arrays' shapes, types and bytes: the identity of loaded data."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if array.dtype == object:
            digest.update(json.dumps(array.tolist(), default=str).encode())
        else:
            digest.update(array.tobytes())
    return digest.hexdigest()


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
