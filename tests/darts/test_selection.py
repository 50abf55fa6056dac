"""Magnitude (DARTS, Liu et al. 2019) and perturbation (DARTS-PT, Wang et al. 2021) selection."""

from __future__ import annotations

import json

import pytest
import torch

from automl import space as s
from automl.space import Candidate
from automl.strategies import builtin_strategies
from automl.strategies.base import Proposal, StrategyContext, TrialResult
from automl.strategies.darts import (
    DartsPerturbationStrategy,
    DartsStrategy,
    SupernetSettings,
    select_by_magnitude,
    select_by_perturbation,
    train_supernet,
)
from search_spaces.darts_cell import OPERATIONS, darts_cell

SMALL = darts_cell.bind(nodes=2, cells=1, channels=8)
FAST = SupernetSettings(epochs=1, batch_size=64, learning_rate=0.1, finetune_epochs=1)


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


def test_seconds_budget_stops_training(xor_data) -> None:
    settings = SupernetSettings(epochs=10_000, batch_size=32, seconds=0.5, finetune_epochs=0)
    _, trainer = train_supernet(signal_edge, xor_data, settings, seed=0)
    # stopped by the budget, not by running out of epochs (a loaded machine may overshoot by a step or so)
    assert trainer.out_of_time() and trainer.steps > 0
    assert 0.45 <= trainer.training_seconds < 30.0
    assert trainer.train(5) == 0  # the budget covers fine-tuning too


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_and_selects_on_cuda(digits) -> None:
    supernet, trainer = train_supernet(SMALL, digits, FAST, seed=0, device="cuda")
    assert next(supernet.parameters()).is_cuda
    report = select_by_perturbation(supernet, trainer, seed=0, finetune_epochs=1)
    SMALL.replay(supernet.candidate(report.selection))
