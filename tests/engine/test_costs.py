"""Measured costs of a model: parameters and FLOPs by hand count, latency and memory sane."""

from __future__ import annotations

import math

import pytest
import torch
from torch import fx, nn

from automl.engine.costs import COST_NAMES, Costs, measure_costs


def small_network() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 3))


def test_flops_and_parameters_match_a_hand_count() -> None:
    batch = torch.randn(4, 10)
    costs = measure_costs(small_network(), batch, torch.device("cpu"))
    # a multiply-add is 2 FLOPs: 2 * batch * inputs * outputs per linear layer; ReLU counts none
    assert costs.flops == 2 * 4 * 10 * 20 + 2 * 4 * 20 * 3 == 2080
    assert costs.params == (10 * 20 + 20) + (20 * 3 + 3) == 283
    assert costs.latency_ms is None and costs.latency_batch_ms is None  # not asked for


def test_cpu_memory_counts_weights_input_and_every_output() -> None:
    batch = torch.randn(4, 10)
    expected_bytes = 4 * (283 + 4 * 10 + 4 * 20 + 4 * 20 + 4 * 3)  # float32: weights, input, linear, relu, linear
    for module in (small_network(), fx.symbolic_trace(small_network())):
        costs = measure_costs(module, batch, torch.device("cpu"))
        assert math.isclose(costs.memory_mb * 1024 * 1024, expected_bytes)


def test_latency_is_positive_and_finite_at_both_batch_sizes() -> None:
    costs = measure_costs(small_network(), torch.randn(8, 10), torch.device("cpu"), latency=True)
    for value in (costs.latency_ms, costs.latency_batch_ms):
        assert value is not None and math.isfinite(value) and value > 0
    assert costs.batch_size == 8
    assert set(costs.as_metrics()) == set(COST_NAMES)


def test_measuring_leaves_the_module_in_training_mode_and_its_statistics_alone() -> None:
    module = nn.Sequential(nn.Linear(10, 5), nn.BatchNorm1d(5))
    before = module[1].running_mean.clone()
    measure_costs(module, torch.randn(4, 10) + 3.0, torch.device("cpu"), latency=True)
    assert module.training
    assert torch.equal(module[1].running_mean, before)


def test_costs_round_trip_through_their_dict() -> None:
    costs = Costs(params=5, flops=10, memory_mb=0.5, latency_ms=1.0, batch_size=4)
    assert Costs.from_dict(costs.to_dict()) == costs
    assert costs.as_metrics() == {"params": 5, "flops": 10, "latency_ms": 1.0, "memory_mb": 0.5}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_memory_is_the_peak_allocated_during_the_pass() -> None:
    batch = torch.randn(64, 10)
    costs = measure_costs(small_network(), batch, torch.device("cuda"), latency=True)
    weights_and_input = 4 * (283 + 64 * 10)
    assert costs.memory_mb * 1024 * 1024 >= weights_and_input  # both are resident on the device during the pass
    assert costs.flops == 2 * 64 * 10 * 20 + 2 * 64 * 20 * 3
    assert costs.latency_ms is not None and costs.latency_ms > 0 and costs.device.startswith("cuda")
