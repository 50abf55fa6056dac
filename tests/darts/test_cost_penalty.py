"""The cost term of one-shot search (FBNet, Wu et al. 2019; ProxylessNAS, Cai et al. 2019).

The op costs of small supernets are worked out by hand (a linear layer of n
inputs and m outputs is 2 n m FLOPs per row; a separable convolution of c
channels on an h x w map with a k x k kernel is 2 c h w (k k + c)), and the
penalty and its gradient in the alphas follow from them on paper.
"""

from __future__ import annotations

import math

import pytest
import torch

from automl import space as s
from automl.nn.operation_costs import CostPenalty, measure_operation_costs
from automl.nn.supernet import build_supernet
from automl.strategies import darts
from automl.strategies.base import StrategyContext
from automl.strategies.darts import DartsPerturbationStrategy, DartsStrategy, SupernetSettings, train_supernet
from automl.strategies.options import StrategyOptionError
from search_spaces.darts_cell import darts_cell

SMALL = darts_cell.bind(nodes=2, cells=1, channels=8)
SEARCH = {"supernet_epochs": 2, "batch_size": 64, "learning_rate": 0.1, "finetune_epochs": 0}


@s.search_space
def one_edge(x):
    """One edge on 32 features: 'skip' (free), 'dense' (a 32 x 32 linear layer, 2,048 FLOPs) or 'zero'."""
    branches = {
        "skip": lambda x: s.op.identity(x),
        "dense": lambda x: s.op.relu(s.op.linear(x, units=32)),
        "zero": lambda x: s.op.zero(x),
    }
    x = s.op.linear(x, units=32)
    x = s.Or(branches, name="edge")(x)
    return s.op.linear(x, units=s.OUTPUTS)


def test_expected_cost_matches_a_hand_computation_and_has_the_gradient_of_its_formula() -> None:
    supernet = build_supernet(one_edge, (8,), 2)
    costs = measure_operation_costs(supernet, torch.randn(1, 8), "flops")
    # the stem and head linear layers are outside the mixed op and are no op's cost
    assert costs.to_dict() == {"edge.branch": {"skip": 0.0, "dense": 2 * 32 * 32, "zero": 0.0}}

    weights = torch.tensor([0.2, 0.5, 0.3])
    with torch.no_grad():
        supernet.alpha("edge.branch").copy_(weights.log())
    penalty = CostPenalty(costs, weight=2.0)
    assert penalty.reference == pytest.approx(2048 / 3)  # uniform alphas: a third of 'dense'
    assert penalty.expected(supernet) == pytest.approx(0.5 * 2048)
    value = penalty(supernet)
    assert float(value.detach()) == pytest.approx(2.0 * 1024 / (2048 / 3))  # 3.0
    # d/d alpha_j of sum_i p_i c_i is p_j (c_j - E): with E = 1024 and the factor 2 / (2048 / 3)
    (gradient,) = torch.autograd.grad(value, [supernet.alpha("edge.branch")])
    scale = 2.0 / (2048 / 3)
    expected = [scale * 0.2 * (0 - 1024), scale * 0.5 * (2048 - 1024), scale * 0.3 * (0 - 1024)]
    assert gradient.tolist() == pytest.approx(expected)


def test_latency_table_times_real_ops_and_identity_is_free() -> None:
    supernet = build_supernet(one_edge, (8,), 2)
    costs = measure_operation_costs(supernet, torch.randn(1, 8), "latency_ms").to_dict()["edge.branch"]
    assert costs["skip"] == 0.0  # an identity branch computes nothing of its own
    assert costs["dense"] > 0 and math.isfinite(costs["dense"])
    assert costs["zero"] > 0


def test_cell_costs_are_measured_on_each_edges_input_and_summed_over_the_cells_sharing_a_decision() -> None:
    sample = torch.randn(1, 1, 8, 8)
    one = measure_operation_costs(build_supernet(SMALL, (1, 8, 8), 10), sample, "flops").to_dict()
    separable = 2 * 8 * 8 * 8 * (3 * 3 + 8)  # depthwise 3x3 plus pointwise, 8 channels on 8 x 8
    assert one["node0_edge0"]["sep_conv_3x3"] == 2 * separable  # two separable convolutions
    assert one["node0_edge0"]["dil_conv_3x3"] == separable
    assert one["node1_edge2"]["skip_connect"] == one["node1_edge2"]["max_pool_3x3"] == 0.0  # no FLOP formula
    two_cells = darts_cell.bind(nodes=2, cells=2, channels=8)
    two = measure_operation_costs(build_supernet(two_cells, (1, 8, 8), 10), sample, "flops").to_dict()
    # every cell has the same genotype and the same shapes: a shared decision costs twice as much
    assert two == {path: {op: 2 * cost for op, cost in ops.items()} for path, ops in one.items()}


def test_measuring_changes_nothing_the_training_sees() -> None:
    supernet = build_supernet(SMALL, (1, 8, 8), 10)
    before = {name: tensor.clone() for name, tensor in supernet.state_dict().items()}
    supernet.train()
    measure_operation_costs(supernet, torch.randn(1, 1, 8, 8), "latency_ms")
    assert supernet.training
    after = supernet.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)  # batch-norm statistics included


def _search(strategy: type[DartsStrategy], digits, **options: object) -> tuple[dict, dict]:
    reports: dict[str, dict] = {}
    instance = strategy()
    context = StrategyContext(seed=7, options={**SEARCH, **options}, data=digits, report=reports.__setitem__)
    instance.setup(SMALL, context)
    proposal = instance.ask()
    assert proposal is not None
    return dict(proposal.candidate), reports


def test_a_large_cost_weight_selects_a_cell_of_fewer_flops(digits) -> None:
    plain, plain_reports = _search(DartsStrategy, digits)
    # weight 0: the table is measured and reported, and nothing else changes (same alphas, same cell)
    measured, measured_reports = _search(DartsStrategy, digits, cost="flops", cost_weight=0.0)
    assert measured == plain and measured_reports["alphas"] == plain_reports["alphas"]
    _, cheap_reports = _search(DartsStrategy, digits, cost="flops", cost_weight=10.0)
    unpenalised, penalised = measured_reports["cost"], cheap_reports["cost"]
    assert penalised["operations"] == unpenalised["operations"]  # the same table: measured before training
    assert penalised["selected"] < unpenalised["selected"]
    assert penalised["network_flops"] < unpenalised["network_flops"]
    assert penalised["expected_after_training"] < unpenalised["expected_after_training"]
    assert set(cheap_reports) == {"alphas", "cost", "supernet"} and "cost" not in plain_reports


def test_selected_cost_is_the_sum_of_the_chosen_ops_on_the_kept_edges(digits) -> None:
    candidate, reports = _search(DartsPerturbationStrategy, digits, cost="flops", cost_weight=1.0)
    cost = reports["cost"]
    chosen = [path for path in cost["operations"] if path in candidate]
    assert len(chosen) == 4  # two nodes keep two input edges each; the fifth edge's op is not in the cell
    assert cost["selected"] == sum(cost["operations"][path][candidate[path]] for path in chosen)
    assert cost["network_flops"] > cost["selected"]  # the stem, the 1x1 preprocessing convs and the head
    assert cost["kind"] == "flops" and cost["weight"] == 1.0 and "perturbation_scores" in reports


def test_cost_none_never_measures_and_trains_as_before(digits, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*arguments: object) -> None:
        raise AssertionError("cost=none must not measure op costs")

    monkeypatch.setattr(darts, "measure_operation_costs", refuse)
    default, default_reports = _search(DartsStrategy, digits)
    explicit, explicit_reports = _search(DartsStrategy, digits, cost="none")
    assert explicit == default and explicit_reports["alphas"] == default_reports["alphas"]
    assert set(default_reports) == set(explicit_reports) == {"alphas", "supernet"}
    _, trainer = train_supernet(SMALL, digits, SupernetSettings(epochs=0), seed=0)
    assert trainer.cost_penalty is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cost": "params"}, "option cost='params': must be one of 'none', 'flops', 'latency_ms'"),
        ({"cost": "flops", "cost_weight": -1.0}, "option cost_weight=-1.0: must be >= 0.0"),
        ({"cost_weight": 0.5}, "cost_weight=0.5 needs a cost to weigh: add cost=flops|latency_ms"),
    ],
)
def test_a_bad_cost_option_is_one_line(options: dict, message: str) -> None:
    strategy = DartsStrategy()
    with pytest.raises(StrategyOptionError) as error:
        strategy.setup(SMALL, StrategyContext(seed=0, options=options))
    assert message in str(error.value) and "\n" not in str(error.value)
