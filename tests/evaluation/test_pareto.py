"""Pareto fronts, ranks, crowding and hypervolume against brute-force checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.evaluation.pareto import (
    crowding_distances,
    dominates,
    hypervolume,
    non_dominated_ranks,
    pareto_front,
)

integer_points = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=12)


def brute_force_front(points: list[tuple[float, ...]]) -> list[int]:
    values = np.asarray(points, dtype=float)
    return [index for index, point in enumerate(values) if not any(dominates(other, point) for other in values)]


def brute_force_volume(points: list[tuple[int, ...]], reference: tuple[int, ...]) -> int:
    """Unit cells of the integer grid below ``reference`` dominated by some point (all minimised)."""
    cells = itertools.product(*(range(bound) for bound in reference))
    return sum(any(all(p <= c for p, c in zip(point, cell)) for point in points) for cell in cells)


def test_accuracy_against_size_front_by_hand() -> None:
    # (accuracy to maximise, parameters to minimise)
    trials = [(0.90, 1000), (0.95, 5000), (0.93, 5000), (0.85, 500), (0.95, 8000), (0.80, 900)]
    assert pareto_front(trials, ["max", "min"]).tolist() == [0, 1, 3]
    assert non_dominated_ranks(trials, ["max", "min"]).tolist() == [0, 0, 1, 0, 1, 1]
    # boxes up to (accuracy 0.5, 10,000 parameters): sweep by hand over the front's steps
    expected = (0.95 - 0.5) * (10000 - 5000) + (0.90 - 0.5) * (5000 - 1000) + (0.85 - 0.5) * (1000 - 500)
    assert math.isclose(hypervolume(trials, ["max", "min"], [0.5, 10000]), expected)


def test_equal_points_share_the_front_and_count_once() -> None:
    points = [(1.0, 2.0), (1.0, 2.0), (2.0, 1.0)]
    assert pareto_front(points, ["min", "min"]).tolist() == [0, 1, 2]
    assert hypervolume(points, ["min", "min"], [3.0, 3.0]) == pytest.approx(3.0)


def test_points_outside_the_reference_add_nothing() -> None:
    assert hypervolume([(5.0, 0.0)], ["min", "min"], [3.0, 3.0]) == 0.0
    assert hypervolume(np.empty((0, 2)), ["min", "min"], [3.0, 3.0]) == 0.0


def test_bad_input_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="directions"):
        pareto_front([(1.0, 2.0)], ["min"])
    with pytest.raises(ValueError, match="'up'"):
        pareto_front([(1.0, 2.0)], ["min", "up"])
    with pytest.raises(ValueError, match="missing or NaN"):
        pareto_front([(1.0, float("nan"))], ["min", "min"])


def test_crowding_gives_extremes_infinity_and_the_middle_its_neighbours_box() -> None:
    points = [(0.0, 4.0), (1.0, 2.0), (4.0, 0.0)]
    distances = crowding_distances(points, ["min", "min"])
    assert math.isinf(distances[0]) and math.isinf(distances[2])
    assert distances[1] == pytest.approx((4.0 - 0.0) / 4.0 + (4.0 - 0.0) / 4.0)


@settings(max_examples=150, deadline=None)
@given(integer_points)
def test_front_matches_brute_force_and_later_fronts_are_dominated(points) -> None:
    ranks = non_dominated_ranks(points, ["min", "min", "min"])
    assert np.flatnonzero(ranks == 0).tolist() == brute_force_front(points)
    values = np.asarray(points, dtype=float)
    for index, rank in enumerate(ranks):
        if rank > 0:  # beaten by someone exactly one front earlier, and by no one on its own front
            assert any(dominates(values[other], values[index]) for other in np.flatnonzero(ranks == rank - 1))
            assert not any(dominates(values[other], values[index]) for other in np.flatnonzero(ranks == rank))


@settings(max_examples=150, deadline=None)
@given(integer_points)
def test_hypervolume_matches_counting_grid_cells(points) -> None:
    reference = (7, 7, 7)
    assert hypervolume(points, ["min", "min", "min"], reference) == pytest.approx(brute_force_volume(points, reference))
    flat = [point[:2] for point in points]
    assert hypervolume(flat, ["min", "min"], reference[:2]) == pytest.approx(brute_force_volume(flat, reference[:2]))


@settings(max_examples=100, deadline=None)
@given(integer_points, st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)))
def test_adding_a_point_never_shrinks_the_hypervolume(points, extra) -> None:
    before = hypervolume(points, ["min", "min", "min"], [7, 7, 7])
    assert hypervolume([*points, extra], ["min", "min", "min"], [7, 7, 7]) >= before - 1e-9
