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

Resume: :meth:`SMBOStrategy.state_dict` returns None, so the engine replays the
asks and tells of a study in order; SMAC is fully seeded (Sobol initial design,
forest, acquisition search, interleaved random configurations), so the replayed
asks are the same candidates.

Options: ``initial`` (size of the Sobol initial design, default
``max(5, trials // 5)``), ``random_probability`` (share of interleaved random
configurations, default 0.2), ``retrain_after`` (configurations proposed per
model fit, default 1), ``challengers`` (random points scored by the acquisition
search, default 2000), ``local_searches`` (local searches started per ask,
default 5), ``attempts`` (SMAC asks tried to get a candidate not asked before,
default 16), ``crash_cost`` (cost told for a failed trial; default:
worse than the worst cost seen by half their spread).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import Any

from automl.space import Candidate, SearchSpace
from automl.strategies.base import Strategy, StrategyContext, StrategyOptionError, TrialResult, option
from automl.strategies.mcts import check_options

_OPTIONS = ("initial", "random_probability", "retrain_after", "challengers", "local_searches", "attempts", "crash_cost")
_DEFAULT_TRIALS = 50


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

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        from smac import HyperparameterOptimizationFacade, Scenario
        from smac.acquisition.maximizer.local_and_random_search import LocalAndSortedRandomSearch
        from smac.model.random_forest.random_forest import RandomForest

        super().setup(space, context)
        options = context.options
        check_options(options, _OPTIONS, self.name)
        trials = context.trials or _DEFAULT_TRIALS
        initial = option(options, "initial", max(5, trials // 5), int)
        random_probability = option(options, "random_probability", 0.2, float)
        retrain_after = option(options, "retrain_after", 1, int)
        challengers = option(options, "challengers", 2000, int)
        local_searches = option(options, "local_searches", 5, int)
        self.attempts: int = option(options, "attempts", 16, int)
        self.crash_cost: float | None = option(options, "crash_cost", None, float)
        if initial < 1:
            raise StrategyOptionError(f"strategy option initial={initial} must be >= 1")
        if not 0.0 <= random_probability <= 1.0:
            raise StrategyOptionError(f"strategy option random_probability={random_probability} must be in [0, 1]")
        if min(retrain_after, challengers, local_searches, self.attempts) < 1:
            raise StrategyOptionError(
                "strategy options retrain_after, challengers, local_searches and attempts must be >= 1"
            )

        _quiet_smac()
        self.configuration_space = space.to_configspace(seed=context.seed)
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
            acquisition_maximizer=LocalAndSortedRandomSearch(
                self.configuration_space,
                challengers=challengers,
                local_search_iterations=local_searches,
                n_steps_plateau_walk=5,
                seed=int(context.seed),
            ),
            config_selector=facade.get_config_selector(scenario, retrain_after=retrain_after),
            logging_level=False,
            overwrite=True,
        )
        self.in_flight: dict[str, list[Any]] = {}  # candidate key -> SMAC TrialInfos asked for it
        self.shadows: dict[str, list[Any]] = {}  # duplicates of a candidate in flight, told with it
        self.outcomes: dict[str, tuple[float, bool]] = {}  # candidate key -> (cost, completed) told
        self.worst_cost: float | None = None
        self.best_cost: float | None = None
        self.exhausted = False

    def ask(self) -> Candidate | None:
        """SMAC's next configuration as a candidate; configurations that map to a candidate
        already asked (possible when an export leaves a branch's decisions unconditional) are
        told what is known of that candidate and skipped, ``attempts`` times at most."""
        for _ in range(self.attempts):
            info = self._smac_ask()
            if info is None:
                return None
            candidate = self._candidate(info.config)
            key = candidate.key
            if key in self.outcomes:
                self.smac.tell(info, self._trial_value(*self.outcomes[key]), save=False)
                continue
            if key in self.in_flight:
                self.shadows.setdefault(key, []).append(info)
                continue
            break
        self.in_flight.setdefault(key, []).append(info)
        return candidate

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

    def _candidate(self, configuration: Any) -> Candidate:
        return self.space.candidate_from_configuration(configuration)

    def tell(self, candidate: Candidate, result: TrialResult) -> None:
        from smac.runhistory.dataclasses import TrialInfo

        key = candidate.key
        infos = self.in_flight.get(key)
        if infos:
            info = infos.pop(0)
            if not infos:
                del self.in_flight[key]
        else:  # not asked by SMAC (enqueued by hand): SMAC accepts results of any configuration
            configuration = self.space.configuration_from_candidate(self.configuration_space, candidate)
            info = TrialInfo(config=configuration, seed=int(self.context.seed))
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
        if key not in self.in_flight:
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

    def state_dict(self) -> None:
        """None: the engine replays asks and tells; SMAC's asks are deterministic for a seed.

        Across processes that holds with fixed string hashing (``PYTHONHASHSEED``),
        because SMAC iterates hash-ordered sets; the ``automl`` command fixes it.
        """
        return None
