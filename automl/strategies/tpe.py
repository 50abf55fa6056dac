"""Tree-structured Parzen estimator, native to the space language.

Bergstra, Bardenet, Bengio & Kégl ("Algorithms for Hyper-Parameter
Optimization", NeurIPS 2011) designed TPE for tree-structured spaces: the
observed trials are split at a quantile ``gamma`` of their scores into good and
bad, each decision's density is modelled on the good ones, ``l(x)``, and on the
bad ones, ``g(x)``, and the candidate maximising ``l(x) / g(x)`` among samples
drawn from ``l`` is proposed (maximising expected improvement under that model).
Here the tree is the space language's own: a decision's densities use only the
trials whose walk reached it, so a decision inside a branch is modelled where
that branch was taken and nowhere else.

Kernels (the components studied by Watanabe, "Tree-Structured Parzen
Estimator: Understanding Its Algorithm Components and Their Roles for Better
Empirical Performance", 2023):

- a choice or a bool: a categorical kernel that keeps most of its mass on the
  observed value and spreads ``prior_weight / (n + 1)`` of it over every value,
  as hyperopt's and Optuna's do;
- an int or a float range, in its sampling scale (log for a log range), mapped
  to [0, 1]: a Gaussian truncated to [0, 1], of bandwidth
  ``bandwidth * n ** (-1 / (d + 4))`` (Scott's rule, d the number of decisions)
  for the joint kernels, the larger gap to the neighbouring observations
  (hyperopt's rule) for one density per decision, and at least
  ``1 / min(100, n + 1)`` (the "magic clip" of hyperopt);
- each density mixes its kernels with a uniform prior of weight ``prior_weight``.

``multivariate`` (the default) uses one joint kernel per observation, the
product of its decisions' kernels (Falkner, Klein & Hutter, BOHB, ICML 2018,
fit such product kernels; Watanabe 2023 finds them better than independent
densities): sampling from ``l`` picks a good observation and perturbs its
decisions as the tree unfolds, so decisions that work together are proposed
together. A decision the chosen observation does not have (its walk took
another branch) comes from the uniform prior. ``multivariate=false`` is the
univariate TPE of Bergstra et al.: one density per decision, sampled and
scored independently.

Several asks in flight: with ``constant_liar`` each pending candidate counts as
a bad observation (Ginsbourger et al., "Kriging is well-suited to parallelize
optimization", 2010; Optuna's ``constant_liar``), so parallel workers do not all
get the same proposal. Failed, infeasible and pruned trials are bad observations
too: their region is avoided. A candidate already asked (told or in flight) is
never proposed again: on a finite space the best new one of the samples is, and
when every sample repeats an old one, a fresh random candidate (``None`` once the
space is exhausted).

Constraints (c-TPE: Watanabe & Hutter, "c-TPE: Tree-structured Parzen Estimator
with Inequality Constraints for Expensive Hyperparameter Optimization", IJCAI
2023): once an infeasible trial has been told, each sample's acquisition is
``P(feasible | x) / (gamma + (1 - gamma) g(x) / l(x))``, ``gamma`` the good share
of the observations. The second factor is TPE's expected improvement, which
ranks samples as ``l / g`` does but is bounded by ``1 / gamma``, so a large
ratio cannot outvote a likely breach. ``P(feasible | x)`` comes from the same
Parzen machinery: a density over the observations that passed the constraint
check (complete or pruned) and one over the infeasible ones, combined by Bayes'
rule with the observed feasible share as the prior; as in c-TPE, the samples are
drawn from the feasible density as well as from ``l`` (joint kernels; the
univariate walk weighs its draws only). c-TPE splits the observations per
constraint by its threshold on the measured cost; a strategy is told the verdict
and not the bounds, so here one model covers all constraints together (for one
constraint, the same split). A failed trial may have failed before the check,
so it counts on neither side. The infeasible trials stay bad observations of
``g`` as before (nothing is known of their objective; leaving them out of ``g``
wasted more trials on the digits_tree table). Without an infeasible observation
nothing changes, sample for sample; ``feasibility=bad`` switches the model off.
On ``benchmarks/multi_objective.py`` under ``cost <= the table's median`` (20
seeds x 100 trials) the model cut the trials spent on infeasible candidates from
17.9% to 12.3% (digits_tree) and from 19.1% to 14.8% (flat_cell), with the
hypervolume of the feasible front unchanged within noise (paired Wilcoxon
p > 0.1 at 25, 50 and 100 trials); drawing from the feasible density as well
was what kept flat_cell's hypervolume at 100 trials from dropping.

Several objectives (``StrategyContext.objectives``): MOTPE (Ozaki, Tanigaki,
Watanabe & Onishi, "Multiobjective Tree-Structured Parzen Estimator for
Computationally Expensive Optimization Problems", GECCO 2020): the good set is
made of whole non-dominated fronts, best first, and the front that does not fit
whole gives the members that add the most hypervolume, chosen greedily; the rest
of TPE is unchanged. Only observations dominated by fewer than ``gamma_max``
others can ever be good (the fronts above one dominated by more already fill the
good set), so those are the only ones ranked, and the archive of them is kept up
to date at each tell.

The first ``startup`` candidates are random; the good set holds
``min(gamma_max, ceil(gamma * n))`` of the ``n`` scored observations; the bad
density uses the ``max_observations`` most recent others, so an ask costs the
same at 10,000 trials as at 1,000. State: the observations, the asks in flight
and the seeded generator (JSON); a resume rebuilds the densities from them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

from automl.evaluation.pareto import hypervolume, non_dominated_ranks
from automl.space import Candidate, SearchSpace
from automl.space.hyperparameters import Bool, Choice, Float, Hyperparameter, Int
from automl.strategies.base import Proposal, Strategy, StrategyContext, TrialResult, TrialStatus
from automl.strategies.options import option
from automl.strategies.sampling import DecisionTrie, unasked_candidate

STATE_VERSION = 1
FEASIBLE, INFEASIBLE, UNCHECKED = "y", "n", "?"  # an observation's constraint check, as stored in the state
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class TPEOptions:
    startup: int = option(5, "random candidates before the densities are used", minimum=1)
    startup_design: str = option(
        "latin",
        "the startup candidates: balanced (each value, or each stratum of a range, as often as the others) or random",
        choices=("latin", "random"),
    )
    gamma: float = option(0.15, "share of the scored trials modelled as good", minimum=0.01, maximum=0.99)
    gamma_max: int = option(25, "at most this many good trials", minimum=1)
    candidates: int = option(48, "samples drawn from the good density per ask; the best l/g is proposed", minimum=1)
    multivariate: bool = option(True, "one joint kernel per observation (false: one density per decision)")
    prior_weight: float = option(1.0, "weight of the uniform prior in each density", minimum=0.0)
    bandwidth: float = option(0.2, "numeric kernel width as a share of the range, before Scott's factor", minimum=0.0)
    constant_liar: bool = option(True, "asks in flight count as bad observations")
    max_observations: int = option(1000, "most recent bad observations the bad density uses", minimum=10)
    bandwidth_rule: str = option(
        "auto",
        "numeric kernel widths: Scott's rule for joint kernels and the distance to the neighbouring observations "
        "for one density per decision (auto), or either one always",
        choices=("auto", "neighbours", "scott"),
    )
    feasibility: str = option(
        "joint",
        "infeasible trials: weigh each sample by P(feasible | x) (c-TPE) from joint kernels or from one density "
        "per decision, or only count them as bad",
        choices=("joint", "marginal", "bad"),
    )


class _Encoding:
    """A decision's values as numbers: a category's index, or a range's position in [0, 1]."""

    def __init__(self, hyperparameter: Hyperparameter) -> None:
        self.hyperparameter = hyperparameter
        self.values: list[Any] | None = None
        if isinstance(hyperparameter, (Choice, Bool)):
            self.values = list(hyperparameter.finite_values())
            self.size = len(self.values)
            self.index = {_label(value): position for position, value in enumerate(self.values)}
            return
        assert isinstance(hyperparameter, (Int, Float)), f"no TPE encoding for {hyperparameter!r}"
        low, high = float(hyperparameter.low), float(hyperparameter.high)
        if isinstance(hyperparameter, Int):
            low, high = low - 0.5, high + 0.5  # each integer owns a unit-wide cell
        self.log = bool(hyperparameter.log)
        self.low, self.high = (math.log(low), math.log(high)) if self.log else (low, high)

    @property
    def categorical(self) -> bool:
        return self.values is not None

    def encode(self, value: Any) -> float:
        if self.values is not None:
            position = self.index.get(_label(value))
            if position is None:  # a value in another form (a list for a tuple): the domain's own object
                normalised = self.hyperparameter.normalise(value)
                position = next(index for index, known in enumerate(self.values) if known is normalised)
            return float(position)
        if self.high == self.low:
            return 0.5
        scaled = math.log(value) if self.log else float(value)
        return min(1.0, max(0.0, (scaled - self.low) / (self.high - self.low)))

    def decode(self, code: float) -> Any:
        if self.values is not None:
            return self.values[int(code)]
        scaled = self.low + float(code) * (self.high - self.low)
        value = math.exp(scaled) if self.log else scaled
        hyperparameter = self.hyperparameter
        assert isinstance(hyperparameter, (Int, Float))
        if isinstance(hyperparameter, Int):
            return int(min(hyperparameter.high, max(hyperparameter.low, round(value))))
        return float(min(hyperparameter.high, max(hyperparameter.low, value)))


def _paths_in_order(candidates: list[Candidate]) -> list[str]:
    """Every decision of the candidates, first seen first: a set's order follows Python's salted hash, and the
    order of a sum of log densities decides near-ties (same seed, same candidates in every process)."""
    return list(dict.fromkeys(path for candidate in candidates for path in candidate))


def _label(value: Any) -> Any:
    """A dictionary key that keeps True apart from 1 (and 1.0 apart from 1)."""
    try:
        hash(value)
    except TypeError:
        return ("unhashable", repr(value))
    return (type(value).__name__, value)


class _Column:
    """One decision's codes over the observations (rows), and whether each row has the decision."""

    def __init__(self, capacity: int) -> None:
        self.codes = np.zeros(capacity)
        self.present = np.zeros(capacity, dtype=bool)

    def grow(self, capacity: int) -> None:
        codes, present = np.zeros(capacity), np.zeros(capacity, dtype=bool)
        codes[: len(self.codes)], present[: len(self.present)] = self.codes, self.present
        self.codes, self.present = codes, present


@dataclass
class _Feasibility:
    """c-TPE's feasibility model: a density over the feasible observations, one over the infeasible ones, and the
    log of the observed feasible and infeasible shares (Bayes' rule's prior)."""

    feasible: _Kernels
    infeasible: _Kernels
    log_feasible_share: float
    log_infeasible_share: float


@dataclass
class _Kernels:
    """One density: its observations' codes per decision, their count, and the bandwidths used."""

    codes: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    size: int
    sigmas: dict[str, np.ndarray] = field(default_factory=dict)  # numeric decisions' widths, per kernel
    counts: dict[str, int] = field(default_factory=dict)  # kernels that have each decision

    def count(self, path: str) -> int:
        count = self.counts.get(path)
        if count is None:
            present = self.present.get(path)
            count = self.counts[path] = 0 if present is None else int(present.sum())
        return count


class TPEStrategy(Strategy):
    """TPE over the tree of decisions (Bergstra et al., NeurIPS 2011), multivariate by default.

    Falkner et al. (ICML 2018) and Watanabe (2023) for the joint kernels and the
    choice of components; Ginsbourger et al. (2010) for the constant liar.
    """

    name = "tpe"
    description = "tree-structured Parzen estimator over the decision tree (joint kernels, constant liar)"
    Options = TPEOptions
    multi_objective = True  # MOTPE: the good set by non-dominated fronts and hypervolume

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.rng = np.random.default_rng(context.seed)
        self.encodings: dict[str, _Encoding] = {}
        self.columns: dict[str, _Column] = {}
        self.capacity = 64
        self.candidates_told: list[dict[str, Any]] = []  # the observations, in the order told
        self.scores: list[float | None] = []  # None: failed, infeasible or pruned (a bad observation)
        self.checks: list[str] = []  # per observation: FEASIBLE, INFEASIBLE, or UNCHECKED (failed)
        self.rows_by_check: dict[str, list[int]] = {FEASIBLE: [], INFEASIBLE: [], UNCHECKED: []}  # kept as told
        self.objective_count = len(context.objectives)  # 2 or more: MOTPE on the values
        self.values: list[tuple[float, ...] | None] = []  # one per observation with several objectives
        self.archive: dict[int, int] = {}  # row -> how many observations dominate it (fewer than gamma_max)
        self.told: set[str] = set()
        self.pending: dict[str, list[Any]] = {}  # candidate key -> [asks in flight, candidate decisions]
        self.trie = DecisionTrie(space)  # walks of many draws per ask without building each architecture
        # what this study's asks use; a study saved before these existed keeps what it had then (load_state_dict)
        self.bandwidth_rule_in_effect = self.options.bandwidth_rule
        if self.bandwidth_rule_in_effect == "auto":
            self.bandwidth_rule_in_effect = "scott" if self.options.multivariate else "neighbours"
        self.feasibility_in_effect = self.options.feasibility

    # ------------------------------------------------------------------ observations
    def _encoding(self, path: str, hyperparameter: Hyperparameter | None = None) -> _Encoding:
        encoding = self.encodings.get(path)
        if encoding is None:
            assert hyperparameter is not None
            encoding = self.encodings[path] = _Encoding(hyperparameter)
        return encoding

    def _learn_paths(self, candidate: Candidate) -> None:
        """Know the hyperparameter of every path of a candidate (replays it if a path is new)."""
        if all(path in self.encodings for path in candidate):
            return
        architecture = self.space.replay(candidate)
        for path in candidate:
            self._encoding(path, architecture.hyperparameter_at(path))

    def _add_observation(
        self,
        candidate: Candidate,
        score: float | None,
        values: tuple[float, ...] | None = None,
        check: str = FEASIBLE,
    ) -> None:
        self._learn_paths(candidate)
        row = len(self.scores)
        if row == self.capacity:
            self.capacity *= 2
            for column in self.columns.values():
                column.grow(self.capacity)
        for path, value in candidate.items():
            column = self.columns.get(path)
            if column is None:
                column = self.columns[path] = _Column(self.capacity)
            column.codes[row] = self.encodings[path].encode(value)
            column.present[row] = True
        self.candidates_told.append(candidate.to_dict())
        self.scores.append(score)
        self.checks.append(check)
        self.rows_by_check[check].append(row)
        self.told.add(candidate.key)
        if self.objective_count > 1:
            self.values.append(values)
            if values is not None:
                self._archive(row, values)

    def _archive(self, row: int, values: tuple[float, ...]) -> None:
        """Keep the observations that may still be good: dominated by fewer than ``gamma_max`` others.

        Exact without looking outside the archive: an observation dominated by ``gamma_max`` or more
        has that many dominators inside it (the one of its dominators with the fewest dominators of its
        own would otherwise be outside with fewer), so counting within the archive decides."""
        limit = self.options.gamma_max
        point = np.array(values)
        rows = np.fromiter(self.archive, dtype=int, count=len(self.archive))
        if len(rows):
            others = np.array([self.values[other] for other in rows])
            above = np.all(others >= point, axis=1) & np.any(others > point, axis=1)  # they dominate it
            below = np.all(point >= others, axis=1) & np.any(point > others, axis=1)  # it dominates them
            for other in rows[below]:
                self.archive[int(other)] += 1
                if self.archive[int(other)] >= limit:
                    del self.archive[int(other)]
            if int(above.sum()) >= limit:
                return
            self.archive[row] = int(above.sum())
        else:
            self.archive[row] = 0

    # ------------------------------------------------------------------ asking
    def ask(self) -> Proposal | None:
        if self.objective_count > 1:
            scored = [row for row, values in enumerate(self.values) if values is not None]
        else:
            scored = [row for row, score in enumerate(self.scores) if score is not None]
        if len(self.scores) < self.options.startup or not scored:
            return self._propose(self._startup_candidate())
        good, bad = self._split(scored)
        if self.options.constant_liar:
            liars = [Candidate(decisions) for count, decisions in self.pending.values() for _ in range(count)]
        else:
            liars = []
        good_kernels, bad_kernels = self._kernels(good, []), self._kernels(bad, liars)
        feasibility = self._feasibility()
        for _ in range(4):  # a few rounds of samples before falling back to a random new candidate
            if self.options.multivariate:
                samples = [self._sample(good_kernels) for _ in range(self.options.candidates)]
                if feasibility is not None:  # c-TPE also draws from the feasible density
                    samples += [self._sample(feasibility.feasible) for _ in range(self.options.candidates)]
                fresh = [sample for sample in samples if not self._asked(sample.key)]
                if fresh:
                    ratio = self._log_density(fresh, good_kernels) - self._log_density(fresh, bad_kernels)
                    if feasibility is not None:
                        feasible = self._log_feasible(fresh, feasibility)
                        ratio = self._constrained(ratio, feasible, good_kernels, bad_kernels)
                    return self._checked(fresh[int(np.argmax(ratio))])
            else:
                candidate = self._walk_univariate(good_kernels, bad_kernels, feasibility)
                if not self._asked(candidate.key):
                    return self._checked(candidate)
        return self._propose(self._fresh_random())

    def _walk_univariate(self, good: _Kernels, bad: _Kernels, feasibility: _Feasibility | None = None) -> Candidate:
        """Bergstra et al.'s TPE: at each decision of the walk, the best ``l/g`` of values drawn from ``l`` (times
        the decision's own ``P(feasible | x)`` under c-TPE's model)."""

        def choose(path: str, hyperparameter: Hyperparameter) -> Any:
            encoding = self._encoding(path, hyperparameter)
            values = [self._draw(encoding, hyperparameter, good, path) for _ in range(self.options.candidates)]
            ratio = self._marginal_log_density(path, values, good) - self._marginal_log_density(path, values, bad)
            if feasibility is not None:
                feasible = self._marginal_log_feasible(path, values, feasibility)
                ratio = self._constrained(ratio, feasible, good, bad)
            return values[int(np.argmax(ratio))]

        return self.trie.walk(choose)

    def _checked(self, candidate: Candidate) -> Proposal | None:
        """Propose a walked candidate, unless a float changed the space's structure under the trie: then ask
        again, building real architectures from now on."""
        return self._propose(candidate) if self.trie.check(candidate) else self.ask()

    def _asked(self, key: str) -> bool:
        return key in self.told or key in self.pending

    def _startup_candidate(self) -> Candidate | None:
        """A Latin-hypercube-like design (McKay, Beckman & Conover, 1979) over the tree: each decision takes one of
        its least-used values (a range: one of its least-used ``startup`` strata) among the candidates asked so far,
        so a handful of startup trials see every value of every decision before the densities take over."""
        if self.options.startup_design == "random":
            return self._fresh_random()
        used: dict[str, np.ndarray] = {}
        asked = [*self.candidates_told, *(decisions for _, decisions in self.pending.values())]
        for decisions in asked:
            for path, value in decisions.items():
                if path in self.encodings:
                    counts = used.setdefault(path, np.zeros(self._strata(self.encodings[path])))
                    counts[self._stratum(self.encodings[path], value)] += 1

        def choose(path: str, hyperparameter: Hyperparameter) -> Any:
            encoding = self._encoding(path, hyperparameter)
            strata = self._strata(encoding)
            counts = used.get(path, np.zeros(strata))
            least = np.flatnonzero(counts == counts.min())
            stratum = int(least[int(self.rng.integers(len(least)))])
            if encoding.categorical:
                return encoding.decode(stratum)
            return encoding.decode((stratum + self.rng.uniform()) / strata)

        for _ in range(8):
            candidate = self.trie.walk(choose)
            if not self._asked(candidate.key) and self.trie.check(candidate):
                return candidate
        return self._fresh_random()

    def _strata(self, encoding: _Encoding) -> int:
        return encoding.size if encoding.categorical else max(2, self.options.startup)

    def _stratum(self, encoding: _Encoding, value: Any) -> int:
        code = encoding.encode(value)
        if encoding.categorical:
            return int(code)
        strata = self._strata(encoding)
        return min(strata - 1, int(code * strata))

    def _fresh_random(self) -> Candidate | None:
        return unasked_candidate(self.space, self.rng, _Asked(self))

    def _propose(self, candidate: Candidate | None) -> Proposal | None:
        if candidate is None:
            return None  # every candidate of a finite space was asked
        entry = self.pending.setdefault(candidate.key, [0, candidate.to_dict()])
        entry[0] += 1
        return Proposal(candidate)

    def _split(self, scored: list[int]) -> tuple[list[int], list[int]]:
        """The good rows (best scores; ties to the earlier) and the most recent bad ones (failures included)."""
        count = min(self.options.gamma_max, max(1, math.ceil(self.options.gamma * len(scored))))
        if self.objective_count > 1:
            good = sorted(self._good_by_fronts(count))
        else:
            order = sorted(scored, key=lambda row: (-self.scores[row], row))  # type: ignore[operator]
            good = sorted(order[:count])
        good_rows = set(good)
        bad = [row for row in range(len(self.scores)) if row not in good_rows]
        return good, bad[-self.options.max_observations :]

    def _good_by_fronts(self, count: int) -> list[int]:
        """``count`` rows: whole non-dominated fronts best first, then from the front that does not fit whole
        the rows that add the most hypervolume to those chosen (greedy, ties to the earlier row)."""
        rows = sorted(self.archive)
        points = np.array([self.values[row] for row in rows])
        directions = ["max"] * self.objective_count
        ranks = non_dominated_ranks(points, directions)
        chosen: list[int] = []
        for front in range(int(ranks.max()) + 1):
            members = [index for index in np.flatnonzero(ranks == front)]
            if len(chosen) + len(members) <= count:
                chosen.extend(members)
                if len(chosen) == count:
                    break
                continue
            spread = points.max(axis=0) - points.min(axis=0)
            reference = points.min(axis=0) - np.where(spread > 0, 0.1 * spread, 1.0)
            picked: list[int] = []
            while len(chosen) + len(picked) < count:
                base = [points[index] for index in picked]
                gains = [
                    hypervolume(np.array([*base, points[index]]), directions, reference)
                    for index in members
                    if index not in picked
                ]
                remaining = [index for index in members if index not in picked]
                picked.append(remaining[int(np.argmax(gains))])
            chosen.extend(picked)
            break
        return [rows[index] for index in chosen]

    def _kernels(self, rows: list[int], extra: list[Candidate]) -> _Kernels:
        """One density's observations: told rows, and candidates in flight (the constant liar's)."""
        indices = np.array(rows, dtype=int)
        codes = {path: column.codes[indices] for path, column in self.columns.items()}
        present = {path: column.present[indices] for path, column in self.columns.items()}
        if extra:
            for candidate in extra:
                self._learn_paths(candidate)
            for path in dict.fromkeys([*self.encodings, *codes]):
                column_codes = [self.encodings[path].encode(c[path]) if path in c else 0.0 for c in extra]
                codes[path] = np.concatenate([codes.get(path, np.zeros(len(rows))), column_codes])
                present[path] = np.concatenate(
                    [present.get(path, np.zeros(len(rows), dtype=bool)), [path in c for c in extra]]
                )
        return _Kernels(codes, present, len(rows) + len(extra))

    def _bandwidths(self, kernels: _Kernels, path: str) -> np.ndarray:
        """Each kernel's width for a numeric decision (in [0, 1] units), computed once per density."""
        sigmas = kernels.sigmas.get(path)
        if sigmas is not None:
            return sigmas
        present = kernels.present.get(path, np.zeros(kernels.size, dtype=bool))
        count = kernels.count(path)
        floor = 1.0 / min(100, count + 1)  # hyperopt's "magic clip"
        if self._bandwidth_rule() == "scott":
            # the decisions of the told observations: restored exactly on resume and fixed during an ask (a path
            # a sample walked into but nobody told must not change the widths)
            dimensions = 1 if not self.options.multivariate else max(1, len(self.columns))
            width = self.options.bandwidth * max(count, 1) ** (-1.0 / (dimensions + 4))
            sigmas = np.full(kernels.size, width)
        else:
            # hyperopt's rule (Bergstra et al. 2011): a kernel is as wide as the larger gap to its neighbours
            # among the observed values and the prior's centre (0.5); the outermost ones take their inner gap
            sigmas = np.ones(kernels.size)
            rows = np.flatnonzero(present)
            if len(rows):
                centres = np.append(kernels.codes[path][rows], 0.5)
                order = np.argsort(centres, kind="stable")
                ordered = np.concatenate([[0.0], centres[order], [1.0]])
                gaps = np.maximum(ordered[1:-1] - ordered[:-2], ordered[2:] - ordered[1:-1])
                if len(centres) >= 2:
                    gaps[0], gaps[-1] = ordered[2] - ordered[1], ordered[-2] - ordered[-3]
                widths = np.empty(len(centres))
                widths[order] = gaps
                sigmas[rows] = widths[:-1]
        sigmas = np.clip(sigmas, floor, 1.0)
        kernels.sigmas[path] = sigmas
        return sigmas

    def _bandwidth_rule(self) -> str:
        """``auto``: Scott's rule for the joint kernels, as BOHB's product kernels (Falkner et al. 2018) and
        Optuna's multivariate TPE use, and hyperopt's neighbour rule for one density per decision, where it was
        designed. On the continuous_grid table (100 seeds x 100 trials, seeds unseen by the benchmark) Scott's
        rule for the joint kernels cut the mean regret at 50 and 100 trials from 0.0079 and 0.0066 to 0.0066
        and 0.0047: the neighbour gaps of a few good observations of a binned range are narrow, so samples
        stayed in the bins already tried."""
        return self.bandwidth_rule_in_effect

    def _smoothing(self, kernels: _Kernels, path: str) -> float:
        """The prior mass a categorical kernel spreads over every value."""
        return self.options.prior_weight / (kernels.count(path) + 1)

    # ------------------------------------------------------------------ sampling from l
    def _sample(self, kernels: _Kernels) -> Candidate:
        """One candidate drawn from a density as the tree unfolds."""
        weights = np.ones(kernels.size + 1)
        weights[-1] = self.options.prior_weight  # the last component is the uniform prior
        if weights.sum() <= 0:
            weights[-1] = 1.0
        probabilities = weights / weights.sum()
        component = int(self.rng.choice(len(weights), p=probabilities)) if self.options.multivariate else None

        def choose(path: str, hyperparameter: Hyperparameter) -> Any:
            encoding = self._encoding(path, hyperparameter)
            present = kernels.present.get(path)
            if self.options.multivariate:
                centre = component if component is not None and component < kernels.size else None
                if centre is not None and (present is None or not present[centre]):
                    centre = None  # the observation's walk did not reach this decision
            else:
                centre = self._univariate_component(kernels, path)
            if centre is None:
                return hyperparameter.sample(self.rng)
            return encoding.decode(self._perturb(encoding, kernels, path, centre))

        return self.trie.walk(choose)

    def _univariate_component(self, kernels: _Kernels, path: str) -> int | None:
        """A kernel of one decision's density (None: the prior), by the mixture's weights."""
        present = kernels.present.get(path)
        having = [] if present is None else list(np.flatnonzero(present))
        weights = np.ones(len(having) + 1)
        weights[-1] = self.options.prior_weight
        if weights.sum() <= 0:
            weights[-1] = 1.0
        picked = int(self.rng.choice(len(weights), p=weights / weights.sum()))
        return None if picked == len(having) else int(having[picked])

    def _draw(self, encoding: _Encoding, hyperparameter: Hyperparameter, kernels: _Kernels, path: str) -> Any:
        """One value of a decision drawn from its own density (univariate TPE)."""
        centre = self._univariate_component(kernels, path)
        if centre is None:
            return hyperparameter.sample(self.rng)
        return encoding.decode(self._perturb(encoding, kernels, path, centre))

    def _perturb(self, encoding: _Encoding, kernels: _Kernels, path: str, centre: int) -> float:
        code = float(kernels.codes[path][centre])
        if encoding.categorical:
            # the kernel's mass: 1 on the observed value, ``smoothing`` on every value (that one included)
            smoothing = self._smoothing(kernels, path)
            drawn = self.rng.random() * (1.0 + encoding.size * smoothing)
            if drawn < 1.0:
                return code
            return float(min(encoding.size - 1, int((drawn - 1.0) / smoothing)))
        sigma = float(self._bandwidths(kernels, path)[centre])
        low, high = ndtr((0.0 - code) / sigma), ndtr((1.0 - code) / sigma)
        quantile = low + self.rng.uniform() * (high - low)
        return float(min(1.0, max(0.0, code + sigma * ndtri(min(max(quantile, 1e-12), 1 - 1e-12)))))

    # ------------------------------------------------------------------ densities
    def _log_density(self, candidates: list[Candidate], kernels: _Kernels) -> np.ndarray:
        """log l(x) (or g(x)) of each candidate under one density's mixture of kernels."""
        size = kernels.size
        if self.options.multivariate:
            # log kernel of each (candidate, component); the last component is the prior
            joint = np.zeros((len(candidates), size + 1))
            for path in _paths_in_order(candidates):
                rows = [index for index, candidate in enumerate(candidates) if path in candidate]
                joint[rows] += self._log_kernels(path, [candidates[index][path] for index in rows], kernels)
            weights = np.ones(size + 1)
            weights[-1] = self.options.prior_weight
            with np.errstate(divide="ignore"):
                log_weights = np.log(weights / weights.sum()) if weights.sum() > 0 else np.zeros(size + 1)
            return logsumexp(joint + log_weights, axis=1)
        total = np.zeros(len(candidates))
        for path in _paths_in_order(candidates):
            rows = [index for index, candidate in enumerate(candidates) if path in candidate]
            total[rows] += self._marginal_log_density(path, [candidates[index][path] for index in rows], kernels)
        return total

    def _marginal_log_density(self, path: str, values: list[Any], kernels: _Kernels) -> np.ndarray:
        """One decision's density at ``values``: its kernels where the decision exists, and the prior."""
        kernel_values = self._log_kernels(path, values, kernels)
        present = kernels.present.get(path, np.zeros(kernels.size, dtype=bool))
        weights = np.append(present.astype(float), self.options.prior_weight)
        if weights.sum() <= 0:
            weights[-1] = 1.0
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights / weights.sum())
        return logsumexp(kernel_values + log_weights, axis=1)

    def _log_kernels(self, path: str, values: list[Any], kernels: _Kernels) -> np.ndarray:
        """(values x components) log densities of one decision; a component without the decision, and the
        prior (last column), give the uniform density."""
        encoding = self.encodings[path]
        codes = np.array([encoding.encode(value) for value in values])
        size = kernels.size
        present = kernels.present.get(path, np.zeros(size, dtype=bool))
        centres = kernels.codes.get(path, np.zeros(size))
        if encoding.categorical:
            uniform = -math.log(encoding.size)
            smoothing = self._smoothing(kernels, path)
            same = codes[:, None] == centres[None, :]
            observed = np.log(same + smoothing) - math.log(1.0 + encoding.size * smoothing)
        else:
            uniform = 0.0
            sigma = self._bandwidths(kernels, path)
            standard = (codes[:, None] - centres[None, :]) / sigma[None, :]
            mass = np.log(np.maximum(ndtr((1.0 - centres) / sigma) - ndtr((0.0 - centres) / sigma), 1e-300))
            observed = -0.5 * standard**2 - _LOG_SQRT_2PI - np.log(sigma)[None, :] - mass[None, :]
        result = np.where(present[None, :], observed, uniform)
        return np.concatenate([result, np.full((len(values), 1), uniform)], axis=1)

    # ------------------------------------------------------------------ feasibility (c-TPE)
    def _feasibility(self) -> _Feasibility | None:
        """The feasibility model of the observations told, or None: switched off, or no infeasible observation
        (then the acquisition is TPE's own, sample for sample), or no feasible one to contrast them with."""
        feasible, infeasible = self.rows_by_check[FEASIBLE], self.rows_by_check[INFEASIBLE]
        if self.feasibility_in_effect == "bad" or not infeasible:
            return None
        if not feasible:
            return None
        share = len(feasible) / (len(feasible) + len(infeasible))
        recent = self.options.max_observations  # the same bound on an ask's cost as the bad density's
        return _Feasibility(
            self._kernels(feasible[-recent:], []),
            self._kernels(infeasible[-recent:], []),
            math.log(share),
            math.log1p(-share),
        )

    def _constrained(
        self, log_ratio: np.ndarray, log_feasible: np.ndarray, good: _Kernels, bad: _Kernels
    ) -> np.ndarray:
        """c-TPE's acquisition, in logs: ``P(feasible | x) / (gamma + (1 - gamma) g(x) / l(x))``, ``gamma`` the good
        share of the observations the two densities hold. Expected improvement under TPE's model is that
        bounded factor (at most ``1 / gamma``), so among samples that all look good the likelier feasible wins,
        where an unbounded ``l / g`` would outvote any probability of breaking a constraint."""
        gamma = good.size / (good.size + bad.size)
        if gamma >= 1.0:
            return log_feasible
        return log_feasible - np.logaddexp(math.log(gamma), math.log1p(-gamma) - log_ratio)

    def _log_feasible(self, candidates: list[Candidate], feasibility: _Feasibility) -> np.ndarray:
        """log P(feasible | x) by Bayes' rule: share * f(x) / (share * f(x) + (1 - share) * h(x)).

        ``joint`` (the default): f and h are mixtures of joint kernels (univariate densities with
        ``multivariate=false``), as l and g are. ``marginal``: products of one density per decision, which
        generalise a value that breaks the constraint whatever the other decisions are, but miss constraints
        that hang on several decisions together (a latency from depth and width): on the digits_tree table
        it wasted 15% of trials against 12.5% for the joint model (10 seeds)."""
        if self.feasibility_in_effect == "marginal":
            density = self._log_marginals
        else:
            density = self._log_density
        feasible = feasibility.log_feasible_share + density(candidates, feasibility.feasible)
        infeasible = feasibility.log_infeasible_share + density(candidates, feasibility.infeasible)
        return feasible - np.logaddexp(feasible, infeasible)

    def _log_marginals(self, candidates: list[Candidate], kernels: _Kernels) -> np.ndarray:
        """Sum over the candidates' decisions of each decision's own log density (an independent model)."""
        total = np.zeros(len(candidates))
        for path in _paths_in_order(candidates):
            rows = [index for index, candidate in enumerate(candidates) if path in candidate]
            total[rows] += self._marginal_log_density(path, [candidates[index][path] for index in rows], kernels)
        return total

    def _marginal_log_feasible(self, path: str, values: list[Any], feasibility: _Feasibility) -> np.ndarray:
        """log P(feasible | one decision's value), for the univariate walk."""
        feasible = feasibility.log_feasible_share + self._marginal_log_density(path, values, feasibility.feasible)
        infeasible = feasibility.log_infeasible_share + self._marginal_log_density(path, values, feasibility.infeasible)
        return feasible - np.logaddexp(feasible, infeasible)

    # ------------------------------------------------------------------ telling
    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        candidate = proposal.candidate
        entry = self.pending.get(candidate.key)
        if entry is not None:
            entry[0] -= 1
            if entry[0] <= 0:
                del self.pending[candidate.key]
        score = float(result.score) if result.ok and result.score is not None else None
        if score is not None and not math.isfinite(score):
            score = None
        values = None
        if self.objective_count > 1 and score is not None and result.values is not None:
            values = tuple(float(value) for value in result.values)
            if not all(math.isfinite(value) for value in values):
                values = None
        self._add_observation(candidate, score, values, _check_of(result.status))

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "rng": self.rng.bit_generator.state,
            "observations": [
                [decisions, score] if self.objective_count < 2 else [decisions, score, values and list(values)]
                for decisions, score, values in zip(
                    self.candidates_told, self.scores, self.values or [None] * len(self.scores)
                )
            ],
            "pending": [[count, decisions] for count, decisions in self.pending.values()],
            "checks": "".join(self.checks),
            "bandwidth_rule": self.bandwidth_rule_in_effect,
            "feasibility": self.feasibility_in_effect,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unknown tpe state version {state.get('version')!r}")
        self.setup(self.space, self.context)
        self.rng.bit_generator.state = state["rng"]
        # a study saved before these were stored goes on as it began: the neighbour rule was the default then,
        # and without the feasibility model
        if "bandwidth_rule" in state:
            self.bandwidth_rule_in_effect = str(state["bandwidth_rule"])
        elif self.options.bandwidth_rule == "auto":
            self.bandwidth_rule_in_effect = "neighbours"
        self.feasibility_in_effect = str(
            state.get("feasibility", self.feasibility_in_effect if "checks" in state else "bad")
        )
        # a state saved before the feasibility model: a scored observation passed the check, the others are unknown
        checks = state.get("checks") or "".join(
            FEASIBLE if observation[1] is not None else UNCHECKED for observation in state["observations"]
        )
        for (decisions, score, *values), check in zip(state["observations"], checks, strict=True):
            told = tuple(values[0]) if values and values[0] is not None else None
            self._add_observation(Candidate(decisions), None if score is None else float(score), told, check)
        for count, decisions in state["pending"]:
            candidate = Candidate(decisions)
            self.pending[candidate.key] = [int(count), candidate.to_dict()]


def _check_of(status: TrialStatus) -> str:
    """What a trial says about the constraints: complete and pruned trials passed the check (it comes before
    training), an infeasible one broke one, a failed one may have failed before the check."""
    if status is TrialStatus.INFEASIBLE:
        return INFEASIBLE
    if status is TrialStatus.FAILED:
        return UNCHECKED
    return FEASIBLE


class _Asked:
    """``key in asked`` for a TPE: told or in flight (no copy of either set)."""

    def __init__(self, strategy: TPEStrategy) -> None:
        self.strategy = strategy

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.strategy._asked(key)
