import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from automl.space import Bool, Choice, Float, Int, SpaceError


def test_choice_keeps_bool_and_int_apart():
    choice = Choice([0, 1, True])
    assert choice.normalise(True) is True
    assert choice.normalise(1) == 1 and choice.normalise(1) is not True
    with pytest.raises(ValueError):
        Choice([1, 2]).normalise(True)


def test_choice_turns_json_lists_back_into_tuples():
    choice = Choice([(0, 1), (0, 2)])
    assert choice.normalise([0, 2]) == (0, 2)


def test_choice_rejects_duplicates_and_empty():
    with pytest.raises(SpaceError):
        Choice([1, 1])
    with pytest.raises(SpaceError):
        Choice([])


@given(st.integers(-50, 50), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_int_samples_stay_in_range(low, width, seed):
    domain = Int(low, low + width)
    value = domain.sample(np.random.default_rng(seed))
    assert low <= value <= low + width and domain.contains(value)


@given(st.floats(1e-6, 1.0), st.floats(1.0, 1e3), st.integers(0, 2**32 - 1))
def test_log_float_samples_stay_in_range(low, high, seed):
    domain = Float(low, high, log=True)
    value = domain.sample(np.random.default_rng(seed))
    assert low <= value <= high


def test_float_rejects_nan_and_out_of_range():
    domain = Float(0.0, 1.0)
    assert not domain.contains(math.nan)
    assert not domain.contains(1.5)
    assert not domain.contains("0.5")


def test_int_rejects_bool_and_fraction():
    domain = Int(0, 10)
    assert not domain.contains(True)
    assert not domain.contains(2.5)
    assert domain.normalise(3.0) == 3


def test_grids_are_small_and_inside():
    assert Int(1, 1000, log=True).grid(5) == sorted(set(Int(1, 1000, log=True).grid(5)))
    assert all(1 <= value <= 1000 for value in Int(1, 1000, log=True).grid(5))
    assert len(Float(0.0, 1.0).grid(4)) == 4
    assert Bool().grid(8) == [False, True]


def test_bad_bounds_are_errors():
    with pytest.raises(SpaceError):
        Int(5, 1)
    with pytest.raises(SpaceError):
        Float(0.0, 1.0, log=True)
    with pytest.raises(SpaceError):
        Choice([1], name="a.b")
