"""Parsing and checking constraints on measured costs."""

from __future__ import annotations

import pytest

from automl.engine.constraints import ConstraintError, first_violation, needs_latency, parse_constraint


@pytest.mark.parametrize(
    ("text", "cost", "comparison", "bound"),
    [
        ("params<=100k", "params", "<=", 100_000.0),
        ("flops < 2.5M", "flops", "<", 2_500_000.0),
        ("memory_mb>=1", "memory_mb", ">=", 1.0),
        ("latency_ms>0.5", "latency_ms", ">", 0.5),
        ("flops<=1G", "flops", "<=", 1e9),
    ],
)
def test_a_constraint_is_parsed_with_its_suffix(text: str, cost: str, comparison: str, bound: float) -> None:
    constraint = parse_constraint(text)
    assert (constraint.cost, constraint.comparison, constraint.bound) == (cost, comparison, bound)


@pytest.mark.parametrize("text", ["params=100", "params<=", "<=5", "params<=5x", "params<<5", "", "params<=5m"])
def test_a_malformed_constraint_says_the_form(text: str) -> None:
    with pytest.raises(ConstraintError, match="is not COST OP NUMBER"):
        parse_constraint(text)


def test_an_unknown_cost_lists_the_known_ones() -> None:
    with pytest.raises(ConstraintError, match=r"unknown cost 'weights'.*params, flops, latency_ms"):
        parse_constraint("weights<=5")


def test_a_violation_names_the_measured_value_and_the_bound() -> None:
    constraints = [parse_constraint("params<=100k"), parse_constraint("latency_ms<2")]
    assert first_violation(constraints, {"params": 5_000, "latency_ms": 1.0}) is None
    reason = first_violation(constraints, {"params": 150_000, "latency_ms": 1.0})
    assert reason == "params 150,000 breaks params<=100k (bound 100,000)"
    assert "latency_ms 3 breaks latency_ms<2" in first_violation(constraints, {"params": 1, "latency_ms": 3.0})
    assert needs_latency(constraints) and not needs_latency(constraints[:1])
