"""Hyperparameters: the decisions of a search space.

A hyperparameter object only describes a domain. Its value lives in the
architecture (:class:`automl.space.graph.Architecture`) that uses it, so one
object can serve many architectures at once, and using the same object in
several places of one architecture makes it a single shared decision
(DeepArchitect, Negrinho & Gordon 2017, section 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from automl.space.errors import SpaceError


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _canonical(value: Any) -> Any:
    """Turn lists (as JSON gives them back) into tuples so values compare and hash."""
    if isinstance(value, list):
        return tuple(_canonical(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


class Hyperparameter:
    """Base class of every decision: a domain, an optional name, a default."""

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise SpaceError(f"hyperparameter name {name!r} must be a non-empty string without '.'")
        self.name = name

    def normalise(self, value: Any) -> Any:
        """The canonical in-domain form of ``value``; raises ValueError when outside."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        try:
            self.normalise(value)
        except (ValueError, TypeError):
            return False
        return True

    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    @property
    def default(self) -> Any:
        raise NotImplementedError

    def finite_values(self) -> list[Any] | None:
        """Every value of the domain, or None for a continuous one."""
        return None

    def grid(self, bins: int) -> list[Any]:
        """At most ``bins`` representative values (all of them for small domains)."""
        values = self.finite_values()
        if values is None:
            raise NotImplementedError
        return values

    def __repr__(self) -> str:
        label = f" name={self.name!r}" if self.name else ""
        return f"<{type(self).__name__}{label} {self.describe()}>"


class Choice(Hyperparameter):
    """One of a list of values (numbers, strings, bools, None or tuples of them)."""

    def __init__(self, values: Sequence[Any], name: str | None = None, default: Any = None) -> None:
        super().__init__(name)
        values = [_canonical(value) for value in values]
        if not values:
            raise SpaceError("Choice needs at least one value")
        for position, value in enumerate(values):
            if any(_same_value(value, other) for other in values[:position]):
                raise SpaceError(f"Choice values must be distinct; {value!r} appears twice")
        self.values = values
        self._default = values[0] if default is None else self.normalise(default)

    def normalise(self, value: Any) -> Any:
        value = _canonical(value)
        for candidate in self.values:
            if _same_value(candidate, value):
                return candidate
        raise ValueError(f"{value!r} is not one of {self.values!r}")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def describe(self) -> str:
        return f"one of {list(self.values)!r}"

    @property
    def default(self) -> Any:
        return self._default

    def finite_values(self) -> list[Any]:
        return list(self.values)


def _same_value(left: Any, right: Any) -> bool:
    """Equality that keeps True apart from 1 and 'a' apart from ('a',)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
        return left == right
    if isinstance(left, tuple) and isinstance(right, tuple):
        return len(left) == len(right) and all(_same_value(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


class Bool(Hyperparameter):
    """True or False."""

    def __init__(self, name: str | None = None, default: bool = False) -> None:
        super().__init__(name)
        self._default = bool(default)

    def normalise(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ValueError(f"{value!r} is not a bool")

    def sample(self, rng: np.random.Generator) -> bool:
        return bool(rng.integers(2))

    def describe(self) -> str:
        return "a bool"

    @property
    def default(self) -> bool:
        return self._default

    def finite_values(self) -> list[bool]:
        return [False, True]


class Int(Hyperparameter):
    """An integer in ``[low, high]`` (both included), uniform or log-uniform."""

    def __init__(
        self, low: int, high: int, log: bool = False, name: str | None = None, default: int | None = None
    ) -> None:
        super().__init__(name)
        if not (_is_integral(low) and _is_integral(high)):
            raise SpaceError(f"Int bounds must be integers, got {low!r} and {high!r}")
        low, high = int(low), int(high)
        if low > high:
            raise SpaceError(f"Int needs low <= high, got {low} > {high}")
        if log and low < 1:
            raise SpaceError(f"a log-scaled Int needs low >= 1, got {low}")
        self.low, self.high, self.log = low, high, log
        self._default = low if default is None else self.normalise(default)

    def normalise(self, value: Any) -> int:
        if not _is_integral(value):
            raise ValueError(f"{value!r} is not an integer")
        value = int(value)
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside [{self.low}, {self.high}]")
        return value

    def sample(self, rng: np.random.Generator) -> int:
        if self.log:
            drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
            return min(self.high, int(math.floor(drawn)))
        return int(rng.integers(self.low, self.high + 1))

    def describe(self) -> str:
        scale = ", log" if self.log else ""
        return f"an int in [{self.low}, {self.high}{scale}]"

    @property
    def default(self) -> int:
        return self._default

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def finite_values(self) -> list[int]:
        return list(range(self.low, self.high + 1))

    def grid(self, bins: int) -> list[int]:
        if self.size <= bins:
            return self.finite_values()
        if self.log:
            points = np.geomspace(self.low, self.high, bins)
        else:
            points = np.linspace(self.low, self.high, bins)
        return sorted({int(round(point)) for point in points})


def _is_integral(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()


class Float(Hyperparameter):
    """A real number in ``[low, high]``, uniform or log-uniform."""

    def __init__(
        self, low: float, high: float, log: bool = False, name: str | None = None, default: float | None = None
    ) -> None:
        super().__init__(name)
        if not (_is_number(low) and _is_number(high)) or not (math.isfinite(low) and math.isfinite(high)):
            raise SpaceError(f"Float bounds must be finite numbers, got {low!r} and {high!r}")
        if low > high:
            raise SpaceError(f"Float needs low <= high, got {low} > {high}")
        if log and low <= 0:
            raise SpaceError(f"a log-scaled Float needs low > 0, got {low}")
        self.low, self.high, self.log = float(low), float(high), log
        if default is None:
            default = math.sqrt(self.low * self.high) if log else (self.low + self.high) / 2
        self._default = self.normalise(default)

    def normalise(self, value: Any) -> float:
        if not _is_number(value):
            raise ValueError(f"{value!r} is not a number")
        value = float(value)
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside [{self.low}, {self.high}]")
        return value

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(min(self.high, max(self.low, math.exp(rng.uniform(math.log(self.low), math.log(self.high))))))
        return float(rng.uniform(self.low, self.high))

    def describe(self) -> str:
        scale = ", log" if self.log else ""
        return f"a float in [{self.low:g}, {self.high:g}{scale}]"

    @property
    def default(self) -> float:
        return self._default

    def grid(self, bins: int) -> list[float]:
        """The centres of ``bins`` equal-width (or equal log-width) bins."""
        if self.low == self.high:
            return [self.low]
        if self.log:
            edges = np.geomspace(self.low, self.high, bins + 1)
            centres = np.sqrt(edges[:-1] * edges[1:])
        else:
            edges = np.linspace(self.low, self.high, bins + 1)
            centres = (edges[:-1] + edges[1:]) / 2
        return [float(centre) for centre in centres]


class Derived:
    """A value computed from other hyperparameters; not a decision of its own.

    ``Derived(lambda units: 2 * units, units=width)`` follows ``width``: the
    dependent hyperparameters of DeepArchitect.
    """

    def __init__(self, function: Callable[..., Any], **inputs: Any) -> None:
        if not inputs:
            raise SpaceError("Derived needs at least one input hyperparameter")
        self.function = function
        self.inputs: Mapping[str, Any] = inputs

    def __repr__(self) -> str:
        return f"<Derived of {sorted(self.inputs)}>"


class _Outputs:
    """Stands for the task's number of outputs, known only when compiling."""

    def __repr__(self) -> str:
        return "OUTPUTS"

    def __reduce__(self) -> str:
        return "OUTPUTS"


OUTPUTS = _Outputs()
