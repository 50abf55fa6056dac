"""A candidate: the ordered decisions that pick one architecture of a space."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from automl.space.errors import InvalidDecisionError


def _to_json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json_value(item) for item in value]
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


class Candidate(Mapping[str, Any]):
    """Decisions by stable path, in traversal order; JSON round-trippable.

    Two candidates are equal when they make the same decisions; ``key`` is a
    stable text form for de-duplication and hashing (never Python's salted hash).
    """

    __slots__ = ("_decisions", "_key")

    def __init__(self, decisions: Mapping[str, Any] | None = None) -> None:
        self._decisions = {str(path): _freeze(value) for path, value in (decisions or {}).items()}
        self._key = json.dumps([[path, _to_json_value(value)] for path, value in self._decisions.items()])

    def __getitem__(self, path: str) -> Any:
        return self._decisions[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decisions)

    def __len__(self) -> int:
        return len(self._decisions)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Candidate):
            return self._key == other._key
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key)

    @property
    def key(self) -> str:
        return self._key

    def to_dict(self) -> dict[str, Any]:
        return {path: _to_json_value(value) for path, value in self._decisions.items()}

    def to_json(self, **dump_options: Any) -> str:
        return json.dumps(self.to_dict(), **dump_options)

    @classmethod
    def from_json(cls, text: str) -> Candidate:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidDecisionError(f"a candidate must be a JSON object of path: value ({error})") from None
        if not isinstance(data, dict):
            raise InvalidDecisionError("a candidate must be a JSON object of path: value")
        return cls(data)

    def __repr__(self) -> str:
        return f"Candidate({self.to_dict()!r})"
