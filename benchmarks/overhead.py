"""Engine overhead benchmark: seconds per trial of ``automl.search`` against Optuna, trivial objective, SQLite.

Both run the same tree of 6 decisions with a conditional branch (learning rate, batch
size, width, activation, then an ``Or`` whose branch has its own decision: a dropout
rate or the width of an extra layer), random sampling, and an objective that returns
a number computed from the decisions at once, so what is timed is the engine: asking,
storing in SQLite, telling.

* ours: ``automl.search(space, objective=..., strategy="random", trials=N, study=<new file>)``
* Optuna: ``optuna.create_study(storage="sqlite:///<new file>", sampler=RandomSampler(seed))``
  and ``study.optimize(objective, n_trials=N)`` with the same tree in define-by-run
  ``trial.suggest_*`` calls, with SQLite's defaults (rollback journal, synchronous=FULL:
  an fsync per commit) as Optuna users get them,
* and Optuna again on a SQLite connection with the PRAGMAs our storage uses
  (journal_mode=WAL, synchronous=NORMAL), so that the file system's fsync cost does not
  decide the comparison.

The three run in interleaved rounds (order reversed every other round) on fresh study
files; the table shows seconds per trial (median over rounds) for the whole call
("total", which includes creating the study) and for the trial loop alone ("loop":
from ``on_start`` to the end for ours, ``optimize`` for Optuna), and the median of the
per-round ratios ours / peer (below 1: ours is cheaper). A last run of ours under
cProfile splits our loop time by where it goes (storage, strategy, evaluation, hooks).

The headline comparison is at equal durability (Optuna on WAL + synchronous=NORMAL,
as ours); the row against Optuna's defaults is shown too, with that difference stated.

Growth with the study (``--growth-trials``, 10,000): one long search per strategy
(random, mcts, evolution, random under Hyperband and under ASHA; smbo to 1,000 since its forest refit is the algorithm's
own cost) with the trivial objective; the per-trial time (from one trial's end to
the next: ask, store, evaluate, tell, store) is reported at trials 100, 1,000 and
10,000 as the median and the mean over the window [n/2, n) (the mean includes the
strategy-state snapshots, which the engine takes at growing intervals), and the
ratio last / first of the means. A cost that grows with the study shows here.

Run: ``.venv/bin/python benchmarks/overhead.py [--quick] [--trials N] [--rounds R] [--growth-trials N]``
(200 trials and 3 rounds; quick: 50 trials and growth to 1,000); results go to
``benchmarks/results/overhead.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import logging
import pstats
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, median_ratio, spread, table, write_results

import automl
from automl import space as s


@s.search_space
def overhead_space(x):
    """6 decisions on every path: 4 flat, a branch, and one decision that exists only in the chosen branch."""
    x = s.training(x, learning_rate=s.Float(1e-4, 1e-1, log=True), batch_size=s.Int(16, 256, log=True))
    x = s.op.linear(x, units=s.Choice([32, 64, 128]))
    x = s.op.activation(x, kind=s.Choice(["relu", "gelu", "tanh"]))
    x = s.Or(
        {
            "dropout": lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5)),
            "wide": lambda x: s.op.linear(x, units=s.Choice([256, 512])),
        }
    )(x)
    return s.op.linear(x, units=s.OUTPUTS)


def score(learning_rate: float, batch_size: int, units: int, branch: str, extra: float) -> float:
    return learning_rate * batch_size + units / 1000 + (extra if branch == "dropout" else extra / 1000)


def our_objective(candidate: Any) -> float:
    branch = candidate["or.branch"]
    extra = candidate["or.dropout.dropout.p"] if branch == "dropout" else candidate["or.wide.linear.units"]
    return score(
        candidate["training.learning_rate"], candidate["training.batch_size"], candidate["linear.units"], branch, extra
    )


def optuna_objective(trial: optuna.Trial) -> float:
    learning_rate = trial.suggest_float("training.learning_rate", 1e-4, 1e-1, log=True)
    batch_size = trial.suggest_int("training.batch_size", 16, 256, log=True)
    units = trial.suggest_categorical("linear.units", [32, 64, 128])
    trial.suggest_categorical("activation.kind", ["relu", "gelu", "tanh"])
    branch = trial.suggest_categorical("or.branch", ["dropout", "wide"])
    if branch == "dropout":
        extra = trial.suggest_float("or.dropout.dropout.p", 0.0, 0.5)
    else:
        extra = trial.suggest_categorical("or.wide.linear.units", [256, 512])
    return score(learning_rate, batch_size, units, branch, extra)


def run_ours(directory: Path, trials: int, seed: int, strategy: str = "random") -> dict[str, float]:
    marks: dict[str, float] = {}
    started = time.perf_counter()
    study = automl.search(
        overhead_space,
        objective=our_objective,
        trials=trials,
        study=directory / "ours.db",
        seed=seed,
        strategy=strategy,
        on_start=lambda study, finished: marks.setdefault("loop", time.perf_counter()),
    )
    ended = time.perf_counter()
    finished = len(study.completed())
    study.close()
    if finished != trials:
        raise AssertionError(f"ours: {finished} of {trials} trials completed")
    return {"total": ended - started, "loop": ended - marks["loop"]}


def run_optuna(
    directory: Path, trials: int, seed: int, same_pragmas: bool = False, sampler: Any = None
) -> dict[str, float]:
    started = time.perf_counter()
    path = directory / "optuna.db"
    engine_kwargs: dict[str, Any] = {}
    if same_pragmas:

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(path)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            return connection

        engine_kwargs["creator"] = connect
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs=engine_kwargs)
    sampler = sampler or optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(storage=storage, sampler=sampler, direction="maximize")
    looping = time.perf_counter()
    study.optimize(optuna_objective, n_trials=trials)
    ended = time.perf_counter()
    finished = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    storage.engine.dispose()
    if finished != trials:
        raise AssertionError(f"optuna: {finished} of {trials} trials completed")
    return {"total": ended - started, "loop": ended - looping}


def run_optuna_same_pragmas(directory: Path, trials: int, seed: int) -> dict[str, float]:
    return run_optuna(directory, trials, seed, same_pragmas=True)


def run_ours_tpe(directory: Path, trials: int, seed: int) -> dict[str, float]:
    return run_ours(directory, trials, seed, strategy="tpe")


def run_optuna_tpe(directory: Path, trials: int, seed: int) -> dict[str, float]:
    return run_optuna(directory, trials, seed, same_pragmas=True, sampler=optuna.samplers.TPESampler(seed=seed))


def compare_tpe(trials: int, rounds: int, directory: Path) -> dict[str, Any]:
    """Our tpe against Optuna's TPESampler (its defaults), both on SQLite with WAL + synchronous=NORMAL:
    seconds per trial of the trial loop, interleaved rounds, median of the per-round ratios."""
    contenders = {"ours (tpe)": run_ours_tpe, "optuna (TPESampler)": run_optuna_tpe}
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for index in range(rounds):
        for name in list(contenders)[:: 1 if index % 2 == 0 else -1]:
            run_directory = directory / f"tpe-{name.split()[0]}-{index}"
            run_directory.mkdir()
            seconds[name].append(contenders[name](run_directory, trials, index)["loop"] / trials)
    ours, theirs = seconds["ours (tpe)"], seconds["optuna (TPESampler)"]
    result = {
        "trials": trials,
        "rounds": rounds,
        "ours_ms_per_trial": 1000 * median(ours),
        "optuna_ms_per_trial": 1000 * median(theirs),
        "ratio_ours_over_optuna": median_ratio(ours, theirs),
        "ratio_min_max": list(spread([a / b for a, b in zip(ours, theirs)])),
    }
    table(
        f"tpe against Optuna's TPESampler: {trials} trials x {rounds} interleaved rounds, trivial objective, "
        "SQLite WAL + NORMAL (loop ms per trial)",
        ["ours ms / trial", "optuna ms / trial", "ours / optuna (median)", "min..max"],
        [
            [
                result["ours_ms_per_trial"],
                result["optuna_ms_per_trial"],
                result["ratio_ours_over_optuna"],
                f"{result['ratio_min_max'][0]:.3f}..{result['ratio_min_max'][1]:.3f}",
            ]
        ],
    )
    return result


# Where our loop time goes: functions that do not call one another, by cumulative time.
BREAKDOWN = {
    "storage: record_ask": ("storage.py", "record_ask"),
    "storage: record_tell": ("storage.py", "record_tell"),
    "storage: trial (read back)": ("storage.py", "trial"),
    "storage: finished_count": ("storage.py", "finished_count"),
    "storage: next_number": ("storage.py", "next_number"),
    "strategy: ask (sample)": ("random.py", "ask"),
    "strategy: state_dict (snapshots)": ("random.py", "state_dict"),
    "strategy: tell": ("base.py", "tell"),
    "evaluation (objective)": ("evaluation.py", "__call__"),
    "event hooks (pluggy)": ("pluggy/_caller.py", "__call__"),
}


def profile_ours(directory: Path, trials: int) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    timing = run_ours(directory, trials, seed=12345)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    loop = 0.0
    parts: dict[str, float] = dict.fromkeys(BREAKDOWN, 0.0)
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        if filename.endswith("search.py") and function == "run":
            loop = max(loop, cumulative)
        for label, (file_suffix, name) in BREAKDOWN.items():
            if filename.endswith(file_suffix) and function == name:
                parts[label] += cumulative
    parts["other (driver, Study, ...)"] = loop - sum(parts.values())
    return {
        "trials": trials,
        "profiled_total_seconds": timing["total"],
        "profiled_loop_seconds": loop,
        "milliseconds_per_trial": {label: 1000 * seconds / trials for label, seconds in parts.items()},
        "share_of_loop": {label: seconds / loop for label, seconds in parts.items()} if loop else {},
    }


OPTUNA_WAL = "optuna (WAL, synchronous=NORMAL)"
OPTUNA_DEFAULT = "optuna (SQLite defaults: rollback journal, synchronous=FULL; ours stays WAL + NORMAL)"
CHECKPOINTS = (100, 1_000, 10_000)
# model-based strategies to a tenth of the others: their model's cost is the algorithm's own
GROWTH_LIMITS = {"random": None, "mcts": None, "evolution": None, "tpe": 1_000, "smbo": 1_000}
# multi-fidelity schedules around random search (1 to 27 epochs, eta 3): their rungs grow with the study
SCHEDULED = {"random+hyperband": ("random", "hyperband"), "random+asha": ("random", "asha")}


def growth_of(label: str, trials: int, directory: Path) -> dict[str, Any]:
    """Per-trial seconds of one long search, at each checkpoint up to ``trials``."""
    stamps: list[float] = []
    marks: dict[str, float] = {}
    strategy, schedule = SCHEDULED.get(label, (label, None))
    settings: dict[str, Any] = {"strategy": strategy, "objective": our_objective}
    if schedule is not None:
        settings.update(
            multi_fidelity=schedule,
            max_budget=27,
            objective=lambda candidate, budget: our_objective(candidate),
        )
    study = automl.search(
        overhead_space,
        trials=trials,
        study=directory / f"growth-{label}.db",
        seed=0,
        on_start=lambda study, finished: marks.setdefault("loop", time.perf_counter()),
        on_trial=lambda trial, study: stamps.append(time.perf_counter()),
        **settings,
    )
    completed = len(study.completed())
    study.close()
    gaps = [later - earlier for earlier, later in zip([marks["loop"], *stamps], stamps)]
    points = {}
    for checkpoint in CHECKPOINTS:
        if checkpoint > len(gaps):
            break
        window = gaps[checkpoint // 2 : checkpoint]
        points[str(checkpoint)] = {
            "median_ms": 1000 * median(window),
            "mean_ms": 1000 * sum(window) / len(window),
            "max_ms": 1000 * max(window),
        }
    first, last = points[min(points, key=int)], points[max(points, key=int)]
    return {
        "trials": len(gaps),
        "completed": completed,
        "points": points,
        "ratio_last_over_first_mean": last["mean_ms"] / first["mean_ms"],
        "ratio_last_over_first_median": last["median_ms"] / first["median_ms"],
    }


def bare_growth_of(label: str, trials: int) -> dict[str, Any]:
    """The same strategy driven in a bare ask/objective/tell loop, with no engine: its own cost as n grows."""
    from automl.plugins import load_plugins
    from automl.schedulers import scheduled
    from automl.strategies.base import Fidelity, StrategyContext, TrialResult

    strategy_name, schedule = SCHEDULED.get(label, (label, None))
    fidelity = None if schedule is None else Fidelity("epochs", 1, 27, 3, schedule)
    strategy = scheduled(load_plugins().strategy(strategy_name)(), fidelity)
    strategy.setup(overhead_space, StrategyContext(seed=0, trials=trials, options={}, fidelity=fidelity))
    stamps = [time.perf_counter()]
    for number in range(trials):
        proposal = strategy.ask().numbered(number)
        strategy.tell(proposal, TrialResult.complete(our_objective(proposal.candidate)))
        stamps.append(time.perf_counter())
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    return {
        str(checkpoint): 1000 * sum(gaps[checkpoint // 2 : checkpoint]) / (checkpoint - checkpoint // 2)
        for checkpoint in CHECKPOINTS
        if checkpoint <= len(gaps)
    }


def available_strategies() -> set[str]:
    from automl.plugins import load_plugins

    return set(load_plugins().strategies())


def run_growth(trials: int, directory: Path) -> dict[str, Any]:
    available = available_strategies()
    results: dict[str, Any] = {}
    for strategy, limit in {**GROWTH_LIMITS, **dict.fromkeys(SCHEDULED)}.items():
        if SCHEDULED.get(strategy, (strategy,))[0] not in available:
            continue
        count = trials if limit is None else min(trials // 10, limit)
        results[strategy] = growth_of(strategy, count, directory)
        results[strategy]["bare_mean_ms"] = bare_growth_of(strategy, count)
    rows = []
    for strategy, result in results.items():
        cells: list[Any] = [strategy]
        for checkpoint in CHECKPOINTS:
            point = result["points"].get(str(checkpoint))
            cells.append("" if point is None else f"{point['mean_ms']:.3f} / {point['median_ms']:.3f}")
        cells.append(result["ratio_last_over_first_mean"])
        last = max(result["points"], key=int)
        engine = result["points"][last]["mean_ms"] - result["bare_mean_ms"][last]
        result["engine_ms_at_last"] = engine
        cells.append(f"{result['bare_mean_ms'][last]:.3f} / {engine:.3f}")
        rows.append(cells)
    table(
        "Per-trial time as the study grows (trivial objective; mean / median ms over trials [n/2, n))",
        [
            "strategy",
            *(f"@{checkpoint:,}" for checkpoint in CHECKPOINTS),
            "last / first (mean)",
            "at the last n: strategy alone / engine",
        ],
        rows,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run: 50 trials, 3 rounds")
    parser.add_argument("--trials", type=int, default=None, help="trials per run (200; quick: 50)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3; quick: 3)")
    parser.add_argument("--growth-trials", type=int, default=None, help="trials of growth runs (10,000; quick: 1,000)")
    parser.add_argument("--tpe-trials", type=int, default=None, help="trials of the TPE comparison (1,000; quick: 200)")
    arguments = parser.parse_args()
    growth_trials = arguments.growth_trials or (1_000 if arguments.quick else 10_000)
    trials = arguments.trials or (50 if arguments.quick else 200)
    rounds = arguments.rounds or 3
    tpe_trials = arguments.tpe_trials or (200 if arguments.quick else 1_000)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)

    runners = {"ours": run_ours, "optuna": run_optuna, OPTUNA_WAL: run_optuna_same_pragmas}
    measured: dict[str, list[dict[str, float]]] = {name: [] for name in runners}
    with tempfile.TemporaryDirectory(prefix="automl-overhead-") as temporary:
        # one small warm-up run of each, so imports and first-use costs are not counted
        for name, runner in runners.items():
            warm = Path(temporary) / f"warm-{name}"
            warm.mkdir()
            runner(warm, 5, 0)
        for index in range(rounds):
            order = list(runners) if index % 2 == 0 else list(runners)[::-1]
            for name in order:
                directory = Path(temporary) / f"{name}-{index}"
                directory.mkdir()
                measured[name].append(runners[name](directory, trials, index))
        profile_directory = Path(temporary) / "profile"
        profile_directory.mkdir()
        breakdown = profile_ours(profile_directory, trials)
        growth_directory = Path(temporary) / "growth"
        growth_directory.mkdir()
        growth = run_growth(growth_trials, growth_directory)
        tpe_directory = Path(temporary) / "tpe"
        tpe_directory.mkdir()
        tpe = compare_tpe(tpe_trials, rounds, tpe_directory)

    summary: dict[str, Any] = {}
    rows = []
    for peer in (OPTUNA_WAL, "optuna"):
        for phase in ("total", "loop"):
            ours = [run[phase] / trials for run in measured["ours"]]
            theirs = [run[phase] / trials for run in measured[peer]]
            ratios = [a / b for a, b in zip(ours, theirs)]
            row = {
                "ours_seconds_per_trial": median(ours),
                "peer_seconds_per_trial": median(theirs),
                "ratio_ours_over_peer": median_ratio(ours, theirs),
                "ratio_min_max": list(spread(ratios)),
            }
            summary[f"{peer} {phase}"] = row
            rows.append(
                [
                    OPTUNA_DEFAULT if peer == "optuna" else f"{peer} [headline: equal durability]",
                    phase,
                    1000 * row["ours_seconds_per_trial"],
                    1000 * row["peer_seconds_per_trial"],
                    row["ratio_ours_over_peer"],
                    f"{row['ratio_min_max'][0]:.4f}..{row['ratio_min_max'][1]:.4f}",
                ]
            )
    table(
        f"Engine overhead per trial: {trials} trials x {rounds} interleaved rounds, trivial objective, SQLite",
        ["peer", "phase", "ours ms / trial", "peer ms / trial", "ours / peer (median)", "ratio min..max"],
        rows,
    )
    table(
        f"Our loop time by part (cProfile, {trials} trials; profiling inflates the absolute times)",
        ["part", "ms / trial", "share of loop"],
        [
            [label, milliseconds, f"{100 * breakdown['share_of_loop'].get(label, 0.0):.1f}%"]
            for label, milliseconds in breakdown["milliseconds_per_trial"].items()
        ],
    )
    write_results(
        "overhead",
        {
            "quick": arguments.quick,
            "trials": trials,
            "rounds": rounds,
            "optuna": optuna.__version__,
            "summary": summary,
            "runs": measured,
            "breakdown": breakdown,
            "growth": growth,
            "tpe": tpe,
        },
    )


if __name__ == "__main__":
    main()
