"""Declared strategy options: a dataclass per strategy, validated in one place with one error format.

A strategy lists its options as the fields of a frozen dataclass made with
:func:`option` (default, help, range or choices). ``parse_options`` turns what
a user wrote (``--strategy-option bins=8``, a TOML table, Python keywords)
into that dataclass, or raises :class:`StrategyOptionError` naming the strategy,
the option and what is allowed. ``automl strategies NAME`` prints the same
declaration, so the help cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class StrategyOptionError(ValueError):
    """A strategy was given an option it does not know or a bad value."""


def option(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[Any] | None = None,
) -> Any:
    """One declared option: a dataclass field with its help, range and choices as metadata."""
    metadata = {"help": help, "minimum": minimum, "maximum": maximum, "choices": tuple(choices) if choices else None}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class NoOptions:
    """A strategy without options."""


@dataclass(frozen=True)
class OptionInfo:
    """What ``automl strategies NAME`` prints about one option."""

    name: str
    kind: str
    default: Any
    help: str
    allowed: str


def _base_types(annotation: Any) -> tuple[tuple[type, ...], bool]:
    """The concrete types an annotation allows, and whether None is allowed."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        allowed = tuple(member for member in members if member is not type(None))
        concrete = tuple(typing.get_origin(member) or member for member in allowed)
        return concrete, len(allowed) < len(members)
    return (origin or annotation,), False


def _resolved_hints(options_class: type) -> dict[str, Any]:
    return typing.get_type_hints(options_class)


def _convert(value: Any, kinds: tuple[type, ...]) -> Any:
    if isinstance(value, bool) and bool not in kinds:
        raise TypeError("a boolean is not a number")
    for kind in kinds:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            continue
        if isinstance(value, kind):
            return value
    for kind in kinds:
        if kind is int:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    continue
        if kind is float and isinstance(value, (int, str)):
            try:
                return float(value)
            except ValueError:
                continue
        if kind is str and isinstance(value, (int, float)):
            continue
    raise TypeError(f"expected {' or '.join(kind.__name__ for kind in kinds)}")


def _allowed(field: dataclasses.Field) -> str:
    choices, minimum, maximum = (
        field.metadata.get("choices"),
        field.metadata.get("minimum"),
        field.metadata.get("maximum"),
    )
    if choices:
        return "one of " + ", ".join(map(repr, choices))
    if minimum is not None and maximum is not None:
        return f"in [{minimum}, {maximum}]"
    if minimum is not None:
        return f">= {minimum}"
    if maximum is not None:
        return f"<= {maximum}"
    return ""


def parse_options(strategy: str, options_class: type, raw: Mapping[str, Any] | Any | None) -> Any:
    """``raw`` (a mapping, or an instance already) as ``options_class``; errors name strategy, option and rule."""
    if raw is None:
        raw = {}
    if isinstance(raw, options_class):
        raw = dataclasses.asdict(raw)
    if not isinstance(raw, Mapping):
        raise StrategyOptionError(f"strategy {strategy!r}: options must be a mapping of name to value, not {raw!r}")
    fields = {field.name: field for field in dataclasses.fields(options_class)}
    hints = _resolved_hints(options_class)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = str(name).replace("-", "_")
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(fields) if fields else "none"
            raise StrategyOptionError(f"strategy {strategy!r} has no option {name!r}{hint}; its options: {known}")
        field = fields[key]
        kinds, nullable = _base_types(hints[key])
        if value is None:
            if not nullable:
                raise StrategyOptionError(f"strategy {strategy!r} option {key}=None: a value is required")
            values[key] = None
            continue
        try:
            converted = _convert(value, kinds)
        except TypeError as error:
            raise StrategyOptionError(f"strategy {strategy!r} option {key}={value!r}: {error}") from None
        rule = _allowed(field)
        choices, minimum, maximum = (field.metadata.get(item) for item in ("choices", "minimum", "maximum"))
        out_of_range = (
            (choices is not None and converted not in choices)
            or (minimum is not None and isinstance(converted, (int, float)) and not converted >= minimum)
            or (maximum is not None and isinstance(converted, (int, float)) and not converted <= maximum)
        )
        if out_of_range:
            raise StrategyOptionError(f"strategy {strategy!r} option {key}={value!r}: must be {rule}")
        values[key] = converted
    return options_class(**values)


def describe_options(options_class: type) -> list[OptionInfo]:
    """The declared options, for help output."""
    hints = _resolved_hints(options_class)
    described = []
    for field in dataclasses.fields(options_class):
        kinds, nullable = _base_types(hints[field.name])
        kind = " or ".join(kind.__name__ for kind in kinds) + (" or None" if nullable else "")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        described.append(OptionInfo(field.name, kind, default, field.metadata.get("help", ""), _allowed(field)))
    return described
