"""``automl rank``: rank the features of a CSV/Parquet file against a target column.

Cardinality-aware by default (OutRank, Škrlj & Mramor, 2023), so high-cardinality ids do
not crowd out informative features.

Only click is imported with this module (``automl --help`` and ``automl rank
--help`` must start fast); numpy, pandas, pyarrow and rich come when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

# The names of ``automl.ranking.builtin_rankers()``, written out so that the help needs no
# import of the ranking code (numpy, pandas, pyarrow); tests/ranking/test_ranking_cli.py
# checks that they agree.
RANKER_NAMES = ("3mr", "mi", "outrank")


@click.command("rank")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--target", "-t", required=True, help="Target column to rank the features against.")
@click.option(
    "--ranker",
    "-r",
    default="outrank",
    show_default=True,
    help=f"Ranking method: {', '.join(RANKER_NAMES)}.",
)
@click.option("--top", "-k", type=int, default=None, help="Show and write only the K best features.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the ranking to this file; .csv or .json by its extension.",
)
@click.option("--sample-rows", type=int, default=None, help="Rank on a uniform random sample of N rows.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise permutations and sampling.")
@click.option("--workers", type=int, default=2, show_default=True, help="Threads for encoding and counting.")
@click.option(
    "--categorical",
    "categorical",
    multiple=True,
    help="Treat this numeric column as categorical instead of binning it (repeatable).",
)
@click.option("--all-categorical", is_flag=True, help="Treat every column as categorical (no binning).")
def rank_command(
    path: Path,
    target: str,
    ranker: str,
    top: int | None,
    output: Path | None,
    sample_rows: int | None,
    seed: int,
    workers: int,
    categorical: tuple[str, ...],
    all_categorical: bool,
) -> None:
    """Rank the feature columns of PATH (.csv, .tsv, .parquet) by their relation to --target."""
    from rich.console import Console
    from rich.table import Table

    from automl.ranking import RankingInputError, rank_file

    try:
        if output is not None and output.suffix.lower() not in (".csv", ".json"):
            raise RankingInputError(f"unsupported output file '{output}'; use a .csv or .json extension")
        ranking = rank_file(
            path,
            target,
            ranker=ranker,
            top=top,
            sample_rows=sample_rows,
            seed=seed,
            workers=workers,
            categorical=True if all_categorical else categorical,
        )
    except RankingInputError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    table = Table(title=f"Feature ranking ({ranking.ranker}) of {path.name} against '{target}'")
    table.add_column("feature")
    table.add_column("score", justify="right")
    table.add_column("cardinality", justify="right")
    table.add_column("rank", justify="right")
    for row in ranking:
        table.add_row(row.feature, f"{row.score:.6f}", str(row.cardinality), str(row.rank))
    Console().print(table)
    if output is not None:
        if output.suffix.lower() == ".json":
            ranking.to_json(output)
        else:
            ranking.to_csv(output)
        click.echo(f"wrote {output}")
