"""Strategies see several asks in flight and tells in any order, as with parallel workers."""

from __future__ import annotations

import pytest
from behaviours import behaving

from automl.engine.evaluation import Evaluator
from automl.engine.runners import Finished
from automl.engine.search import Budget, SearchDriver
from automl.engine.storage import StudyStorage
from automl.plugins import load_plugins
from automl.strategies.base import Proposal, StrategyContext


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


@pytest.mark.parametrize("name", ["random", "mcts", "smbo"])
def test_strategy_works_with_three_trials_in_flight(tmp_path, name):
    plugins = load_plugins()
    if name not in plugins.strategies():
        pytest.skip(f"strategy {name} is not installed")
    evaluator = Evaluator(space=behaving, objective=lambda candidate: candidate["width"] / 10_000)
    strategy = plugins.strategy(name)()
    strategy.setup(behaving, StrategyContext(seed=3, trials=12))
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
