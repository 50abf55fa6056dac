"""The strategy contract (v2): propose candidates as proposals, learn from their results.

``setup(space, context)`` once, then any interleaving of ``ask()`` and
``tell(proposal, result)``. ``ask`` returns a :class:`Proposal` (the candidate,
the budget it should be trained with, and any JSON-able data the strategy
wants back); the engine numbers it, stores it, runs it and hands the same
proposal back to ``tell``, so a strategy keeps no table of asks in flight.
Several asks may be in flight before their tells (parallel workers); failed,
pruned and infeasible trials are told too, with their :class:`TrialStatus`.
Scores are always to be maximised; the engine flips the sign for minimised
objectives. With several objectives (``StrategyContext.objectives``) a complete
result also carries ``values``, one per objective, each to be maximised; only
strategies that declare ``multi_objective = True`` are run on such a search.

Options are a frozen dataclass (``Options``) declared with
:func:`automl.strategies.options.option`; the base class validates them.

Resume (see ``automl.engine.search``): a strategy with ``resume = "state"``
returns its whole state from ``state_dict``; the engine saves it at intervals
that grow with the study (so saving costs O(1) per trial on average) and replays
the asks and tells recorded after the last save. A strategy with
``resume = "replay"`` (one whose state cannot be serialised, e.g. SMAC's) is
rebuilt by replaying every recorded ask and tell; its asks must then be a
function of its seed and the tells so far.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from automl.space import Candidate, SearchSpace
from automl.strategies.fidelity import Fidelity
from automl.strategies.options import NoOptions, StrategyOptionError, parse_options

__all__ = [
    "Fidelity",
    "JobFailed",
    "Proposal",
    "Strategy",
    "StrategyContext",
    "StrategyOptionError",
    "TrialResult",
    "TrialStatus",
]


class TrialStatus(enum.StrEnum):
    """Where a trial stands; stored as its value in the study."""

    RUNNING = "running"
    COMPLETE = "complete"  # trained and scored
    FAILED = "failed"  # crashed, NaN, past its time or memory limit
    PRUNED = "pruned"  # stopped early by a scheduler; its score (if any) is at a lower budget
    INFEASIBLE = "infeasible"  # violates a constraint (too many parameters, ...); never trained to the end

    @property
    def finished(self) -> bool:
        return self is not TrialStatus.RUNNING


@dataclass(frozen=True)
class TrialResult:
    """What a strategy learns about a proposal it made."""

    status: TrialStatus
    score: float | None = None  # higher is better; None unless complete (or pruned with a score)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    # several objectives: one value per objective of the search, each to be maximised; None otherwise
    values: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", TrialStatus(self.status))

    @property
    def ok(self) -> bool:
        return self.status is TrialStatus.COMPLETE and self.score is not None

    @classmethod
    def complete(cls, score: float, metrics: Mapping[str, Any] | None = None) -> TrialResult:
        return cls(TrialStatus.COMPLETE, float(score), dict(metrics or {}))

    @classmethod
    def failed(cls, error: str, metrics: Mapping[str, Any] | None = None) -> TrialResult:
        return cls(TrialStatus.FAILED, None, dict(metrics or {}), error)


@dataclass(frozen=True)
class Proposal:
    """A candidate to evaluate, as a strategy proposes it and gets it back in ``tell``.

    ``number`` is given by the engine (the strategy leaves it None).
    ``budget`` is the fidelity to train at, in epochs; None means the search's
    full budget (multi-fidelity schedulers fill it). ``data`` is the strategy's
    own JSON-able note about this proposal (e.g. the tree path MCTS walked); it
    is stored with the trial and comes back unchanged, also after a resume.
    ``continues`` is the number of an earlier trial of the same candidate at a
    lower budget: with the epochs fidelity, training resumes from that trial's
    checkpoint (weights, optimiser, random state, epoch) instead of starting over.
    """

    candidate: Candidate
    budget: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    number: int | None = None
    continues: int | None = None

    def numbered(self, number: int) -> Proposal:
        return Proposal(self.candidate, self.budget, self.data, number, self.continues)


class JobFailed(RuntimeError):
    """A job run through the runner (a supernet's training) failed: past its limits or crashed."""


@dataclass
class StrategyContext:
    """What a strategy may use besides the space.

    ``options`` is the strategy's validated options dataclass. One-shot
    strategies (DARTS-PT) also get the data and training settings, and
    ``run_job(function, *arguments)``, which runs a heavy phase (a supernet's
    training) through the search's runner, under the trial limits and on Dask
    when the search is, and raises :class:`JobFailed` when it fails.
    """

    seed: int = 0
    trials: int | None = None
    options: Any = None
    data: Any = None
    training: Any = None
    device: str = "cpu"
    op_registry: Any = None
    report: Callable[[str, Any], None] | None = None  # store extra results (alphas, scores) with the study
    run_job: Callable[..., Any] | None = None
    fidelity: Fidelity | None = None  # set when the search trains candidates at budgets below the full one
    objectives: tuple[str, ...] = ()  # with several objectives, their names in the order of TrialResult.values

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])


class Strategy:
    """Base class of search strategies; subclasses set ``name``, ``description`` and ``Options``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    resume: ClassVar[Literal["state", "replay"]] = "state"
    # False for strategies whose candidates are not trained by budget (one-shot: a supernet chooses)
    accepts_fidelity: ClassVar[bool] = True
    # True for strategies that search a front of several objectives (TrialResult.values)
    multi_objective: ClassVar[bool] = False

    space: SearchSpace
    context: StrategyContext
    options: Any

    @classmethod
    def parse_options(cls, raw: Mapping[str, Any] | Any | None) -> Any:
        """Validate user-given options into ``cls.Options``; raises :class:`StrategyOptionError`."""
        return parse_options(cls.name or cls.__name__, cls.Options, raw)

    @classmethod
    def handles_schedule(cls, schedule: str) -> bool:
        """Whether this strategy schedules budgets itself for ``schedule`` (``Fidelity.schedule``).

        When it does not, the engine wraps it in the scheduler of that name
        (``automl.schedulers``): the strategy proposes candidates, the scheduler
        decides their budgets and promotions. ``smbo`` handles SMAC's own.
        """
        return False

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        self.space = space
        self.context = context
        self.options = self.parse_options(context.options)

    def ask(self) -> Proposal | None:
        """The next proposal, or None when the strategy has nothing more to propose."""
        raise NotImplementedError

    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        """Learn from a finished (failed, pruned, infeasible) trial of a proposal this strategy made."""

    def released(self) -> list[int]:
        """Trials this strategy will never continue (see ``Proposal.continues``), each reported once.

        Called after every tell; the engine deletes their checkpoints. Trials at the
        full budget, and failed or pruned ones, are released by the engine itself.
        """
        return []

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state to resume from (``resume = "state"``)."""
        raise NotImplementedError(f"strategy {self.name!r} declares resume='state' but has no state_dict")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError(f"strategy {self.name!r} declares resume='state' but has no load_state_dict")
