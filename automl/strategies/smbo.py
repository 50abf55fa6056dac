"""Sequential model-based optimisation with SMAC (random forest + expected improvement).

DeepArchitect (Negrinho & Gordon, 2017, section 4.4) shows that a surrogate
model of the score, fitted to the architectures evaluated so far and used to
pick the next one, beats random search. Its surrogate was a ridge regression on
hashed structural features; here the surrogate is SMAC's random forest with
expected improvement (Hutter, Hoos & Leyton-Brown, "Sequential Model-Based
Optimization for General Algorithm Configuration", LION 2011; Lindauer et al.,
"SMAC3", JMLR 2022), which handles categorical and conditional hyperparameters
natively.

The tree-shaped space is exported to ConfigSpace (``space.to_configspace``): a
branch's decisions are conditional on the choice that creates them, a repeated
block's on the repeat count. SMAC runs through its ask/tell interface, so
several asks may be in flight; SMAC minimises cost, so ``cost = -score``, and a
failed trial is told as ``CRASHED`` with a cost worse than any seen.

Resume: SMAC's state cannot be serialised, so the strategy declares
``resume = "replay"`` and the engine replays the asks and tells of a study in
order; SMAC is fully seeded (Sobol initial design, forest, acquisition search,
interleaved random configurations), so the replayed asks are the same
candidates. A proposal carries SMAC's configuration (``data["configuration"]``)
so its tell reaches the trial SMAC asked for, with no table of asks in flight.

Options: see :class:`SMBOOptions` (``automl strategies smbo``).
"""

from __future__ import annotations

import itertools
import logging
import math
import shutil
import tempfile
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.space import Candidate, SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext, TrialResult
from automl.strategies.options import option

_DEFAULT_TRIALS = 50
FALLBACK_DRAWS = 1000


@dataclass(frozen=True)
class SMBOOptions:
    initial: int | None = option(None, "size of the Sobol initial design [max(5, trials // 5)]", minimum=1)
    random_probability: float = option(0.2, "share of interleaved random configurations", minimum=0.0, maximum=1.0)
    retrain_after: int = option(1, "configurations proposed per model fit", minimum=1)
    challengers: int = option(2000, "random points scored by the acquisition search", minimum=1)
    local_searches: int = option(5, "local searches started per ask", minimum=1)
    attempts: int = option(16, "SMAC asks tried to get a candidate not asked before", minimum=1)
    crash_cost: float | None = option(None, "cost told for a failed trial [worse than the worst seen]")


def _quiet_smac() -> None:
    """SMAC logs every step at INFO; keep it to errors unless the user configured its logger."""
    logger = logging.getLogger("smac")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


class SMBOStrategy(Strategy):
    """SMAC's random-forest surrogate with expected improvement, through ask/tell.

    Hutter et al. (LION 2011) and Lindauer et al. (JMLR 2022) for SMAC;
    Negrinho & Gordon (DeepArchitect, 2017) for SMBO over a space of architectures.
    """

    name = "smbo"
    description = "SMAC: random forest surrogate + expected improvement over the ConfigSpace export of the space"
    Options = SMBOOptions
    resume = "replay"

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        from smac import HyperparameterOptimizationFacade, Scenario
        from smac.model.random_forest.random_forest import RandomForest

        super().setup(space, context)
        options = self.options
        trials = context.trials or _DEFAULT_TRIALS
        initial = options.initial or max(5, trials // 5)
        random_probability = options.random_probability
        retrain_after = options.retrain_after
        challengers = options.challengers
        local_searches = options.local_searches
        self.attempts: int = options.attempts
        self.crash_cost: float | None = options.crash_cost

        _quiet_smac()
        from automl.space.configspace import to_configspace  # ConfigSpace (and scipy) only when smbo runs

        self.configuration_space = to_configspace(space, seed=context.seed)
        self.directory = tempfile.mkdtemp(prefix="automl-smac-")
        weakref.finalize(self, shutil.rmtree, self.directory, True)
        facade = HyperparameterOptimizationFacade
        scenario = Scenario(
            self.configuration_space,
            name="automl",
            output_directory=Path(self.directory) / "smac",
            deterministic=True,
            n_trials=max(trials, initial),
            seed=int(context.seed),
        )
        # The facade's forest, but on one thread (with n_jobs=-1 joblib's thread start-up costs
        # more than fitting ten trees on a few dozen points) and without SMAC's max_leaf_nodes=2**20,
        # which makes scikit-learn's best-first tree builder take 0.1 s per tree on any data.
        model = RandomForest(
            configspace=self.configuration_space,
            log_y=True,
            n_trees=10,
            ratio_features=1.0,
            min_samples_split=2,
            min_samples_leaf=1,
            seed=int(context.seed),
            max_leaf_nodes=None,  # type: ignore[arg-type]
            n_jobs=1,
        )
        self.smac = facade(
            scenario,
            target_function=None,
            model=model,
            initial_design=facade.get_initial_design(scenario, n_configs=initial, max_ratio=1.0),
            intensifier=facade.get_intensifier(scenario, max_config_calls=1),
            random_design=facade.get_random_design(scenario, probability=random_probability),
            # SMAC's default acquisition search (10 local searches with plateau walks of 10 steps) takes
            # about a second per ask on a conditional space; half of each keeps an ask near 0.2 s.
            acquisition_maximizer=_acquisition_maximizer(
                self.configuration_space, challengers, local_searches, int(context.seed)
            ),
            config_selector=facade.get_config_selector(scenario, retrain_after=retrain_after),
            logging_level=False,
            overwrite=True,
        )
        self.pending: dict[str, int] = {}  # candidate key -> asks of it not told yet
        self.shadows: dict[str, list[Any]] = {}  # duplicates of a candidate in flight, told with it
        self.outcomes: dict[str, tuple[float, bool]] = {}  # candidate key -> (cost, completed) told
        self.worst_cost: float | None = None
        self.best_cost: float | None = None
        self.exhausted = False
        self.fallback_rng = np.random.default_rng([int(context.seed), 11])  # its own stream, apart from SMAC's

    def ask(self) -> Proposal | None:
        """SMAC's next configuration as a candidate; configurations that map to a candidate
        already asked (possible when an export leaves a branch's decisions unconditional) are
        told what is known of that candidate and skipped, ``attempts`` times at most."""
        for _ in range(self.attempts):
            info = self._smac_ask()
            if info is None:
                return self._unasked_random()
            candidate = self._candidate(info.config)
            key = candidate.key
            if key in self.outcomes:
                self.smac.tell(info, self._trial_value(*self.outcomes[key]), save=False)
                continue
            if key in self.pending:
                self.shadows.setdefault(key, []).append(info)
                continue
            break
        else:
            return self._unasked_random()  # every attempt met a candidate asked before
        self.pending[key] = self.pending.get(key, 0) + 1
        configuration = {name: _plain(value) for name, value in dict(info.config).items()}
        return Proposal(candidate, data={"configuration": configuration, "seed": info.seed})

    def _smac_ask(self) -> Any:
        from smac.main.exceptions import ConfigurationSpaceExhaustedException

        if self.exhausted:
            return None
        try:
            with warnings.catch_warnings():
                # SMAC's local search averages an empty list of timings for its debug log
                warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
                warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
                return self.smac.ask()
        except (ConfigurationSpaceExhaustedException, StopIteration):
            self.exhausted = True
            return None

    def _unasked_random(self) -> Proposal | None:
        """A uniformly random candidate not asked before, once SMAC proposes nothing new.

        SMAC gives up ("configuration space exhausted") after 16 random draws that meet
        evaluated configurations, long before a small space is used up; the search goes
        on with fresh random candidates (told to SMAC like any other) until ``FALLBACK_DRAWS``
        draws in a row find nothing new, which on a finite space means it is (nearly) exhausted.
        """
        for _ in range(FALLBACK_DRAWS):
            candidate = self.space.sample_candidate(self.fallback_rng)
            if candidate.key not in self.outcomes and candidate.key not in self.pending:
                self.pending[candidate.key] = 1
                return Proposal(candidate, data={"fallback": True})
        return None

    def _candidate(self, configuration: Any) -> Candidate:
        from automl.space.configspace import candidate_from_configuration

        return candidate_from_configuration(self.space, configuration)

    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo

        candidate = proposal.candidate
        key = candidate.key
        if "configuration" in proposal.data:
            configuration = Configuration(self.configuration_space, values=dict(proposal.data["configuration"]))
            info = TrialInfo(config=configuration, seed=proposal.data.get("seed"))
        else:  # not asked by SMAC (enqueued by hand): SMAC accepts results of any configuration
            from automl.space.configspace import configuration_from_candidate

            configuration = configuration_from_candidate(self.configuration_space, candidate)
            info = TrialInfo(config=configuration, seed=int(self.context.seed))
        left = self.pending.get(key, 0) - 1
        if left > 0:
            self.pending[key] = left
        else:
            self.pending.pop(key, None)
        score = result.score if result.ok else None
        if score is not None and math.isfinite(score):
            cost = -float(score)
            self.worst_cost = cost if self.worst_cost is None else max(self.worst_cost, cost)
            self.best_cost = cost if self.best_cost is None else min(self.best_cost, cost)
            outcome = (cost, True)
        else:
            outcome = (self._failure_cost(), False)
        self.outcomes[key] = outcome
        self.smac.tell(info, self._trial_value(*outcome), save=False)
        if key not in self.pending:
            for shadow in self.shadows.pop(key, []):
                self.smac.tell(shadow, self._trial_value(*outcome), save=False)

    @staticmethod
    def _trial_value(cost: float, completed: bool) -> Any:
        from smac.runhistory.dataclasses import TrialValue
        from smac.runhistory.enumerations import StatusType

        return TrialValue(cost=cost, status=StatusType.SUCCESS if completed else StatusType.CRASHED)

    def _failure_cost(self) -> float:
        if self.crash_cost is not None:
            return self.crash_cost
        if self.worst_cost is None or self.best_cost is None:
            return 1.0
        spread = self.worst_cost - self.best_cost
        return self.worst_cost + (0.5 * spread if spread > 0 else 1.0)


def _acquisition_maximizer(configuration_space: Any, challengers: int, local_searches: int, seed: int) -> Any:
    """SMAC's LocalAndSortedRandomSearch, its local search starting from its points in a fixed order.

    SMAC 2.x de-duplicates those start points with ``list(set(...))`` (local_search.py,
    ``_get_init_points_from_previous_configs``) and a ConfigSpace Configuration hashes its
    repr, a str, so their order (and so which start point draws which neighbourhood seed
    from the shared generator) followed ``PYTHONHASHSEED``: the same seed gave other
    candidates in another process. Here they keep their first-appearance order, so the
    same seed gives the same candidates with no requirement on the environment.
    """
    from smac.acquisition.maximizer.local_and_random_search import LocalAndSortedRandomSearch
    from smac.acquisition.maximizer.local_search import LocalSearch

    class OrderedLocalSearch(LocalSearch):
        def _get_init_points_from_previous_configs(
            self, previous_configs: list[Any], n_points: int, additional_start_points: Any
        ) -> list[Any]:
            points = super()._get_init_points_from_previous_configs(previous_configs, n_points, additional_start_points)
            order: dict[Any, int] = {}  # run history order, then the random search's best
            extra = (configuration for _, configuration in additional_start_points or ())
            for configuration in itertools.chain(previous_configs, extra):
                order.setdefault(configuration, len(order))
            return sorted(points, key=order.__getitem__)

    maximizer = LocalAndSortedRandomSearch(
        configuration_space,
        challengers=challengers,
        local_search_iterations=local_searches,
        n_steps_plateau_walk=5,
        seed=seed,
    )
    # the facade sets the acquisition function afterwards; its setter passes it on to this local search
    maximizer._local_search = OrderedLocalSearch(configuration_space, n_steps_plateau_walk=5, seed=seed)
    return maximizer


def _plain(value: Any) -> Any:
    """A configuration value as JSON keeps it (numpy scalars to Python numbers)."""
    return value.item() if hasattr(value, "item") else value
