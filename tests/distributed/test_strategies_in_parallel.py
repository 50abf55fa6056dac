"""Strategies see several asks in flight and tells in any order, as with parallel workers."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
from behaviours import behaving

from automl.engine.evaluation import Evaluator
from automl.engine.runners import Finished
from automl.engine.search import Budget, SearchDriver
from automl.engine.storage import StudyStorage
from automl.plugins import load_plugins
from automl.strategies import builtin_strategies
from automl.strategies.base import Proposal, StrategyContext

# Every built-in strategy that proposes candidates to train (DARTS and DARTS-PT select from a supernet instead).
BUILT_IN = ["random", "mcts", "smbo", "tpe"]
# Third-party strategies, by their entry point in group "automl", with options that make them leave their
# random start within 12 trials. Skipped only where their package is not installed.
THIRD_PARTY: dict[str, dict[str, Any]] = {"evolution": {"population": 4, "sample": 2}}


def installed(entry_point: str) -> bool:
    return any(entry.name == entry_point for entry in importlib.metadata.entry_points(group="automl"))


class OutOfOrderRunner:
    """Holds ``capacity`` trials and finishes the newest first: the worst order a cluster can produce."""

    def __init__(self, evaluator: Evaluator, capacity: int) -> None:
        self.evaluator = evaluator
        self.capacity = capacity
        self.pending: list[tuple[Proposal, int, object]] = []
        self.most_in_flight = 0

    def submit(self, proposal: Proposal, seed: int, plan=None) -> None:
        self.pending.append((proposal, seed, plan))
        self.most_in_flight = max(self.most_in_flight, len(self.pending))

    def wait(self) -> list[Finished]:
        proposal, seed, plan = self.pending.pop()
        assert proposal.number is not None
        result, weights = self.evaluator(proposal.candidate, seed, plan)
        return [Finished(proposal.number, result, weights)]

    def run_job(self, function, *arguments):
        return function(*arguments)

    def close(self) -> None:
        self.pending.clear()


def test_the_built_in_list_is_every_built_in_strategy_that_trains_candidates():
    """A built-in added later is not left out of the parallel test without anyone noticing."""
    trains_candidates = [cls.name for cls in builtin_strategies() if getattr(cls, "accepts_fidelity", True)]
    assert sorted(trains_candidates) == sorted(BUILT_IN)


@pytest.mark.parametrize("name", [*BUILT_IN, *THIRD_PARTY])
def test_strategy_works_with_three_trials_in_flight(tmp_path, name):
    if name in THIRD_PARTY and not installed(name):
        pytest.skip(f"strategy plugin {name} is not installed")
    plugins = load_plugins()
    strategies = plugins.strategies()
    # a built-in that fails to load, or an installed plugin that does, fails here rather than being skipped
    assert name in strategies, f"strategy {name} did not load: {plugins.failures}"
    if name in BUILT_IN:
        assert strategies[name].plugin == "automl"
    evaluator = Evaluator(space=behaving, objective=lambda candidate: candidate["width"] / 10_000)
    strategy = plugins.strategy(name)()
    strategy.setup(behaving, StrategyContext(seed=3, trials=12, options=THIRD_PARTY.get(name, {})))
    runner = OutOfOrderRunner(evaluator, capacity=3)
    storage = StudyStorage(tmp_path / "study.db", create=True)
    try:
        driver = SearchDriver(storage, strategy, evaluator, Budget(trials=12), seed=3, runner=runner)
        study = driver.run()
        trials = study.trials
    finally:
        storage.close()
    assert runner.most_in_flight == 3
    assert len(trials) == 12 and all(trial.status == "complete" for trial in trials)
