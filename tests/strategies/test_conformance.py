"""The strategy conformance kit (``automl.testing.strategies``) run on the built-in strategies, on the plugin
example of docs/strategy-plugins.md, and on broken strategies it must catch.

``darts`` and ``darts-pt`` are not run through the kit: they are one-shot strategies whose first ask trains a
supernet on data (``context.data``, ``context.training``, ``context.run_job``), which the kit does not provide;
tests/darts covers them. The evolution plugin runs the kit in plugins/automl-evolution/tests.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from automl.plugins import load_plugins
from automl.space import Candidate
from automl.strategies import Proposal
from automl.strategies.mcts import MCTSStrategy
from automl.strategies.random import RandomStrategy
from automl.strategies.smbo import SMBOStrategy
from automl.strategies.tpe import TPEStrategy
from automl.testing.strategies import StrategyConformance

DOC = Path(__file__).resolve().parents[2] / "docs" / "strategy-plugins.md"


class TestRandomConformance(StrategyConformance):
    strategy_class = RandomStrategy
    distinct_in_flight = False  # uniform sampling with replacement: a candidate may be drawn twice


class TestRandomUniformArchitecturesConformance(StrategyConformance):
    strategy_class = RandomStrategy
    options: ClassVar[dict[str, Any]] = {"uniform": "architectures"}
    distinct_in_flight = False
    # counting the architectures of mlp, tabular and darts_cell passes the count limit (a clear error instead)
    spaces: ClassVar[dict[str, Any]] = {"cnn": "search_spaces/cnn.py"}


class TestMCTSConformance(StrategyConformance):
    strategy_class = MCTSStrategy


class TestMCTSWithRaveConformance(StrategyConformance):
    strategy_class = MCTSStrategy
    options: ClassVar[dict[str, Any]] = {"rave": 20.0, "rollout": "amaf"}


class TestTPEConformance(StrategyConformance):
    strategy_class = TPEStrategy
    options: ClassVar[dict[str, Any]] = {"startup": 3}


class TestUnivariateTPEConformance(StrategyConformance):
    strategy_class = TPEStrategy
    options: ClassVar[dict[str, Any]] = {"startup": 3, "multivariate": False}


class TestSMBOConformance(StrategyConformance):
    strategy_class = SMBOStrategy
    # SMAC fits a forest per ask: a small initial design and acquisition search keep each test short
    options: ClassVar[dict[str, Any]] = {"initial": 3, "challengers": 50, "local_searches": 1}
    trials = 20
    steps = 10
    rounds = 2


# ---------------------------------------------------------------- the plugin example of docs/strategy-plugins.md
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def doc_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def doc_block(first_line: str) -> str:
    """The ```python block of the doc whose first line is ``first_line``."""
    found = [block for block in doc_blocks() if block.splitlines()[0].strip() == first_line]
    assert len(found) == 1, f"docs/strategy-plugins.md must have one python block starting {first_line!r}"
    return found[0]


def doc_plugin() -> types.ModuleType:
    """The single-file plugin ``automl_hillclimb.py`` of the doc, as the module ``automl_hillclimb_doc``."""
    module = types.ModuleType("automl_hillclimb_doc")
    sys.modules[module.__name__] = module  # dataclasses and typing.get_type_hints look the module up
    exec(compile(doc_block("# automl_hillclimb.py"), f"{DOC.name}: automl_hillclimb.py", "exec"), module.__dict__)
    return module


DOC_PLUGIN = doc_plugin()


class TestDocumentedPluginConformance(StrategyConformance):
    """The kit on the doc's example, as the doc's test module subclasses it."""

    strategy_class = DOC_PLUGIN.HillClimbStrategy


def test_every_python_block_of_the_doc_compiles() -> None:
    blocks = doc_blocks()
    assert len(blocks) >= 3
    for number, block in enumerate(blocks, start=1):
        compile(block, f"{DOC.name}, python block {number}", "exec")


def test_the_doc_plugin_registers_its_strategy() -> None:
    plugins = load_plugins(entry_points=False, extra=[DOC_PLUGIN])
    assert plugins.strategy("hillclimb") is DOC_PLUGIN.HillClimbStrategy


def test_the_doc_test_module_uses_the_kit(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "automl_hillclimb", DOC_PLUGIN)
    namespace: dict[str, Any] = {}
    exec(compile(doc_block("# tests/test_hillclimb.py"), f"{DOC.name}: tests/test_hillclimb.py", "exec"), namespace)
    assert issubclass(namespace["TestHillClimb"], StrategyConformance)
    assert namespace["TestHillClimb"].strategy_class is DOC_PLUGIN.HillClimbStrategy


# ---------------------------------------------------------------------------- the kit catches broken strategies
class Unseeded(RandomStrategy):
    def setup(self, space, context):
        super().setup(space, context)
        self.rng = np.random.default_rng(0)


class IgnoresItsState(RandomStrategy):
    def load_state_dict(self, state):
        pass


class ReturnsACandidate(RandomStrategy):
    def ask(self):
        return super().ask().candidate


class NumbersItsProposals(RandomStrategy):
    def ask(self):
        return super().ask().numbered(0)


class SkipsValidation(RandomStrategy):
    def setup(self, space, context):  # no super().setup(): options are not validated
        self.space, self.context, self.options = space, context, self.Options()
        self.rng = np.random.default_rng(context.seed)


class TupleInData(RandomStrategy):
    def ask(self):
        return Proposal(super().ask().candidate, data={"path": (1, 2)})


class CrashesOnFailures(RandomStrategy):
    def setup(self, space, context):
        super().setup(space, context)
        self.total = 0.0

    def tell(self, proposal, result):
        self.total += result.score


class TakesNumbersForAskCounts(RandomStrategy):
    def setup(self, space, context):
        super().setup(space, context)
        self.asked = []

    def ask(self):
        proposal = super().ask()
        self.asked.append(proposal.candidate)
        return proposal

    def tell(self, proposal, result):
        assert self.asked[proposal.number] == proposal.candidate


class MutatesData(RandomStrategy):
    def ask(self):
        return Proposal(super().ask().candidate, data={"told": False})

    def tell(self, proposal, result):
        proposal.data["told"] = True


@dataclass(frozen=True)
class UndocumentedOptions:
    size: int = 3


class WithoutHelp(RandomStrategy):
    Options = UndocumentedOptions


class OutOfOrder(RandomStrategy):
    def ask(self):
        decisions = super().ask().candidate.to_dict()
        return Proposal(Candidate(dict(reversed(list(decisions.items())))))


class GivesUpEarly(RandomStrategy):
    def setup(self, space, context):
        super().setup(space, context)
        self.asked = 0

    def ask(self):
        self.asked += 1
        return None if self.asked > 30 else super().ask()


BROKEN = [
    (Unseeded, {}, "test_other_seed_other_candidates", {}, "is the strategy seeded"),
    (IgnoresItsState, {}, "test_resume", {"resume_tail": True}, "differs from the uninterrupted run"),
    (ReturnsACandidate, {}, "test_same_seed_same_candidates", {}, "must return an automl.strategies.Proposal"),
    (NumbersItsProposals, {}, "test_asks_in_flight", {}, "must leave Proposal.number None"),
    (SkipsValidation, {}, "test_unknown_option_is_rejected", {}, "DID NOT RAISE"),
    (TupleInData, {}, "test_proposal_data_survives_json", {}, "must come back equal from JSON"),
    (CrashesOnFailures, {}, "test_failed_pruned_and_infeasible_tells", {}, "unsupported operand"),
    (TakesNumbersForAskCounts, {"distinct_in_flight": False}, "test_asks_in_flight", {}, "index out of range"),
    (MutatesData, {"distinct_in_flight": False}, "test_asks_in_flight", {}, "tell\\(\\) changed Proposal.data"),
    (RandomStrategy, {}, "test_asks_in_flight", {}, "already in flight"),
    (WithoutHelp, {}, "test_describe_options", {}, "has no help"),
    (OutOfOrder, {}, "test_candidates_replay_in_ready_space", {"space_name": "mlp"}, "canonical form"),
    (GivesUpEarly, {}, "test_proposes_until_the_space_is_exhausted", {}, "returned None after 30 asks"),
]


@pytest.mark.parametrize(
    ("strategy_class", "settings", "test", "arguments", "message"),
    BROKEN,
    ids=[f"{case[0].__name__}-{case[2]}" for case in BROKEN],
)
def test_the_kit_catches(strategy_class, settings, test, arguments, message) -> None:
    kit = type("Kit", (StrategyConformance,), {"strategy_class": strategy_class, **settings})()
    with pytest.raises((AssertionError, TypeError, IndexError, pytest.fail.Exception), match=message):
        getattr(kit, test)(**arguments)
