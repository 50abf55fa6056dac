"""``python -m benchmarks.tables build NAME [--workers N]``, ``... costs NAME`` and ``... describe``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.tables import TABLE_NAMES, load_table  # noqa: E402
from benchmarks.tables.lookup import build  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tables", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="train every entry of a table (resumable)")
    build_parser.add_argument("name", choices=TABLE_NAMES)
    build_parser.add_argument("--workers", type=int, default=2)
    costs_parser = commands.add_parser("costs", help="measure every entry's parameters, FLOPs (and latency)")
    costs_parser.add_argument("name", choices=("digits_tree", "flat_cell"))
    commands.add_parser("describe", help="size, best and median score of each table")
    arguments = parser.parse_args(argv)
    if arguments.command == "build":
        build(load_table(arguments.name), arguments.workers)
        return
    if arguments.command == "costs":
        from benchmarks.tables.costs import build_costs

        print(f"wrote {build_costs(load_table(arguments.name))}")
        return
    import numpy as np

    for name in TABLE_NAMES:
        table = load_table(name)
        if not table.path.exists():
            print(f"{name}: not built")
            continue
        values = np.array(list(table.scores.values()))
        print(
            f"{name}: {len(values)} entries, best {values.max():.4f}, median {np.median(values):.4f}, "
            f"entries within 0.005 of the best: {int((values >= values.max() - 0.005).sum())}"
        )


if __name__ == "__main__":
    main()
