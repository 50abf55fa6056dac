"""Fixtures for the strategy tests."""

from __future__ import annotations

import pytest

from automl.space import SearchSpace
from tests.strategies.helpers import tiny


@pytest.fixture
def tiny_space() -> SearchSpace:
    return tiny
