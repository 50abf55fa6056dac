"""CLI start-up benchmark: ``automl --help``, ``automl rank --help``, ``automl strategies --help`` as whole processes.

Each command is run as a new process (``subprocess.run``, output discarded), in interleaved
rounds together with ``python -c pass`` of the same interpreter, so a slow phase of a noisy
machine hits all of them alike. The table gives the median wall seconds of each, its min and
max, and the median per-round ratio to ``python -c pass`` (the interpreter's own start-up:
what no command can go below). Goal (issue 10): each ``--help`` in <= 0.5 s.

A last run of each command under ``python -X importtime`` lists which heavy packages it
imported (torch, dask, pandas...: none should be, for ``--help``) and its import time.

Run: ``.venv/bin/python benchmarks/cli_startup.py [--quick] [--rounds R]``; results go to
``benchmarks/results/cli_startup.json``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved, median, median_ratio, spread, table, write_results

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 0.5
HEAVY = ("torch", "dask", "distributed", "numpy", "pandas", "pyarrow", "sklearn", "scipy", "ConfigSpace", "smac")
BASELINE = "python -c pass"


def automl_command() -> list[str]:
    """The installed ``automl`` script (what users run), or ``python -m automl.cli.main`` without one."""
    script = Path(sys.executable).parent / "automl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "automl.cli.main"]


def commands() -> dict[str, list[str]]:
    automl = automl_command()
    return {
        BASELINE: [sys.executable, "-c", "pass"],
        "automl --help": [*automl, "--help"],
        "automl rank --help": [*automl, "rank", "--help"],
        "automl strategies --help": [*automl, "strategies", "--help"],
    }


def environment() -> dict[str, str]:
    """The user's environment without PYTHONHASHSEED: the command must not depend on it (no re-exec)."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONHASHSEED"}


def run(command: list[str]) -> None:
    subprocess.run(command, cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)


def imports(command: list[str]) -> tuple[list[str], float]:
    """The heavy top-level packages a command imports, and its total import time in seconds (-X importtime)."""
    if Path(command[0]).name == "automl":  # the script's interpreter, with -X importtime
        command = [sys.executable, "-X", "importtime", command[0], *command[1:]]
    else:
        command = [command[0], "-X", "importtime", *command[1:]]
    result = subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True, text=True, check=True)
    modules, total = set(), 0
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if match is None:
            continue
        if not match.group(3):  # a top-level import: its cumulative time counts once
            total += int(match.group(2))
        modules.add(match.group(4).split(".")[0])
    return sorted(modules & set(HEAVY)), total / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 21")
    parser.add_argument("--rounds", type=int, help="interleaved rounds [21, or 5 with --quick]")
    arguments = parser.parse_args()
    rounds = arguments.rounds or (5 if arguments.quick else 21)
    contenders = commands()
    for command in contenders.values():  # warm-up: the page cache, .pyc files
        run(command)
    seconds = interleaved(
        {name: (lambda command=command: run(command)) for name, command in contenders.items()}, rounds
    )
    baseline = seconds[BASELINE]
    rows, measured = [], {}
    for name, values in seconds.items():
        low, high = spread(values)
        ratio = median_ratio(values, baseline)
        heavy, import_seconds = imports(contenders[name])
        within = name == BASELINE or median(values) <= GOAL_SECONDS
        measured[name] = {
            "command": contenders[name],
            "seconds": values,
            "median_seconds": median(values),
            "ratio_to_python": ratio,
            "import_seconds": import_seconds,
            "heavy_imports": heavy,
            "within_goal": within,
        }
        rows.append(
            [
                name,
                median(values),
                low,
                high,
                ratio,
                import_seconds,
                ", ".join(heavy) or "none",
                "-" if name == BASELINE else ("yes" if within else "NO"),
            ]
        )
    table(
        f"CLI start-up: whole processes, median of {rounds} interleaved rounds (goal: --help <= {GOAL_SECONDS} s)",
        ["command", "median s", "min s", "max s", "x python -c pass", "import s", "heavy imports", "<= 0.5 s"],
        rows,
    )
    write_results(
        "cli_startup",
        {
            "rounds": rounds,
            "goal_seconds": GOAL_SECONDS,
            "commands": measured,
        },
    )


if __name__ == "__main__":
    main()
