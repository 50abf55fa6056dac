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

Multi-fidelity (BOHB-style): when the search has a fidelity whose schedule is
``hyperband`` or ``successive-halving`` (``StrategyContext.fidelity``), smbo
schedules the budgets itself (``handles_schedule``) with SMAC's own intensifier,
as BOHB does (Falkner, Klein & Hutter, "BOHB: Robust and Efficient Hyperparameter
Optimization at Scale", ICML 2018): Hyperband's brackets of successive halving
pick the budgets and promotions, and a model of the score proposes the new
configurations of each bracket. BOHB's model is a TPE (kernel densities) fitted
on the largest budget with enough observations; here it is SMAC's random forest
with expected improvement, which SMAC's ``MultiFidelityFacade`` fits the same
way (``ConfigSelector._collect_data``: the highest budget with ``min_trials``
results; SMAC3 docs, "Multi-Fidelity Optimization",
https://automl.github.io/SMAC3/latest/advanced_usage/2_multi_fidelity). A proposal
then carries SMAC's budget (``data["budget"]``, told back unchanged) and the rung
budget it is trained at (``Proposal.budget``, whole epochs), and with the epochs
fidelity it continues the candidate's trial at the rung below. For ``asha`` smbo
proposes full-budget candidates and the engine wraps it in its own ASHA scheduler.

Several objectives (``StrategyContext.objectives``): ParEGO (Knowles, "ParEGO: A
Hybrid Algorithm With On-Line Landscape Approximation for Expensive Multiobjective
Optimization Problems", IEEE TEC 10(1), 2006) through SMAC's own
``smac.multi_objective.ParEGO``: each objective's cost is normalised by the range
seen so far, and before each model fit a fresh random weight vector scalarises them
by the augmented Tchebycheff function (rho = 0.05), so successive asks aim at
different parts of the front. A failed trial's cost is, per objective, worse than
any seen (as in the single-objective case).

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.space import Candidate, SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext, TrialResult
from automl.strategies.fidelity import Fidelity
from automl.strategies.options import option

_DEFAULT_TRIALS = 50
MULTI_FIDELITY_SCHEDULES = ("hyperband", "successive-halving")  # scheduled by SMAC's own intensifiers
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
    With a ``hyperband`` or ``successive-halving`` fidelity, BOHB (Falkner et al.,
    ICML 2018) with SMAC's forest in place of BOHB's TPE, through SMAC's
    ``MultiFidelityFacade`` and its ``Hyperband`` / ``SuccessiveHalving`` intensifiers.
    """

    name = "smbo"
    description = "SMAC: random forest surrogate + expected improvement over the ConfigSpace export of the space"
    Options = SMBOOptions
    resume = "replay"
    multi_objective = True  # ParEGO scalarisations, through SMAC's multi-objective support

    @classmethod
    def handles_schedule(cls, schedule: str) -> bool:
        """SMAC schedules Hyperband and successive halving itself; for ASHA the engine wraps smbo."""
        return schedule in MULTI_FIDELITY_SCHEDULES

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        from smac import HyperparameterOptimizationFacade, MultiFidelityFacade, Scenario
        from smac.main.config_selector import ConfigSelector
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
        fidelity = context.fidelity
        # None: every candidate at the full budget (no fidelity, or one the engine schedules, e.g. ASHA)
        self.fidelity: Fidelity | None = (
            fidelity if fidelity is not None and fidelity.schedule in MULTI_FIDELITY_SCHEDULES else None
        )

        self.objective_count = len(context.objectives)  # 2 or more: ParEGO over the objectives' costs
        _quiet_smac()
        from automl.space.configspace import to_configspace  # ConfigSpace (and scipy) only when smbo runs

        self.configuration_space = to_configspace(space, seed=context.seed)
        self.directory = tempfile.mkdtemp(prefix="automl-smac-")
        weakref.finalize(self, shutil.rmtree, self.directory, True)
        budgets: dict[str, float] = {}
        if self.fidelity is not None:
            budgets = {"min_budget": float(self.fidelity.min_budget), "max_budget": float(self.fidelity.max_budget)}
        scenario = Scenario(
            self.configuration_space,
            name="automl",
            output_directory=Path(self.directory) / "smac",
            deterministic=True,
            n_trials=max(trials, initial),
            seed=int(context.seed),
            **budgets,  # type: ignore[arg-type]
            **({"objectives": list(context.objectives)} if self.objective_count > 1 else {}),
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
        # The Sobol initial design of plain smbo in both modes (the multi-fidelity facade's default
        # is a random one): its configurations fill the first brackets' lowest rungs.
        initial_design = HyperparameterOptimizationFacade.get_initial_design(scenario, n_configs=initial, max_ratio=1.0)
        # SMAC's default acquisition search (10 local searches with plateau walks of 10 steps) takes
        # about a second per ask on a conditional space; half of each keeps an ask near 0.2 s.
        acquisition_maximizer = _acquisition_maximizer(
            self.configuration_space, challengers, local_searches, int(context.seed)
        )
        random_design = HyperparameterOptimizationFacade.get_random_design(scenario, probability=random_probability)
        self.smac_budgets: list[float] = []
        self.smac_seed: int | None = None  # the seed SMAC asks with (one seed: deterministic scenario)
        self.checkpoints: dict[str, dict[int, int]] = {}  # candidate key -> rung -> trial number to continue
        if self.fidelity is None:
            facade = HyperparameterOptimizationFacade
            intensifier = facade.get_intensifier(scenario, max_config_calls=1)
            config_selector = facade.get_config_selector(scenario, retrain_after=retrain_after)
        else:
            from smac.intensifier.hyperband import Hyperband
            from smac.intensifier.successive_halving import SuccessiveHalving

            facade = MultiFidelityFacade
            eta = int(self.fidelity.eta)
            intensifier_class = Hyperband if self.fidelity.schedule == "hyperband" else SuccessiveHalving
            # "highest_budget": the incumbent is judged on full-budget results only, never on a cheap rung's
            intensifier = intensifier_class(scenario, eta=eta, incumbent_selection="highest_budget")
            # The forest is fitted on the highest budget with at least min_trials results (SMAC's
            # ConfigSelector._collect_data; the facade's default of 1 fits it on one full-budget point).
            # BOHB's rule is N_min = d + 1 points (d hyperparameters); a forest needs fewer than BOHB's
            # kernel densities, so at most the initial design's size, the points plain smbo first fits on.
            min_trials = max(1, min(initial, len(list(self.configuration_space.values())) + 1))
            config_selector = ConfigSelector(scenario, retrain_after=retrain_after, min_trials=min_trials)
            # SMAC's own budgets, computed as its intensifier does (SuccessiveHalving.__post_init__; each
            # Hyperband bracket's budgets are the top ones of this list), so the budget of an ask is one of them
            max_iterations = SuccessiveHalving._get_max_iterations(
                eta, float(self.fidelity.max_budget), float(self.fidelity.min_budget)
            )
            self.smac_budgets, _ = SuccessiveHalving._compute_configs_and_budgets_for_stages(
                eta, float(self.fidelity.max_budget), max_iterations
            )
        extra: dict[str, Any] = {}
        if self.objective_count > 1:
            from smac.multi_objective.parego import ParEGO

            extra["multi_objective_algorithm"] = ParEGO(scenario, rho=0.05, seed=int(context.seed))
        self.smac = facade(
            scenario,
            target_function=None,
            **extra,
            model=model,
            initial_design=initial_design,
            intensifier=intensifier,
            random_design=random_design,
            acquisition_maximizer=acquisition_maximizer,
            config_selector=config_selector,
            logging_level=False,
            overwrite=True,
        )
        # Keys below are a candidate's key, or (candidate key, rung) in multi-fidelity mode: SMAC asks
        # the same configuration again at higher budgets on purpose (successive halving promotes it).
        self.pending: dict[Any, int] = {}  # key -> asks of it not told yet
        self.shadows: dict[Any, list[Any]] = {}  # duplicates of a key in flight, told with it
        self.outcomes: dict[Any, tuple[float, bool]] = {}  # key -> (cost, completed) told
        self.seen: set[str] = set()  # candidate keys asked or told, at any budget
        self.worst_cost: Any = None  # a float, or with several objectives one per objective
        # Every failure told to SMAC (and its shadows), so their cost follows the scores told later.
        self.failures: list[tuple[Any, Any]] = []  # (key, TrialInfo)
        self.told_failure_cost: float | None = None
        self.best_cost: Any = None
        self.exhausted = False
        self.fallback_rng = np.random.default_rng([int(context.seed), 11])  # its own stream, apart from SMAC's

    # ------------------------------------------------------------------ keys and budgets
    def _key(self, candidate_key: str, rung: int | None) -> Any:
        return candidate_key if self.fidelity is None else (candidate_key, rung)

    def _rung_of_smac_budget(self, budget: float) -> int:
        """The fidelity's rung of one of SMAC's budgets, counted down from the full budget.

        SMAC's budgets are ``max_budget * eta**-k`` as the fidelity's rungs are; only the
        rounding differs (the fidelity's epochs are whole).
        """
        assert self.fidelity is not None
        from_top = len(self.smac_budgets) - 1 - int(np.argmin([abs(math.log(b / budget)) for b in self.smac_budgets]))
        return max(0, self.fidelity.top_rung - from_top)

    def _rung_of_budget(self, budget: float | None) -> int:
        """The rung of a proposal's budget (None: the full budget)."""
        assert self.fidelity is not None
        if budget is None:
            return self.fidelity.top_rung
        rungs = self.fidelity.budgets()
        return int(np.argmin([abs(math.log(b / budget)) for b in rungs]))

    def _smac_budget(self, rung: int) -> float:
        """SMAC's budget of a rung (for results SMAC did not ask for)."""
        assert self.fidelity is not None
        from_top = self.fidelity.top_rung - rung
        index = len(self.smac_budgets) - 1 - from_top
        if 0 <= index < len(self.smac_budgets):
            return self.smac_budgets[index]
        return self.fidelity.rung_budget(rung)

    def _schedule(self, rung: int) -> dict[str, Any]:
        assert self.fidelity is not None
        return {"name": f"smbo-{self.fidelity.schedule}", "rung": rung}

    def _continues(self, candidate_key: str, rung: int) -> int | None:
        """The trial this candidate's training at ``rung`` resumes from: its completed trial at the
        highest rung below (the latest told there). Each is continued once: the engine deletes a
        trial's checkpoint when a trial that continues it finishes."""
        trials = self.checkpoints.get(candidate_key)
        if not trials:
            return None
        below = [lower for lower in trials if lower < rung]
        if not below:
            return None
        return trials.pop(max(below))

    # ------------------------------------------------------------------ ask
    def ask(self) -> Proposal | None:
        """SMAC's next configuration as a candidate; configurations that map to a candidate
        already asked (possible when an export leaves a branch's decisions unconditional) are
        told what is known of that candidate and skipped, ``attempts`` times at most.
        In multi-fidelity mode a candidate is "already asked" at the same budget only."""
        for _ in range(self.attempts):
            info = self._smac_ask()
            if info is None:
                return self._unasked_random()
            candidate = self._candidate(info.config)
            rung = self._rung_of_smac_budget(info.budget) if self.fidelity is not None else None
            key = self._key(candidate.key, rung)
            if key in self.outcomes:
                self._tell_smac(key, info, *self.outcomes[key])
                continue
            if key in self.pending:
                self.shadows.setdefault(key, []).append(info)
                continue
            break
        else:
            return self._unasked_random()  # every attempt met a candidate asked before
        self.pending[key] = self.pending.get(key, 0) + 1
        self.seen.add(candidate.key)
        configuration = {name: _plain(value) for name, value in dict(info.config).items()}
        if self.fidelity is None:
            return Proposal(candidate, data={"configuration": configuration, "seed": info.seed})
        assert rung is not None
        if self.smac_seed is None:
            self.smac_seed = int(info.seed)
        data = {
            "configuration": configuration,
            "seed": info.seed,
            "budget": float(info.budget),  # SMAC's own, told back as asked
            "schedule": self._schedule(rung),
        }
        continues = self._continues(candidate.key, rung) if self.fidelity.kind == "epochs" else None
        return Proposal(candidate, budget=self.fidelity.rung_budget(rung), data=data, continues=continues)

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
        In multi-fidelity mode SMAC's brackets ended with it, so these are trained at the full budget.
        """
        for _ in range(FALLBACK_DRAWS):
            candidate = self.space.sample_candidate(self.fallback_rng)
            if candidate.key in self.seen:
                continue
            self.seen.add(candidate.key)
            if self.fidelity is None:
                self.pending[candidate.key] = 1
                return Proposal(candidate, data={"fallback": True})
            rung = self.fidelity.top_rung
            self.pending[self._key(candidate.key, rung)] = 1
            data = {
                "fallback": True,
                "seed": self.smac_seed if self.smac_seed is not None else int(self.context.seed),
                "budget": self._smac_budget(rung),
                "schedule": self._schedule(rung),
            }
            return Proposal(candidate, budget=self.fidelity.rung_budget(rung), data=data)
        return None

    def _candidate(self, configuration: Any) -> Candidate:
        from automl.space.configspace import candidate_from_configuration

        return candidate_from_configuration(self.space, configuration)

    # ------------------------------------------------------------------ tell
    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo

        candidate = proposal.candidate
        data = proposal.data
        rung: int | None = None
        budget: float | None = None
        if self.fidelity is not None:
            schedule = data.get("schedule")
            if isinstance(schedule, Mapping) and "rung" in schedule:
                rung = int(schedule["rung"])
            else:  # not asked by this strategy: the rung of its budget
                rung = self._rung_of_budget(proposal.budget)
            budget = float(data["budget"]) if data.get("budget") is not None else self._smac_budget(rung)
        key = self._key(candidate.key, rung)
        self.seen.add(candidate.key)
        if "configuration" in data:
            configuration = Configuration(self.configuration_space, values=dict(data["configuration"]))
            configuration = self._as_smac_built(configuration)
            info = TrialInfo(config=configuration, seed=data.get("seed"), budget=budget)
        else:  # not asked by SMAC (enqueued by hand, or a fallback): SMAC accepts results of any configuration
            from automl.space.configspace import configuration_from_candidate

            configuration = self._as_smac_built(configuration_from_candidate(self.configuration_space, candidate))
            seed = data.get("seed")
            if seed is None:
                seed = self.smac_seed if self.smac_seed is not None else int(self.context.seed)
            info = TrialInfo(config=configuration, seed=int(seed), budget=budget)
        left = self.pending.get(key, 0) - 1
        if left > 0:
            self.pending[key] = left
        else:
            self.pending.pop(key, None)
        # Only a complete trial's score is told as a success. A pruned trial was stopped early: its
        # score (if any) is from a lower budget than the one SMAC asked for, and telling it as this
        # budget's result would mislead both the forest and successive halving's ranking of the rung.
        # SMAC has no status for "stopped early" (StatusType: SUCCESS, CRASHED, TIMEOUT, MEMORYOUT), so
        # it is told like a crash, with the failure cost: never promoted, and marked bad for the model.
        cost = self._cost_of(result)
        if cost is not None:
            self._widen_cost_range(cost)
            outcome = (cost, True)
            if (
                self.fidelity is not None
                and self.fidelity.kind == "epochs"
                and proposal.number is not None
                and rung is not None
                and rung < self.fidelity.top_rung
            ):
                self.checkpoints.setdefault(candidate.key, {})[rung] = proposal.number
        else:
            outcome = (self._failure_cost(), False)
        self.outcomes[key] = outcome
        self._tell_smac(key, info, *outcome)
        if key not in self.pending:
            for shadow in self.shadows.pop(key, []):
                self._tell_smac(key, shadow, *outcome)
        self._update_failure_costs()

    def _cost_of(self, result: TrialResult) -> Any:
        """What SMAC minimises for a complete result: -score, or with several objectives -value of each;
        None for a result without a finite one."""
        if not result.ok or result.score is None:
            return None
        if self.objective_count > 1:
            if result.values is None or not all(math.isfinite(value) for value in result.values):
                return None
            return [-float(value) for value in result.values]
        return -float(result.score) if math.isfinite(result.score) else None

    def _widen_cost_range(self, cost: Any) -> None:
        if self.objective_count > 1:
            self.worst_cost = list(cost) if self.worst_cost is None else list(map(max, self.worst_cost, cost))
            self.best_cost = list(cost) if self.best_cost is None else list(map(min, self.best_cost, cost))
            return
        self.worst_cost = cost if self.worst_cost is None else max(self.worst_cost, cost)
        self.best_cost = cost if self.best_cost is None else min(self.best_cost, cost)

    def _tell_smac(self, key: Any, info: Any, cost: Any, completed: bool) -> None:
        if not completed:
            self.failures.append((key, info))
            self.told_failure_cost = cost
        self.smac.tell(info, self._trial_value(cost, completed), save=False)

    def _update_failure_costs(self) -> None:
        """Keep every failure's cost worse than any score told since: a failure told before the first
        score (cost 1.0, no scale known yet) must not look better to SMAC's model than the trials
        that come later, or the acquisition search starts from the crashed candidate."""
        if not self.failures or self.crash_cost is not None:
            return
        cost = self._failure_cost()
        if cost == self.told_failure_cost:
            return
        from smac.runhistory.enumerations import StatusType

        for key, info in self.failures:
            self.outcomes[key] = (cost, False)
            self.smac.runhistory.add(
                config=info.config,
                cost=cost,
                status=StatusType.CRASHED,
                instance=info.instance,
                seed=info.seed,
                budget=info.budget,
                force_update=True,
            )
        self.told_failure_cost = cost

    def _as_smac_built(self, configuration: Any) -> Any:
        """The configuration as SMAC builds it, so SMAC's run history finds the trial it asked for.

        ConfigSpace hashes a Configuration by its repr, which shows the values' types: one built
        from JSON values (``3``, ``'relu'``) hashes otherwise than SMAC's own, built from a vector
        (``np.int64(3)``, ``np.str_('relu')``), though they compare equal. SMAC's run history keys
        configurations by hash (``RunHistory.config_ids``), so a tell with the JSON-built one adds a
        second configuration and leaves the asked trial RUNNING forever; successive halving then never
        sees its rung complete and asks the configuration again. Rebuilt from its vector, the values
        come back with SMAC's types (floats are rounded to ConfigSpace's 10 places either way).
        """
        from ConfigSpace import Configuration

        return Configuration(self.configuration_space, vector=configuration.get_array().copy())

    def released(self) -> list[int]:
        """None: the engine deletes a checkpoint once a trial continuing it finishes, and those of
        full-budget, failed and pruned trials; the checkpoints of candidates successive halving did
        not promote stay until the search ends (SMAC does not say which configurations it dropped)."""
        return []

    @staticmethod
    def _trial_value(cost: Any, completed: bool) -> Any:
        from smac.runhistory.dataclasses import TrialValue
        from smac.runhistory.enumerations import StatusType

        return TrialValue(cost=cost, status=StatusType.SUCCESS if completed else StatusType.CRASHED)

    def _failure_cost(self) -> Any:
        if self.objective_count > 1:
            if self.crash_cost is not None:
                return [self.crash_cost] * self.objective_count
            if self.worst_cost is None or self.best_cost is None:
                return [1.0] * self.objective_count
            return [_worse_than(worst, best) for worst, best in zip(self.worst_cost, self.best_cost)]
        if self.crash_cost is not None:
            return self.crash_cost
        if self.worst_cost is None or self.best_cost is None:
            return 1.0
        return _worse_than(self.worst_cost, self.best_cost)


def _worse_than(worst: float, best: float) -> float:
    """A failure's cost: past the worst seen by half the range (by 1 when every cost was the same)."""
    spread = worst - best
    return worst + (0.5 * spread if spread > 0 else 1.0)


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
