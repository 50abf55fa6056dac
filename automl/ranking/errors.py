"""The one error type of feature ranking: bad input, explained in one line."""

from __future__ import annotations


class RankingInputError(ValueError):
    """Bad input to feature ranking.

    The message is a single line that names what is wrong and how to fix it, so the
    CLI can print it as ``error: ...`` without a traceback.
    """
