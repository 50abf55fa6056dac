"""Monte Carlo tree search (UCT) over the tree of decisions.

A search space of the space language unfolds as a tree: the decisions are made
in a deterministic depth-first traversal order, and a value chosen early decides
which decisions come later. DeepArchitect (Negrinho & Gordon, 2017, section 4.3)
searches that tree with Monte Carlo tree search, and reports that it beats
random search; this module implements it with the UCT rule of Kocsis &
Szepesvári ("Bandit based Monte-Carlo Planning", ECML 2006).

Each tree node is a prefix of decisions; its children are the values of the
next open decision after that prefix. One ``ask``:

1. *selection* walks down the stored tree, at each node choosing the child that
   maximises ``value + c * sqrt(2 ln N_parent / n)`` (unvisited children first,
   ties broken at random with the strategy's seeded generator);
2. *expansion* stores ONE new node, the first child not in the tree yet;
3. *rollout* finishes the architecture with uniformly random decisions, which
   are not stored (the rollout never looks at the objective or at results).

``tell`` adds the result to every node of the stored path. Two choices adapt UCT,
a game-playing method, to optimisation, where only the best result counts:

- *Rank normalisation* (``normalise="rank"``, the default). A result enters the
  tree as its quantile among the scores told so far (the fraction of the other
  scores it beats, ties half), fixed when it is told, so ``c`` has the same
  meaning whatever the scale of the objective, and one diverged architecture
  with a very low score no longer squeezes every other score towards 1 as the
  min–max normalisation of version 1 did (``normalise="minmax"`` keeps it).
  Ranks are fixed at tell time so that a node keeps a sum and an ask stays
  O(depth); rank-based fitness shaping is that of CMA-ES and of the natural
  evolution strategies (Wierstra et al., JMLR 2014).
- *Mean–max backup* (``max_weight``, default 0.5). A node's value is
  ``(1 - max_weight) * mean + max_weight * best``, where ``best`` is the best
  score seen below the node (normalised as its current quantile). Backing up
  a mix of the mean and the maximum is Coulom's ("Efficient Selectivity and
  Backup Operators in Monte-Carlo Tree Search", CG 2006); single-player MCTS
  keeps the best result found below a node for the same reason (Schadd et al.,
  "Single-Player Monte-Carlo Tree Search", CG 2008). The mean alone rates a
  branch by its average architecture, which hides a branch with a few
  excellent ones among many poor ones; the maximum alone trusts one lucky
  (noisy) score.

A failed trial counts as the worst score (0) in the mean and leaves ``best``
alone. Asks in flight add a *virtual loss*: their stored path counts a pending
visit with value 0 in the mean until the tell, so parallel workers spread over
the tree instead of all taking the same branch.

Continuous and wide integer decisions are binned: a node's children are
``hyperparameter.grid(bins)``; the rollout still samples the full range. An ask
costs O(depth × branching) — it builds one architecture and looks only at the
nodes on its path (a node's best score is ranked by bisection, O(log trials)) —
never a walk over the whole space.

Options (:class:`MCTSOptions`): ``exploration`` (``c``), ``normalise``,
``max_weight``, ``bins``, ``attempts``. The defaults were chosen on 300 seeds (not those of the
benchmark) of two problems: the lookup table of ``benchmarks/strategies.py``
and random tree-structured synthetic objectives with noise and diverged
architectures; rank + mean–max lowered the regret on both.

A proposal carries the ids of the stored nodes it walked (``data["path"]``),
so its tell credits exactly those nodes and removes their virtual loss; the
strategy keeps no table of asks in flight, only how many asks of each
candidate are pending (to avoid asking one twice).

State (version 3): the tree, the sorted scores and the seeded generator. The
engine saves it at growing intervals and replays the tail of asks and tells.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from automl.space import Candidate, SearchSpace
from automl.strategies.base import Proposal, Strategy, StrategyContext, TrialResult
from automl.strategies.options import option

STATE_VERSION = 4


@dataclass(frozen=True)
class MCTSOptions:
    exploration: float = option(0.5, "UCT exploration constant c", minimum=0.0)
    normalise: str = option(
        "rank", "scores enter the tree as their quantile (rank) or min-max scaled", choices=("rank", "minmax")
    )
    max_weight: float = option(
        0.5, "weight of a node's best score against its mean (0: plain UCT)", minimum=0.0, maximum=1.0
    )
    bins: int = option(6, "children of a continuous or wide integer decision", minimum=2)
    attempts: int = option(16, "re-samples when a rollout meets a candidate already asked", minimum=1)
    rave: float = option(
        0.0, "RAVE equivalence k: how long statistics shared by a decision's value weigh in (0: off)", minimum=0.0
    )
    rollout: str = option(
        "uniform", "rollout decisions: uniform, or drawn by the shared statistics", choices=("uniform", "amaf")
    )
    rollout_temperature: float = option(0.1, "temperature of the amaf rollout (lower: greedier)", minimum=1e-6)


def _label(value: Any) -> str:
    """A stable text form of a decision value (tuples and lists alike)."""
    return json.dumps(value, sort_keys=True)


@dataclass
class TreeNode:
    """A prefix of decisions: its statistics and the children already stored.

    ``decision`` is the path of the next open decision after the prefix (None
    until the node is first walked through, and for a terminal node); ``values``
    are the values of its children, ``children`` maps a value's index to the id
    of the child node.
    """

    parent: int | None = None
    decision: str | None = None
    values: list[Any] | None = None
    children: dict[int, int] = field(default_factory=dict)
    visits: int = 0  # results added through this node, completed and failed
    completed: int = 0  # of which completed with a score
    score_sum: float = 0.0  # raw (unnormalised) sum of the completed scores
    rank_sum: float = 0.0  # sum of the completed scores' quantiles when told (see ``_quantile``)
    best: float | None = None  # the best raw score below the node (max backup)
    pending: int = 0  # asks in flight through this node (virtual loss)
    terminal: bool = False  # the prefix is a whole candidate
    exhausted: bool = False  # every candidate below is stored in the tree and was asked

    def to_json(self) -> dict[str, Any]:
        state = asdict(self)
        state["children"] = [[index, child] for index, child in self.children.items()]
        return state

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> TreeNode:
        values = dict(state)
        values["children"] = {int(index): int(child) for index, child in state["children"]}
        return cls(**values)


class MCTSStrategy(Strategy):
    """UCT over the decision tree with virtual loss, binning and de-duplication.

    Kocsis & Szepesvári, "Bandit based Monte-Carlo Planning" (ECML 2006) for the
    selection rule; Negrinho & Gordon, "DeepArchitect" (2017) for searching a
    space of architectures as a tree of decisions.
    """

    name = "mcts"
    description = "Monte Carlo tree search (UCT) over the tree of decisions; random or AMAF-guided rollouts, RAVE"
    Options = MCTSOptions

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.exploration: float = self.options.exploration
        self.bins: int = self.options.bins
        self.attempts: int = self.options.attempts
        self.normalise: str = self.options.normalise
        self.max_weight: float = self.options.max_weight
        self.rng = np.random.default_rng(context.seed)
        self.nodes: list[TreeNode] = [TreeNode()]
        self.lowest: float | None = None
        self.highest: float | None = None
        self.scores: list[float] = []  # every score told, sorted (for the quantiles)
        self.binned = False  # some node's children do not cover its whole domain
        self.results: dict[str, float | None] = {}  # candidate key -> last score told (None: failed)
        self.pending: dict[str, int] = {}  # candidate key -> asks of it not told yet (for de-duplication)
        self.rave: float = self.options.rave
        self.rollout: str = self.options.rollout
        self.rollout_temperature: float = self.options.rollout_temperature
        # RAVE / AMAF (Gelly & Silver 2007): per (decision path, value) of a finite decision, the results of
        # every candidate that made it, wherever in the tree: [count, sum of the results' quantiles]
        self.amaf: dict[str, list[float]] = {}
        self.finite_paths: set[str] = set()  # decisions whose every value is a child (not binned)

    # ------------------------------------------------------------------ asking
    def ask(self) -> Proposal | None:
        root = self.nodes[0]
        if root.exhausted:
            if not self.binned:
                return None  # every candidate of the (finite) space was asked
            return self._propose([], self.space.sample_candidate(self.rng))
        for _ in range(self.attempts):
            stored_path, candidate = self._sample()
            if not self._already_asked(candidate.key):
                break
            # A rollout met a candidate asked before: what we know of it teaches the new
            # branch for free, then we try again (the tree grew, so the next sample differs).
            if candidate.key in self.results:
                self._add_result(stored_path, self.results[candidate.key], in_flight=False)
            if root.exhausted:
                if not self.binned:
                    return None
                break
        for node_id in stored_path:
            self.nodes[node_id].pending += 1
        return self._propose(stored_path, candidate)

    def _propose(self, stored_path: list[int], candidate: Candidate) -> Proposal:
        self.pending[candidate.key] = self.pending.get(candidate.key, 0) + 1
        return Proposal(candidate, data={"path": stored_path})

    def _already_asked(self, key: str) -> bool:
        return key in self.results or key in self.pending

    def _sample(self) -> tuple[list[int], Candidate]:
        """Selection down the stored tree, expansion of one node, random rollout."""
        architecture = self.space.new()
        node_id = 0
        stored_path = [0]
        while True:
            node = self.nodes[node_id]
            decision = architecture.next_decision()
            if decision is None:  # the stored path is a whole candidate
                self._mark_terminal(node_id)
                return stored_path, Candidate(architecture.decisions)
            path, hyperparameter = decision
            if node.decision is None:
                node.decision = path
                node.values = list(hyperparameter.grid(self.bins))
                domain = hyperparameter.finite_values()
                if domain is None or len(domain) > len(node.values):
                    self.binned = True
                else:
                    self.finite_paths.add(path)
            elif node.decision != path:
                raise RuntimeError(
                    f"the space changed under the search tree: expected decision {node.decision!r}, found {path!r}"
                )
            assert node.values is not None
            unexpanded = [index for index in range(len(node.values)) if index not in node.children]
            if unexpanded:
                index = self._expansion(path, node.values, unexpanded)
                child_id = len(self.nodes)
                self.nodes.append(TreeNode(parent=node_id))
                node.children[index] = child_id
                stored_path.append(child_id)
                architecture.assign(path, node.values[index])
                rollout_steps = 0
                while (decision := architecture.next_decision()) is not None:
                    architecture.assign(decision[0], self._rollout_value(*decision))
                    rollout_steps += 1
                if rollout_steps == 0:
                    self._mark_terminal(child_id)
                return stored_path, Candidate(architecture.decisions)
            index = self._select(node)
            architecture.assign(path, node.values[index])
            node_id = node.children[index]
            stored_path.append(node_id)

    def _amaf_value(self, path: str, value: Any) -> float:
        """The mean quantile of every result whose candidate decided ``path = value`` (0.5 before any),
        shrunk towards 0.5 by one pseudo-result."""
        count, rank_sum = self.amaf.get(f"{path}\x00{_label(value)}", (0.0, 0.0))
        return (rank_sum + 0.5) / (count + 1.0)

    def _expansion(self, path: str, values: list[Any], unexpanded: list[int]) -> int:
        """The child to store: at random, or with RAVE the one whose value did best elsewhere in the tree."""
        if self.rave <= 0.0 or path not in self.finite_paths:
            return unexpanded[int(self.rng.integers(len(unexpanded)))]
        shared = np.array([self._amaf_value(path, values[index]) for index in unexpanded])
        best = np.flatnonzero(shared >= shared.max() - 1e-12)
        return unexpanded[int(best[int(self.rng.integers(len(best)))])]

    def _rollout_value(self, path: str, hyperparameter: Any) -> Any:
        """A rollout's decision: uniform, or (``rollout="amaf"``) a Boltzmann draw on the shared statistics."""
        values = hyperparameter.finite_values() if self.rollout == "amaf" else None
        if values is None or len(values) > self.bins:
            return hyperparameter.sample(self.rng)
        shared = np.array([self._amaf_value(path, value) for value in values]) / self.rollout_temperature
        weights = np.exp(shared - shared.max())
        return values[int(self.rng.choice(len(values), p=weights / weights.sum()))]

    def _select(self, node: TreeNode) -> int:
        """The UCT child of a fully expanded node: unvisited first, ties at random."""
        open_children = [(index, self.nodes[child]) for index, child in node.children.items()]
        open_children = [(index, child) for index, child in open_children if not child.exhausted] or open_children
        unvisited = [index for index, child in open_children if child.visits + child.pending == 0]
        if unvisited:
            return unvisited[int(self.rng.integers(len(unvisited)))]
        parent_visits = node.visits + node.pending
        log_parent = math.log(max(parent_visits, 1))
        values = node.values or []
        rave = self.rave > 0.0 and node.decision in self.finite_paths
        scores = np.array(
            [
                self._blend(self._value(child), child, node.decision, values[index], rave)
                + self.exploration * math.sqrt(2.0 * log_parent / (child.visits + child.pending))
                for index, child in open_children
            ]
        )
        best = np.flatnonzero(scores >= scores.max() - 1e-12)
        return open_children[int(best[int(self.rng.integers(len(best)))])][0]

    def _blend(self, value: float, child: TreeNode, path: str | None, decided: Any, rave: bool) -> float:
        """RAVE (Gelly & Silver, ICML 2007): ``(1 - beta) * value + beta * amaf`` with
        ``beta = sqrt(k / (3 n + k))``, so the shared statistics lead while a child has few visits of its own."""
        if not rave or path is None:
            return value
        beta = math.sqrt(self.rave / (3.0 * (child.visits + child.pending) + self.rave))
        return (1.0 - beta) * value + beta * self._amaf_value(path, decided)

    def _value(self, node: TreeNode) -> float:
        """The exploitation term: ``(1 - max_weight) * mean + max_weight * best``, both normalised to [0, 1]."""
        if self.max_weight == 0.0:
            return self._mean(node)
        return (1.0 - self.max_weight) * self._mean(node) + self.max_weight * self._best(node)

    def _mean(self, node: TreeNode) -> float:
        """The node's mean normalised score; failures and pending asks count 0."""
        return self._normalised_mean(node.visits + node.pending, node.completed, node.score_sum, node.rank_sum)

    def _normalised_mean(self, count: float, completed: float, score_sum: float, rank_sum: float) -> float:
        """The mean normalised score of ``count`` results (failures and pending asks count 0)."""
        if count == 0:
            return 0.0
        if self.normalise == "rank":
            return rank_sum / count
        if self.lowest is None or self.highest is None:
            total = 0.0
        elif self.highest > self.lowest:
            total = (score_sum - completed * self.lowest) / (self.highest - self.lowest)
        else:
            total = float(completed)  # one score level so far: completed beats failed
        return total / count

    def _best(self, node: TreeNode) -> float:
        """The node's best score, normalised like the mean (its quantile now, or min–max); 0 if none."""
        if node.best is None:
            return 0.0
        if self.normalise == "rank":
            return self._quantile(node.best, told=True)
        assert self.lowest is not None and self.highest is not None
        if self.highest > self.lowest:
            return (node.best - self.lowest) / (self.highest - self.lowest)
        return 1.0

    def _quantile(self, score: float, told: bool) -> float:
        """Where ``score`` ranks among the scores told, in [0, 1]: the fraction of the others it beats, ties
        counting half (0.5 when there is no other). ``told``: the score is itself one of ``self.scores``.
        O(log n) with the sorted list."""
        below = bisect.bisect_left(self.scores, score)
        equal = bisect.bisect_right(self.scores, score) - below - (1 if told else 0)
        others = len(self.scores) - (1 if told else 0)
        if others <= 0:
            return 0.5
        return (below + 0.5 * equal) / others

    def _mark_terminal(self, node_id: int) -> None:
        node = self.nodes[node_id]
        node.terminal = True
        node.exhausted = True
        parent_id = node.parent
        while parent_id is not None:
            parent = self.nodes[parent_id]
            if parent.values is None or len(parent.children) < len(parent.values):
                return
            if not all(self.nodes[child].exhausted for child in parent.children.values()):
                return
            parent.exhausted = True
            parent_id = parent.parent

    # ----------------------------------------------------------------- telling
    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        score = float(result.score) if result.ok and result.score is not None else None
        if score is not None and not math.isfinite(score):
            score = None
        candidate = proposal.candidate
        key = candidate.key
        if score is not None:
            bisect.insort(self.scores, score)
        if "path" in proposal.data:
            left = self.pending.get(key, 0) - 1
            if left > 0:
                self.pending[key] = left
            else:
                self.pending.pop(key, None)
            self._add_result(list(proposal.data["path"]), score, in_flight=True)
        else:  # a candidate this strategy did not ask for (enqueued by hand): credit the nodes it matches
            self._add_result(self._walk(candidate), score, in_flight=False)
        self.results[key] = score
        rank = self._quantile(score, told=True) if score is not None else 0.0
        for path, value in candidate.items():
            if path in self.finite_paths:
                entry = self.amaf.setdefault(f"{path}\x00{_label(value)}", [0.0, 0.0])
                entry[0] += 1.0
                entry[1] += rank

    def _add_result(self, stored_path: list[int], score: float | None, in_flight: bool) -> None:
        # The rank of a result is fixed when it is added, against the scores told by then: the nodes keep
        # sums, so an ask stays O(depth) instead of re-ranking every result below the nodes it looks at.
        rank = self._quantile(score, told=True) if score is not None and self.scores else 0.0
        if score is not None:
            self.lowest = score if self.lowest is None else min(self.lowest, score)
            self.highest = score if self.highest is None else max(self.highest, score)
        for node_id in stored_path:
            node = self.nodes[node_id]
            node.visits += 1
            if in_flight:
                node.pending -= 1
            if score is not None:
                node.completed += 1
                node.score_sum += score
                node.rank_sum += rank
                node.best = score if node.best is None else max(node.best, score)

    def _walk(self, candidate: Candidate) -> list[int]:
        """The stored nodes whose prefix a candidate follows."""
        node_id, stored_path = 0, [0]
        while True:
            node = self.nodes[node_id]
            if node.decision is None or node.values is None or node.decision not in candidate:
                return stored_path
            label = _label(candidate[node.decision])
            match = [index for index, value in enumerate(node.values) if _label(value) == label]
            if not match or match[0] not in node.children:
                return stored_path
            node_id = node.children[match[0]]
            stored_path.append(node_id)

    # ------------------------------------------------------------- inspecting
    @property
    def root(self) -> TreeNode:
        return self.nodes[0]

    def children_of(self, node: TreeNode) -> dict[Any, TreeNode]:
        """The stored children of a node by value (for inspection and tests)."""
        assert node.values is not None or not node.children
        return {_label(node.values[index]): self.nodes[child] for index, child in node.children.items()}  # type: ignore[index]

    # ----------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        """The whole tree, JSON-able, so a resumed study continues the same tree."""
        return {
            "version": STATE_VERSION,
            "rng": self.rng.bit_generator.state,
            "nodes": [node.to_json() for node in self.nodes],
            "lowest": self.lowest,
            "highest": self.highest,
            "scores": list(self.scores),
            "binned": self.binned,
            "results": dict(self.results),
            "pending": dict(self.pending),
            "amaf": self.amaf,
            "finite_paths": sorted(self.finite_paths),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if version not in (3, STATE_VERSION):  # version 4 added RAVE's shared statistics (none in a version 3 state)
            raise ValueError(f"unknown mcts state version {version!r}")
        self.rng.bit_generator.state = state["rng"]
        self.nodes = [TreeNode.from_json(node) for node in state["nodes"]]
        self.lowest = state["lowest"]
        self.highest = state["highest"]
        self.binned = bool(state["binned"])
        self.results = dict(state["results"])
        self.pending = {key: int(count) for key, count in state["pending"].items()}
        self.scores = sorted(float(score) for score in state["scores"])
        self.amaf = {key: [float(count), float(rank_sum)] for key, (count, rank_sum) in state.get("amaf", {}).items()}
        self.finite_paths = set(state.get("finite_paths", ()))
