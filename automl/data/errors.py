"""The one error type of the data layer."""

from __future__ import annotations


class DataError(ValueError):
    """One clear line: what is wrong and how to fix it.

    A ValueError so that callers catching bad input in general still catch it; the
    message is folded onto one line so that a CLI can print it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
