"""Pareto fronts of trials scored on several objectives: who is not beaten, and how much space they cover.

A user who trades accuracy for size or latency chooses from the non-dominated trials; the hypervolume
they dominate is the one number that says whether one search found a better front than another.
Objectives are given as a matrix (one row per point) with a direction per column; everything is
turned into minimisation internally.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Direction = Literal["min", "max"]


def _as_minimised(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[Direction]) -> np.ndarray:
    values = np.asarray(points, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"points must be a matrix (one row per point), got shape {values.shape}")
    if values.shape[1] != len(directions):
        raise ValueError(f"{values.shape[1]} objectives but {len(directions)} directions")
    unknown = [direction for direction in directions if direction not in ("min", "max")]
    if unknown:
        raise ValueError(f"unknown direction {unknown[0]!r}: use 'min' or 'max'")
    if not np.all(np.isfinite(values)):
        raise ValueError("points must be finite: leave out points with a missing or NaN objective")
    signs = np.array([1.0 if direction == "min" else -1.0 for direction in directions])
    return values * signs


def dominates(first: np.ndarray, second: np.ndarray) -> bool:
    """``first`` is no worse than ``second`` everywhere and better somewhere (both minimised)."""
    return bool(np.all(first <= second) and np.any(first < second))


def non_dominated_ranks(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[Direction]) -> np.ndarray:
    """The front each point belongs to (0 = the Pareto front), by the fast non-dominated sort of
    Deb et al. 2002 (NSGA-II, IEEE TEC 6(2)). Equal points dominate neither each other: they share a front."""
    values = _as_minimised(points, directions)
    count = len(values)
    ranks = np.full(count, -1, dtype=int)
    if count == 0:
        return ranks
    no_worse = np.all(values[:, None, :] <= values[None, :, :], axis=2)
    better = np.any(values[:, None, :] < values[None, :, :], axis=2)
    dominance = no_worse & better  # dominance[i, j]: i dominates j
    dominated_by = dominance.sum(axis=0)
    current = np.flatnonzero(dominated_by == 0)
    front = 0
    while current.size:
        ranks[current] = front
        dominated_by = dominated_by - dominance[current].sum(axis=0)
        dominated_by[ranks >= 0] = -1
        current = np.flatnonzero(dominated_by == 0)
        front += 1
    return ranks


def pareto_front(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[Direction]) -> np.ndarray:
    """Indices of the non-dominated points, in input order."""
    return _non_dominated(_as_minimised(points, directions))


def _non_dominated(values: np.ndarray) -> np.ndarray:
    """Indices (input order) of the rows no other row dominates, minimised. Rows are visited best-first in
    lexicographic order, so a row can only be dominated by one visited before it, and each is compared with
    the front found so far: O(n x front size), not the O(n^2) memory of a full non-dominated sort."""
    count = len(values)
    if count == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort(values.T[::-1])
    front: list[int] = []
    for index in order:
        point = values[index]
        if front:
            members = values[front]
            if np.any(np.all(members <= point, axis=1) & np.any(members < point, axis=1)):
                continue
        front.append(int(index))
    return np.sort(np.array(front, dtype=int))


def crowding_distances(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[Direction]) -> np.ndarray:
    """Crowding distance of each point within the given set (Deb et al. 2002): the normalised size of the
    box its neighbours span, summed over objectives; the extremes of each objective get infinity."""
    values = _as_minimised(points, directions)
    count, objectives = values.shape
    distances = np.zeros(count)
    if count <= 2:
        distances[:] = np.inf
        return distances
    for objective in range(objectives):
        order = np.argsort(values[:, objective], kind="stable")
        column = values[order, objective]
        distances[order[0]] = distances[order[-1]] = np.inf
        spread = column[-1] - column[0]
        if spread > 0:
            distances[order[1:-1]] += (column[2:] - column[:-2]) / spread
    return distances


def hypervolume(
    points: np.ndarray | Sequence[Sequence[float]],
    directions: Sequence[Direction],
    reference: Sequence[float],
) -> float:
    """The volume the points dominate up to ``reference`` (a point worse than every one of interest, in the
    objectives' own units and directions). Exact: a sweep in two objectives; in more, slicing one objective
    at a time ("hypervolume by slicing objectives", While, Hingston, Barone and Huband 2006, IEEE TEC 10(1)),
    fine for the fronts of a search (tens of points). Points not strictly better than the reference in every
    objective add nothing."""
    values = _as_minimised(points, directions)
    bound = _as_minimised([reference], directions)[0]
    inside = values[np.all(values < bound, axis=1)]
    if len(inside) == 0:
        return 0.0
    front = inside[_non_dominated(inside)]
    return _volume(np.unique(front, axis=0), bound)


def _volume(front: np.ndarray, bound: np.ndarray) -> float:
    if front.shape[1] == 1:
        return float(bound[0] - front[:, 0].min())
    if front.shape[1] == 2:
        order = np.argsort(front[:, 0], kind="stable")
        volume, best_second = 0.0, bound[1]
        for first, second in front[order]:
            if second < best_second:
                volume += (bound[0] - first) * (best_second - second)
                best_second = second
        return float(volume)
    order = np.argsort(front[:, 0], kind="stable")
    sorted_front = front[order]
    volume = 0.0
    for position in range(len(sorted_front)):
        upper = sorted_front[position + 1, 0] if position + 1 < len(sorted_front) else bound[0]
        depth = upper - sorted_front[position, 0]
        if depth <= 0:
            continue
        slice_points = sorted_front[: position + 1, 1:]
        slice_front = slice_points[_non_dominated(slice_points)]
        volume += depth * _volume(np.unique(slice_front, axis=0), bound[1:])
    return float(volume)
