"""Magnitude (DARTS, Liu et al. 2019) and perturbation (DARTS-PT, Wang et al. 2021) selection.

Which op or input each method must pick is fixed by hand-built supernets whose
weights and alphas are set so the answer can be worked out on paper; the supernet
time budget is tested on a simulated clock, so no assertion depends on the
speed of the machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pytest
import torch

from automl import space as s
from automl.data import DataSplits, Split
from automl.nn.supernet import Supernet, build_supernet
from automl.space import Candidate
from automl.strategies import builtin_strategies, darts
from automl.strategies.base import Proposal, StrategyContext, TrialResult
from automl.strategies.darts import (
    DartsPerturbationStrategy,
    DartsStrategy,
    SupernetSettings,
    SupernetTrainer,
    select_by_magnitude,
    select_by_perturbation,
    train_supernet,
)
from search_spaces.darts_cell import OPERATIONS, darts_cell

SMALL = darts_cell.bind(nodes=2, cells=1, channels=8)
FAST = SupernetSettings(epochs=1, batch_size=64, learning_rate=0.1, finetune_epochs=1)
NO_TRAINING = SupernetSettings(epochs=0, finetune_epochs=0)


@s.search_space
def signal_edge(x):
    """One edge where only 'dense' (linear + relu) can carry an XOR signal to the linear head."""
    branches = {
        "skip": lambda x: s.op.identity(x),
        "dense": lambda x: s.op.relu(s.op.linear(x, units=32)),
        "zero": lambda x: s.op.zero(x),
    }
    x = s.op.linear(x, units=32)
    x = s.Or(branches, name="edge")(x)
    return s.op.linear(x, units=s.OUTPUTS)


@s.search_space
def swap_edge(x):
    """One edge on 2 features: 'skip' passes them on, 'dense' (a linear layer) can swap them."""
    branches = {
        "skip": lambda x: s.op.identity(x),
        "dense": lambda x: s.op.linear(x, units=2),
        "zero": lambda x: s.op.zero(x),
    }
    return s.op.linear(s.Or(branches, name="edge")(x), units=s.OUTPUTS)


@s.search_space
def three_inputs(x):
    """A node that keeps 2 of the inputs a, b, c, each through an edge that is 'skip' or DARTS' 'none'."""
    a, b, c = (s.op.linear(x, units=2, name=name) for name in "abc")

    def edge(wire, position):
        return s.Or({"skip": s.op.identity, "zero": s.op.zero}, name="op")(wire)

    return s.op.linear(s.InputChoice(k=2, combine="add", transform=edge, name="pick")(a, b, c), units=s.OUTPUTS)


def _splits(features: np.ndarray, target: np.ndarray) -> DataSplits:
    """The same rows as train, validation and test: the hand-built tests never train."""
    features, target = features.astype(np.float32), target.astype(np.int64)
    split = Split(features, target)
    shape = tuple(features.shape[1:])
    return DataSplits(split, split, split, "classification", 2, shape, [f"f{i}" for i in range(shape[0])])


@torch.no_grad()
def _set(supernet: Supernet, weights: Mapping[str, list[list[float]]], alphas: Mapping[str, list[float]]) -> None:
    """Set each named linear layer's weight (bias 0) and each decision's branch weights softmax(alpha)."""
    for name, weight in weights.items():
        layer = supernet.network.get_submodule(name)
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.zero_()
    for path, branch_weights in alphas.items():
        supernet.alpha(path).copy_(torch.tensor(branch_weights).log())


def test_magnitude_keeps_the_largest_alpha_and_perturbation_the_op_whose_removal_hurts_most() -> None:
    # the class is 1 when x0 > x1: 'dense' swaps the features (the signal), 'skip' passes them on (the
    # opposite); with the head the identity, 0.35 * x + 0.2 * 3 * swap(x) classifies every row right, and
    # 'skip' has the larger alpha of the two real ops (DARTS' 'none', larger still, is never selected)
    features = np.random.default_rng(0).normal(size=(200, 2))
    data = _splits(features, (features[:, 0] > features[:, 1]).astype(np.int64))
    supernet = build_supernet(swap_edge, (2,), 2)
    _set(
        supernet,
        {"linear": [[1.0, 0.0], [0.0, 1.0]], "edge__dense__linear": [[0.0, 3.0], [3.0, 0.0]]},
        {"edge.branch": [0.35, 0.2, 0.45]},
    )
    trainer = SupernetTrainer(supernet, data, NO_TRAINING, "cpu", seed=0)
    assert trainer.evaluate() == 1.0

    magnitude = select_by_magnitude(supernet)
    assert magnitude.selection.operations == {"edge.branch": "skip"}

    perturbation = select_by_perturbation(supernet, trainer, seed=0, finetune_epochs=0)
    assert perturbation.selection.operations == {"edge.branch": "dense"}
    # without 'dense' only the opposite of the signal is left; without 'skip' the swap alone is exact
    assert perturbation.operation_scores == {"edge.branch": {"base": 1.0, "skip": 1.0, "dense": 0.0}}
    assert supernet.frozen_operation("edge.branch") == "dense" and trainer.evaluate() == 1.0
    assert dict(supernet.candidate(perturbation.selection)) == {"edge.branch": "dense"}
    assert dict(supernet.candidate(magnitude.selection)) == {"edge.branch": "skip"}


def test_magnitude_keeps_the_strongest_edges_and_perturbation_drops_the_least_needed_input() -> None:
    # four rows of class 0, one-hot features, so input p adds margin[p][row] to class 0's logit (the head is
    # the identity); the row is right when the margins of the kept inputs add up to more than 0
    margins = {"a": [0.5, 2.0, 2.0, 2.0], "b": [2.0, -0.5, -0.5, -0.5], "c": [-1.0, -1.0, -1.0, -1.0]}
    data = _splits(np.eye(4), np.zeros(4))
    supernet = build_supernet(three_inputs, (4,), 2)
    _set(
        supernet,
        {"linear": [[1.0, 0.0], [0.0, 1.0]], **{name: [row, [0.0] * 4] for name, row in margins.items()}},
        # 'skip' weighs 0.5 on a's edge, 0.7 on b's, 0.9 on c's: by magnitude, c and b are the strongest edges
        {f"pick.input_{position}.op.branch": [weight, 1 - weight] for position, weight in enumerate((0.5, 0.7, 0.9))},
    )
    trainer = SupernetTrainer(supernet, data, NO_TRAINING, "cpu", seed=0)

    magnitude = select_by_magnitude(supernet)
    assert magnitude.selection.inputs == {"pick.inputs": (1, 2)}

    report = select_by_perturbation(supernet, trainer, seed=0, finetune_epochs=0)
    # every edge is frozen to 'skip' (weight 1) first; then a + b + c gets all 4 rows right, and without
    # a, b or c it gets 1, 3 or 4 of them: c is dropped
    assert report.selection.operations == {f"pick.input_{position}.op.branch": "skip" for position in range(3)}
    assert report.input_scores == {"pick.inputs": [{"0": 0.25, "1": 0.75, "2": 1.0}]}
    assert report.selection.inputs == {"pick.inputs": (0, 1)}
    assert supernet.active_inputs("pick.inputs") == (0, 1)
    candidate = supernet.candidate(report.selection)
    assert dict(candidate) == {
        "pick.inputs": (0, 1),
        "pick.input_0.op.branch": "skip",
        "pick.input_1.op.branch": "skip",
    }
    three_inputs.replay(candidate)


def test_perturbation_keeps_the_only_op_that_carries_the_signal(xor_data) -> None:
    settings = SupernetSettings(epochs=10, batch_size=32, learning_rate=0.1, finetune_epochs=0)
    supernet, trainer = train_supernet(signal_edge, xor_data, settings, seed=0)
    assert trainer.evaluate() > 0.7
    report = select_by_perturbation(supernet, trainer, seed=0, finetune_epochs=0)
    assert report.selection.operations == {"edge.branch": "dense"}
    scores = report.operation_scores["edge.branch"]
    assert scores["dense"] < 0.6 < scores["skip"]
    assert "zero" not in scores  # DARTS' 'none' is never selected
    assert dict(supernet.candidate(report.selection)) == {"edge.branch": "dense"}


def test_magnitude_and_perturbation_give_valid_cell_candidates(digits) -> None:
    supernet, trainer = train_supernet(SMALL, digits, FAST, seed=0)
    magnitude = supernet.candidate(select_by_magnitude(supernet).selection)
    SMALL.replay(magnitude)
    report = select_by_perturbation(supernet, trainer, seed=0, finetune_epochs=1)
    perturbation = supernet.candidate(report.selection)
    SMALL.replay(perturbation)
    for candidate in (magnitude, perturbation):
        assert len(candidate["node0_inputs"]) == 2 and len(candidate["node1_inputs"]) == 2
        for node in (0, 1):
            for source in candidate[f"node{node}_inputs"]:
                assert candidate[f"node{node}_edge{source}"] in OPERATIONS[:-1]
    assert all(supernet.is_frozen(decision.path) for decision in supernet.operation_decisions)
    assert supernet.active_inputs("node1_inputs") == tuple(perturbation["node1_inputs"])
    assert set(report.operation_scores) == {decision.path for decision in supernet.operation_decisions}
    assert report.input_scores["node1_inputs"] and report.finetune_epochs == 5  # between the 6 decisions
    json.dumps(report.scores())


def test_strategies_are_one_shot_report_and_resume_without_training(digits) -> None:
    assert {DartsStrategy, DartsPerturbationStrategy} <= set(builtin_strategies())
    reports: dict[str, object] = {}
    context = StrategyContext(
        seed=3,
        options={"supernet_epochs": 1, "batch_size": 32, "finetune_epochs": 0, "learning_rate": 0.1},
        data=digits,
        report=reports.__setitem__,
    )
    strategy = DartsPerturbationStrategy()
    strategy.setup(SMALL, context)
    proposal = strategy.ask()
    assert isinstance(proposal, Proposal) and isinstance(proposal.candidate, Candidate)
    candidate = proposal.candidate
    SMALL.replay(candidate)
    assert strategy.ask() is None
    assert set(reports) == {"alphas", "perturbation_scores", "supernet"}
    assert set(reports["alphas"]) == {"node0_edge0", "node0_edge1", "node1_edge0", "node1_edge1", "node1_edge2"}
    state = json.loads(json.dumps(strategy.state_dict()))

    resumed = DartsPerturbationStrategy()
    resumed.setup(SMALL, StrategyContext(seed=3, options=context.options, data=None))
    resumed.load_state_dict(state)
    again = resumed.ask()
    assert again is not None and again.candidate == candidate  # no data needed: the supernet is not trained again
    resumed.tell(again.numbered(0), TrialResult.complete(0.9))
    assert resumed.ask() is None
    finished = DartsPerturbationStrategy()
    finished.setup(SMALL, StrategyContext(seed=3, options=context.options))
    finished.load_state_dict(resumed.state_dict())
    assert finished.ask() is None


def test_same_seed_same_candidate_and_magnitude_strategy(digits) -> None:
    options = {"supernet_epochs": 1, "batch_size": 64, "fixed": {}}
    candidates = []
    for _ in range(2):
        strategy = DartsStrategy()
        strategy.setup(SMALL, StrategyContext(seed=7, options=options, data=digits))
        candidates.append(strategy.ask().candidate)
    assert candidates[0] == candidates[1]
    SMALL.replay(candidates[0])


# The time budget on a simulated clock: each forward pass of a supernet takes 1/16 s (a power of two, so the
# sums are exact) and nothing else takes any time. A training step is two passes (alphas, then weights), so a
# 1-second budget is spent after exactly 8 steps, however fast or loaded the machine is.
SECONDS_PER_FORWARD = 1 / 16
STEPS_IN_ONE_SECOND = 8


@pytest.fixture
def simulated_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"now": 1000.0}
    original_forward = Supernet.forward

    def forward(self: Supernet, *inputs: torch.Tensor) -> object:
        clock["now"] += SECONDS_PER_FORWARD
        return original_forward(self, *inputs)

    class SimulatedTime:
        @staticmethod
        def perf_counter() -> float:
            return clock["now"]

    monkeypatch.setattr(Supernet, "forward", forward)
    monkeypatch.setattr(darts, "time", SimulatedTime)


def test_seconds_budget_stops_training_and_fine_tuning(xor_data, simulated_clock) -> None:
    settings = SupernetSettings(epochs=10_000, batch_size=32, seconds=1.0, finetune_epochs=0)
    _, trainer = train_supernet(signal_edge, xor_data, settings, seed=0)
    # stopped at the first step that reached the budget, not after 10,000 epochs or at an epoch's end
    assert trainer.out_of_time()
    assert trainer.steps == STEPS_IN_ONE_SECOND
    assert trainer.training_seconds == 1.0
    assert trainer.train(5) == 0 and trainer.steps == STEPS_IN_ONE_SECOND  # the budget covers fine-tuning too


def test_strategy_stopped_by_its_budget_still_selects_and_records_the_budget(digits, simulated_clock) -> None:
    reports: dict[str, dict] = {}
    options = {"supernet_epochs": 10_000, "batch_size": 32, "finetune_epochs": 1, "seconds": 1.0}
    strategy = DartsPerturbationStrategy()
    strategy.setup(SMALL, StrategyContext(seed=3, options=options, data=digits, report=reports.__setitem__))
    proposal = strategy.ask()
    assert proposal is not None
    SMALL.replay(proposal.candidate)
    supernet = reports["supernet"]
    assert supernet["status"] == "complete"
    assert supernet["steps"] == STEPS_IN_ONE_SECOND and supernet["training_seconds"] == 1.0
    assert supernet["finetune_epochs"] == 0  # no time was left for fine-tuning between the 6 decisions
    assert set(reports["perturbation_scores"]["operations"]) == set(reports["alphas"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_and_selects_on_cuda(digits) -> None:
    supernet, trainer = train_supernet(SMALL, digits, FAST, seed=0, device="cuda")
    assert next(supernet.parameters()).is_cuda
    report = select_by_perturbation(supernet, trainer, seed=0, finetune_epochs=1)
    SMALL.replay(supernet.candidate(report.selection))
