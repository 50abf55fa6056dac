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


def one_decision_apart(parent: Candidate, child: Candidate) -> bool:
    """The plugin's mutation: one decision of the parent takes another value, every other one it keeps.

    Decisions the change creates (another branch, more repeats) are new; those it removes are gone;
    nothing else differs.
    """
    changed = [path for path in parent if path in child and child[path] != parent[path]]
    if len(changed) != 1:
        return False
    created, removed = set(child) - set(parent), set(parent) - set(child)
    if changed == ["or.branch"]:
        other = "or.wide." if child["or.branch"] == "wide" else "or.deep."
        return all(path.startswith(other) for path in created) and all(not path.startswith(other) for path in removed)
    if changed == ["or.deep.repeat.times"]:
        layers = range(min(parent[changed[0]], child[changed[0]]), max(parent[changed[0]], child[changed[0]]))
        structural = {
            f"or.deep.repeat.{index}.{kind}" for index in layers for kind in ("linear.units", "activation.kind")
        }
        return created | removed == structural
    return not created and not removed


def test_mutation_changes_exactly_one_decision_and_keeps_the_rest() -> None:
    strategy = make(0)
    rng = np.random.default_rng(1)
    for _ in range(200):
        parent = tiny.sample_candidate(rng)
        child = strategy.mutate(parent)
        tiny.replay(child)  # a valid candidate
        assert one_decision_apart(parent, child), (parent.to_dict(), child.to_dict())


def test_mutation_picks_each_decision_of_the_parent_about_equally_often() -> None:
    """The decision to change is drawn uniformly from the parent's: none is favoured, none never mutated."""
    strategy = make(0)
    parent = Candidate(
        {
            "or.branch": "deep",
            "or.deep.repeat.times": 2,
            "or.deep.repeat.0.linear.units": 8,
            "or.deep.repeat.0.activation.kind": "relu",
            "or.deep.repeat.1.linear.units": 64,
            "or.deep.repeat.1.activation.kind": "tanh",
        }
    )
    tiny.replay(parent)
    mutations = 1_200
    counts = dict.fromkeys(parent, 0)
    for _ in range(mutations):
        child = strategy.mutate(parent)
        (changed,) = [path for path in parent if path in child and child[path] != parent[path]]
        counts[changed] += 1
    assert all(abs(count / mutations - 1 / len(parent)) < 0.05 for count in counts.values()), counts


# A space without structure, so that "one decision apart" cannot happen by chance (4 * 7 of 4096 neighbours).
@s.search_space
def flat(x: Any) -> Any:
    """4096 candidates: four independent widths."""
    for index in range(4):
        x = s.op.linear(x, units=s.Choice([1, 2, 3, 4, 5, 6, 7, 8], name=f"width{index}"))
    return s.op.linear(x, units=s.OUTPUTS)


def flat_one_apart(parent: Candidate, child: Candidate) -> bool:
    return set(parent) == set(child) and sum(parent[path] != child[path] for path in parent) == 1


class Tournaments:
    """Records every mutation the strategy makes: the population it chose from, the parent, the child."""

    def __init__(self, strategy: EvolutionStrategy) -> None:
        self.calls: list[tuple[list[tuple[Candidate, float | None]], Candidate, Candidate]] = []
        mutate = strategy.mutate

        def recording(parent: Candidate) -> Candidate:
            child = mutate(parent)
            self.calls.append((list(strategy.population), parent, child))
            return child

        strategy.mutate = recording  # type: ignore[method-assign]


def best_first(population: list[tuple[Candidate, float | None]]) -> list[Candidate]:
    """Members by score, failed members (None) last."""
    return [
        candidate
        for candidate, *_ in sorted(population, key=lambda member: -np.inf if member[1] is None else -member[1])
    ]


def make_flat(seed: int = 0, **options: Any) -> EvolutionStrategy:
    strategy = EvolutionStrategy()
    strategy.setup(flat, StrategyContext(seed=seed, trials=400, options=options))
    return strategy


def test_the_first_population_asks_are_random_then_each_ask_mutates_a_member() -> None:
    strategy = make_flat(0, population=5, sample=2)
    tournaments = Tournaments(strategy)
    scores = np.random.default_rng(9)
    for number in range(12):
        before = len(tournaments.calls)
        proposal = strategy.ask()
        assert (len(tournaments.calls) > before) == (number >= 5), number  # P random asks first, then mutations
        if number >= 5:
            population, parent, child = tournaments.calls[-1]
            assert proposal.candidate == child and flat_one_apart(parent, child)
            assert parent in [member for member, *_ in population]
        strategy.tell(proposal, TrialResult("complete", float(scores.random())))
        assert len(strategy.population) == min(number + 1, 5)  # P members kept, never more


@pytest.mark.parametrize("sample", [1, 3, 6])
def test_the_parent_is_the_best_of_a_random_sample_of_the_sample_size(sample: int) -> None:
    """Of P = 6 members the winner of S drawn is never among the S - 1 worst, and is the best S/P of the time."""
    population = 6
    strategy = make_flat(2, population=population, sample=sample)
    tournaments = Tournaments(strategy)
    scores = np.random.default_rng(4)  # distinct scores: "the best" is always one member
    for _ in range(300):
        proposal = strategy.ask()
        strategy.tell(proposal, TrialResult("complete", float(scores.random())))
    ranks = [best_first(members).index(parent) for members, parent, _ in tournaments.calls]
    assert len(ranks) >= 290
    assert max(ranks) == population - sample  # can be any member but the S - 1 worst, and is
    share_of_best = ranks.count(0) / len(ranks)
    assert abs(share_of_best - sample / population) < 0.1, (share_of_best, sample / population)


def test_population_ages_out_the_oldest() -> None:
    strategy = make(0, population=5, sample=2)
    asked = drive(strategy, 12)
    assert len(strategy.population) == 5
    assert [candidate for candidate, *_ in strategy.population] == asked[-5:]


def test_the_oldest_member_dies_even_when_it_is_the_best() -> None:
    """Aging, not killing the worst: the first member scores best of all, and it is gone after P more tells."""
    strategy = make_flat(1, population=4, sample=4)  # S = P: the parent is always the population's best
    tournaments = Tournaments(strategy)
    told: list[Candidate] = []
    for number in range(9):
        proposal = strategy.ask()
        strategy.tell(proposal, TrialResult("complete", 1.0 - number / 10))  # each member worse than the one before
        told.append(proposal.candidate)
        assert [member for member, *_ in strategy.population] == told[-4:]
    for members, parent, child in tournaments.calls:
        assert parent == best_first(members)[0] and flat_one_apart(parent, child)
    assert tournaments.calls[0][1] == told[0]  # the first member was the best parent ...
    strategy.ask()
    assert tournaments.calls[-1][1] == told[5]  # ... and has aged out, with the next four: the best alive wins now


def test_asks_in_flight_and_failures() -> None:
    strategy = make_flat(0, population=4, sample=4)
    tournaments = Tournaments(strategy)
    batch = [strategy.ask() for _ in range(6)]  # more than P in flight: no population yet, still random
    assert len({proposal.candidate.key for proposal in batch}) == 6 and not tournaments.calls
    told = []
    for index, proposal in enumerate(reversed(batch)):  # tells in another order than the asks
        failed = index % 2 == 1
        strategy.tell(proposal, TrialResult("failed") if failed else TrialResult("complete", 0.1 * index))
        told.append((proposal.candidate, None if failed else 0.1 * index))
    # each tell added one member in the order of tells, failed ones included; the oldest two aged out
    assert [member[:2] for member in strategy.population] == told[-4:]
    child = strategy.ask().candidate
    _, parent, _ = tournaments.calls[-1]
    best_completed = max((member for member in told[-4:] if member[1] is not None), key=lambda member: member[1])
    assert parent == best_completed[0]  # failed members rank last in the tournament
    assert flat_one_apart(parent, child)


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


def flat_objective(candidate: Candidate) -> float:
    return sum(candidate[f"width{index}"] * (index + 1) for index in range(4)) / 80


def test_a_search_stopped_and_resumed_proposes_what_an_uninterrupted_one_does(tmp_path) -> None:
    """Through the engine, as `automl search --resume` does: the study's stored strategy state continues the run."""
    import automl

    def search(study: str, trials: int, resume: bool = False) -> list[str]:
        result = automl.search(
            flat,
            objective=flat_objective,
            direction="maximize",
            strategy="evolution",
            strategy_options={"population": 6, "sample": 3},
            trials=trials,
            seed=5,
            study=tmp_path / study,
            resume=resume,
        )
        try:
            return [trial.candidate.key for trial in result.trials]
        finally:
            result.close()

    uninterrupted = search("whole.db", 30)
    stopped = search("stopped.db", 13)  # stopped after the population filled and a few children
    resumed = search("stopped.db", 30, resume=True)
    assert resumed[:13] == stopped and resumed == uninterrupted
    assert len(set(uninterrupted)) == 30


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
