"""Search strategies on lookup tables of three shapes, against Optuna's TPE and SMAC, many seeds.

Each table (``benchmarks/tables``: a deep tree, a NAS-Bench-201-shaped flat
cell, continuous hyperparameters read from a grid) holds every architecture of
its space trained once; a strategy searches it through ``automl.search`` with the
table look-up as its objective, so a run costs milliseconds per trial and the
comparison is exact: the regret after n trials is the table's best score minus
the best found. This repeats DeepArchitect's comparison (Negrinho & Gordon, 2017,
section 5: best-so-far against the number of models) on tables, in the spirit of
NAS-Bench-101/201 (Ying et al. 2019; Dong & Yang 2020), with outside peers on the
same spaces: Optuna's TPE (Bergstra et al., 2011) with its defaults, walking the
same tree define-by-run (``suggest_*`` by path name), its multivariate TPE
(``multivariate=True, group=True``), and SMAC's hyperparameter-optimisation facade
(Lindauer et al., 2022) on the ConfigSpace export.

Each strategy is paired by seed with Optuna's TPE and with random search uniform
over architectures (two-sided Wilcoxon signed-rank tests; a failed trial counts
as one that found nothing).

    python -m benchmarks.tables build flat_cell          # once: the tables are in the repository
    python benchmarks/strategies.py                      # 3 tables x 30 seeds x 100 trials
    python benchmarks/strategies.py --tables flat_cell --only tpe "tpe (optuna)" --seeds 10
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
from collections.abc import Callable
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

from benchmarks.tables import TABLE_NAMES, load_table  # noqa: E402
from benchmarks.tables.lookup import LookupTable  # noqa: E402

CHECKPOINTS = (10, 25, 50, 100)
GOAL_CHECKPOINTS = (25, 50, 100)
PEER = "tpe (optuna)"
BASELINE = "uniform architectures"

# ours: (strategy, options) through automl.search
OURS: dict[str, tuple[str, dict[str, Any]]] = {
    "random": ("random", {}),
    BASELINE: ("random", {"uniform": "architectures"}),
    "tpe": ("tpe", {}),
    "mcts": ("mcts", {}),
    "smbo": ("smbo", {}),
    "evolution": ("evolution", {}),
}


# -------------------------------------------------------------------------------------------- runners
def run_ours(table: LookupTable, strategy: str, options: dict[str, Any], seed: int, trials: int) -> list[float | None]:
    """Scores in trial order of one of our strategies through ``automl.search``; a failed trial is None."""
    import automl

    with tempfile.TemporaryDirectory() as directory:
        study = automl.search(
            table.space,
            strategy=strategy,
            strategy_options=options,
            trials=trials,
            seed=seed,
            objective=table.objective(),
            study=Path(directory) / "study.db",
        )
        return [trial.score for trial in sorted(study.trials, key=lambda trial: trial.number)]


def _suggest(trial: Any, path: str, hyperparameter: Any) -> Any:
    """Optuna's define-by-run counterpart of one decision of the space."""
    from automl.space.hyperparameters import Float, Int

    if isinstance(hyperparameter, Int):
        return trial.suggest_int(path, hyperparameter.low, hyperparameter.high, log=hyperparameter.log)
    if isinstance(hyperparameter, Float):
        return trial.suggest_float(path, hyperparameter.low, hyperparameter.high, log=hyperparameter.log)
    return trial.suggest_categorical(path, hyperparameter.finite_values())


def run_optuna(table: LookupTable, seed: int, trials: int, **sampler_options: Any) -> list[float | None]:
    """Optuna's TPE walking the same tree define-by-run."""
    import warnings

    import optuna

    from automl.space import Candidate

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    objective = table.objective()
    scores: list[float | None] = []

    def score(trial: Any) -> float:
        architecture = table.space.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            architecture.assign(path, _suggest(trial, path, hyperparameter))
        value = objective(Candidate(architecture.decisions))
        scores.append(value)
        return value

    sampler = optuna.samplers.TPESampler(seed=seed, **sampler_options)
    optuna.create_study(direction="maximize", sampler=sampler).optimize(score, n_trials=trials)
    return scores


def run_smac(table: LookupTable, seed: int, trials: int) -> list[float | None]:
    """SMAC's HyperparameterOptimizationFacade with its defaults, on the ConfigSpace export."""
    import logging
    import warnings

    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.main.exceptions import ConfigurationSpaceExhaustedException
    from smac.model.random_forest.random_forest import RandomForest

    from automl.space.configspace import candidate_from_configuration, to_configspace

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    logging.getLogger("smac").setLevel(logging.ERROR)
    objective = table.objective()
    scores: list[float | None] = []

    def target(configuration: Any, seed: int = 0) -> float:
        value = objective(candidate_from_configuration(table.space, configuration))
        scores.append(value)
        return -value

    with tempfile.TemporaryDirectory() as directory:
        scenario = Scenario(
            to_configspace(table.space, seed=seed),
            deterministic=True,
            n_trials=trials,
            seed=seed,
            output_directory=Path(directory) / "smac",
        )
        # The facade's own forest (get_model's settings), on one thread and with max_leaf_nodes=None
        # instead of 2**20: the same trees, 50x faster to fit.
        model = RandomForest(
            configspace=scenario.configspace,
            log_y=True,
            n_trees=10,
            ratio_features=1.0,
            min_samples_split=2,
            min_samples_leaf=1,
            seed=seed,
            max_leaf_nodes=None,  # type: ignore[arg-type]
            n_jobs=1,
        )
        facade = HyperparameterOptimizationFacade(scenario, target, model=model, logging_level=False, overwrite=True)
        # SMAC may find no configuration it has not run: the trials it does not run find nothing
        with contextlib.suppress(ConfigurationSpaceExhaustedException):
            facade.optimize()
    return scores[:trials]


def runners() -> dict[str, Callable[[LookupTable, int, int], list[float | None]]]:
    chosen: dict[str, Callable[[LookupTable, int, int], list[float | None]]] = {
        name: (lambda table, seed, trials, spec=spec: run_ours(table, spec[0], spec[1], seed, trials))
        for name, spec in OURS.items()
    }
    chosen[PEER] = run_optuna
    chosen["tpe (optuna, multivariate)"] = lambda table, seed, trials: run_optuna(
        table, seed, trials, multivariate=True, group=True
    )
    chosen["smac (direct)"] = run_smac
    return chosen


def _one_run(job: tuple[str, str, int, int]) -> tuple[str, str, int, list[float | None], float]:
    """One (table, contender, seed) run in a worker process: its scores and seconds."""
    table_name, name, seed, trials = job
    started = time.perf_counter()
    scores = runners()[name](load_table(table_name), seed, trials)
    return table_name, name, seed, scores, time.perf_counter() - started


# ------------------------------------------------------------------------------------------- analysis
def best_so_far(scores: list[float | None], trials: int) -> np.ndarray:
    """Best score after each trial; a failed trial (None) and a trial never run count as 0."""
    counted = [0.0 if score is None else score for score in scores[:trials]]
    counted += [0.0] * (trials - len(counted))
    return np.maximum.accumulate(np.array(counted))


def paired_test(values: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test of paired regrets (ties: p = 1)."""
    from scipy.stats import wilcoxon

    differences = values - reference
    p_value = 1.0 if not np.any(differences != 0) else float(wilcoxon(values, reference).pvalue)
    return {
        "p": p_value,
        "mean_difference": float(differences.mean()),
        "better": int((differences < 0).sum()),
        "ties": int((differences == 0).sum()),
        "worse": int((differences > 0).sum()),
    }


def summarise(regrets: dict[str, np.ndarray], checkpoints: tuple[int, ...]) -> dict[str, Any]:
    """Mean regret and standard error at each checkpoint, and the paired tests against the peer and baseline."""
    summary: dict[str, Any] = {}
    for name, matrix in regrets.items():  # seeds x trials
        entry: dict[str, Any] = {}
        for checkpoint in checkpoints:
            if checkpoint > matrix.shape[1]:
                continue
            values = matrix[:, checkpoint - 1]
            row: dict[str, Any] = {
                "mean_regret": float(values.mean()),
                "standard_error": float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0,
            }
            for reference, label in ((PEER, "vs_tpe_optuna"), (BASELINE, "vs_uniform")):
                if name != reference and reference in regrets:
                    row[label] = paired_test(values, regrets[reference][:, checkpoint - 1])
            entry[str(checkpoint)] = row
        summary[name] = entry
    return summary


def goal(tables: dict[str, Any], strategy: str, checkpoints: tuple[int, ...]) -> dict[str, Any]:
    """Issue 13's goal for one of our strategies: at most the peer's mean regret on every table and checkpoint,
    and significantly lower (p < 0.05) on at least two tables."""
    at_most, lower = [], []
    for table_name, result in tables.items():
        summary = result["summary"]
        if strategy not in summary or PEER not in summary:
            continue
        points = [str(point) for point in checkpoints if str(point) in summary[strategy]]
        at_most.append(
            all(summary[strategy][point]["mean_regret"] <= summary[PEER][point]["mean_regret"] for point in points)
        )
        if any(
            summary[strategy][point]["vs_tpe_optuna"]["p"] < 0.05
            and summary[strategy][point]["vs_tpe_optuna"]["mean_difference"] < 0
            for point in points
        ):
            lower.append(table_name)
    return {
        "strategy": strategy,
        "statement": (
            f"{strategy}'s mean regret at most Optuna TPE's on every table at {', '.join(map(str, checkpoints))} "
            "trials, and significantly lower (Wilcoxon p < 0.05) on at least two tables"
        ),
        "at_most_everywhere": bool(at_most) and all(at_most),
        "significantly_lower_on": lower,
        "met": bool(at_most) and all(at_most) and len(lower) >= 2,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="*", default=list(TABLE_NAMES), choices=TABLE_NAMES)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--only", nargs="*", help="contenders to run (names as in the table, e.g. tpe 'tpe (optuna)')")
    parser.add_argument("--workers", type=int, default=2, help="processes running seeds side by side")
    parser.add_argument("--quick", action="store_true", help="3 seeds x 25 trials: a smoke run")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.seeds, arguments.trials = min(arguments.seeds, 3), min(arguments.trials, 25)
    contenders = list(runners())
    if arguments.only:
        unknown = sorted(set(arguments.only) - set(contenders))
        if unknown:
            raise SystemExit(f"unknown contender(s) {unknown}; known: {contenders}")
        contenders = [name for name in contenders if name in arguments.only]
    checkpoints = tuple(point for point in CHECKPOINTS if point <= arguments.trials)
    jobs = [
        (table_name, name, seed, arguments.trials)
        for table_name in arguments.tables
        for name in contenders
        for seed in range(arguments.seeds)
    ]
    runs: dict[tuple[str, str], dict[int, list[float | None]]] = {}
    seconds: dict[tuple[str, str], float] = {}
    started = time.time()
    with ProcessPoolExecutor(max_workers=arguments.workers) as pool:
        # a contender that fails (or is not installed) fails the benchmark
        for done, (table_name, name, seed, scores, spent) in enumerate(pool.map(_one_run, jobs), 1):
            runs.setdefault((table_name, name), {})[seed] = scores
            seconds[table_name, name] = seconds.get((table_name, name), 0.0) + spent
            if done % max(1, len(jobs) // 20) == 0:
                print(f"  {done}/{len(jobs)} runs, {time.time() - started:.0f} s", flush=True)

    tables: dict[str, Any] = {}
    for table_name in arguments.tables:
        table = load_table(table_name)
        regrets = {
            name: np.array(
                [
                    table.optimum - best_so_far(runs[table_name, name][seed], arguments.trials)
                    for seed in range(arguments.seeds)
                ]
            )
            for name in contenders
        }
        summary = summarise(regrets, checkpoints)
        tables[table_name] = {
            "description": table.description,
            "entries": len(table.scores),
            "best_score": table.optimum,
            "median_score": float(np.median(list(table.scores.values()))),
            "summary": summary,
            "seconds": {name: round(seconds[table_name, name], 2) for name in contenders},
            "regret_curves_mean": {name: matrix.mean(axis=0).round(6).tolist() for name, matrix in regrets.items()},
        }
        rows = []
        for name, entry in summary.items():
            cells: list[Any] = [name]
            for point in checkpoints:
                row = entry[str(point)]
                cells.append(f"{row['mean_regret']:.4f} ± {row['standard_error']:.4f}")
            for point in checkpoints[1:]:
                test = entry[str(point)].get("vs_tpe_optuna")
                cells.append("-" if test is None else f"{test['p']:.3g}{'+' if test['mean_difference'] < 0 else '-'}")
            rows.append(cells)
        print_table(
            f"{table_name}: {len(table.scores)} entries, best {table.optimum:.4f}; "
            f"{arguments.seeds} seeds; p vs Optuna TPE (+: ours lower)",
            ["strategy", *(f"regret @{point}" for point in checkpoints), *(f"p @{point}" for point in checkpoints[1:])],
            rows,
        )
    goals = {
        name: goal(tables, name, tuple(point for point in GOAL_CHECKPOINTS if point in checkpoints))
        for name in OURS
        if name in contenders
    }
    for entry in goals.values():
        print(
            f"goal for {entry['strategy']}: {'met' if entry['met'] else 'not met'} "
            f"(lower on {entry['significantly_lower_on']})"
        )
    write_results(
        "strategies",
        {
            "seeds": arguments.seeds,
            "trials": arguments.trials,
            "checkpoints": list(checkpoints),
            "peer": PEER,
            "baseline": BASELINE,
            "tables": tables,
            "goals": goals,
            "tests": "two-sided Wilcoxon signed-rank, paired by seed, not corrected for multiple comparisons",
        },
    )


if __name__ == "__main__":
    main()
