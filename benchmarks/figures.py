"""The figures the documentation quotes, written from the benchmark result files and nothing else.

A document marks a block with ``<!-- figures:NAME -->`` ... ``<!-- /figures:NAME -->``;
``python benchmarks/figures.py`` rewrites every such block in ``README.md``,
``docs/*.md`` and ``benchmarks/README.md`` from ``benchmarks/results/*.json``
with the renderer ``NAME`` below. ``tests/docs/test_figures.py`` fails when a
block differs from what its result file renders (a figure edited by hand, or a
result rerun without regenerating the docs) and when a result file is older than
the code it measures: every result records the hash of its measured files
(``MEASURED``), and the test compares it with the files as they are now.

    python benchmarks/figures.py            # rewrite the blocks
    python benchmarks/figures.py --check    # list what is stale (exit 1), change nothing
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MEASURED, ROOT, measured_hash

RESULTS = ROOT / "benchmarks" / "results"
DOCUMENTS = ("README.md", "docs/*.md", "benchmarks/README.md")
BLOCK = re.compile(r"(<!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.DOTALL)


# ------------------------------------------------------------------------------------------------ renderers
def _result(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _regret(summary: dict[str, Any], cost: str) -> str:
    entry = summary[cost]
    return f"{entry['mean_regret']:.4f} ± {entry['standard_error']:.4f}"


def multi_fidelity_part1() -> str:
    part = _result("multi_fidelity")["part1"]
    costs = [str(cost) for cost in part["settings"]["costs"]]
    lines = [
        f"Mean regret (± standard error) over {part['settings']['seeds']} seeds at a cost of "
        f"{', '.join(costs)} full trainings; {part['candidates']} candidates, best final accuracy "
        f"{part['best_accuracy']:.4f} (`benchmarks/results/multi_fidelity.json`, part 1):",
        "",
        f"| method | | {' | '.join(f'regret @{cost}' for cost in costs)} | trials per run |",
        f"|---|---|{'---|' * len(costs)}---|",
    ]
    for name, record in part["methods"].items():
        regrets = " | ".join(_regret(record["summary"], cost) for cost in costs)
        trials = record["trials"]
        per_run = sum(trials) / len(trials) if isinstance(trials, list) and trials else trials
        lines.append(f"| {name} | {record['kind']} | {regrets} | {per_run:.0f} |")
    lines += [
        "",
        "Our best multi-fidelity method at each cost against each Optuna peer, paired by seed "
        "(two-sided Wilcoxon signed-rank; mean difference ours − peer, below 0: ours better):",
        "",
    ]
    lines += ["| cost | ours | peer | mean difference | ours better / tie / worse | p |", "|---|---|---|---|---|---|"]
    for test in part["paired_tests"]:
        if test.get("ours_is_best"):
            lines.append(
                f"| {test['cost']} | {test['ours']} | {test['peer']} | {test['mean_difference']:+.4f} | "
                f"{test['ours_better']} / {test['ties']} / {test['peer_better']} | {test['p_value']:.3g} |"
            )
    goal = part["goal"]
    verdict = "met" if goal.get("met") else "not met"
    lines += ["", f"Goal ({goal['statement']}): **{verdict}**."]
    return "\n".join(lines)


def multi_fidelity_part2() -> str:
    result = _result("multi_fidelity_training")
    settings = result["settings"]
    lines = [
        f"`search_spaces/cnn.py` on digits, {settings['seconds']:g} s of search per method and seed on "
        f"{settings['workers']} Dask workers, full budget {settings['max_budget']} epochs, "
        f"{settings['seeds']} seeds (`benchmarks/results/multi_fidelity_training.json`; means over seeds):",
        "",
        "| method | best validation accuracy (full budget) | its validation loss | test accuracy (incumbent) "
        "| candidates trained | at the full budget | epochs trained |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, summary in result["summary"].items():
        lines.append(
            f"| {name} | {summary['mean_best_validation_accuracy']:.4f} | {summary['mean_best_validation_loss']:.4f} "
            f"| {summary['mean_test_accuracy']:.4f} | {summary['mean_candidates']:.1f} "
            f"| {summary['mean_full_budget_candidates']:.1f} | {summary['mean_epochs']:.0f} |"
        )
    return "\n".join(lines)


def strategies() -> str:
    result = _result("strategies")
    checkpoints = [str(point) for point in result["checkpoints"]]
    tested = checkpoints[1:]
    lines = [
        f"Mean regret (± standard error) after {', '.join(checkpoints)} trials, {result['seeds']} seeds per "
        "strategy and table; p: two-sided Wilcoxon signed-rank test against Optuna's TPE (its defaults, same "
        "space and budget), paired by seed, with ▼ where ours is lower and ▲ where it is higher "
        "(`benchmarks/results/strategies.json`):",
    ]
    for table_name, table_result in result["tables"].items():
        lines += [
            "",
            f"**{table_name}** ({table_result['entries']:,} entries, best {table_result['best_score']:.4f}, "
            f"median {table_result['median_score']:.4f}): {table_result['description']}",
            "",
            f"| strategy | {' | '.join(f'regret @{point}' for point in checkpoints)} | "
            f"{' | '.join(f'p vs TPE @{point}' for point in tested)} |",
            f"|---|{'---|' * (len(checkpoints) + len(tested))}",
        ]
        for name, summary in table_result["summary"].items():
            regrets = " | ".join(_regret(summary, point) for point in checkpoints)
            cells = []
            for point in tested:
                test = summary[point].get("vs_tpe_optuna")
                if test is None:
                    cells.append("-")
                else:
                    arrow = "▼" if test["mean_difference"] < 0 else ("▲" if test["mean_difference"] > 0 else "")
                    cells.append(f"{test['p']:.3g} {arrow}".strip())
            lines.append(f"| {name} | {regrets} | {' | '.join(cells)} |")
    lines.append("")
    for entry in result["goals"].values():
        verdict = "met" if entry["met"] else "not met"
        lower = ", ".join(entry["significantly_lower_on"]) or "none"
        lines.append(f"- Goal for `{entry['strategy']}` ({entry['statement']}): **{verdict}** (lower on: {lower}).")
    return "\n".join(lines)


def overhead() -> str:
    result = _result("overhead")
    points = ("100", "1000", "10000")
    lines = [
        "Per-trial time as the study grows, trivial objective (`benchmarks/results/overhead.json`): mean ms over "
        "trials [n/2, n), the ratio last / first of those means, and at the last n the strategy's own time "
        "(a bare ask/tell loop) against the engine's:",
        "",
        "| strategy | @100 ms | @1,000 ms | @10,000 ms | last / first | strategy alone / engine at the last n (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for name, growth in result["growth"].items():
        cells = [f"{growth['points'][point]['mean_ms']:.3f}" if point in growth["points"] else "—" for point in points]
        last = max(growth["points"], key=int)
        alone = growth["bare_mean_ms"][last]
        lines.append(
            f"| {name} | {' | '.join(cells)} | {growth['ratio_last_over_first_mean']:.2f} | "
            f"{alone:.3f} / {growth['engine_ms_at_last']:.3f} |"
        )
    lines += ["", f"Against Optuna ({result['trials']} trials × {result['rounds']} interleaved rounds):", ""]
    lines += ["| peer | phase | ours ms / trial | peer ms / trial | ours / peer (median) | min..max |"]
    lines += ["|---|---|---|---|---|---|"]
    for key, entry in result["summary"].items():
        peer, _, phase = key.rpartition(" ")
        if peer == "optuna":  # the run names Optuna's own defaults so
            peer = "optuna (SQLite defaults: rollback journal, synchronous=FULL; ours stays WAL + NORMAL)"
        low, high = entry["ratio_min_max"]
        lines.append(
            f"| {peer} | {phase} | {1000 * entry['ours_seconds_per_trial']:.3f} | "
            f"{1000 * entry['peer_seconds_per_trial']:.2f} | {entry['ratio_ours_over_peer']:.3f} | "
            f"{low:.3f}..{high:.3f} |"
        )
    tpe = result.get("tpe")
    if tpe is not None:
        low, high = tpe["ratio_min_max"]
        lines += [
            "",
            f"tpe against Optuna's TPESampler ({tpe['trials']:,} trials × {tpe['rounds']} interleaved rounds, "
            f"both on SQLite with WAL + NORMAL, loop ms per trial): ours {tpe['ours_ms_per_trial']:.2f}, "
            f"Optuna {tpe['optuna_ms_per_trial']:.2f}, ours / Optuna **{tpe['ratio_ours_over_optuna']:.3f}** "
            f"(rounds {low:.3f}..{high:.3f}).",
        ]
    return "\n".join(lines)


def scaling() -> str:
    result = _result("scaling")
    throughput, dispatch, memory = result["throughput"], result["overhead"], result["driver_memory"]
    runs = throughput["runs"]
    first, last = sorted(memory["rss_bytes"], key=int)
    rows = [
        (
            f"CPU-bound trials per minute ({throughput['trials']} trials): in-process / Dask 1 worker / 2 workers",
            " / ".join(f"{runs[name]['trials_per_minute']:.0f}" for name in runs),
        ),
        ("speed-up 2 workers / 1 worker", f"**{throughput['speedup_2_over_1']:.2f}**"),
        ("machine ceiling: 2 plain processes running the loop / 1", f"{throughput['machine_ceiling_2_processes']:.2f}"),
        (
            f"dispatch per trivial trial ({dispatch['trials']} trials): in-process / Dask 1 worker",
            " / ".join(f"{run['ms_per_trial']:.1f} ms" for run in dispatch["runs"].values()),
        ),
        (
            f"driver RSS after trial {first} / {last} (2 workers, scheduler in the driver)",
            f"{memory['rss_bytes'][first] / 2**20:.0f} MiB / {memory['rss_bytes'][last] / 2**20:.0f} MiB "
            f"(~{memory['growth_bytes_per_trial'] / 1024:.0f} KiB per trial)",
        ),
    ]
    quick = " (`--quick`)" if result.get("quick") else ""
    lines = [f"`benchmarks/results/scaling.json`{quick}:", "", "| measurement | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def cli_startup() -> str:
    result = _result("cli_startup")
    lines = [
        f"`benchmarks/results/cli_startup.json`, {result['rounds']} interleaved rounds (goal: each `--help` "
        f"within {float(result['goal_seconds']):g} s):",
        "",
        "| command | median s | ratio to `python -c pass` | heavy imports |",
        "|---|---|---|---|",
    ]
    for name, entry in result["commands"].items():
        ratio = entry.get("ratio_to_python")
        heavy = entry.get("heavy_imports")
        lines.append(
            f"| `{name}` | {entry['median_seconds']:.3f} | {'-' if ratio is None else f'{ratio:.1f}x'} | "
            f"{'-' if heavy is None else ', '.join(heavy) or 'none'} |"
        )
    return "\n".join(lines)


def darts_pt() -> str:
    result = _result("darts_pt")
    lines = [
        "| seed | supernet val acc | supernet train s | magnitude (DARTS) test acc | PT test acc | PT selection s |",
        "|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        lines.append(
            f"| {run['seed']} | {run['supernet_validation_accuracy']:.3f} | {run['supernet_training_seconds']:.1f} | "
            f"{run['magnitude']['test']:.3f} | {run['perturbation']['test']:.3f} | "
            f"{run['perturbation']['selection_seconds']:.1f} |"
        )
    summary, throughput = result["summary"], result["throughput"]
    lines.append(
        f"| mean | {summary['supernet_validation_accuracy']:.3f} | {summary['supernet_training_seconds']:.1f} | "
        f"**{summary['magnitude_test_accuracy']:.3f} ± {summary['magnitude_test_accuracy_stdev']:.3f}** | "
        f"**{summary['perturbation_test_accuracy']:.3f} ± {summary['perturbation_test_accuracy_stdev']:.3f}** | "
        f"{summary['perturbation_selection_seconds']:.1f} |"
    )
    lines += [
        "",
        f"PT better on {summary['perturbation_wins']} seeds, magnitude on {summary['magnitude_wins']}. A supernet "
        f"train step ({throughput['parameters']:,} parameters) takes {throughput['supernet_step_seconds']:.3f} s "
        f"against {throughput['hand_step_seconds']:.3f} s for the same network written by hand with DARTS' "
        f"`MixedOp` (median of {throughput['rounds']} interleaved rounds): ratio hand / supernet "
        f"**{throughput['ratio_hand_over_supernet']:.2f}** (goal >= 0.9). "
        "Results in `benchmarks/results/darts_pt.json`.",
    ]
    return "\n".join(lines)


def _load(machine: dict[str, Any]) -> str:
    load = machine.get("load_average")
    return "" if not load else f", load average {load[1]:.1f} over the 5 minutes before the result was written"


def feature_ranking() -> str:
    result = _result("feature_ranking")
    machine = result["machine"]
    lines = [
        f"`benchmarks/feature_ranking.py` ({result['rows']:,} rows × {result['features']} categorical features: "
        f"{len(result['informative'])} informative among {result['features'] - len(result['informative'])} noise "
        f"features of 2 to {result['rows']:,} values; {result['workers']} workers; {machine['cpus']} cores, "
        f"{machine['cpu']}{_load(machine)}). Warm: in one process, each method called once before timing, "
        f"{result['rounds']} interleaved rounds; cold: each command a fresh process on the same CSV, "
        f"{result['cold_rounds']} alternating rounds. Time / ours is the median of the per-round ratios "
        "to our `outrank` of the same kind, with its spread:",
        "",
        "| method | timing | seconds (median) | time / ours | spread | recall of informative in top 3 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in result["results"]:
        low, high = row["ratio_spread"]
        if row["method"].startswith("outrank package") and result.get("outrank_package_version"):
            row = {**row, "method": f"{row['method']}, version {result['outrank_package_version']}"}
        lines.append(
            f"| {row['method']} | {row['timing']} | {row['seconds']:.3g} | {row['ratio_to_ours']:.3g} | "
            f"{low:.3g}–{high:.3g} | {row['recall_at_3']:.2f} |"
        )
    memory = result.get("memory")
    if memory:
        lines.append(
            f"| {memory['method']}, {memory['rows']:,} rows ({memory['csv_mib']:.0f} MiB CSV) | cold | "
            f"{memory['seconds']:.3g} | — | — | {memory['recall_at_3']:.2f}, "
            f"peak RSS {memory['peak_rss_mib']:.0f} MiB |"
        )
    lines += [f"\nNote: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def multi_objective() -> str:
    result = _result("multi_objective")
    points = [str(point) for point in result["checkpoints"]]
    lines = [
        f"Hypervolume as a share of the table's own front (mean ± standard error over {result['seeds']} seeds, "
        f"{result['trials']} trials; p: two-sided Wilcoxon against Optuna's NSGA-II, paired by seed, + when ours "
        "is higher; `benchmarks/results/multi_objective.json`):",
        "",
    ]
    for table_name, table in result["tables"].items():
        for label in ("free", "constrained"):
            summary = table[label]
            title = f"**{table_name}**, accuracy against {table['cost']}"
            if label == "constrained":
                title += f", under {table['constraint']}"
            extra = " | infeasible trials" if label == "constrained" else ""
            lines += [
                f"{title}:",
                "",
                f"| strategy | {' | '.join(f'@{point}' for point in points)}{extra} |",
                f"|---|{'---|' * len(points)}{'---|' if extra else ''}",
            ]
            for name, entry in summary.items():
                cells = []
                for point in points:
                    row = entry[point]
                    test = row.get("vs_nsga2_optuna")
                    mark = "" if test is None else f" (p {test['p']:.2g}{'+' if test['mean_difference'] > 0 else '-'})"
                    cells.append(f"{row['mean']:.3f} ± {row['standard_error']:.3f}{mark}")
                if extra:
                    share = entry["infeasible_share"]
                    cells.append(f"{share['mean']:.1%} ± {share['standard_error']:.1%}")
                lines.append(f"| {name} | {' | '.join(cells)} |")
            lines.append("")
    cost = result["measurement_cost"]
    lines.append(
        f"Measuring latency (batch 1 and the training batch) takes a median {cost['median_share']:.1%} "
        f"(at most {cost['max_share']:.1%}) of the wall-clock of a {cost['space']} trial of {cost['epochs']} "
        f"epochs on {cost['data']}, over {len(cost['candidates'])} random candidates."
    )
    return "\n".join(lines)


def ensemble() -> str:
    result = _result("ensemble")
    first = result["data_sets"][0]
    lines = [
        f"Measured (`python benchmarks/ensemble.py`, which wrote `benchmarks/results/ensemble.json`: one "
        f"{result['strategy']} search of `{result['space']}` per data set, {first['trials']} trials of "
        f"{first['epochs']} epochs, seed {result['seed']}; test accuracy with its 95% bootstrap interval, McNemar's "
        "test against the best single candidate on the same test rows):",
        "",
        "| data (validation / test rows) | model | validation acc | test acc | 95% interval | McNemar p "
        "| weights (trial: weight) |",
        "|---|---|---|---|---|---|---|",
    ]
    for data_set in result["data_sets"]:
        for index, model in enumerate(data_set["models"]):
            rows = f"{data_set['validation_rows']} / {data_set['test_rows']}"
            label = f"{data_set['data']} ({rows})" if index == 0 else ""
            low, high = model["test_interval"]
            p_value = model.get("mcnemar_p_vs_best_single")
            weights = ", ".join(f"{trial}: {weight:.2g}" for trial, weight in model["weights"].items())
            lines.append(
                f"| {label} | {model['model']} | {model['validation_accuracy']:.4f} | {model['test_accuracy']:.4f} "
                f"| [{low:.4f}, {high:.4f}] | {'-' if p_value is None else f'{p_value:.3g}'} | {weights} |"
            )
    return "\n".join(lines)


def data_loading() -> str:
    result = _result("data_loading")
    speed, memory, folder = result["throughput"], result["peak_memory"], result["folder"]
    quick = " (`--quick`)" if result.get("quick") else ""
    lines = [
        f"`benchmarks/results/data_loading.json`{quick}: one epoch over {folder['images']} MNIST digits written as "
        f"28x28 PNGs ({folder['classes']} class folders), batches of {speed['batch_size']}, "
        f"{speed['rounds']} interleaved rounds, {speed['dataloader_workers']} CPUs:",
        "",
        "| loader | images/s | automl's speed over it |",
        "|---|---|---|",
    ]
    for name, entry in speed["contenders"].items():
        ratio = entry["automl_speed_ratio"]
        lines.append(f"| {name} | {entry['images_per_second']:,.0f} | {'-' if ratio is None else f'{ratio:.2f}x'} |")
    lines.append("")
    if speed.get("torchvision_skipped"):
        lines.append(f"torchvision was not measured: {speed['torchvision_skipped']}.")
    else:
        met = "met" if speed["ratio_to_torchvision"] >= speed["goal"] else "not met"
        lines.append(
            f"automl over the faster torchvision loop: **{speed['ratio_to_torchvision']:.2f}x** "
            f"(goal {speed['goal']:g}x: {met})."
        )
    refused = memory["automl-refused"]
    lines += [
        "",
        "| peak resident memory gained (a fresh process each) | MiB |",
        "|---|---|",
        f"| automl `load_image_folder` (its float32 array: {memory['automl']['array_bytes'] / 2**20:.1f} MiB) | "
        f"{memory['automl']['peak_gain_bytes'] / 2**20:.1f} |",
        f"| PIL + DataLoader epoch, 0 workers | {memory['dataloader']['peak_gain_bytes'] / 2**20:.1f} |",
        f"| automl with `max_bytes` half the array ({'refused' if refused['refused'] else 'not refused'}) | "
        f"{refused['peak_gain_bytes'] / 2**20:.1f} |",
    ]
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[], str]] = {
    "data-loading": data_loading,
    "ensemble": ensemble,
    "multi-objective": multi_objective,
    "feature-ranking": feature_ranking,
    "darts-pt": darts_pt,
    "cli-startup": cli_startup,
    "scaling": scaling,
    "overhead": overhead,
    "strategies": strategies,
    "multi-fidelity-part1": multi_fidelity_part1,
    "multi-fidelity-part2": multi_fidelity_part2,
}


# --------------------------------------------------------------------------------------------------- blocks
def documents() -> list[Path]:
    found: list[Path] = []
    for pattern in DOCUMENTS:
        found.extend(sorted(ROOT.glob(pattern)))
    return found


def rewritten(text: str) -> tuple[str, list[str]]:
    """The text with every block rendered again, and what could not be rendered (unknown block, old result)."""
    unknown: list[str] = []

    def render(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in RENDERERS:
            unknown.append(f"no renderer for the block figures:{name}")
            return match[0]
        try:
            return f"{match[1]}{RENDERERS[name]()}\n{match[4]}"
        except (OSError, KeyError, TypeError, ValueError) as error:
            unknown.append(f"the block figures:{name} cannot be rendered ({type(error).__name__}: {error}); "
                           "rerun its benchmark")  # fmt: skip
            return match[0]

    return BLOCK.sub(render, text), unknown


def problems() -> list[str]:
    """What is stale: blocks that differ from their rendering, unknown blocks, results older than their code."""
    found: list[str] = []
    for path in documents():
        text = path.read_text()
        fresh, unknown = rewritten(text)
        where = path.relative_to(ROOT)
        found.extend(f"{where}: {problem}" for problem in unknown)
        if fresh != text:
            found.append(f"{where}: figures differ from the result files (run python benchmarks/figures.py)")
    for name, paths in MEASURED.items():
        result_path = RESULTS / f"{name}.json"
        if not result_path.exists():
            found.append(f"benchmarks/results/{name}.json is missing")
            continue
        stored = json.loads(result_path.read_text()).get("measured") or {}
        if stored.get("sha256") != measured_hash(paths):
            found.append(
                f"benchmarks/results/{name}.json is older than the code it measures ({', '.join(paths[:3])}...); "
                f"run its benchmark again"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report what is stale; change nothing")
    arguments = parser.parse_args(argv)
    if arguments.check:
        found = problems()
        for problem in found:
            print(problem)
        return 1 if found else 0
    failed = False
    for path in documents():
        text = path.read_text()
        fresh, unrendered = rewritten(text)
        for problem in unrendered:
            print(f"{path.relative_to(ROOT)}: {problem}")
            failed = True
        if fresh != text:
            path.write_text(fresh)
            print(f"rewrote the figures in {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
