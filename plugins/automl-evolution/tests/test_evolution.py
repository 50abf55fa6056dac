"""Regularised evolution: mutation of exactly one decision, aging, determinism, resume, plugin discovery."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from automl_evolution import EvolutionStrategy

from automl import space as s
from automl.space import Candidate
from automl.strategies.base import Proposal, StrategyContext, StrategyOptionError, TrialResult


@s.search_space
def tiny(x: Any) -> Any:
    """75 candidates: 1-2 layers of (width, activation), or one wide layer."""

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([8, 16, 32, 64]))
        return s.op.activation(x, kind=s.Choice(["relu", "tanh"]))

    x = s.Or(
        {
            "deep": lambda x: s.Repeat(layer, times=s.Int(1, 2))(x),
            "wide": lambda x: s.op.linear(x, units=s.Choice([128, 256, 512])),
        }
    )(x)
    return s.op.linear(x, units=s.OUTPUTS)


def objective(candidate: Candidate) -> float:
    if candidate["or.branch"] == "wide":
        return 0.3 + 0.1 * math.log2(candidate["or.wide.linear.units"] / 128)
    total = 0.0
    for index in range(candidate["or.deep.repeat.times"]):
        total += math.log2(candidate[f"or.deep.repeat.{index}.linear.units"]) / 6
        total += 0.5 if candidate[f"or.deep.repeat.{index}.activation.kind"] == "relu" else 0.0
    return total / 3


def make(seed: int = 0, **options: Any) -> EvolutionStrategy:
    strategy = EvolutionStrategy()
    strategy.setup(tiny, StrategyContext(seed=seed, trials=40, options=options))
    return strategy


def drive(strategy: Any, trials: int, stop_at: float | None = None) -> list[Candidate]:
    asked = []
    for _ in range(trials):
        proposal = strategy.ask()
        candidate = proposal.candidate
        asked.append(candidate)
        score = objective(candidate)
        strategy.tell(proposal, TrialResult("complete", score))
        if stop_at is not None and score >= stop_at - 1e-12:
            break
    return asked


def test_same_seed_same_candidates_other_seed_others() -> None:
    first = [c.key for c in drive(make(3, population=8, sample=3), 30)]
    second = [c.key for c in drive(make(3, population=8, sample=3), 30)]
    other = [c.key for c in drive(make(4, population=8, sample=3), 30)]
    assert first == second
    assert first != other


def test_mutation_changes_exactly_one_decision_and_keeps_the_rest() -> None:
    strategy = make(0)
    rng = np.random.default_rng(1)
    for _ in range(200):
        parent = tiny.sample_candidate(rng)
        child = strategy.mutate(parent)
        tiny.replay(child)  # a valid candidate
        changed = [path for path in parent if path in child and child[path] != parent[path]]
        assert len(changed) <= 1
        if not changed:  # the changed decision removed or created others (branch, repeat count)
            assert set(child) != set(parent)
        else:
            created = set(child) - set(parent)
            removed = set(parent) - set(child)
            if created or removed:
                assert changed[0] in {"or.branch", "or.deep.repeat.times"}


def test_population_ages_out_the_oldest() -> None:
    strategy = make(0, population=5, sample=2)
    asked = drive(strategy, 12)
    assert len(strategy.population) == 5
    assert [candidate for candidate, _ in strategy.population] == asked[-5:]


def test_asks_in_flight_and_failures() -> None:
    strategy = make(0, population=4, sample=2)
    batch = [strategy.ask() for _ in range(6)]  # more than P in flight: no population yet, still random
    assert len({proposal.candidate.key for proposal in batch}) == 6
    for index, proposal in enumerate(batch):
        result = TrialResult("failed") if index % 2 else TrialResult("complete", objective(proposal.candidate))
        strategy.tell(proposal, result)
    child = strategy.ask()
    tiny.replay(child.candidate)


def test_finds_the_optimum_sooner_than_random() -> None:
    def trials_to_optimum(make_strategy: Any) -> float:
        counts = []
        for seed in range(10):
            asked = drive(make_strategy(seed), 60, stop_at=1.0)
            counts.append(len(asked) if objective(asked[-1]) >= 1.0 - 1e-12 else 61)
        return float(np.mean(counts))

    class Random:
        def __init__(self, seed: int) -> None:
            self.rng = np.random.default_rng(seed)

        def ask(self) -> Proposal:
            return Proposal(tiny.sample_candidate(self.rng))

        def tell(self, proposal: Proposal, result: TrialResult) -> None:
            pass

    evolution = trials_to_optimum(lambda seed: make(seed, population=8, sample=3))
    random = trials_to_optimum(Random)
    assert evolution < random - 5, (evolution, random)


def test_state_dict_round_trip_continues_identically() -> None:
    reference = [c.key for c in drive(make(7, population=6, sample=3), 30)]
    first = make(7, population=6, sample=3)
    keys = [c.key for c in drive(first, 12)]
    state = json.loads(json.dumps(first.state_dict()))
    resumed = make(123, population=6, sample=3)
    resumed.load_state_dict(state)
    keys += [c.key for c in drive(resumed, 18)]
    assert keys == reference


def test_rejects_unknown_options() -> None:
    with pytest.raises(StrategyOptionError):
        make(0, populaton=3)


def test_listed_by_load_plugins_once_installed() -> None:
    from automl.plugins import load_plugins

    plugins = load_plugins()
    strategies = plugins.strategies()
    assert "evolution" in strategies, plugins.failures
    assert strategies["evolution"].value is EvolutionStrategy
    assert strategies["evolution"].plugin == "evolution"
    assert plugins.strategy("evolution") is EvolutionStrategy


def test_the_cli_lists_and_runs_it_and_it_is_gone_without_its_entry_point(tmp_path, monkeypatch) -> None:
    import importlib.metadata

    from click.testing import CliRunner

    from automl.cli.main import cli

    runner = CliRunner()
    assert "evolution" in runner.invoke(cli, ["strategies"]).stdout
    space_file = tmp_path / "space.py"
    space_file.write_text(
        "from automl import space as s\n\n@s.search_space\ndef net(x):\n"
        "    x = s.op.linear(x, units=s.Choice([4, 8]))\n"
        "    return s.op.linear(x, units=s.OUTPUTS)\n"
    )
    result = runner.invoke(
        cli,
        [
            "search",
            str(space_file),
            "--data",
            "wine",
            "--strategy",
            "evolution",
            "--trials",
            "2",
            "--epochs",
            "1",
            "--study",
            str(tmp_path / "s.db"),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output

    installed = importlib.metadata.entry_points

    def without_evolution(group: str) -> list[Any]:
        return [entry for entry in installed(group=group) if entry.name != "evolution"]

    monkeypatch.setattr(importlib.metadata, "entry_points", without_evolution)
    assert "evolution" not in runner.invoke(cli, ["strategies"]).stdout
    gone = runner.invoke(cli, ["search", str(space_file), "--data", "wine", "--strategy", "evolution"])
    assert gone.exit_code == 2 and "unknown strategy 'evolution'" in gone.stderr
