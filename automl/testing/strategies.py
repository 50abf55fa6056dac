"""A conformance kit for search strategies: pytest tests a strategy's test module subclasses.

Subclass :class:`StrategyConformance` in a test module, name the subclass so
pytest collects it (``Test...``) and set ``strategy_class``::

    from automl.testing.strategies import StrategyConformance
    from my_plugin import MyStrategy


    class TestMyStrategy(StrategyConformance):
        strategy_class = MyStrategy
        options: ClassVar[dict[str, Any]] = {"population": 8}  # fast settings, validated like a user's

The subclass inherits one test per rule of the strategy contract (v2, see
``automl.strategies.base``); they drive the strategy the way the search engine
does, without a study or training:

- ``test_declares_the_contract``: name, description, ``resume``, a frozen
  ``Options`` dataclass, ``state_dict``/``load_state_dict`` for ``resume="state"``;
- ``test_same_seed_same_candidates`` / ``test_other_seed_other_candidates``:
  seeded determinism (set ``randomised = False`` for a deterministic strategy);
  ``test_same_candidates_in_fresh_processes``: the same candidates in two new
  interpreters with other ``PYTHONHASHSEED`` values;
- ``test_asks_in_flight``: several asks before their tells, tells in a shuffled
  order, numbers given by the engine, no candidate twice in flight (set
  ``distinct_in_flight = False`` for a strategy that may repeat, e.g. random);
- ``test_failed_pruned_and_infeasible_tells``: such tells (score None) are
  accepted, also before any completed trial, and the strategy keeps proposing;
- ``test_proposes_until_the_space_is_exhausted``: on a finite space ``ask()``
  returns None (which ends a search) only once every candidate was proposed;
- ``test_resume`` and ``test_state_is_json``: bring a fresh strategy back as the
  engine does (``load_state_dict`` of a JSON round-tripped snapshot and replay of
  the later asks and tells, or the replay of everything for ``resume="replay"``)
  and check that it then proposes what an uninterrupted run proposes;
- ``test_unknown_option_is_rejected``, ``test_option_out_of_range_is_rejected``
  (one per declared minimum, maximum and choices), ``test_default_options_parse``,
  ``test_describe_options``;
- ``test_candidates_replay_in_ready_space``: proposals on every ready space of
  the repository (``search_spaces/{mlp,cnn,darts_cell,tabular}.py``) replay in
  it; skipped when those files are not there (automl installed without its
  repository) unless ``spaces`` names spaces to use instead;
- ``test_proposal_data_survives_json``: ``Proposal.data`` is JSON that comes back
  equal, and tells with a JSON round-tripped proposal (as after a resume) work.

Every proposal the kit gets is checked by :func:`check_proposal`. The class
attributes below shrink or adapt the tests (``steps`` for slow strategies); the
methods ``make_strategy``, ``score`` and ``context`` may be overridden.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import types
import typing
import zlib
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from automl import space as s
from automl.space import Candidate, SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext, StrategyOptionError, TrialResult, TrialStatus
from automl.strategies.options import describe_options

__all__ = [
    "READY_SPACES",
    "TINY_SIZE",
    "StrategyConformance",
    "check_proposal",
    "ready_space_files",
    "stable_score",
    "stored",
    "tiny",
]

READY_SPACES = ("mlp", "cnn", "darts_cell", "tabular")
UNKNOWN_OPTION = "no_such_option_for_the_kit"


@s.search_space
def tiny(x: Any) -> Any:
    """75 candidates: 1-2 layers of (width, activation), or one wide layer."""

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([8, 16, 32, 64]))
        return s.op.activation(x, kind=s.Choice(["relu", "tanh"]))

    def deep(x: Any) -> Any:
        return s.Repeat(layer, times=s.Int(1, 2))(x)

    def wide(x: Any) -> Any:
        return s.op.linear(x, units=s.Choice([128, 256, 512]))

    x = s.Or({"deep": deep, "wide": wide})(x)
    return s.op.linear(x, units=s.OUTPUTS)


TINY_SIZE = 75


def stable_score(candidate: Candidate) -> float:
    """A deterministic score in [0, 1) for any candidate, the same in every process (no salted ``hash``)."""
    return zlib.crc32(candidate.key.encode()) / 2**32


def ready_space_files() -> dict[str, Path | None]:
    """The ready spaces of the repository automl was loaded from, by name; None where the file is not there."""
    import automl

    directory = Path(automl.__file__).resolve().parent.parent / "search_spaces"
    return {name: (path if (path := directory / f"{name}.py").is_file() else None) for name in READY_SPACES}


def stored(proposal: Proposal) -> Proposal:
    """A proposal as the engine stores it and hands it back after a resume: candidate and data through JSON."""
    return Proposal(
        Candidate.from_json(proposal.candidate.to_json()),
        proposal.budget,
        json.loads(json.dumps(dict(proposal.data))),
        proposal.number,
    )


def check_proposal(space: SearchSpace, proposal: Any) -> None:
    """Fail (AssertionError) unless ``proposal`` is what ``ask()`` must return for ``space``."""
    assert isinstance(proposal, Proposal), (
        f"ask() must return an automl.strategies.Proposal (or None when done), not {type(proposal).__name__}: "
        f"{proposal!r}"
    )
    candidate = proposal.candidate
    assert isinstance(candidate, Candidate), (
        f"Proposal.candidate must be an automl.space.Candidate, not {type(candidate).__name__}"
    )
    assert proposal.number is None, (
        f"ask() must leave Proposal.number None (the engine numbers proposals), got {proposal.number!r}"
    )
    budget = proposal.budget
    assert budget is None or (
        isinstance(budget, (int, float)) and not isinstance(budget, bool) and math.isfinite(budget) and budget > 0
    ), f"Proposal.budget must be None (the full budget) or a positive number of epochs, got {budget!r}"
    assert isinstance(proposal.data, Mapping), f"Proposal.data must be a mapping, not {type(proposal.data).__name__}"
    try:
        text = json.dumps(dict(proposal.data))
    except (TypeError, ValueError) as error:
        raise AssertionError(f"Proposal.data must be JSON-serialisable ({error}): {proposal.data!r}") from None
    assert json.loads(text) == dict(proposal.data), (
        "Proposal.data must come back equal from JSON, as the engine stores it (no tuples, no non-string keys, "
        f"no numpy scalars): {proposal.data!r} comes back as {json.loads(text)!r}"
    )
    assert Candidate.from_json(candidate.to_json()) == candidate, f"the candidate does not survive JSON: {candidate!r}"
    try:
        architecture = space.replay(candidate)
    except Exception as error:
        raise AssertionError(
            f"the proposed candidate does not replay in space {space.name!r}: {type(error).__name__}: {error}\n"
            f"candidate: {candidate!r}"
        ) from None
    canonical = Candidate(architecture.decisions)
    assert canonical == candidate, (
        "the proposed candidate is not in the space's canonical form (decisions in traversal order, values as "
        f"the space normalises them), so its key differs from the space's:\n  proposed:  {candidate.key}\n"
        f"  canonical: {canonical.key}"
    )


def _mixed_result(proposal: Proposal, score: float) -> TrialResult:
    """A result for the resume schedule: mostly complete, some failed, pruned and infeasible (by trial number)."""
    number = proposal.number or 0
    if number % 7 == 3:
        return TrialResult.failed("crashed (conformance kit)")
    if number % 11 == 5:
        return TrialResult(TrialStatus.PRUNED, None)
    if number % 13 == 8:
        return TrialResult(TrialStatus.INFEASIBLE, None, error="too many parameters (conformance kit)")
    return TrialResult.complete(score)


class _Study:
    """The engine's side of ask/tell: numbers proposals, keeps the ones in flight, records the events.

    Numbers start at 100 and skip every fourth one (as trials enqueued by hand would), so a strategy
    that takes a proposal's number for its ask count is caught.
    """

    def __init__(self, strategy: Strategy, space: SearchSpace, result: Callable[[Proposal], TrialResult]) -> None:
        self.strategy = strategy
        self.space = space
        self.result = result
        self.proposals: dict[int, Proposal] = {}  # numbered, as the strategy made them
        self.results: dict[int, TrialResult] = {}
        self.events: list[tuple[str, int]] = []
        self.in_flight: list[int] = []
        self.exhausted = False

    def number_for(self, index: int) -> int:
        return 100 + index + index // 3

    def ask(self) -> Proposal | None:
        proposal = self.strategy.ask()
        if proposal is None:
            self.exhausted = True
            return None
        check_proposal(self.space, proposal)
        numbered = proposal.numbered(self.number_for(len(self.proposals)))
        assert numbered.number is not None
        self.proposals[numbered.number] = numbered
        self.in_flight.append(numbered.number)
        self.events.append(("ask", numbered.number))
        return numbered

    def tell(self, number: int, result: TrialResult | None = None, *, as_stored: bool = False) -> None:
        proposal = self.proposals[number]
        if as_stored:
            proposal = stored(proposal)
        result = self.result(proposal) if result is None else result
        data = copy.deepcopy(dict(proposal.data))
        self.strategy.tell(proposal, result)
        assert proposal.number == number, f"tell() changed the proposal's number from {number} to {proposal.number}"
        assert dict(proposal.data) == data, (
            f"tell() changed Proposal.data (it must come back unchanged, also after a resume): {data!r} became "
            f"{dict(proposal.data)!r}"
        )
        self.results[number] = result
        self.in_flight.remove(number)
        self.events.append(("tell", number))

    def sequential(self, steps: int) -> None:
        for _ in range(steps):
            proposal = self.ask()
            if proposal is None:
                return
            self.tell(proposal.number)  # type: ignore[arg-type]

    def keys(self) -> list[str]:
        return [proposal.candidate.key for proposal in self.proposals.values()]


# run by test_same_candidates_in_fresh_processes in a new interpreter: argv = test module, test class
# hash seeds of the fresh processes: two seeds agree by chance too often to catch a set's order
_HASH_SEEDS = ("1", "2", "3")

_CHILD = """
import importlib, json, sys
kit = importlib.import_module(sys.argv[1])
for part in sys.argv[2].split("."):
    kit = getattr(kit, part)
kit = kit()
study = kit.study(kit.make_strategy())
study.sequential(kit.steps)
print(json.dumps(study.keys()))
"""


def _first_differences(*runs: list[str]) -> list[int | None]:
    """For each pair of runs, the index of the first ask where they differ (None: equal)."""
    found = []
    for index, first in enumerate(runs):
        for second in runs[index + 1 :]:
            if first == second:
                found.append(None)
                continue
            found.append(next((i for i, (a, b) in enumerate(zip(first, second)) if a != b), min(map(len, runs))))
    return found


def _base_types(annotation: Any) -> tuple[type, ...]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return tuple(typing.get_origin(member) or member for member in typing.get_args(annotation))
    return (origin or annotation,)


def _outside(kinds: tuple[type, ...], bound: float, direction: int) -> Any:
    """A value of the option's type beyond ``bound`` (direction -1: below, +1: above)."""
    if float in kinds:
        return float(bound) + direction * max(1.0, abs(float(bound)))
    if int in kinds:
        return (math.floor(bound) - 1) if direction < 0 else (math.ceil(bound) + 1)
    return None


def _not_a_choice(kinds: tuple[type, ...], choices: tuple[Any, ...]) -> Any:
    if str in kinds:
        return "-".join(map(str, choices)) + "-not-a-choice"
    numbers = [choice for choice in choices if isinstance(choice, (int, float)) and not isinstance(choice, bool)]
    if numbers and (int in kinds or float in kinds):
        return max(numbers) + 1
    return None


def option_cases(options_class: type) -> list[tuple[str, str, Any]]:
    """(option, rule, value breaking the rule) for every declared minimum, maximum and choices."""
    if not dataclasses.is_dataclass(options_class):
        return []
    hints = typing.get_type_hints(options_class)
    cases = []
    for field in dataclasses.fields(options_class):
        kinds = _base_types(hints[field.name])
        metadata = field.metadata
        if metadata.get("choices"):
            value = _not_a_choice(kinds, tuple(metadata["choices"]))
            if value is not None:
                cases.append((field.name, "choices", value))
        for rule, direction in (("minimum", -1), ("maximum", 1)):
            if metadata.get(rule) is not None:
                value = _outside(kinds, metadata[rule], direction)
                if value is not None:
                    cases.append((field.name, rule, value))
    return cases


class StrategyConformance:
    """The strategy contract as pytest tests; subclass it (``class TestMine(StrategyConformance)``).

    Class attributes a subclass sets:

    ``strategy_class``
        the strategy to check (required).
    ``options``
        strategy options every test uses (fast settings), given as a user would.
    ``space``
        the space of the behavioural tests (default: :data:`tiny`, 75 candidates).
    ``spaces``
        ``{name: SearchSpace or "path/to/space.py[:function]"}`` for the candidate-validity test instead of the
        repository's ready spaces (for a plugin tested outside the automl repository).
    ``trials``
        ``StrategyContext.trials`` (the budget a strategy may plan with).
    ``steps``
        asks per run in the determinism, failure, resume and JSON tests; lower it for a slow strategy.
    ``in_flight``, ``rounds``
        asks in flight at once, and how many such rounds, in ``test_asks_in_flight``.
    ``proposals_per_space``
        proposals checked on each ready space.
    ``space_size``
        how many candidates ``space`` has (None skips ``test_proposes_until_the_space_is_exhausted``); set it
        when you change ``space``.
    ``randomised``
        False for a strategy whose sequence does not depend on the seed.
    ``distinct_in_flight``
        False for a strategy that may propose a candidate already in flight (random sampling).
    ``fresh_processes``
        False skips ``test_same_candidates_in_fresh_processes`` (e.g. where subprocesses cannot run).
    """

    strategy_class: ClassVar[type[Strategy]]
    options: ClassVar[Mapping[str, Any]] = {}
    space: ClassVar[SearchSpace] = tiny
    spaces: ClassVar[Mapping[str, SearchSpace | str | PathLike[str]] | None] = None
    trials: ClassVar[int] = 40
    steps: ClassVar[int] = 20
    in_flight: ClassVar[int] = 4
    rounds: ClassVar[int] = 3
    proposals_per_space: ClassVar[int] = 10
    seed: ClassVar[int] = 7
    space_size: ClassVar[int | None] = TINY_SIZE
    randomised: ClassVar[bool] = True
    distinct_in_flight: ClassVar[bool] = True
    fresh_processes: ClassVar[bool] = True

    # ------------------------------------------------------------------ hooks
    def context(self, seed: int | None = None, options: Mapping[str, Any] | None = None) -> StrategyContext:
        return StrategyContext(
            seed=self.seed if seed is None else seed,
            trials=self.trials,
            options=dict(self.options if options is None else options),
        )

    def make_strategy(
        self, seed: int | None = None, space: SearchSpace | None = None, options: Mapping[str, Any] | None = None
    ) -> Strategy:
        """A fresh strategy, set up like the engine does it."""
        strategy = self.strategy_class()
        strategy.setup(self.space if space is None else space, self.context(seed, options))
        return strategy

    def score(self, candidate: Candidate) -> float:
        """The deterministic objective the tests tell (higher is better)."""
        return stable_score(candidate)

    def result(self, proposal: Proposal) -> TrialResult:
        return TrialResult.complete(self.score(proposal.candidate))

    def study(self, strategy: Strategy, space: SearchSpace | None = None) -> _Study:
        return _Study(strategy, self.space if space is None else space, self.result)

    # ------------------------------------------------------------- generation
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        cls = metafunc.cls
        if cls is None or not hasattr(cls, "strategy_class"):
            return
        if "option_case" in metafunc.fixturenames:
            cases = [pytest.param(case, id=f"{case[0]}-{case[1]}") for case in option_cases(cls.strategy_class.Options)]
            none = "the strategy declares no option with a minimum, maximum or choices"
            metafunc.parametrize("option_case", cases or [pytest.param(None, marks=pytest.mark.skip(reason=none))])
        if "space_name" in metafunc.fixturenames:
            names = list(cls.spaces) if cls.spaces is not None else list(READY_SPACES)
            metafunc.parametrize("space_name", names)
        if "resume_tail" in metafunc.fixturenames:
            metafunc.parametrize("resume_tail", [True, False], ids=["snapshot-and-tail", "snapshot-at-stop"])

    # ------------------------------------------------------------------ tests
    def test_declares_the_contract(self) -> None:
        cls = self.strategy_class
        assert issubclass(cls, Strategy), f"{cls.__name__} must subclass automl.strategies.Strategy"
        assert isinstance(cls.name, str) and cls.name, f"{cls.__name__}.name must be set (what users type)"
        assert isinstance(cls.description, str) and cls.description, f"{cls.__name__}.description must be set"
        assert cls.resume in ("state", "replay"), f"{cls.__name__}.resume must be 'state' or 'replay'"
        assert dataclasses.is_dataclass(cls.Options), f"{cls.__name__}.Options must be a dataclass"
        assert cls.Options.__dataclass_params__.frozen, f"{cls.__name__}.Options must be frozen"  # type: ignore[attr-defined]
        if cls.resume == "state":
            assert cls.state_dict is not Strategy.state_dict and cls.load_state_dict is not Strategy.load_state_dict, (
                f"{cls.__name__} declares resume='state' but does not define state_dict and load_state_dict"
            )

    def test_same_seed_same_candidates(self) -> None:
        first, second = self.study(self.make_strategy()), self.study(self.make_strategy())
        first.sequential(self.steps)
        second.sequential(self.steps)
        assert first.proposals, "the strategy proposed nothing"
        assert first.keys() == second.keys(), "two runs with the same seed and the same tells proposed other candidates"
        assert [dict(p.data) for p in first.proposals.values()] == [dict(p.data) for p in second.proposals.values()], (
            "two runs with the same seed and the same tells proposed the same candidates with other Proposal.data"
        )

    def test_other_seed_other_candidates(self) -> None:
        if not self.randomised:
            pytest.skip("randomised = False: the strategy's sequence does not depend on the seed")
        first, other = self.study(self.make_strategy()), self.study(self.make_strategy(seed=self.seed + 1))
        first.sequential(self.steps)
        other.sequential(self.steps)
        assert first.keys() != other.keys(), (
            f"seeds {self.seed} and {self.seed + 1} gave the same {len(first.keys())} candidates: is the strategy "
            "seeded from context.seed? (set randomised = False if it is deterministic by design)"
        )

    def test_same_candidates_in_fresh_processes(self) -> None:
        """Same seed, same candidates in two new interpreters with different ``PYTHONHASHSEED`` (no salted
        ``hash``, set order or ``id`` may decide a proposal): that is what a resumed or repeated search runs in."""
        if not self.fresh_processes:
            pytest.skip("fresh_processes = False")
        cls = type(self)
        if "<locals>" in cls.__qualname__:
            pytest.skip("the test class is defined inside a function: a fresh process cannot import it")
        path = [entry for entry in sys.path if isinstance(entry, str) and entry]
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, cls.__module__, cls.__qualname__],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": os.pathsep.join(path)},
            )
            for hash_seed in _HASH_SEEDS
        ]
        runs = []
        try:
            for child in children:
                out, err = child.communicate(timeout=300)
                assert child.returncode == 0, f"the run in a fresh process failed:\n{err[-3000:]}"
                runs.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        here = self.study(self.make_strategy())
        here.sequential(self.steps)
        assert all(run == here.keys() for run in runs), (
            f"the same seed gave other candidates in fresh processes with PYTHONHASHSEED={', '.join(_HASH_SEEDS)} "
            "(and here): "
            "does the strategy (or a library it uses) depend on Python's salted hash, set order or object ids? "
            f"first differences at asks {_first_differences(*runs, here.keys())}"
        )

    def test_proposes_until_the_space_is_exhausted(self) -> None:
        """``ask()`` returns None only when the strategy has nothing more to propose: on a finite space, not
        before every candidate was proposed (None ends the search, with trials of the budget left)."""
        if self.space_size is None:
            pytest.skip("space_size = None")
        study = self.study(self.make_strategy())
        study.sequential(self.space_size + 1)
        asked = len(set(study.keys()))
        assert not study.exhausted or asked == self.space_size, (
            f"ask() returned None after {len(study.proposals)} asks ({asked} distinct candidates) of a space of "
            f"{self.space_size}: the search would stop with {self.space_size - asked} candidates never tried"
        )

    def test_asks_in_flight(self) -> None:
        study = self.study(self.make_strategy())
        shuffle = np.random.default_rng(11)

        def ask_batch(size: int) -> None:
            for _ in range(size):
                proposal = study.ask()
                assert proposal is not None, (
                    f"the strategy stopped proposing after {len(study.proposals)} asks with some in flight"
                )
                if self.distinct_in_flight:
                    in_flight = [study.proposals[n].candidate.key for n in study.in_flight]
                    assert in_flight.count(proposal.candidate.key) == 1, (
                        f"ask {len(study.proposals)} proposed a candidate already in flight "
                        f"(set distinct_in_flight = False if the strategy may repeat): {proposal.candidate!r}"
                    )

        def tell_shuffled(count: int) -> None:
            chosen = [study.in_flight[int(i)] for i in shuffle.permutation(len(study.in_flight))[:count]]
            for number in chosen:
                study.tell(number)

        for _ in range(self.rounds):
            ask_batch(self.in_flight)  # several asks before any tell
            tell_shuffled(len(study.in_flight))  # tells in another order
        ask_batch(self.in_flight)  # overlapping: tell some, ask more while others run
        tell_shuffled(self.in_flight // 2)
        ask_batch(self.in_flight // 2)
        tell_shuffled(len(study.in_flight))
        study.sequential(2)  # and it keeps going
        assert not study.in_flight
        assert len(study.proposals) == (self.rounds + 1) * self.in_flight + self.in_flight // 2 + 2

    def test_failed_pruned_and_infeasible_tells(self) -> None:
        study = self.study(self.make_strategy())
        unfinished = [
            TrialResult.failed("crashed (conformance kit)"),
            TrialResult(TrialStatus.PRUNED, None),
            TrialResult(TrialStatus.INFEASIBLE, None, error="too many parameters (conformance kit)"),
        ]
        # before any completed trial: several asks in flight, all of them unfinished
        first = [study.ask() for _ in range(len(unfinished))]
        assert all(first), "the strategy stopped proposing at once"
        for proposal, result in zip(first, reversed(unfinished)):
            study.tell(proposal.number, result)  # type: ignore[union-attr,arg-type]
        for index in range(self.steps):
            proposal = study.ask()
            assert proposal is not None, f"the strategy stopped proposing after {len(study.proposals)} asks"
            result = unfinished[index % 3] if index % 2 == 0 else self.result(proposal)
            study.tell(proposal.number, result)  # type: ignore[arg-type]
        assert len(study.proposals) == self.steps + len(unfinished)

    def _scheduled_run(self, strategy: Strategy, snapshot_at: int | None) -> tuple[_Study, Any]:
        """Asks and tells interleaved by a fixed schedule (up to 3 in flight), results of every status."""
        study = _Study(strategy, self.space, lambda proposal: _mixed_result(proposal, self.score(proposal.candidate)))
        schedule = np.random.default_rng(2024)
        snapshot = None
        while True:
            may_ask = not study.exhausted and len(study.proposals) < self.steps
            if may_ask and (not study.in_flight or (len(study.in_flight) < 3 and schedule.random() < 0.6)):
                if study.ask() is None:
                    continue
            elif study.in_flight:
                study.tell(study.in_flight[int(schedule.integers(len(study.in_flight)))])
            else:
                break
            if snapshot_at is not None and len(study.events) == snapshot_at:
                state = strategy.state_dict()
                try:
                    snapshot = json.loads(json.dumps(state))
                except (TypeError, ValueError) as error:
                    raise AssertionError(f"state_dict() is not JSON-serialisable: {error}") from None
        return study, snapshot

    def test_resume(self, resume_tail: bool) -> None:
        cls = self.strategy_class
        if cls.resume == "replay" and not resume_tail:
            pytest.skip("resume='replay': the whole history is replayed, there is no snapshot")
        events = 2 * self.steps
        stop = (2 * events) // 3  # the search dies after this many events
        at = (events // 3) if resume_tail else stop  # its last snapshot
        reference, snapshot = self._scheduled_run(self.make_strategy(), at if cls.resume == "state" else None)
        assert len(reference.events) > stop, f"the strategy stopped proposing after {len(reference.proposals)} asks"
        resumed = self.make_strategy()
        start = 0
        if cls.resume == "state":
            assert snapshot is not None
            resumed.load_state_dict(snapshot)
            start = at
        how = f"resumed from a snapshot after event {at}" if cls.resume == "state" else "resumed by replay"

        def ask(number: int, replaying: bool) -> Proposal:
            proposal = resumed.ask()
            expected = reference.proposals[number].candidate
            stage = "replaying the events before the stop" if replaying else "after the replay"
            assert proposal is not None, f"{how}, {stage}: ask for trial {number} returned None, expected {expected!r}"
            check_proposal(self.space, proposal)
            assert proposal.candidate == expected, (
                f"{how} (the search stopped after event {stop}), {stage}: trial {number} differs from the "
                f"uninterrupted run's:\n  resumed:       {proposal.candidate.key}\n  uninterrupted: {expected.key}"
            )
            return proposal.numbered(number)

        for kind, number in reference.events[start:stop]:
            if kind == "ask":
                ask(number, replaying=True)
            else:  # the engine tells what it stored
                resumed.tell(stored(reference.proposals[number]), reference.results[number])
        asked_after: dict[int, Proposal] = {}
        for kind, number in reference.events[stop:]:
            if kind == "ask":
                asked_after[number] = ask(number, replaying=False)
            else:  # a trial in flight at the stop runs again and is told as stored
                proposal = asked_after.get(number) or stored(reference.proposals[number])
                resumed.tell(proposal, reference.results[number])
        assert asked_after, "no ask after the stop: raise steps"

    def test_state_is_json(self) -> None:
        if self.strategy_class.resume == "replay":
            pytest.skip("resume='replay': the engine keeps no state of this strategy")
        study = self.study(self.make_strategy())
        study.sequential(self.steps // 2)
        study.ask()
        study.ask()  # two in flight
        for label, strategy in (("a fresh strategy", self.make_strategy()), ("a strategy in use", study.strategy)):
            state = strategy.state_dict()
            try:
                text = json.dumps(state)
            except (TypeError, ValueError) as error:
                raise AssertionError(f"state_dict() of {label} is not JSON-serialisable: {error}") from None
            assert isinstance(json.loads(text), dict), f"state_dict() of {label} must be a dict"
            self.make_strategy().load_state_dict(json.loads(text))

    def test_unknown_option_is_rejected(self) -> None:
        pattern = re.escape(UNKNOWN_OPTION)
        with pytest.raises(StrategyOptionError, match=pattern):
            self.strategy_class.parse_options({UNKNOWN_OPTION: 1})
        strategy = self.strategy_class()
        with pytest.raises(StrategyOptionError, match=pattern):  # setup validates what the user gave
            strategy.setup(self.space, self.context(options={**self.options, UNKNOWN_OPTION: 1}))

    def test_option_out_of_range_is_rejected(self, option_case: tuple[str, str, Any]) -> None:
        name, _rule, value = option_case
        with pytest.raises(StrategyOptionError, match=re.escape(name)):
            self.strategy_class.parse_options({name: value})

    def test_default_options_parse(self) -> None:
        options_class = self.strategy_class.Options
        defaults = options_class()
        assert self.strategy_class.parse_options({}) == defaults
        assert self.strategy_class.parse_options(None) == defaults
        assert self.strategy_class.parse_options(dataclasses.asdict(defaults)) == defaults, (
            "a default is outside its own declared range or choices"
        )
        strategy = self.make_strategy(options={})
        assert strategy.options == defaults, "setup must store the parsed options in self.options"
        self.strategy_class.parse_options(self.options)  # the kit's fast settings are valid too

    def test_describe_options(self) -> None:
        options_class = self.strategy_class.Options
        described = describe_options(options_class)
        fields = dataclasses.fields(options_class)
        assert [info.name for info in described] == [field.name for field in fields]
        for info in described:
            assert info.help, f"option {info.name!r} has no help: declare it with automl.strategies.option()"
            assert info.kind, f"option {info.name!r} has no type annotation"
        assert {info.name: info.default for info in described} == dataclasses.asdict(options_class())

    def test_candidates_replay_in_ready_space(self, space_name: str) -> None:
        space = self._load_space(space_name)
        study = self.study(self.make_strategy(space=space), space)
        for _ in range(self.proposals_per_space):
            first = study.ask()  # two in flight at a time
            second = study.ask()
            assert first is not None and second is not None, (
                f"the strategy stopped proposing on space {space_name!r} after {len(study.proposals)} asks"
            )
            study.tell(second.number)  # type: ignore[arg-type]
            study.tell(first.number)  # type: ignore[arg-type]

    def _load_space(self, space_name: str) -> SearchSpace:
        from automl.engine.space_loader import load_space

        if self.spaces is not None:
            given = self.spaces[space_name]
            return given if isinstance(given, SearchSpace) else load_space(str(given))
        path = ready_space_files()[space_name]
        if path is None:
            pytest.skip(
                f"search_spaces/{space_name}.py is not next to the automl package (automl installed without its "
                "repository); set `spaces` on the test class to check candidates in spaces of your own"
            )
        return load_space(str(path))

    def test_proposal_data_survives_json(self) -> None:
        study = self.study(self.make_strategy())
        for _ in range(max(2, self.steps // 2)):
            first, second = study.ask(), study.ask()
            assert first is not None and second is not None, "the strategy stopped proposing"
            for proposal in (first, second):
                assert json.loads(json.dumps(dict(proposal.data))) == dict(proposal.data)
            study.tell(second.number, as_stored=True)  # type: ignore[arg-type]
            study.tell(first.number, as_stored=True)  # type: ignore[arg-type]
        assert study.ask() is not None, "the strategy stopped proposing after tells of JSON round-tripped proposals"
