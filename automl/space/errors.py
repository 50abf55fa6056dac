"""Errors raised by the space language.

Every error names the path of the decision or module it is about, so a user can
find the line of their space that needs fixing.
"""

from __future__ import annotations


class SpaceError(ValueError):
    """A search space is malformed or used wrongly."""


class InvalidDecisionError(SpaceError):
    """A candidate names a path that does not exist or a value outside its domain."""


class UnboundedSpaceError(SpaceError):
    """A space cannot be enumerated into a finite ConfigSpace (floats or recursion)."""
