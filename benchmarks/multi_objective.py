"""Multi-objective search on lookup tables with measured costs: hypervolume, and trials wasted on infeasible ones.

Each table (``benchmarks/tables``) holds the validation accuracy of every
architecture of its space, and ``benchmarks/tables/costs.py`` measured each
one's parameters, FLOPs and (``digits_tree``) latency at batch 1 on this CPU.
Two shapes: ``digits_tree`` (a deep tree, accuracy against latency_ms) and
``flat_cell`` (a NAS-Bench-201-shaped cell, accuracy against FLOPs). A
contender searches the table with two objectives (accuracy:max, cost:min) for
100 trials; the hypervolume of its front after 25, 50 and 100 trials is
measured on objectives scaled to [0, 1] by the table's range (reference point:
the table's worst accuracy and largest cost), as a share of the hypervolume of
the table's true front, so 1.0 means the whole front was found.

Contenders: ours through ``automl.search(objective=..., objectives=[...])``:
``random``, ``evolution`` (NSGA-II selection), ``smbo`` (ParEGO on SMAC) and
``tpe`` (MOTPE);
Optuna's ``NSGAIISampler`` (Deb et al. 2002) and multi-objective ``TPESampler``
with their defaults, walking the same tree define-by-run.

Constrained part: the same searches under ``cost <= the table's median cost``
(half the table infeasible): the share of trials spent on infeasible candidates,
and the hypervolume of the feasible front. Optuna's samplers get the same bound
through ``constraints_func``.

Paired by seed, two-sided Wilcoxon signed-rank tests against Optuna's NSGA-II.

The cost of measuring: for random candidates of ``search_spaces/cnn.py`` on the
digits images, the seconds the latency measurement takes (batch 1 and the
training batch, ``automl.engine.costs.with_latency``) against the seconds of the
trial itself (compile, the other costs, 20 epochs of training), one run each.

    python -m benchmarks.tables costs digits_tree      # once: the costs are in the repository
    python benchmarks/multi_objective.py               # 2 tables x 20 seeds x 100 trials, free and constrained
    python benchmarks/multi_objective.py --quick       # 3 seeds x 25 trials
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "benchmarks"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from common import table as print_table  # noqa: E402
from common import write_results  # noqa: E402

from benchmarks.tables import load_table  # noqa: E402
from benchmarks.tables.costs import load_costs  # noqa: E402
from benchmarks.tables.lookup import LookupTable  # noqa: E402

TABLES = {"digits_tree": "latency_ms", "flat_cell": "flops"}  # table -> the cost traded against accuracy
CHECKPOINTS = (25, 50, 100)
PEER = "nsga2 (optuna)"
OURS = ("random", "evolution", "smbo", "tpe")
PEERS = (PEER, "tpe (optuna)")
Run = list[tuple[float, float, bool] | None]  # per trial: accuracy, cost, feasible; None for a failed trial


# -------------------------------------------------------------------------------------------- the table
class CostTable:
    """Accuracy and one measured cost per entry of a lookup table, and the table's own front."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cost_name = TABLES[name]
        self.lookup: LookupTable = load_table(name)
        costs = load_costs(name)
        self.accuracy = self.lookup.scores
        self.cost = {entry: float(values[self.cost_name]) for entry, values in costs.items()}
        accuracy = np.array(list(self.accuracy.values()))
        cost = np.array([self.cost[entry] for entry in self.accuracy])
        self.low = np.array([accuracy.min(), cost.min()])
        self.high = np.array([accuracy.max(), cost.max()])
        self.median_cost = float(np.median(cost))
        self.best_hypervolume = scaled_hypervolume(self, list(zip(accuracy, cost)))
        feasible = cost <= self.median_cost
        self.best_feasible_hypervolume = scaled_hypervolume(self, list(zip(accuracy[feasible], cost[feasible])))

    def look_up(self, candidate: Any) -> tuple[float, float]:
        entry = self.lookup.key(candidate)
        return self.accuracy[entry], self.cost[entry]


def scaled_hypervolume(table: CostTable, points: list[tuple[float, float]]) -> float:
    """Hypervolume of (accuracy, cost) points scaled to [0, 1] by the table's range; reference (0, 1)."""
    from automl.evaluation.pareto import hypervolume

    if not points:
        return 0.0
    scaled = (np.array(points, dtype=float) - table.low) / (table.high - table.low)
    return hypervolume(scaled, ["max", "min"], [0.0, 1.0])


# ------------------------------------------------------------------------------------------- contenders
def run_ours(table: CostTable, strategy: str, seed: int, trials: int, constrained: bool) -> Run:
    import automl

    def objective(candidate: Any) -> dict[str, float]:
        accuracy, cost = table.look_up(candidate)
        return {"score": accuracy, table.cost_name: cost}

    constraints = [f"{table.cost_name}<={table.median_cost!r}"] if constrained else []
    with tempfile.TemporaryDirectory() as directory:
        study = automl.search(
            table.lookup.space,
            objective=objective,
            strategy=strategy,
            trials=trials,
            seed=seed,
            objectives=["score:max", f"{table.cost_name}:min"],
            constraints=constraints,
            max_infeasible=trials,
            study=Path(directory) / "study.db",
            on_notice=lambda message: None,
        )
        run: Run = []
        for trial in sorted(study.trials, key=lambda trial: trial.number):
            cost = trial.metrics.get(table.cost_name)
            if trial.status.value == "complete":
                run.append((float(trial.metrics["value"]), float(cost), True))
            elif trial.status.value == "infeasible":
                run.append((float(trial.metrics["value"]), float(cost), False))
            else:
                run.append(None)
        study.close()
        return run


def run_optuna(table: CostTable, sampler_name: str, seed: int, trials: int, constrained: bool) -> Run:
    import optuna

    from automl.space import Candidate
    from benchmarks.strategies import _suggest

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    run: Run = []

    def constraints(trial: Any) -> list[float]:
        return [trial.user_attrs["excess"]]  # <= 0 is feasible (Optuna's convention)

    def objective(trial: Any) -> tuple[float, float]:
        architecture = table.lookup.space.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            architecture.assign(path, _suggest(trial, path, hyperparameter))
        accuracy, cost = table.look_up(Candidate(architecture.decisions))
        trial.set_user_attr("excess", cost - table.median_cost)
        run.append((accuracy, cost, not constrained or cost <= table.median_cost))
        return accuracy, cost

    options: dict[str, Any] = {"seed": seed}
    if constrained:
        options["constraints_func"] = constraints
    if sampler_name == PEER:
        sampler = optuna.samplers.NSGAIISampler(**options)
    else:
        sampler = optuna.samplers.TPESampler(**options)
    optuna.create_study(directions=["maximize", "minimize"], sampler=sampler).optimize(objective, n_trials=trials)
    return run


@functools.cache
def cost_table(name: str) -> CostTable:
    """One per process: a worker runs many seeds of a table."""
    return CostTable(name)


def _one_run(job: tuple[str, str, int, int, bool]) -> tuple[str, str, int, bool, Run, float]:
    table_name, name, seed, trials, constrained = job
    table = cost_table(table_name)
    started = time.perf_counter()
    if name in OURS:
        run = run_ours(table, name, seed, trials, constrained)
    else:
        run = run_optuna(table, name, seed, trials, constrained)
    return table_name, name, seed, constrained, run, time.perf_counter() - started


# --------------------------------------------------------------------------------------------- analysis
def hypervolume_after(table: CostTable, run: Run, trials: int, constrained: bool) -> float:
    """Share of the table's (feasible) front hypervolume covered by the feasible points of the first trials."""
    points = [(point[0], point[1]) for point in run[:trials] if point is not None and point[2]]
    best = table.best_feasible_hypervolume if constrained else table.best_hypervolume
    return scaled_hypervolume(table, points) / best


def infeasible_share(run: Run) -> float:
    return sum(1 for point in run if point is not None and not point[2]) / max(1, len(run))


def paired_test(values: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test, paired by seed (all ties: p = 1)."""
    from scipy.stats import wilcoxon

    differences = values - reference
    p_value = 1.0 if not np.any(differences != 0) else float(wilcoxon(values, reference).pvalue)
    return {
        "p": p_value,
        "mean_difference": float(differences.mean()),
        "better": int((differences > 0).sum()),
        "worse": int((differences < 0).sum()),
    }


def mean_and_error(values: np.ndarray) -> dict[str, float]:
    error = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "standard_error": error}


def summarise(
    table: CostTable, runs: dict[str, dict[int, Run]], seeds: int, checkpoints: tuple[int, ...], constrained: bool
) -> dict[str, Any]:
    volumes = {
        name: np.array(
            [
                [hypervolume_after(table, by_seed[seed], point, constrained) for point in checkpoints]
                for seed in range(seeds)
            ]
        )
        for name, by_seed in runs.items()
    }
    summary: dict[str, Any] = {}
    for name, matrix in volumes.items():
        entry: dict[str, Any] = {}
        for column, point in enumerate(checkpoints):
            row = mean_and_error(matrix[:, column])
            if name != PEER and PEER in volumes:
                row["vs_nsga2_optuna"] = paired_test(matrix[:, column], volumes[PEER][:, column])
            entry[str(point)] = row
        if constrained:
            entry["infeasible_share"] = mean_and_error(
                np.array([infeasible_share(runs[name][seed]) for seed in range(seeds)])
            )
        summary[name] = entry
    return summary


def goals(results: dict[str, Any], checkpoints: tuple[int, ...]) -> dict[str, Any]:
    """Issue 14's goals: a strategy of ours with mean hypervolume at least NSGA-II's at every checkpoint on every
    table; under the constraint, an infeasible share below half of random's. None: not measured (``--only`` left
    out the strategy or what it is compared with)."""
    reached: dict[str, Any] = {}
    for name in OURS:
        free = [table for table in results if name in results[table]["free"]]
        if not free:
            continue  # not run
        compared = [table for table in free if PEER in results[table]["free"]]
        at_least = None
        if compared:
            at_least = all(
                results[table]["free"][name][str(point)]["mean"] >= results[table]["free"][PEER][str(point)]["mean"]
                for table in compared
                for point in checkpoints
            )
        constrained = [
            table
            for table in results
            if name in results[table]["constrained"] and "random" in results[table]["constrained"]
        ]
        half = None
        if constrained:
            half = all(
                results[table]["constrained"][name]["infeasible_share"]["mean"]
                < 0.5 * results[table]["constrained"]["random"]["infeasible_share"]["mean"]
                for table in constrained
            )
        reached[name] = {"hypervolume_at_least_nsga2_everywhere": at_least, "infeasible_below_half_of_random": half}
    return reached


def measurement_cost(candidates: int, epochs: int) -> dict[str, Any]:
    """Latency measurement's share of a typical cnn.py trial's wall-clock, per candidate."""
    import torch

    from automl.engine.assembly import build_evaluator, load_splits, resolve_space
    from automl.engine.config import SearchConfig
    from automl.engine.costs import measure_costs, with_latency
    from automl.plugins import load_plugins
    from automl.training import resolve_device

    torch.set_num_threads(1)
    plugins = load_plugins()
    config = SearchConfig.from_options({"epochs": epochs, "device": "cpu"})
    space, _, _ = resolve_space(str(ROOT / "search_spaces" / "cnn.py"))
    splits, *_ = load_splits("digits", config, plugins.datasets())
    evaluator = build_evaluator(config, space, splits, plugins)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(candidates):
        candidate = space.sample_candidate(rng)
        result, _ = evaluator(candidate, seed=index)  # the trial as a search runs it: latency not measured
        built = evaluator.build(candidate)
        batch = torch.as_tensor(splits.train.features[: config.training.batch_size], dtype=torch.float32)
        device = resolve_device("cpu")
        costs = measure_costs(built.compiled.module, batch, device)
        started = time.perf_counter()
        timed = with_latency(costs, built.compiled.module, batch, device)
        latency_seconds = time.perf_counter() - started
        trial_seconds = float(result.metrics["seconds"])
        rows.append(
            {
                "candidate": candidate.to_dict(),
                "status": result.status.value,
                "trial_seconds": trial_seconds,
                "latency_measurement_seconds": latency_seconds,
                "latency_ms": timed.latency_ms,
                "share": latency_seconds / trial_seconds,
            }
        )
    shares = np.array([row["share"] for row in rows])
    return {
        "space": "search_spaces/cnn.py",
        "data": "digits (8x8 images)",
        "epochs": epochs,
        "candidates": rows,
        "median_share": float(np.median(shares)),
        "max_share": float(shares.max()),
        "goal": "latency measurement adds at most 10% to a typical cnn.py trial",
        "met": bool(np.median(shares) <= 0.10),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="*", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--only", nargs="*", choices=[*OURS, *PEERS], help="contenders to run")
    parser.add_argument("--workers", type=int, default=2, help="processes running seeds side by side")
    parser.add_argument("--quick", action="store_true", help="3 seeds x 25 trials: a smoke run")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.seeds, arguments.trials = min(arguments.seeds, 3), min(arguments.trials, 25)
    contenders = [name for name in (*OURS, *PEERS) if not arguments.only or name in arguments.only]
    checkpoints = tuple(point for point in CHECKPOINTS if point <= arguments.trials)
    jobs = [
        (table_name, name, seed, arguments.trials, constrained)
        for table_name in arguments.tables
        for constrained in (False, True)
        for name in contenders
        for seed in range(arguments.seeds)
    ]
    runs: dict[tuple[str, bool, str], dict[int, Run]] = {}
    seconds: dict[tuple[str, str], float] = {}
    started = time.time()
    with ProcessPoolExecutor(max_workers=arguments.workers) as pool:
        for done, (table_name, name, seed, constrained, run, spent) in enumerate(pool.map(_one_run, jobs), 1):
            runs.setdefault((table_name, constrained, name), {})[seed] = run
            seconds[table_name, name] = seconds.get((table_name, name), 0.0) + spent
            if done % max(1, len(jobs) // 20) == 0:
                print(f"  {done}/{len(jobs)} runs, {time.time() - started:.0f} s", flush=True)

    results: dict[str, Any] = {}
    for table_name in arguments.tables:
        table = cost_table(table_name)
        free = summarise(
            table, {name: runs[table_name, False, name] for name in contenders}, arguments.seeds, checkpoints, False
        )
        constrained = summarise(
            table, {name: runs[table_name, True, name] for name in contenders}, arguments.seeds, checkpoints, True
        )
        results[table_name] = {
            "cost": table.cost_name,
            "entries": len(table.accuracy),
            "constraint": f"{table.cost_name}<={table.median_cost:.6g} (the table's median)",
            "free": free,
            "constrained": constrained,
            "seconds": {name: round(seconds[table_name, name], 1) for name in contenders},
        }
        for label, summary in (("free", free), ("constrained", constrained)):
            rows = []
            for name, entry in summary.items():
                cells: list[Any] = [name]
                for point in checkpoints:
                    row = entry[str(point)]
                    test = row.get("vs_nsga2_optuna")
                    mark = "" if test is None else f" (p {test['p']:.2g}{'+' if test['mean_difference'] > 0 else '-'})"
                    cells.append(f"{row['mean']:.3f} ± {row['standard_error']:.3f}{mark}")
                if label == "constrained":
                    share = entry["infeasible_share"]
                    cells.append(f"{share['mean']:.1%} ± {share['standard_error']:.1%}")
                rows.append(cells)
            extra = ["infeasible share"] if label == "constrained" else []
            bound = f", under {results[table_name]['constraint']}" if label == "constrained" else ""
            print_table(
                f"{table_name} (accuracy against {table.cost_name}{bound}): hypervolume share of the table's front; "
                f"{arguments.seeds} seeds; p vs Optuna NSGA-II (+: ours higher)",
                ["strategy", *(f"hypervolume @{point}" for point in checkpoints), *extra],
                rows,
            )
    reached = goals(results, checkpoints)
    for name, entry in reached.items():
        print(f"goals for {name}: {entry}")
    cost = measurement_cost(2 if arguments.quick else 6, 5 if arguments.quick else 20)
    print_table(
        f"the cost of measuring latency, search_spaces/cnn.py on digits, {cost['epochs']} epochs per trial",
        ["candidate", "trial seconds", "latency measurement seconds", "share"],
        [
            [
                str(index),
                f"{row['trial_seconds']:.2f}",
                f"{row['latency_measurement_seconds']:.3f}",
                f"{row['share']:.1%}",
            ]
            for index, row in enumerate(cost["candidates"])
        ],
    )
    print(f"median share {cost['median_share']:.1%} (goal <= 10%: {'met' if cost['met'] else 'not met'})")
    write_results(
        "multi_objective",
        {
            "seeds": arguments.seeds,
            "trials": arguments.trials,
            "checkpoints": list(checkpoints),
            "peer": PEER,
            "tables": results,
            "goals": reached,
            "measurement_cost": cost,
            "tests": "two-sided Wilcoxon signed-rank, paired by seed, not corrected for multiple comparisons",
        },
    )


if __name__ == "__main__":
    main()
