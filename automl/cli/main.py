"""The ``automl`` command: search, strategies, show, compare, plot, report, export, rank, evaluate.

A user's mistake (a bad space file, an unknown strategy, a missing column, a
file that is not a study) ends with one line on stderr and exit status 2, never
a traceback.

Start-up: this module imports only click and the standard library; each command
imports what it needs (torch, pandas, dask, rich) when it runs, so ``automl
--help`` and ``automl rank --help`` do not pay for the engine
(``benchmarks/cli_startup.py``; ``tests/engine/test_cli.py`` checks that no
heavy module is imported).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from automl.cli.errors import UsageProblem, is_user_error, one_line
from automl.cli.evaluate_command import evaluate_command


class AutomlGroup(click.Group):
    """Turns user errors into one line and exit status 2.

    The error classes are checked lazily (``automl.cli.errors.is_user_error``):
    importing them all up front would import the whole engine for ``--help``.
    """

    def invoke(self, context: click.Context) -> Any:
        try:
            return super().invoke(context)
        except click.UsageError as error:  # a bad flag or value: one line too, not click's usage block
            click.echo(f"error: {error.format_message()} (see automl {_command_of(context)}--help)", err=True)
            sys.exit(2)
        except Exception as error:
            if not is_user_error(error):
                raise
            click.echo(f"error: {one_line(error)}", err=True)
            sys.exit(2)


def _command_of(context: click.Context) -> str:
    name = context.invoked_subcommand or (context.protected_args[0] if context.protected_args else "")
    return f"{name} " if name else ""


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise UsageProblem(f"--strategy-option takes KEY=VALUE, got {pair!r}")
        options[key.strip()] = _parse_value(value.strip())
    return options


def _parse_value(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_config(context: click.Context, config: Path | None) -> dict[str, Any]:
    """Values from a TOML file for the options not given on the command line."""
    if config is None:
        return {}
    import tomllib

    try:
        data = tomllib.loads(config.read_text())
    except FileNotFoundError:
        raise UsageProblem(f"config file {config} not found") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageProblem(f"config file {config} is not valid TOML: {error}") from None
    data = data.get("search", data)
    parameters = {parameter.name: parameter for parameter in context.command.params}
    values = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name == "strategy_options" and isinstance(value, dict):
            values[name] = value
            continue
        if name not in parameters:
            raise UsageProblem(f"config file {config}: unknown option {key!r}")
        source = context.get_parameter_source(name)
        if source in (click.core.ParameterSource.DEFAULT, None):
            try:
                values[name] = parameters[name].type_cast_value(context, value)
            except click.BadParameter as error:
                raise UsageProblem(f"config file {config}: {key} = {value!r}: {error.message}") from None
    return values


@click.group(cls=AutomlGroup)
@click.version_option(package_name="automl")
def cli() -> None:
    """automl: search neural architectures and hyperparameters together."""


@cli.command("search")
@click.argument("space", required=False)
@click.option("--data", "-d", help="Built-in data set (see `automl datasets`) or a CSV/Parquet/NPZ file.")
@click.option("--target", "-t", help="Target column of a CSV/Parquet file.")
@click.option("--strategy", "-s", default="tpe", show_default=True, help="Search strategy (see `automl strategies`).")
@click.option("--trials", "-n", type=int, default=20, show_default=True, help="Trials to finish.")
@click.option("--time-budget", type=float, help="Wall-clock seconds for the whole search.")
@click.option(
    "--epochs", type=int, default=20, show_default=True, help="Epochs per trial (early stopping may end sooner)."
)
@click.option("--trial-seconds", type=float, help="Per-trial time limit; a trial past it fails.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--learning-rate", type=float, default=1e-3, show_default=True)
@click.option("--max-parameters", type=int, help="Fail candidates with more parameters than this.")
@click.option(
    "--constraint",
    "constraints",
    multiple=True,
    help="A bound on a measured cost, checked before training, e.g. params<=100k, latency_ms<2 (repeatable; "
    "costs: params, flops, latency_ms, latency_batch_ms, memory_mb).",
)
@click.option(
    "--objective",
    "objectives",
    multiple=True,
    help="NAME:max or NAME:min, repeated for a multi-objective search, e.g. accuracy:max and latency_ms:min "
    "(the score, validation_loss, seconds, a measured cost, or a key of a user objective's result).",
)
@click.option(
    "--max-infeasible",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Stop after this many infeasible candidates in a row.",
)
@click.option("--rank-features", help="Rank features first (outrank, mi, 3mr) and train on the best ones.")
@click.option("--keep", type=int, help="Train every candidate on the K best-ranked features.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--study", type=click.Path(path_type=Path), help="SQLite file of the study [runs/<space>-<strategy>.db].")
@click.option("--resume", is_flag=True, help="Continue the study where it stopped.")
@click.option("--fresh", is_flag=True, help="Delete an existing study file first.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Trials run at once, on a local Dask cluster of this many processes (1: in this process).",
)
@click.option("--scheduler", help="Run trials on an existing Dask cluster: tcp://HOST:PORT of its scheduler.")
@click.option("--trial-memory", help="Per-trial memory limit (e.g. 2GiB); a trial past it fails. Runs trials on Dask.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Runs again of a trial whose worker died or that was in flight when the search was killed.",
)
@click.option(
    "--threads-per-worker",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Torch threads of each trial on Dask workers.",
)
@click.option(
    "--multi-fidelity",
    type=click.Choice(["successive-halving", "hyperband", "asha"]),
    help="Train candidates at growing budgets and promote the best (wraps --strategy; smbo uses SMAC's own).",
)
@click.option(
    "--fidelity",
    type=click.Choice(["epochs", "rows"]),
    help="What a budget measures [epochs]; rows: a share of the training rows.",
)
@click.option("--min-budget", type=float, help="Lowest budget [1 epoch; 1/eta^2 of the rows].")
@click.option("--max-budget", type=float, help="The full budget [--epochs; all rows]; with epochs it sets --epochs.")
@click.option("--eta", type=int, default=3, show_default=True, help="Factor between rungs; the top 1/eta go on.")
@click.option(
    "--prune",
    type=click.Choice(["median", "percentile"]),
    help="Stop a trial whose curve falls below the median (or --prune-percentile) of earlier trials at that epoch.",
)
@click.option("--prune-percentile", type=float, default=50.0, show_default=True)
@click.option("--prune-warmup", type=int, default=1, show_default=True, help="No trial is pruned before this epoch.")
@click.option(
    "--prune-min-trials",
    type=int,
    default=5,
    show_default=True,
    help="Nor before this many completed trials reached that epoch.",
)
@click.option("--strategy-option", "strategy_option", multiple=True, help="KEY=VALUE passed to the strategy.")
@click.option("--config", type=click.Path(path_type=Path), help="TOML file with any of these options.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def search_command(context: click.Context, **options: Any) -> None:
    """Search SPACE (a file.py or file.py:function) on --data."""
    from automl.cli.search_command import run_search

    options.update(_apply_config(context, options.get("config")))
    strategy_options = dict(options.pop("strategy_options", {}) or {})
    strategy_options.update(_parse_options(tuple(options.pop("strategy_option") or ())))
    run_search(strategy_options=strategy_options, **options)


@cli.command("strategies")
@click.argument("name", required=False)
def strategies_command(name: str | None) -> None:
    """List the search strategies installed (built-in and plugins), or show NAME's options."""
    from rich.console import Console

    from automl.plugins import load_plugins

    plugins = load_plugins()
    console = Console()
    if name is None:
        _list_strategies(console, plugins)
    else:
        _describe_strategy(console, plugins, name)


def _list_strategies(console: Any, plugins: Any) -> None:
    from rich.table import Table

    table = Table("strategy", "provided by", "description")
    for name, provided in sorted(plugins.strategies().items()):
        table.add_row(name, plugins.source(provided.plugin), provided.description)
    console.print(table)
    broken = plugins.broken_plugins()
    if broken:
        failures = Table("plugin", "package", "error", title="broken plugins (skipped)", title_style="bold yellow")
        for failure in broken:
            failures.add_row(failure.plugin, failure.source, failure.problem)
        console.print(failures)
    console.print("Options of one strategy: automl strategies NAME")
    console.print(
        "Multi-fidelity schedules wrap any strategy that trains candidates (not darts, darts-pt): "
        "--multi-fidelity successive-halving | hyperband | asha (smbo runs SMAC's own for the first two)"
    )


def _describe_strategy(console: Any, plugins: Any, name: str) -> None:
    from rich.table import Column, Table

    from automl.strategies.options import describe_options

    provided = plugins.strategies().get(name)
    strategy_class = provided.value if provided is not None else plugins.strategy(name)  # unknown: one-line error
    console.print(f"[bold]{name}[/]: {provided.description or '(no description)'}", highlight=False)
    console.print(f"provided by: {plugins.source(provided.plugin)}", highlight=False)
    options_class = getattr(strategy_class, "Options", None)
    options = describe_options(options_class) if options_class is not None else []
    if not options:
        console.print("options: none" if options_class is not None else "options: not declared (no Options class)")
        return
    table = Table(Column("option", no_wrap=True), "type", "default", "allowed", "help", title=f"options of {name}")
    for info in options:
        table.add_row(info.name, info.kind, _shown_default(info.default), info.allowed or "any", info.help)
    console.print(table)
    example = options[0]
    console.print(
        f"Set one with: automl search ... --strategy {name} --strategy-option {example.name}=VALUE "
        f"(or a [search.strategy_options] table in --config)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _shown_default(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return str(value)


@cli.command("datasets")
def datasets_command() -> None:
    """List the built-in data sets (no network needed): what each is, its shape, task, source and licence."""
    from rich.console import Console
    from rich.table import Table

    from automl.plugins import load_plugins

    console = Console()
    rows, missing = [], []
    for name, dataset in sorted(load_plugins().datasets().items()):
        # a plugin's BuiltinDataset may leave the descriptive fields empty, or be an older look-alike
        fields = [getattr(dataset, field, "") or "-" for field in ("shape", "task", "source", "licence")]
        install = getattr(dataset, "install_command", None)
        if install:
            missing.append(f"{name}: not installed; {install}")
            fields[2] += " (not installed)"
        rows.append((name, dataset.description, *fields))
    if console.width >= 150:
        table = Table("data set", "description", "rows x shape", "task", "source", "licence")
        for row in rows:
            table.add_row(*row)
        console.print(table, markup=False, highlight=False)
    else:  # six columns do not fit: one block per data set
        for name, description, shape, task, source, licence in rows:
            console.print(
                f"{name}: {description}\n  {shape}, {task}; source: {source}; licence: {licence}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    for line in missing:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print("Sources, licences and install lines: docs/datasets.md", markup=False, highlight=False)


def _study_and_front(study: Path | None, front: str | None, command: str) -> tuple[Path, str | None]:
    """``--pareto`` takes an optional value, so ``automl show --pareto runs/s.db`` hands the path to it: a value
    that names an existing file and no STUDY means the study, and the front of its own objectives."""
    if study is None and front and Path(front).is_file():
        return Path(front), ""
    if study is None:
        raise UsageProblem(f"give the study file: automl {command} STUDY")
    return study, front


@cli.command("show")
@click.argument("study", type=click.Path(path_type=Path), required=False)
@click.option("--top", type=int, help="Only the K best trials.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: every trial's number, status, score, decisions, metrics and times, for scripts.",
)
@click.option(
    "--pareto",
    "pareto_costs",
    metavar="[COST,...]",
    is_flag=False,
    flag_value="",
    help="The Pareto front: alone, of the study's --objective list; with costs, of the score against them "
    "(params, flops, latency_ms, memory_mb).",
)
def show_command(study: Path | None, top: int | None, output_format: str, pareto_costs: str | None) -> None:
    """Show the trials and the best candidate of a STUDY file."""
    from automl.cli.show_command import show, show_json

    study, pareto_costs = _study_and_front(study, pareto_costs, "show")
    if pareto_costs is not None:
        from automl.cli.pareto_command import show_pareto

        show_pareto(study, pareto_costs, output_format)
    elif output_format == "json":
        show_json(study, top)
    else:
        show(study, top)


@cli.command("compare", context_settings={"ignore_unknown_options": True})
@click.argument("arguments", nargs=-1, required=True, type=click.UNPROCESSED, metavar="STUDIES... --against STUDIES...")
def compare_command(arguments: tuple[str, ...]) -> None:
    """Do two groups of studies differ? e.g. automl compare runs/tpe-*.db --against runs/random-*.db

    One study per seed on each side: a paired Wilcoxon signed-rank test on the
    best scores, paired by the seeds the studies stored. One study per side:
    McNemar's test on the two best models' test predictions (docs/evaluation.md).
    --plot FILE also draws each side's best so far with a 95% band over its studies.
    """
    from automl.cli.compare_command import compare, split_sides
    from automl.cli.compare_plot import split_plot_option

    remaining, output = split_plot_option(arguments)
    paths_a, paths_b = split_sides(remaining)
    for line in compare(paths_a, paths_b):
        click.echo(line)
    if output is not None:
        from automl.cli.compare_command import side_labels
        from automl.cli.compare_plot import write_comparison

        first, second = side_labels(paths_a, paths_b)
        click.echo(f"wrote {write_comparison([(first, paths_a), (second, paths_b)], output)}")


@cli.command("plot")
@click.argument("study", type=click.Path(path_type=Path), required=False)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="PNG file [STUDY.png; STUDY.KIND.png].")
@click.option(
    "--kind",
    type=click.Choice(["scores", "time", "importance", "parallel", "architecture"]),  # plot_kinds.KINDS
    default="scores",
    show_default=True,
    help="scores: score per trial and learning curves; time: best so far against wall-clock time; "
    "importance: random-forest decision importance; parallel: parallel coordinates over the decisions; "
    "architecture: the best trial's architecture as a graph.",
)
@click.option(
    "--pareto",
    "pareto_cost",
    metavar="[COST]",
    is_flag=False,
    flag_value="",
    help="The front highlighted: score against one measured cost, or alone a two-objective study's objectives.",
)
def plot_command(study: Path | None, output: Path | None, kind: str, pareto_cost: str | None) -> None:
    """Plot a study to a PNG: every trial's score and the best so far, or another --kind."""
    study, pareto_cost = _study_and_front(study, pareto_cost, "plot")
    if pareto_cost is not None:
        if kind != "scores":
            raise UsageProblem(f"--pareto draws its own plot; give it without --kind {kind}")
        from automl.cli.pareto_command import plot_pareto

        written = plot_pareto(study, pareto_cost, output or study.with_suffix(".pareto.png"))
        click.echo(f"wrote {written}")
        return
    from automl.cli.plot_kinds import plot

    written = plot(study, output, kind)
    click.echo(f"wrote {written}")


@cli.command("report")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), help="HTML file [STUDY.html].")
@click.option(
    "--interval/--no-interval",
    default=True,
    show_default=True,
    help="The best model's 95% bootstrap test interval (recomputes its test predictions from its weights).",
)
def report_command(study: Path, output: Path | None, interval: bool) -> None:
    """Write one self-contained HTML page of a STUDY: the best trial, plots and every trial."""
    from automl.cli.report_command import report

    click.echo(f"wrote {report(study, output, interval)}")


@cli.command("export")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--trial", type=int, help="Trial number [the best].")
@click.option(
    "--ensemble",
    "ensemble",
    type=int,
    help="Export an ensemble of the K best full-budget trials, chosen by greedy selection on validation.",
)
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True, help="Directory to write to.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["torch", "onnx"]),
    default="torch",
    show_default=True,
    help="onnx: also write model.onnx (dynamic batch size; needs pip install automl[onnx]).",
)
def export_command(study: Path, trial: int | None, ensemble: int | None, output: Path, file_format: str) -> None:
    """Export a trained model: state_dict, architecture JSON and a torch.export program (and ONNX if asked)."""
    from automl.cli.export_command import export, export_ensemble_command

    if ensemble is None:
        export(study, trial, output, file_format)
    else:
        export_ensemble_command(study, ensemble, trial, output, file_format)


def _add_rank_command() -> None:
    from automl.cli.rank_command import rank_command

    cli.add_command(rank_command)


_add_rank_command()
cli.add_command(evaluate_command)


def main() -> None:
    cli(prog_name="automl")


if __name__ == "__main__":
    main()
