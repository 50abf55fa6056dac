"""Lookup-table benchmark of the search strategies (random, mcts, smbo, evolution, TPE, SMAC).

Every architecture of a small tree-shaped space (an Or between a deep MLP branch
— 1 to 3 layers, each with its own width and activation — and a narrow
bottleneck branch, then an optional dropout; 1,662 architectures, all choices
finite) is trained once on scikit-learn's digits with a short fixed recipe, and
its validation accuracy is cached in ``benchmarks/data/lookup_table.json``. The
strategies then search by replay (the objective is a table look-up), which makes
many seeds cheap and the comparison exact: the regret is the best accuracy in
the table minus the best accuracy found.

This repeats the comparison of DeepArchitect (Negrinho & Gordon, 2017, section
5: random search vs MCTS vs SMBO, best-so-far against number of models) on a
table instead of CIFAR-10, in the spirit of NAS-Bench-101 (Ying et al., 2019),
with Optuna's TPE (Bergstra et al., 2011; walking the same tree define-by-run)
and SMAC used directly (Lindauer et al., 2022) as outside peers.

    python benchmarks/strategies.py --build-table      # trains every architecture (minutes)
    python benchmarks/strategies.py                    # runs the strategies, prints, writes JSON
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from common import write_results  # noqa: E402

from automl import space as s  # noqa: E402
from automl.space import Candidate, SearchSpace  # noqa: E402

TABLE_PATH = ROOT / "benchmarks" / "data" / "lookup_table.json"
CHECKPOINTS = (10, 25, 50)
EPOCHS = 10
BATCH_SIZE = 64
LEARNING_RATE = 1e-3


@s.search_space
def digits_space(x: Any) -> Any:
    """1,662 architectures: an Or of a deep and a narrow branch, then an optional dropout."""

    def layer(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([16, 64, 256]))
        return s.op.activation(x, kind=s.Choice(["relu", "tanh", "sigmoid"]))

    def deep(x: Any) -> Any:
        return s.Repeat(layer, times=s.Int(1, 3))(x)

    def narrow(x: Any) -> Any:
        x = s.op.linear(x, units=s.Choice([4, 8, 16, 32]))
        x = s.op.activation(x, kind="relu")
        return s.Optional(lambda x: s.op.dropout(x, p=s.Choice([0.1, 0.5])))(x)

    x = s.Or({"deep": deep, "narrow": narrow})(x)
    x = s.Optional(lambda x: s.op.dropout(x, p=0.3))(x)
    return s.op.linear(x, units=s.OUTPUTS)


# ---------------------------------------------------------------------------------------------- table
def enumerate_candidates(space: SearchSpace) -> Iterator[Candidate]:
    """Every candidate of a finite space, depth first (replays each prefix: fine for small spaces)."""
    stack: list[dict[str, Any]] = [{}]
    while stack:
        prefix = stack.pop()
        architecture = space.new()
        for path, value in prefix.items():
            architecture.assign(path, value)
        decision = architecture.next_decision()
        if decision is None:
            yield Candidate(architecture.decisions)
            continue
        path, hyperparameter = decision
        values = hyperparameter.finite_values()
        if values is None:
            raise ValueError(f"{path} is continuous; the lookup table needs a finite space")
        stack.extend({**prefix, path: value} for value in reversed(values))


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    features, labels = load_digits(return_X_y=True)
    features = (features / 16.0).astype(np.float32)
    return train_test_split(features, labels, test_size=0.33, random_state=0, stratify=labels)


def train_one(candidate_json: str) -> tuple[str, float]:
    """Train one architecture with the fixed recipe; return (candidate key, validation accuracy)."""
    import torch

    from automl.nn import compile_architecture

    torch.set_num_threads(1)
    torch.manual_seed(0)
    train_x, valid_x, train_y, valid_y = _digits()
    candidate = Candidate.from_json(candidate_json)
    model = compile_architecture(digits_space.replay(candidate), (64,), num_outputs=10).module
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    inputs, targets = torch.from_numpy(train_x), torch.from_numpy(train_y).long()
    generator = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(inputs[batch]), targets[batch])
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        predictions = model(torch.from_numpy(valid_x)).argmax(dim=1).numpy()
    return candidate.key, float((predictions == valid_y).mean())


def build_table(workers: int) -> dict[str, Any]:
    candidates = list(enumerate_candidates(digits_space))
    print(f"training {len(candidates)} architectures with {workers} worker(s)...", flush=True)
    started = time.time()
    table: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = pool.map(train_one, [candidate.to_json() for candidate in candidates], chunksize=8)
        for done, (key, accuracy) in enumerate(jobs, 1):
            table[key] = accuracy
            if done % 100 == 0:
                print(f"  {done}/{len(candidates)} in {time.time() - started:.0f} s", flush=True)
    document = {
        "space": "benchmarks/strategies.py:digits_space",
        "data": "sklearn load_digits, features/16, stratified 67/33 split, random_state=0",
        "recipe": {"epochs": EPOCHS, "batch_size": BATCH_SIZE, "optimizer": "Adam", "learning_rate": LEARNING_RATE},
        "metric": "validation accuracy",
        "seconds": round(time.time() - started, 1),
        "table": table,
    }
    TABLE_PATH.parent.mkdir(parents=True, exist_ok=True)
    TABLE_PATH.write_text(json.dumps(document, indent=0, sort_keys=True) + "\n")
    print(f"wrote {TABLE_PATH} ({len(table)} entries, best {max(table.values()):.4f})")
    return document


def load_table() -> dict[str, float]:
    if not TABLE_PATH.exists():
        raise SystemExit(f"no lookup table at {TABLE_PATH}; run: python benchmarks/strategies.py --build-table")
    return json.loads(TABLE_PATH.read_text())["table"]


# -------------------------------------------------------------------------------------------- runners
Runner = Callable[[dict[str, float], int, int], list[float | None]]


def run_strategy(name: str, table: dict[str, float], seed: int, trials: int) -> list[float | None]:
    """Scores in trial order for one of our strategies through ``automl.search`` (objective = table look-up).

    A failed trial is kept as None: it cost a trial and found nothing.
    """
    import automl

    with tempfile.TemporaryDirectory() as directory:
        study = automl.search(
            digits_space,
            strategy=name,
            trials=trials,
            seed=seed,
            objective=lambda candidate: table[candidate.key],
            study=Path(directory) / "study.db",
        )
        return [trial.score for trial in sorted(study.trials, key=lambda trial: trial.number)]


def run_uniform(table: dict[str, float], seed: int, trials: int) -> list[float | None]:
    """Architectures drawn uniformly from the table (with replacement): the baseline random search is not.

    Random search samples each decision in turn (as Optuna's and NNI's random samplers do), so
    an architecture's chance depends on how many decisions it has; here each of the table's
    architectures is equally likely.
    """
    keys = sorted(table)
    rng = np.random.default_rng(seed)
    return [table[keys[index]] for index in rng.integers(0, len(keys), trials)]


def run_tpe(table: dict[str, float], seed: int, trials: int) -> list[float | None]:
    """Optuna's TPE, define-by-run over the same tree (suggest_categorical by path name)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scores: list[float] = []

    def objective(trial: Any) -> float:
        architecture = digits_space.new()
        while (decision := architecture.next_decision()) is not None:
            path, hyperparameter = decision
            architecture.assign(path, trial.suggest_categorical(path, hyperparameter.finite_values()))
        score = table[Candidate(architecture.decisions).key]
        scores.append(score)
        return score

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return scores


def run_smac_direct(table: dict[str, float], seed: int, trials: int) -> list[float | None]:
    """SMAC's HyperparameterOptimizationFacade with its defaults, on the ConfigSpace export."""
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    import logging

    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.model.random_forest.random_forest import RandomForest

    from automl.space.configspace import to_configspace

    logging.getLogger("smac").setLevel(logging.ERROR)
    scores: list[float] = []

    def target(config: Any, seed: int = 0) -> float:
        score = table[_candidate_of(config).key]
        scores.append(score)
        return -score

    with tempfile.TemporaryDirectory() as directory:
        scenario = Scenario(
            to_configspace(digits_space, seed=seed),
            deterministic=True,
            n_trials=trials,
            seed=seed,
            output_directory=Path(directory) / "smac",
        )
        # The facade's own forest (get_model's settings), run on one thread and with
        # max_leaf_nodes=None instead of 2**20: the same trees, 50x faster to fit.
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
        smac = HyperparameterOptimizationFacade(scenario, target, model=model, logging_level=False, overwrite=True)
        smac.optimize()
    return scores[:trials]


def _candidate_of(configuration: Any) -> Candidate:
    from automl.space.configspace import candidate_from_configuration

    return candidate_from_configuration(digits_space, configuration)


def _ours(name: str) -> Runner:
    return lambda table, seed, trials: run_strategy(name, table, seed, trials)


# ------------------------------------------------------------------------------------------- analysis
def best_so_far(scores: list[float | None], trials: int) -> np.ndarray:
    """Best accuracy after each trial; a failed trial (None) and a trial never run count as accuracy 0."""
    counted = [0.0 if score is None else score for score in scores[:trials]]
    counted += [0.0] * (trials - len(counted))
    return np.maximum.accumulate(np.array(counted))


def summarise(regrets: dict[str, np.ndarray], baseline: str) -> dict[str, Any]:
    from scipy.stats import wilcoxon

    summary: dict[str, Any] = {}
    for name, matrix in regrets.items():  # matrix: seeds x trials
        entry: dict[str, Any] = {}
        for checkpoint in CHECKPOINTS:
            if checkpoint > matrix.shape[1]:
                continue
            values = matrix[:, checkpoint - 1]
            standard_error = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
            row: dict[str, Any] = {"mean_regret": float(values.mean()), "standard_error": standard_error}
            if name != baseline and baseline in regrets:
                base = regrets[baseline][:, checkpoint - 1]
                differences = values - base
                if np.any(differences != 0):
                    _statistic, p_value = wilcoxon(values, base)
                    row["wilcoxon_vs_random_p"] = float(p_value)
                else:
                    row["wilcoxon_vs_random_p"] = 1.0
                row["mean_difference_vs_random"] = float(differences.mean())
            entry[str(checkpoint)] = row
        summary[name] = entry
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-table", action="store_true", help="train every architecture and cache the table")
    parser.add_argument("--workers", type=int, default=2, help="processes for --build-table")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--only", nargs="*", help="run only these (random uniform mcts smbo evolution tpe smac)")
    parser.add_argument("--quick", action="store_true", help="3 seeds x 20 trials: a smoke run")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.seeds, arguments.trials = min(arguments.seeds, 3), min(arguments.trials, 20)
    if arguments.build_table:
        build_table(arguments.workers)
        return

    table = load_table()
    optimum = max(table.values())
    runners: dict[str, Runner] = {
        "random": _ours("random"),
        "uniform architectures": run_uniform,
        "mcts": _ours("mcts"),
        "smbo": _ours("smbo"),
        "evolution": _ours("evolution"),
        "tpe (optuna)": run_tpe,
        "smac (direct)": run_smac_direct,
    }
    if arguments.only:
        runners = {name: runner for name, runner in runners.items() if name.split()[0] in arguments.only}
    print(
        f"lookup table: {len(table)} architectures, best accuracy {optimum:.4f}, "
        f"median {float(np.median(list(table.values()))):.4f}; {arguments.seeds} seeds x {arguments.trials} trials"
    )
    regrets: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name, runner in runners.items():
        started = time.time()
        rows = []
        for seed in range(arguments.seeds):  # a strategy that fails (or is not installed) fails the benchmark
            scores = runner(table, seed, arguments.trials)
            rows.append(optimum - best_so_far(scores, arguments.trials))
        regrets[name] = np.array(rows)
        seconds[name] = time.time() - started
        print(f"  {name}: {seconds[name]:.1f} s", flush=True)
    order = ["random", "uniform architectures", "mcts", "smbo", "evolution", "tpe (optuna)", "smac (direct)"]
    regrets = {name: regrets[name] for name in sorted(regrets, key=lambda n: order.index(n) if n in order else 99)}
    summary = summarise(regrets, "random")

    header = f"{'strategy':<15}" + "".join(f"{'regret@' + str(c):>22}" for c in CHECKPOINTS)
    print(header + "".join(f"{'p vs random @' + str(c):>17}" for c in CHECKPOINTS[1:]))
    for name, entry in summary.items():
        cells = "".join(
            f"{entry[str(c)]['mean_regret']:>13.4f} ± {entry[str(c)]['standard_error']:.4f}"
            if str(c) in entry
            else f"{'-':>22}"
            for c in CHECKPOINTS
        )
        for checkpoint in CHECKPOINTS[1:]:
            p_value = entry.get(str(checkpoint), {}).get("wilcoxon_vs_random_p")
            cells += f"{p_value:>17.3g}" if p_value is not None else f"{'-':>17}"
        print(f"{name:<15}{cells}")
    print("p: two-sided Wilcoxon signed-rank test over seeds, paired with random search, not corrected")
    write_results(
        "strategies",
        {
            "table": str(TABLE_PATH.relative_to(ROOT)),
            "architectures": len(table),
            "best_accuracy": optimum,
            "seeds": arguments.seeds,
            "trials": arguments.trials,
            "checkpoints": list(CHECKPOINTS),
            "seconds": seconds,
            "summary": summary,
            "regret_curves_mean": {name: matrix.mean(axis=0).tolist() for name, matrix in regrets.items()},
            "regret_runs": {name: matrix.round(6).tolist() for name, matrix in regrets.items()},
        },
    )


if __name__ == "__main__":
    main()
