"""Hyperband: successive halving over brackets that trade how many candidates against how low they start.

Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband: A Novel
Bandit-Based Approach to Hyperparameter Optimization", JMLR 2018, Algorithm 1.
With ``s_max = top rung``, bracket ``s`` (cycling ``s_max, ..., 0``) starts
``n = ceil((s_max + 1) / (s + 1) * eta**s)`` candidates at budget
``max_budget * eta**-s`` and keeps ``floor(n * eta**-i)`` at its i-th rung. The
most aggressive bracket is successive halving from ``min_budget``; the last one
trains every candidate at the full budget, a hedge against low budgets that
mislead.
"""

from __future__ import annotations

import math

from automl.schedulers.successive_halving import SuccessiveHalving


class Hyperband(SuccessiveHalving):
    schedule = "hyperband"

    def bracket_plan(self, index: int) -> tuple[int, list[int]]:
        eta, top = self.fidelity.eta, self.fidelity.top_rung
        size = top - index % (top + 1)  # s: the number of halvings in this bracket
        count = math.ceil((top + 1) / (size + 1) * eta**size)
        return top - size, [count // eta**position for position in range(size + 1)]
