"""Multi-fidelity benchmark: our schedulers (Hyperband, ASHA, SMAC multi-fidelity) against Optuna's pruners.

Part 1 (replay; this file's ``part1``). The learning curves of every candidate
of a small finite space (``benchmarks/learning_curves.py``: 234 MLPs x learning
rates, trained once on digits for 27 epochs, validation accuracy after every
epoch, cached in ``benchmarks/data/learning_curves.json``; never rebuilt here)
stand in for training: a trial at a budget of ``b`` epochs reads the accuracy
at epoch ``b``. Each method searches with a total cost of 40 full trainings:

* cost = epochs run, in full trainings (27 epochs = 1). Optuna continues a
  trial epoch by epoch, so a trial costs the epochs it reached. Our engine
  continues a trial from the checkpoint of an earlier trial of the same
  candidate (``Trial.continues``); with a table objective nothing is really
  trained, so the continuation is accounted here: a trial that continues trial
  ``m`` costs ``(budget - budget of m) / 27``, any other ``budget / 27``
  (``budget`` None = the full 27). Trials are counted in ``Trial.number``
  order.
* incumbent (the same rule for every method): among the evaluations so far, the
  one with the best observed score at the highest budget reached so far (full
  budget once any trial reached it); ties go to the earlier evaluation. An
  Optuna trial is one evaluation at the last epoch it reported.
* true value of a candidate = its validation accuracy at epoch 27 in the table;
  regret at cost C = best true value in the table - true value of the
  incumbent after the last evaluation whose cumulative cost is <= C (a run
  that stopped spending before C keeps its last incumbent).

Methods. Ours, through ``automl.search`` with an objective ``(candidate,
budget) -> accuracy`` read from the table: random (every trial at 27 epochs),
random + Hyperband, random + ASHA, smbo + Hyperband (SMAC's multi-fidelity
intensifier) and mcts + Hyperband; min budget 1, max 27, eta 3. Peers: Optuna's
TPE without pruning, with ``HyperbandPruner(min_resource=1, max_resource=27,
reduction_factor=3)`` and with ``SuccessiveHalvingPruner(min_resource=1,
reduction_factor=3)``, walking the same tree define-by-run
(``suggest_categorical`` per decision) and reporting every epoch.
Mean regret (standard error) at 10, 20 and 40 full trainings over 20 seeds;
the goal (at 10 and 20: our best multi-fidelity method below every peer) is
checked with a paired two-sided Wilcoxon signed-rank test over seeds (paired by
seed index) and the mean difference. The best method is picked per cost after
the fact, which favours it a little; the tests of every one of our methods are
in the JSON too.

Part 2 (real training: the cnn space on digits images, the same wall-clock
budget for random, random + Hyperband and mcts + ASHA on 2 workers) is
``benchmarks/multi_fidelity_training.py``; ``--part 2`` runs it with its
defaults and it writes its own result file.

    python benchmarks/multi_fidelity.py                 # part 1, 20 seeds
    python benchmarks/multi_fidelity.py --quick         # 3 seeds
    python benchmarks/multi_fidelity.py --only tpe tpe+hyperband --seeds 20
    # options: --seeds N, --smbo-seeds N (SMAC is slow), --max-trials N, --part 1|2|all

Results go to ``benchmarks/results/multi_fidelity.json`` (per-seed regrets, settings,
provenance). A method of ours that raises is recorded with its error and the
others still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from common import console, table, write_results  # noqa: E402
from learning_curves import TABLE_PATH, canonical_key, load_table, table_space  # noqa: E402

from automl.space import Candidate  # noqa: E402

RESULT_NAME = "multi_fidelity"
COSTS = (10, 20, 40)
GOAL_COSTS = (10, 20)
MAX_COST = 40.0
MIN_BUDGET, MAX_BUDGET, ETA = 1, 27, 3
EPSILON = 1e-9


# ------------------------------------------------------------------------------------------------ table
class CurveTable:
    """The learning curves, by canonical candidate key."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.max_epochs = int(document["max_epochs"])
        if self.max_epochs != MAX_BUDGET:
            raise SystemExit(f"the table has {self.max_epochs} epochs; this benchmark needs {MAX_BUDGET}")
        self.accuracy = {key: entry["accuracy"] for key, entry in document["entries"].items()}
        self.final = {key: curve[-1] for key, curve in self.accuracy.items()}
        self.optimum = max(self.final.values())
        self._keys: dict[str, str] = {}

    def key(self, candidate: Any) -> str:
        """The table key of a candidate (decisions in any order); a candidate outside the table is an error."""
        raw = candidate.key if isinstance(candidate, Candidate) else Candidate(candidate).key
        key = self._keys.get(raw)
        if key is None:
            key = canonical_key(table_space, candidate)
            if key not in self.accuracy:
                raise KeyError(f"candidate {raw} is not in the table")
            self._keys[raw] = key
        return key

    def at(self, key: str, epochs: int) -> float:
        if not 1 <= epochs <= self.max_epochs:
            raise ValueError(f"budget of {epochs} epochs is outside 1..{self.max_epochs}")
        return float(self.accuracy[key][epochs - 1])


# ------------------------------------------------------------------------------------------------- runs
@dataclass
class Evaluation:
    """One trial's outcome: its own cost (full trainings), what it evaluated, at which budget, its score."""

    cost: float
    key: str
    budget: float
    score: float | None


@dataclass
class Run:
    evaluations: list[Evaluation]
    trials: int
    notes: list[str] = field(default_factory=list)

    @property
    def total_cost(self) -> float:
        return float(sum(evaluation.cost for evaluation in self.evaluations))


def incumbent_values(run: Run, curves: CurveTable) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative cost, true value of the incumbent) after each evaluation (NaN before the first score)."""
    best_at: dict[float, tuple[float, str]] = {}  # budget -> (best observed score, key): first best wins ties
    costs, values = [], []
    total = 0.0
    for evaluation in run.evaluations:
        total += evaluation.cost
        if evaluation.score is not None:
            current = best_at.get(evaluation.budget)
            if current is None or evaluation.score > current[0]:
                best_at[evaluation.budget] = (evaluation.score, evaluation.key)
        costs.append(total)
        values.append(curves.final[best_at[max(best_at)][1]] if best_at else math.nan)
    return np.array(costs), np.array(values)


def regret_at(run: Run, curves: CurveTable, costs: list[float]) -> list[float]:
    cumulative, values = incumbent_values(run, curves)
    regrets = []
    for cost in costs:
        reached = np.nonzero(cumulative <= cost + EPSILON)[0]
        value = values[reached[-1]] if len(reached) else math.nan
        regrets.append(float(curves.optimum - value))
    return regrets


# ---------------------------------------------------------------------------------------------- Optuna
def run_optuna(curves: CurveTable, seed: int, pruner: str | None, max_trials: int) -> Run:
    """TPE (seeded) with the given pruner, define-by-run over the table's space, reporting every epoch."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruners = {
        None: lambda: optuna.pruners.NopPruner(),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(
            min_resource=MIN_BUDGET, max_resource=MAX_BUDGET, reduction_factor=ETA
        ),
        "sha": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=MIN_BUDGET, reduction_factor=ETA),
    }
    evaluations: list[Evaluation] = []

    def objective(trial: Any) -> float:
        architecture = table_space.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            architecture.assign(path, trial.suggest_categorical(path, list(hyperparameter.finite_values())))
        key = Candidate(architecture.decisions).key
        for epoch in range(1, curves.max_epochs + 1):
            accuracy = curves.at(key, epoch)
            trial.report(accuracy, epoch)
            if epoch < curves.max_epochs and trial.should_prune():
                evaluations.append(Evaluation(epoch / MAX_BUDGET, key, float(epoch), accuracy))
                raise optuna.TrialPruned()
        evaluations.append(Evaluation(1.0, key, float(MAX_BUDGET), accuracy))
        return accuracy

    def stop_when_spent(study: Any, _trial: Any) -> None:
        if sum(evaluation.cost for evaluation in evaluations) > MAX_COST + EPSILON:
            study.stop()

    study = optuna.create_study(
        study_name=f"multi-fidelity-{seed}",  # HyperbandPruner picks brackets by hashing the name: no random uuid
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruners[pruner](),
    )
    study.optimize(objective, n_trials=max_trials, callbacks=[stop_when_spent])
    return Run(evaluations, len(study.trials))


def _optuna(pruner: str | None) -> Callable[[CurveTable, int, int], Run]:
    return lambda curves, seed, max_trials: run_optuna(curves, seed, pruner, max_trials)


# ------------------------------------------------------------------------------------------------- ours
class _Spent(Exception):
    """Raised from ``on_trial`` to end a search once it has surely spent MAX_COST."""


def run_ours(curves: CurveTable, seed: int, strategy: str, schedule: str | None, max_trials: int) -> Run:
    """One search through ``automl.search`` with a table objective; its trials in number order.

    The search is ended from ``on_trial`` (by raising) once its cost passes
    MAX_COST; the cost is then computed again from the stored trials.
    """
    import automl

    calls: list[tuple[str, float | None]] = []

    def objective(candidate: Candidate, budget: float | None = None) -> float:
        key = curves.key(candidate)
        score = curves.at(key, MAX_BUDGET if budget is None else round(float(budget)))
        calls.append((key, budget))
        return score

    budget_of: dict[int, float] = {}
    spent = [0.0]

    def on_trial(trial: Any, _study: Any) -> None:
        budget = MAX_BUDGET if trial.budget is None else float(trial.budget)
        budget_of[trial.number] = budget
        continues = getattr(trial, "continues", None)
        spent[0] += (budget - (budget_of.get(continues, 0.0) if continues is not None else 0.0)) / MAX_BUDGET
        if spent[0] > MAX_COST + EPSILON:
            raise _Spent

    options: dict[str, Any] = {"strategy": strategy, "seed": seed, "trials": max_trials}
    if schedule is not None:
        options.update(
            fidelity="epochs", min_budget=MIN_BUDGET, max_budget=MAX_BUDGET, eta=ETA, multi_fidelity=schedule
        )
    with tempfile.TemporaryDirectory(prefix="automl-mf-") as directory:
        path = Path(directory) / "study.db"
        try:
            study = automl.search(
                table_space, objective=objective, study=path, fresh=True, on_trial=on_trial, **options
            )
        except _Spent:
            study = automl.Study.open(path)
        try:
            trials = sorted(study.trials, key=lambda trial: trial.number)
        finally:
            study.close()
    return _run_of_trials(curves, trials, calls)


def _run_of_trials(curves: CurveTable, trials: list[Any], calls: list[tuple[str, float | None]]) -> Run:
    by_number = {trial.number: trial for trial in trials}
    evaluations: list[Evaluation] = []
    notes: list[str] = []
    failed = [trial for trial in trials if trial.score is None]
    if failed:
        errors = sorted({str(getattr(trial, "error", None)) for trial in failed})
        notes.append(f"{len(failed)} trial(s) without a score; errors: {'; '.join(errors[:3])}")
    for trial in trials:
        budget = float(MAX_BUDGET if trial.budget is None else trial.budget)
        previous = 0.0
        if trial.continues is not None:
            earlier = by_number.get(trial.continues)
            if earlier is None:
                raise RuntimeError(f"trial {trial.number} continues trial {trial.continues}, which is not stored")
            if earlier.candidate != trial.candidate:
                raise RuntimeError(f"trial {trial.number} continues trial {trial.continues} of another candidate")
            previous = float(MAX_BUDGET if earlier.budget is None else earlier.budget)
            if previous > budget:
                raise RuntimeError(f"trial {trial.number} ({budget:g} epochs) continues a longer trial ({previous:g})")
        evaluations.append(
            Evaluation((budget - previous) / MAX_BUDGET, curves.key(trial.candidate), budget, trial.score)
        )
    # the objective must have been given the budgets the trials record, or a scheduler ranked full-budget scores
    given = sorted(MAX_BUDGET if budget is None else round(float(budget)) for _key, budget in calls)
    recorded = sorted(round(evaluation.budget) for evaluation in evaluations if evaluation.score is not None)
    if given != recorded:
        raise RuntimeError(
            f"the objective returned {len(given)} scores at budgets {sorted(set(given))}, but {len(recorded)} "
            f"trials record a score, at budgets {sorted(set(recorded))}"
        )
    return Run(evaluations, len(trials), notes)


def _ours(strategy: str, schedule: str | None) -> Callable[[CurveTable, int, int], Run]:
    return lambda curves, seed, max_trials: run_ours(curves, seed, strategy, schedule, max_trials)


# ------------------------------------------------------------------------------------------- analysis
@dataclass
class Method:
    name: str
    kind: str  # "ours" or "peer"
    runner: Callable[[CurveTable, int, int], Run]
    multi_fidelity: bool


METHODS = [
    Method("random", "ours", _ours("random", None), False),
    Method("random+hyperband", "ours", _ours("random", "hyperband"), True),
    Method("random+asha", "ours", _ours("random", "asha"), True),
    Method("smbo+hyperband", "ours", _ours("smbo", "hyperband"), True),
    Method("mcts+hyperband", "ours", _ours("mcts", "hyperband"), True),
    Method("tpe", "peer", _optuna(None), False),
    Method("tpe+hyperband", "peer", _optuna("hyperband"), True),
    Method("tpe+sha", "peer", _optuna("sha"), True),
]
LABELS = {
    "smbo+hyperband": "smbo+hyperband (SMAC MF)",
    "tpe": "tpe (optuna)",
    "tpe+hyperband": "tpe+hyperband (optuna)",
    "tpe+sha": "tpe+sha (optuna)",
}


def standard_error(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def paired_test(ours: dict[int, float], peer: dict[int, float]) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test of ours - peer over the seeds both have."""
    from scipy.stats import wilcoxon

    seeds = sorted(set(ours) & set(peer))
    differences = np.array([ours[seed] - peer[seed] for seed in seeds])
    result: dict[str, Any] = {
        "seeds": len(seeds),
        "mean_difference": float(differences.mean()) if len(seeds) else math.nan,
        "ours_better": int((differences < 0).sum()),
        "ties": int((differences == 0).sum()),
        "peer_better": int((differences > 0).sum()),
    }
    if len(seeds) == 0 or not np.any(differences != 0):
        result["p_value"] = 1.0 if len(seeds) else math.nan
    else:
        try:
            result["p_value"] = float(wilcoxon(differences).pvalue)
        except ValueError as error:
            result["p_value"], result["test_error"] = math.nan, str(error)
    return result


def run_method(method: Method, curves: CurveTable, seeds: list[int], max_trials: int) -> dict[str, Any]:
    started = time.time()
    grid = [float(cost) for cost in range(1, int(MAX_COST) + 1)]
    record: dict[str, Any] = {
        "kind": method.kind,
        "multi_fidelity": method.multi_fidelity,
        "seeds": [],
        "regret": {str(cost): [] for cost in COSTS},
        "trials": [],
        "cost_reached": [],
        "error": None,
        "notes": [],
    }
    curves_by_seed = []
    for seed in seeds:
        try:
            run = method.runner(curves, seed, max_trials)
        except Exception as error:
            if method.kind != "ours":
                raise
            where = traceback.extract_tb(error.__traceback__)[-1]
            record["error"] = f"seed {seed}: {type(error).__name__}: {error} ({where.filename}:{where.lineno})"
            console.print(f"  [red]{method.name} failed[/red]: {record['error']}")
            break
        record["seeds"].append(seed)
        for cost, regret in zip(COSTS, regret_at(run, curves, [float(cost) for cost in COSTS]), strict=True):
            record["regret"][str(cost)].append(regret)
        curves_by_seed.append(regret_at(run, curves, grid))
        record["trials"].append(run.trials)
        record["cost_reached"].append(round(run.total_cost, 4))
        record["notes"].extend(f"seed {seed}: {note}" for note in run.notes)
        if run.total_cost < MAX_COST:
            record["notes"].append(f"seed {seed}: stopped after {run.trials} trials at cost {run.total_cost:.2f}")
    record["seconds"] = round(time.time() - started, 2)
    record["summary"] = {
        str(cost): {
            "mean_regret": float(np.mean(values)),
            "standard_error": standard_error(np.array(values)),
        }
        for cost, values in ((cost, record["regret"][str(cost)]) for cost in COSTS)
        if values
    }
    if curves_by_seed:
        record["regret_curve_mean"] = {
            "costs": grid,
            "mean_regret": np.nanmean(np.array(curves_by_seed), axis=0).round(6).tolist(),
        }
    return record


def part1(arguments: argparse.Namespace) -> bool:
    """Replay on the learning-curve table; prints the tables, writes the JSON; False if a method failed."""
    document = load_table()
    curves = CurveTable(document)
    seeds = list(range(arguments.seeds))
    smbo_seeds = seeds[: arguments.smbo_seeds] if arguments.smbo_seeds is not None else seeds
    methods = [method for method in METHODS if not arguments.only or method.name in arguments.only]
    console.print(
        f"part 1 (replay): {len(curves.final)} candidates, best final accuracy {curves.optimum:.4f}, "
        f"median {float(np.median(list(curves.final.values()))):.4f}; {len(seeds)} seeds; "
        f"costs {', '.join(map(str, COSTS))} full trainings (27 epochs = 1)"
    )
    results: dict[str, Any] = {}
    for method in methods:
        method_seeds = smbo_seeds if method.name.startswith("smbo") else seeds
        results[method.name] = run_method(method, curves, method_seeds, arguments.max_trials)
        record = results[method.name]
        if record["error"] is None:
            console.print(
                f"  {method.name}: {len(record['seeds'])} seeds in {record['seconds']:.1f} s, "
                f"{np.mean(record['trials']):.0f} trials per run",
                highlight=False,
            )

    # ------------------------------------------------------------------------------ regret table
    rows = []
    for name, record in results.items():
        cells = []
        for cost in COSTS:
            entry = record["summary"].get(str(cost))
            cells.append(f"{entry['mean_regret']:.4f} ± {entry['standard_error']:.4f}" if entry else "-")
        status = "error" if record["error"] else ("ok" if not record["notes"] else f"{len(record['notes'])} note(s)")
        rows.append(
            [
                LABELS.get(name, name),
                record["kind"],
                str(len(record["seeds"])),
                *cells,
                f"{np.mean(record['trials']):.0f}" if record["trials"] else "-",
                f"{record['seconds']:.1f}",
                status,
            ]
        )
    table(
        f"Part 1: mean regret (± standard error) at a cost of 10 / 20 / 40 full trainings; best = {curves.optimum:.4f}",
        ["method", "", "seeds", *(f"regret @{cost}" for cost in COSTS), "trials/run", "seconds", "status"],
        rows,
    )

    # ------------------------------------------------------------------------------ paired tests
    ours_mf = [
        name
        for name, record in results.items()
        if record["kind"] == "ours" and record["multi_fidelity"] and record["error"] is None and record["seeds"]
    ]
    peers = [name for name, record in results.items() if record["kind"] == "peer" and record["seeds"]]
    tests: list[dict[str, Any]] = []
    best: dict[str, str] = {}
    for cost in COSTS:
        key = str(cost)
        if ours_mf:
            best[key] = min(ours_mf, key=lambda name: results[name]["summary"][key]["mean_regret"])
        for name in ours_mf:
            for peer in peers:
                test = paired_test(
                    dict(zip(results[name]["seeds"], results[name]["regret"][key], strict=True)),
                    dict(zip(results[peer]["seeds"], results[peer]["regret"][key], strict=True)),
                )
                tests.append({"cost": cost, "ours": name, "peer": peer, "ours_is_best": best.get(key) == name, **test})
    rows = [
        [
            str(test["cost"]),
            LABELS.get(test["ours"], test["ours"]),
            LABELS.get(test["peer"], test["peer"]),
            str(test["seeds"]),
            f"{results[test['ours']]['summary'][str(test['cost'])]['mean_regret']:.4f}",
            f"{results[test['peer']]['summary'][str(test['cost'])]['mean_regret']:.4f}",
            f"{test['mean_difference']:+.4f}",
            f"{test['ours_better']}/{test['ties']}/{test['peer_better']}",
            f"{test['p_value']:.3g}",
        ]
        for test in tests
        if test["ours_is_best"]
    ]
    if rows:
        table(
            "Our best multi-fidelity method (picked per cost) against each Optuna peer, paired by seed",
            ["cost", "ours (best)", "peer", "seeds", "ours", "peer", "mean diff", "ours better/tie/worse", "p"],
            rows,
        )
        console.print("p: two-sided Wilcoxon signed-rank test over seeds (regret ours - peer), not corrected")

    goal: dict[str, Any] = {
        "statement": "at 10 and 20 full trainings our best multi-fidelity method has lower "
        "mean regret than every Optuna peer"
    }
    if ours_mf and peers and all(method.name in results for method in METHODS if method.kind == "peer"):
        met = {
            str(cost): all(
                results[best[str(cost)]]["summary"][str(cost)]["mean_regret"]
                < results[peer]["summary"][str(cost)]["mean_regret"]
                for peer in peers
            )
            for cost in GOAL_COSTS
        }
        goal.update({"best_per_cost": best, "met_per_cost": met, "met": all(met.values())})
        console.print(
            "goal: "
            + ", ".join(
                f"@{cost}: {'met' if met[str(cost)] else 'NOT met'} ({best[str(cost)]})" for cost in GOAL_COSTS
            ),
            highlight=False,
        )
    else:
        goal.update({"met": None, "why": "not every method ran (see the errors)"})
        console.print("goal: not checked (not every method ran)")
    failed = {name: record["error"] for name, record in results.items() if record["error"]}
    for name, error in failed.items():
        console.print(f"[red]{name}[/red]: {error}", highlight=False)
    fewer = {name: len(record["seeds"]) for name, record in results.items() if len(record["seeds"]) < len(seeds)}
    if fewer:
        console.print(f"fewer seeds than {len(seeds)}: {fewer}", highlight=False)
    notes = {name: record["notes"] for name, record in results.items() if record["notes"]}
    for name, lines in notes.items():
        console.print(f"{name}: {len(lines)} note(s), first: {lines[0]}", highlight=False)

    part = {
        "description": (
            "replay of benchmarks/data/learning_curves.json: a trial at b epochs reads the validation accuracy at "
            "epoch b; cost in full trainings (27 epochs = 1), continued trials pay only the epochs they add; "
            "regret = best final accuracy - final accuracy of the incumbent (best observed score at the highest "
            "budget reached so far)"
        ),
        "table": str(TABLE_PATH.relative_to(ROOT)),
        "table_provenance": document.get("provenance"),
        "candidates": len(curves.final),
        "best_accuracy": curves.optimum,
        "settings": {
            "seeds": len(seeds),
            "smbo_seeds": len(smbo_seeds),
            "max_trials": arguments.max_trials,
            "costs": list(COSTS),
            "max_cost": MAX_COST,
            "min_budget": MIN_BUDGET,
            "max_budget": MAX_BUDGET,
            "eta": ETA,
            "cost_rule": "epochs run / 27; ours: (budget - budget of the continued trial) / 27, by Trial.number",
            "incumbent_rule": "best observed score among evaluations at the highest budget reached so far",
            "regret": "best final (epoch 27) accuracy in the table - final accuracy of the incumbent",
            "quick": arguments.quick,
        },
        "methods": results,
        "errors": failed,
        "paired_tests": tests,
        "goal": goal,
    }
    write_results(RESULT_NAME, {"part1": part})
    return not failed


# ----------------------------------------------------------------------------------------------- part 2
def part2(arguments: argparse.Namespace) -> bool:
    """Real training, with its own defaults and result file (``benchmarks/multi_fidelity_training.py``)."""
    from multi_fidelity_training import main as training_main

    return training_main(["--quick"] if arguments.quick else []) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["1", "2", "all"], default="all")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--smbo-seeds", type=int, default=None, help="fewer seeds for smbo (SMAC is slow)")
    parser.add_argument("--max-trials", type=int, default=1000, help="trial cap per run (a run stops at cost 40)")
    parser.add_argument("--quick", action="store_true", help="3 seeds: a smoke run")
    parser.add_argument("--only", nargs="*", help=f"run only these: {' '.join(method.name for method in METHODS)}")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.seeds = min(arguments.seeds, 3)
    if arguments.only:
        unknown = sorted(set(arguments.only) - {method.name for method in METHODS})
        if unknown:
            parser.error(f"unknown method(s) {', '.join(unknown)}")
    ok = True
    if arguments.part in ("1", "all"):
        ok = part1(arguments) and ok
    if arguments.part in ("2", "all"):
        ok = part2(arguments) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
