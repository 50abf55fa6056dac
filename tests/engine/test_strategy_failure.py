"""A strategy whose own code raises ends the search in one line; trials in flight are stored; the study resumes."""

from __future__ import annotations

import pytest

import automl
from automl.engine.search import StrategyFailure
from automl.engine.study import Study
from automl.plugins import hookimpl, load_plugins
from automl.strategies.base import Proposal
from automl.strategies.random import RandomStrategy
from tests.strategies.helpers import tiny


def score(candidate) -> float:
    return 1.0 if candidate["or.branch"] == "deep" else 0.5


class Flaky(RandomStrategy):
    """Random search whose ask, tell or state_dict raises once a class-level switch says so."""

    name = "flaky"
    broken_in: str | None = None
    after = 4

    def setup(self, space, context):
        super().setup(space, context)
        self.asks = 0

    def ask(self) -> Proposal:
        self.asks += 1
        if self.broken_in == "ask" and self.asks > self.after:
            raise KeyError("no such node")
        return super().ask()

    def tell(self, proposal, result) -> None:
        if self.broken_in == "tell" and proposal.number >= self.after:
            raise ZeroDivisionError("division by zero")

    def state_dict(self):
        if self.broken_in == "state_dict":
            raise TypeError("cannot serialise")
        return super().state_dict()


class FlakyPlugin:
    @hookimpl
    def automl_strategies(self):
        return [Flaky]


@pytest.fixture
def plugins():
    yield load_plugins(entry_points=False, extra=[FlakyPlugin()])
    Flaky.broken_in = None


@pytest.mark.parametrize("method", ["ask", "tell", "state_dict"])
def test_the_failure_names_the_strategy_and_the_study_resumes(tmp_path, plugins, method):
    path = tmp_path / "s.db"
    Flaky.broken_in = method
    trials = 70 if method == "state_dict" else 10  # the first snapshot comes after 64 events
    with pytest.raises(StrategyFailure, match=rf"strategy 'flaky' \(plugin FlakyPlugin.*\) failed in {method}\(\)"):
        automl.search(tiny, objective=score, strategy="flaky", trials=trials, seed=1, study=path, plugins=plugins)
    study = Study.open(path)
    assert not study.running()  # the trial whose tell raised was stored all the same
    stored = len(study.completed())
    assert stored >= 4
    study.close()
    Flaky.broken_in = None  # the strategy fixed: the same study continues
    study = automl.search(
        tiny, objective=score, strategy="flaky", trials=trials, seed=1, study=path, resume=True, plugins=plugins
    )
    assert len(study.completed()) == trials
    study.close()


def test_the_cli_reports_a_strategy_failure_as_a_user_error():
    from automl.cli.errors import is_user_error

    assert is_user_error(StrategyFailure("strategy 'x' failed in ask(): KeyError: 'y'"))


@pytest.mark.slow
def test_on_dask_no_trial_is_left_running(tmp_path, plugins):
    path = tmp_path / "s.db"
    Flaky.broken_in = "ask"
    Flaky.after = 6
    try:
        with pytest.raises(StrategyFailure, match="failed in ask"):
            automl.search(
                tiny, objective=score, strategy="flaky", trials=20, seed=1, study=path, plugins=plugins, workers=2
            )
    finally:
        Flaky.after = 4
    study = Study.open(path)
    assert not study.running()
    assert len(study.completed()) == 6  # every trial asked before the failure finished and was stored
    study.close()
