"""Export a bounded space to ConfigSpace, and map configurations back to candidates.

A tree-shaped space becomes a flat configuration space with conditions: a
branch's decisions are active only for the Or choice that creates them, a
repeated block's only for repeat counts that build that copy. The export
explores each substitution module once per value combination of its own
decisions (memoised by path), so its cost is the sum over modules, not the
product over the whole tree. Spaces whose structure depends on a float, or that
keep unfolding past ``max_depth``, cannot be bounded and raise
:class:`UnboundedSpaceError`.

The bridge is these module functions (``to_configspace``,
``candidate_from_configuration``, ``configuration_from_candidate``), not
methods of ``SearchSpace``, and ``automl.space`` does not re-export them:
ConfigSpace is slow to import, and the core of the space language never needs
it. ``SearchSpace`` and ``Architecture`` are imported here for typing only.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ConfigSpace as cs

from automl.space.candidate import Candidate, _to_json_value
from automl.space.errors import InvalidDecisionError, SpaceError, UnboundedSpaceError
from automl.space.hyperparameters import Bool, Choice, Float, Hyperparameter, Int

if TYPE_CHECKING:
    from automl.space.architecture import Architecture
    from automl.space.search_space import SearchSpace

_ENCODING = "automl_encoding"


@dataclass
class _Record:
    hyperparameter: Hyperparameter
    unconditional: bool = False
    # each entry: (parent paths, set of value tuples of those parents that create this decision)
    conditions: list[tuple[tuple[str, ...], frozenset[tuple[Any, ...]]]] = field(default_factory=list)


def _json_label(value: Any) -> str:
    return json.dumps(_to_json_value(value))


def _choice_items(hyperparameter: Choice) -> tuple[list[Any], str]:
    values = hyperparameter.values
    if all(isinstance(value, str) for value in values):
        return list(values), "raw"
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return list(values), "raw"
    return [_json_label(value) for value in values], "json"


def _to_configspace_hyperparameter(path: str, hyperparameter: Hyperparameter) -> cs.hyperparameters.Hyperparameter:
    if isinstance(hyperparameter, Bool):
        return cs.Categorical(path, [False, True], default=hyperparameter.default, meta={_ENCODING: "raw"})
    if isinstance(hyperparameter, Choice):
        items, encoding = _choice_items(hyperparameter)
        default = hyperparameter.default if encoding == "raw" else _json_label(hyperparameter.default)
        return cs.Categorical(path, items, default=default, meta={_ENCODING: encoding})
    if isinstance(hyperparameter, (Int, Float)):
        if hyperparameter.low == hyperparameter.high:
            return cs.Constant(path, hyperparameter.low, meta={_ENCODING: "raw"})
        kind = cs.Integer if isinstance(hyperparameter, Int) else cs.Float
        return kind(
            path,
            (hyperparameter.low, hyperparameter.high),
            log=hyperparameter.log,
            default=hyperparameter.default,
            meta={_ENCODING: "raw"},
        )
    raise SpaceError(f"{path}: ConfigSpace export does not know {type(hyperparameter).__name__}")


def _encode(hyperparameter: cs.hyperparameters.Hyperparameter, value: Any) -> Any:
    if (hyperparameter.meta or {}).get(_ENCODING) == "json":
        return _json_label(value)
    return value


def _decode(hyperparameter: cs.hyperparameters.Hyperparameter, value: Any) -> Any:
    if (hyperparameter.meta or {}).get(_ENCODING) == "json":
        return json.loads(str(value))
    return value.item() if hasattr(value, "item") else value


class _Explorer:
    def __init__(self, space: SearchSpace, max_depth: int, max_combinations: int) -> None:
        self.space = space
        self.max_depth = max_depth
        self.max_combinations = max_combinations
        self.records: dict[str, _Record] = {}
        self.explored: set[str] = set()
        self.all_combinations: dict[tuple[str, ...], frozenset[tuple[Any, ...]]] = {}
        self.active_memo: dict[str, bool] = {}

    def build(self, decisions: Mapping[str, Any]) -> Architecture:
        architecture = self.space.new()
        for path, value in decisions.items():
            architecture.assign(path, value)
        return architecture

    def note(self, path: str, hyperparameter: Hyperparameter, condition: Any) -> None:
        record = self.records.get(path)
        if record is None:
            record = self.records[path] = _Record(hyperparameter)
        elif (
            record.hyperparameter is not hyperparameter
            and record.hyperparameter.describe() != hyperparameter.describe()
        ):
            raise SpaceError(
                f"{path!r} has different domains in different branches "
                f"({record.hyperparameter.describe()} and {hyperparameter.describe()}); give them distinct names"
            )
        if condition is None:
            record.unconditional = True
        elif condition not in record.conditions:
            record.conditions.append(condition)

    def run(self) -> None:
        root = self.space.new()
        for path, hyperparameter in root.open_decisions():
            self.note(path, hyperparameter, None)
        for module in root.unexpanded:
            self.explore(module.path, {}, root, depth=1)

    def explore(self, module_path: str, prefix: dict[str, Any], architecture: Architecture, depth: int) -> None:
        if module_path in self.explored:
            return
        self.explored.add(module_path)
        if depth > self.max_depth:
            raise UnboundedSpaceError(
                f"the space keeps unfolding past depth {self.max_depth} (at {module_path}); "
                "it cannot be exported to ConfigSpace"
            )
        module = next(item for item in architecture.unexpanded if item.path == module_path)
        waited_for = set(architecture.open_decisions_of(module))
        parents = [path for path, _ in architecture.open_decisions() if path in waited_for]
        domains = []
        for parent in parents:
            values = architecture.hyperparameter_at(parent).finite_values()
            if values is None:
                raise UnboundedSpaceError(
                    f"{module_path} unfolds according to {parent!r}, a continuous range; "
                    "use a Choice or an Int for it to export to ConfigSpace"
                )
            domains.append(values)
        combination_count = 1
        for values in domains:
            combination_count *= len(values)
        if combination_count > self.max_combinations:
            raise UnboundedSpaceError(
                f"{module_path} unfolds in {combination_count} ways (over {self.max_combinations}); "
                "narrow its ranges to export to ConfigSpace"
            )
        before_decisions = {path for path, _ in architecture.open_decisions()}
        before_modules = {item.path for item in architecture.unexpanded}
        created: dict[str, set[tuple[Any, ...]]] = {}
        hyperparameters: dict[str, Hyperparameter] = {}
        for combination in itertools.product(*domains):
            decisions = {**prefix, **dict(zip(parents, combination, strict=True))}
            expanded = self.build(decisions)
            for path, hyperparameter in expanded.open_decisions():
                if path not in before_decisions:
                    created.setdefault(path, set()).add(combination)
                    hyperparameters[path] = hyperparameter
            for item in expanded.unexpanded:
                if item.path not in before_modules:
                    self.explore(item.path, decisions, expanded, depth + 1)
        self.all_combinations[tuple(parents)] = frozenset(itertools.product(*domains))
        for path, combinations in created.items():
            # even when every value creates it, the decision exists only where its parents do
            self.note(path, hyperparameters[path], (tuple(parents), frozenset(combinations)))

    def always_active(self, path: str) -> bool:
        """True when the decision exists in every architecture of the space."""
        if path not in self.active_memo:
            record = self.records[path]
            self.active_memo[path] = record.unconditional or any(
                combinations == self.all_combinations[parents] and all(self.always_active(parent) for parent in parents)
                for parents, combinations in record.conditions
            )
        return self.active_memo[path]


def _condition(
    child: cs.hyperparameters.Hyperparameter,
    parents: tuple[str, ...],
    combinations: frozenset[tuple[Any, ...]],
    configuration_space: cs.ConfigurationSpace,
) -> Any:
    parent_hyperparameters = [configuration_space[parent] for parent in parents]
    if len(parents) == 1:
        values = sorted((_encode(parent_hyperparameters[0], combo[0]) for combo in combinations), key=repr)
        if len(values) == 1:
            return cs.EqualsCondition(child, parent_hyperparameters[0], values[0])
        return cs.InCondition(child, parent_hyperparameters[0], values)
    ands = [
        cs.AndConjunction(
            *[
                cs.EqualsCondition(child, parent, _encode(parent, value))
                for parent, value in zip(parent_hyperparameters, combo, strict=True)
            ]
        )
        for combo in sorted(combinations, key=repr)
    ]
    return ands[0] if len(ands) == 1 else cs.OrConjunction(*ands)


def to_configspace(
    space: SearchSpace, seed: int | None = None, max_depth: int = 32, max_combinations: int = 10_000
) -> cs.ConfigurationSpace:
    """The ConfigSpace of a bounded search space, with conditions for its branches."""
    explorer = _Explorer(space, max_depth, max_combinations)
    explorer.run()
    configuration_space = cs.ConfigurationSpace(name=space.name, seed=seed)
    converted = {
        path: _to_configspace_hyperparameter(path, record.hyperparameter) for path, record in explorer.records.items()
    }
    configuration_space.add(list(converted.values()))
    conditions = []
    for path, record in explorer.records.items():
        if explorer.always_active(path):
            continue
        parts = [
            _condition(converted[path], parents, combinations, configuration_space)
            for parents, combinations in record.conditions
        ]
        conditions.append(parts[0] if len(parts) == 1 else cs.OrConjunction(*parts))
    configuration_space.add(conditions)
    return configuration_space


def candidate_from_configuration(space: SearchSpace, configuration: cs.Configuration) -> Candidate:
    """Walk the space taking each decision from the configuration."""
    configuration_space = configuration.config_space
    values = dict(configuration)
    architecture = space.new()
    while (decision := architecture.next_decision()) is not None:
        path, _ = decision
        if path not in values:
            raise InvalidDecisionError(f"the configuration has no active value for {path!r}")
        architecture.assign(path, _decode(configuration_space[path], values.pop(path)))
    if values:
        raise InvalidDecisionError(f"the configuration sets {', '.join(sorted(values))}, which this candidate lacks")
    return Candidate(architecture.decisions)


def configuration_from_candidate(
    configuration_space: cs.ConfigurationSpace, candidate: Mapping[str, Any]
) -> cs.Configuration:
    values = {}
    for path, value in candidate.items():
        if path not in configuration_space:
            raise InvalidDecisionError(f"{path!r} is not a hyperparameter of the configuration space")
        values[path] = _encode(configuration_space[path], value)
    return cs.Configuration(configuration_space, values=values)
