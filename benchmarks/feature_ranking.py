"""Feature ranking benchmark: speed and recall of informative features, ours against peers.

One run, one synthetic data set (default 200,000 rows x 30 categorical features: 3
informative among 27 noise features whose cardinality runs from 2 up to one value per
row). For each method: wall time, ratio of its time to ours on the same input, and
recall of the informative features in its top 3.

Methods: our ``mi``, ``outrank`` and ``3mr`` (in memory, and ``outrank`` on the CSV),
scikit-learn's ``mutual_info_classif(discrete_features=True)`` and
``adjusted_mutual_info_score``, and the ``outrank`` PyPI package (Škrlj & Mramor, 2023)
through its CLI on the same CSV (install it in an environment of its own, e.g.
``python -m venv /tmp/outrank && /tmp/outrank/bin/pip install outrank 'xxhash<4'``, and pass
``--outrank /tmp/outrank/bin/outrank``; without it the run says so in a note).

Timing is like for like: the in-process methods are all warm (each called once first) and
run in interleaved rounds; the two command-line tools (``automl rank`` and the package's
CLI) both run cold, each call a fresh process on the same CSV, alternating. Each ratio is
the median over rounds of the per-round ratio, with its spread (min-max).

``--memory`` adds the peak RSS of ranking a 5,000,000-row CSV generated on the fly into a
temporary directory, measured in a subprocess with ``resource.getrusage``.

Run: ``.venv/bin/python benchmarks/feature_ranking.py [--rows N] [--memory]``; results go
to ``benchmarks/results/feature_ranking.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved, median, write_results

from automl.ranking import rank_file, rank_frame

TARGET = "label"
INFORMATIVE_CARDINALITIES = (4, 8, 16)
REVEAL_PROBABILITY = (0.25, 0.22, 0.2)
NOISE_FEATURES = 26  # plus a row id: 27 noise features, 30 in all
PACKAGE_TIMEOUT = 1800  # seconds allowed to the outrank package


def informative_names() -> list[str]:
    return [f"informative_{cardinality}" for cardinality in INFORMATIVE_CARDINALITIES]


def noise_cardinalities(total_rows: int) -> list[int]:
    return [int(value) for value in np.geomspace(2, total_rows, NOISE_FEATURES)]


def generate_chunk(rows: int, total_rows: int, row_offset: int, seed: int) -> dict[str, np.ndarray]:
    """Rows ``row_offset .. row_offset + rows`` of the data set; chunks are independent draws."""
    rng = np.random.default_rng([seed, row_offset])
    target = rng.integers(0, 2, rows)
    columns: dict[str, np.ndarray] = {}
    for name, cardinality, reveal in zip(
        informative_names(), INFORMATIVE_CARDINALITIES, REVEAL_PROBABILITY, strict=True
    ):
        # With probability ``reveal`` the value's half tells the target; otherwise it is uniform.
        revealing = target * (cardinality // 2) + rng.integers(0, cardinality // 2, rows)
        columns[name] = np.where(rng.random(rows) < reveal, revealing, rng.integers(0, cardinality, rows))
    for cardinality in noise_cardinalities(total_rows):
        columns[f"noise_{cardinality}"] = rng.integers(0, cardinality, rows)
    columns["row_id"] = np.arange(row_offset, row_offset + rows)
    # Informative features are not the first columns; the order is the same in every chunk.
    order = np.random.default_rng(seed).permutation(len(columns))
    names = list(columns)
    shuffled = {names[index]: columns[names[index]] for index in order}
    shuffled[TARGET] = target
    return shuffled


def write_csv(path: Path, total_rows: int, seed: int, chunk_rows: int = 500_000) -> None:
    """Write the data set as CSV chunk by chunk, so generating it needs little memory.

    The header is written unquoted: the outrank package splits the header line on commas.
    """
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with path.open("wb") as handle:
        for offset in range(0, total_rows, chunk_rows):
            table = pa.table(generate_chunk(min(chunk_rows, total_rows - offset), total_rows, offset, seed))
            if offset == 0:
                handle.write((",".join(table.column_names) + "\n").encode())
            pa_csv.write_csv(table, handle, options)


def recall_at_3(ranked: list[str]) -> float:
    return len(set(ranked[:3]) & set(informative_names())) / 3


def order_by(scores: np.ndarray, names: list[str]) -> list[str]:
    return [names[index] for index in np.argsort(-np.asarray(scores), kind="stable")]


def run_outrank_package(
    csv_path: Path, workdir: Path, workers: int, executable: str | None
) -> tuple[float, list[str]] | str:
    """Time the ``outrank`` package's CLI on the CSV; a string says why it could not run."""
    if executable is None or not Path(executable).exists():
        return "outrank package not found: install it in its own environment and pass --outrank PATH_TO_ITS_CLI"
    data_folder = workdir / "outrank_data"
    data_folder.mkdir(exist_ok=True)
    os.link(csv_path, data_folder / "data.csv") if not (data_folder / "data.csv").exists() else None
    output = workdir / "outrank_output"
    shutil.rmtree(output, ignore_errors=True)  # each round writes afresh
    command = [
        executable, "--task", "ranking", "--data_source", "csv-raw", "--data_path", str(data_folder),
        "--label_column", TARGET, "--heuristic", "MI-numba-randomized", "--target_ranking_only", "True",
        "--subsampling", "1", "--num_threads", str(workers), "--output_folder", str(output),
        "--include_noise_baseline_features", "False", "--include_cardinality_in_feature_names", "False",
        "--disable_tqdm", "True",
    ]  # fmt: skip
    start = time.perf_counter()
    try:
        completed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"outrank package failed: {error}"
    elapsed = time.perf_counter() - start
    ranks_path = output / "pairwise_ranks.tsv"
    if completed.returncode != 0 or not ranks_path.exists():
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"outrank package failed (exit {completed.returncode}): {tail[0][:200]}"
    import pandas as pd

    ranks = pd.read_csv(ranks_path, sep="\t")
    ranks = ranks[(ranks["FeatureA"] == TARGET) ^ (ranks["FeatureB"] == TARGET)]
    ranks = ranks.assign(feature=np.where(ranks["FeatureA"] == TARGET, ranks["FeatureB"], ranks["FeatureA"]))
    ranked = ranks.sort_values("Score", ascending=False, kind="stable")["feature"].drop_duplicates().tolist()
    return elapsed, [name.split("-(")[0] for name in ranked]


MEMORY_SCRIPT = """
import json, resource, sys, time
from automl.ranking import rank_file
start = time.perf_counter()
ranking = rank_file(sys.argv[1], sys.argv[2], ranker="outrank", categorical=True, workers=int(sys.argv[3]))
elapsed = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_rss_mib": peak_kib / 1024, "ranked": ranking.features}))
"""


def measure_memory(rows: int, seed: int, workers: int) -> dict[str, object]:
    """Peak RSS of ranking a ``rows``-row CSV in a fresh process (the parent's memory is not counted)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "large.csv"
        start = time.perf_counter()
        write_csv(path, rows, seed)
        generation_seconds = time.perf_counter() - start
        size_mib = path.stat().st_size / 2**20
        environment = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        completed = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(path), TARGET, str(workers)],
            capture_output=True, text=True, env=environment, check=True,
        )  # fmt: skip
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
    return {
        "method": "ours outrank, CSV streamed (--memory)",
        "rows": rows,
        "csv_mib": round(size_mib, 1),
        "generation_seconds": round(generation_seconds, 1),
        "seconds": round(measured["seconds"], 3),
        "peak_rss_mib": round(measured["peak_rss_mib"], 1),
        "recall_at_3": recall_at_3(measured["ranked"]),
        "top_3": measured["ranked"][:3],
    }


def package_version(executable: str | None) -> str | None:
    """The outrank package's version, asked of the interpreter that runs its CLI."""
    if executable is None or not Path(executable).exists():
        return None
    interpreter = Path(executable).parent / "python"
    script = "import importlib.metadata as metadata; print(metadata.version('outrank'))"
    completed = subprocess.run([str(interpreter), "-c", script], capture_output=True, text=True)
    return completed.stdout.strip() or None if completed.returncode == 0 else None


def ours_cli(csv_path: Path, workdir: Path, workers: int) -> tuple[float, list[str]] | str:
    """Time ``automl rank`` on the CSV in a fresh process, as the package's CLI is timed."""
    executable = Path(sys.executable).parent / "automl"
    output = workdir / "ours_ranking.json"
    command = [
        str(executable), "rank", str(csv_path), "--target", TARGET, "--ranker", "outrank", "--all-categorical",
        "--workers", str(workers), "--output", str(output),
    ]  # fmt: skip
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"automl rank failed (exit {completed.returncode}): {completed.stderr.strip()[-300:]}")
    return elapsed, [row["feature"] for row in json.loads(output.read_text())["features"]]


def summarise(
    method: str, seconds: list[float], reference: list[float], ranked: list[str], timing: str
) -> dict[str, object]:
    """One table row: the median time, the median of the per-round ratios to ours and their spread."""
    ratios = [value / base for value, base in zip(seconds, reference, strict=True)]
    return {
        "method": method,
        "timing": timing,
        "rounds": len(seconds),
        "seconds": round(median(seconds), 3),
        "ratio_to_ours": round(median(ratios), 2),
        "ratio_spread": [round(min(ratios), 2), round(max(ratios), 2)],
        "recall_at_3": round(recall_at_3(ranked), 3),
        "top_3": ranked[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the in-process methods")
    parser.add_argument("--cold-rounds", type=int, default=3, help="interleaved rounds of the two CLIs")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS on a 5,000,000-row CSV")
    parser.add_argument("--memory-rows", type=int, default=5_000_000)
    parser.add_argument(
        "--outrank", default=shutil.which("outrank"), help="the outrank package's CLI (default: the one on PATH)"
    )
    parser.add_argument("--skip-package", action="store_true", help="do not run the outrank PyPI package")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 2 rounds and 1 cold round: a smoke run")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.rows = min(arguments.rows, 20_000)
        arguments.rounds, arguments.cold_rounds = min(arguments.rounds, 2), min(arguments.cold_rounds, 1)

    from sklearn.feature_selection import mutual_info_classif
    from sklearn.metrics import adjusted_mutual_info_score

    data = generate_chunk(arguments.rows, arguments.rows, 0, arguments.seed)
    names = [name for name in data if name != TARGET]
    matrix = np.column_stack([data[name] for name in names])
    target = data[TARGET]
    results: list[dict[str, object]] = []
    notes: list[str] = []
    rankings: dict[str, list[str]] = {}

    def ranked_by(method: str, function: Callable[[], list[str]]) -> Callable[[], None]:
        def run() -> None:
            rankings[method] = function()

        return run

    def ours(ranker: str) -> Callable[[], list[str]]:
        return lambda: (
            rank_frame(
                data, TARGET, ranker=ranker, categorical=True, seed=arguments.seed, workers=arguments.workers
            ).features
        )

    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        csv_path = workdir / "data.csv"
        write_csv(csv_path, arguments.rows, arguments.seed, chunk_rows=arguments.rows)
        # Warm, in one process: every method is called once before timing (imports, thread pools,
        # caches), then the rounds run them back to back, the order reversed every other round.
        warm = {
            "ours mi": ours("mi"),
            "ours outrank": ours("outrank"),
            "ours 3mr": ours("3mr"),
            "ours outrank, from the CSV": lambda: (
                rank_file(csv_path, TARGET, categorical=True, seed=arguments.seed, workers=arguments.workers).features
            ),
            "sklearn mutual_info_classif(discrete)": lambda: order_by(
                mutual_info_classif(matrix, target, discrete_features=True, random_state=0), names
            ),
            "sklearn adjusted_mutual_info_score": lambda: order_by(
                np.array([adjusted_mutual_info_score(target, column) for column in matrix.T]), names
            ),
        }
        contenders = {method: ranked_by(method, function) for method, function in warm.items()}
        for run in contenders.values():
            run()
        seconds = interleaved(contenders, arguments.rounds)
        for method in warm:
            results.append(summarise(method, seconds[method], seconds["ours outrank"], rankings[method], "warm"))

        # Cold, each call a fresh process from the same CSV (interpreter start, imports and the package's
        # numba compilation counted for both), the two CLIs alternating.
        if arguments.skip_package:
            notes.append("outrank package: skipped (--skip-package)")
        elif isinstance(probe := run_outrank_package(csv_path, workdir, arguments.workers, arguments.outrank), str):
            notes.append(probe)
        else:
            cold_seconds: dict[str, list[float]] = {"ours": [], "package": []}
            for round_index in range(arguments.cold_rounds):
                order = ("package", "ours") if round_index % 2 else ("ours", "package")
                for contender in order:
                    outcome = (
                        ours_cli(csv_path, workdir, arguments.workers)
                        if contender == "ours"
                        else run_outrank_package(csv_path, workdir, arguments.workers, arguments.outrank)
                    )
                    if isinstance(outcome, str):
                        raise RuntimeError(outcome)
                    cold_seconds[contender].append(outcome[0])
                    rankings[contender] = outcome[1]
            results.append(
                summarise(
                    "ours outrank, automl rank CLI on the CSV",
                    cold_seconds["ours"],
                    cold_seconds["ours"],
                    rankings["ours"],
                    "cold",
                )
            )
            results.append(
                summarise(
                    "outrank package (CLI, MI-numba-randomized) on the CSV",
                    cold_seconds["package"],
                    cold_seconds["ours"],
                    rankings["package"],
                    "cold",
                )
            )
            notes.append(f"outrank package: untimed first run (numba cache) took {probe[0]:.1f} s")
    memory = measure_memory(arguments.memory_rows, arguments.seed, arguments.workers) if arguments.memory else None

    print(f"{arguments.rows} rows x {len(names)} categorical features; informative: {', '.join(informative_names())}")
    print(
        "ratio = median over interleaved rounds of time / time of ours outrank in the same round "
        "(warm: in memory, one process; cold: each CLI in a fresh process on the same CSV)"
    )
    header = f"{'method':<56} {'timing':>6} {'seconds':>9} {'ratio':>8} {'spread':>13} {'recall@3':>9}  top 3"
    print(header)
    print("-" * len(header))
    for row in results:
        low, high = row["ratio_spread"]
        print(
            f"{row['method']:<56} {row['timing']:>6} {row['seconds']:>9.3f} {row['ratio_to_ours']:>8.2f} "
            f"{f'{low:.2f}-{high:.2f}':>13} {row['recall_at_3']:>9.2f}  {', '.join(row['top_3'])}"
        )
    if memory is not None:
        print(
            f"{memory['method']:<56} {'cold':>6} {memory['seconds']:>9.3f} {'':>8} {'':>13} "
            f"{memory['recall_at_3']:>9.2f}  peak RSS {memory['peak_rss_mib']:.0f} MiB on {memory['rows']} rows "
            f"({memory['csv_mib']:.0f} MiB CSV)"
        )
    for note in notes:
        print(f"note: {note}")

    document = {
        "rows": arguments.rows,
        "features": len(names),
        "informative": informative_names(),
        "workers": arguments.workers,
        "rounds": arguments.rounds,
        "cold_rounds": arguments.cold_rounds,
        "outrank_package_version": package_version(arguments.outrank),
        "results": results,
        "memory": memory,
        "notes": notes,
    }
    write_results("feature_ranking", document)  # with the machine and provenance; quick runs elsewhere


if __name__ == "__main__":
    main()
