"""Constraints on a candidate's measured costs, such as ``params<=100k`` or ``latency_ms<2``.

Checked after compiling and before training (see :mod:`automl.engine.costs`): a
candidate that violates one is infeasible and costs no training, as in
hardware-aware NAS that rejects architectures over a latency or size budget
before training them (Tan et al., "MnasNet: Platform-Aware Neural Architecture
Search for Mobile", CVPR 2019, use the hard-constraint form as a baseline).
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


class ConstraintError(ValueError):
    """A constraint that cannot be read: malformed, or naming a cost that is not measured."""


COST_NAMES = ("params", "flops", "latency_ms", "latency_batch_ms", "memory_mb")  # what automl.engine.costs measures
SUFFIXES = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}  # no "m": it would read as milli
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_PATTERN = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kKMG]?)\s*$"
)
_FORM = "COST OP NUMBER[k|M|G] with OP one of <=, <, >=, > (e.g. params<=100k, latency_ms<2)"


@dataclass(frozen=True)
class Constraint:
    """``cost comparison bound``; ``text`` is how the user wrote it."""

    cost: str
    comparison: str
    bound: float
    text: str

    def allows(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.bound)

    def violation(self, costs: Mapping[str, float]) -> str | None:
        """Why ``costs`` violate this constraint (the measured value and the bound), or None (also when the
        cost is not there: the caller decides what a missing cost means)."""
        if costs.get(self.cost) is None:
            return None
        value = as_number(costs[self.cost])
        if value is None:
            return f"{self.cost} is {costs[self.cost]!r}, not a number, so {self.text} cannot hold"
        if self.allows(value):
            return None
        return f"{self.cost} {_format(float(value))} breaks {self.text} (bound {_format(self.bound)})"


def as_number(value: object) -> float | None:
    """A metric as a float: Python and numpy numbers and 0-d arrays or tensors (``.item()``); None for anything
    else (a bool, a string, a list) and for NaN or infinity."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_constraint(text: str, any_metric: bool = False) -> Constraint:
    """``"params<=100k"`` → ``Constraint("params", "<=", 100000.0, ...)``; a bad one is a ConstraintError.

    ``any_metric``: the bound may name any metric (a user objective's own, checked on what it returns).
    """
    match = _PATTERN.match(str(text))
    if match is None:
        raise ConstraintError(f"constraint {text!r} is not {_FORM}")
    cost, comparison, number, suffix = match.groups()
    if cost not in COST_NAMES and not any_metric:
        raise ConstraintError(
            f"constraint {text!r}: unknown cost {cost!r}; the measured costs are {', '.join(COST_NAMES)}"
        )
    bound = float(number) * SUFFIXES[suffix]
    if not math.isfinite(bound):
        raise ConstraintError(f"constraint {text!r}: the bound is not a finite number")
    return Constraint(cost, comparison, bound, str(text).replace(" ", ""))


def parse_constraints(texts: Iterable[str], any_metric: bool = False) -> tuple[Constraint, ...]:
    return tuple(parse_constraint(text, any_metric) for text in texts)


def needs_latency(constraints: Iterable[Constraint]) -> bool:
    """Whether latency must be measured: it is the one cost that takes timed passes."""
    return any(constraint.cost in ("latency_ms", "latency_batch_ms") for constraint in constraints)


def first_violation(constraints: Iterable[Constraint], costs: Mapping[str, float]) -> str | None:
    for constraint in constraints:
        reason = constraint.violation(costs)
        if reason is not None:
            return reason
    return None


def _format(value: float) -> str:
    if value.is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.4g}"


def format_cost(name: str, value: object) -> str:
    """``12,345`` parameters, ``1.2M`` FLOPs, ``0.084`` ms: one measured cost as people read it ("" if not a number)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    if name == "params":
        return f"{int(value):,}"
    if name == "flops":
        for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(value) >= scale:
                return f"{value / scale:.3g}{suffix}"
        return f"{value:g}"
    return f"{float(value):.3g}"
