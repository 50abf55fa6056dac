"""Which decisions mattered, and how the trials chose them: decision importance and parallel coordinates.

Both read one table (:func:`decision_table`): a row per complete trial with a
score, a column per decision that *every* one of those trials has (a decision
under a ``Repeat`` or an ``Optional`` that some candidates never reached is left
out and named, since "not reached" is not a value), and for the importance two
derived columns computed for every trial: depth (the op modules of the replayed
architecture, or the number of decisions when the space cannot be loaded) and
the parameters the search measured (and the budget, when trials trained at
different budgets). What the space says about a decision (a
choice's values in order, a log-scaled range) is read from the space file when
the study's file is still there and unchanged (:mod:`automl.report.study_space`);
without it the values speak for themselves (numbers as numbers, anything else
as categories in sorted order). A study of more than :data:`MAX_ROWS` complete
trials is read as a sample of them (a third the best, the rest drawn with a
fixed seed), as the figures' titles say, so a study of 10,000 trials plots in
seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from automl.engine.storage import Trial
from automl.engine.study import Study
from automl.report.study_space import PlotUnavailable
from automl.strategies.base import TrialStatus

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

MIN_TRIALS = 8  # fewer complete trials than this: a forest's importance would be noise, so none is drawn
TOP = 15  # bars in the importance chart
MAX_AXES = 12  # axes of the parallel-coordinates plot
SEED = 0  # the forest and the permutations: the same study gives the same figure
TREES = 100
REPEATS = 10
MAX_ROWS = 1000  # trials the forest is fitted on and lines drawn at most: a third the best, the rest sampled


def value_key(value: Any) -> tuple[str, str]:
    """A key that keeps True apart from 1 and sorts values of mixed types."""
    return type(value).__name__, repr(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Column:
    """One feature of the table: a decision's (or a derived quantity's) value in each trial."""

    name: str
    values: list[Any]
    categories: list[Any] | None = None  # a categorical column's values in order; None for a numeric one
    log: bool = False  # a numeric column on a log scale (the hyperparameter says so)
    derived: bool = False  # computed from the trial (depth, parameters), not a decision
    low: float | None = None  # a numeric decision's range, as the space declares it
    high: float | None = None

    def positions(self) -> list[int]:
        keys = [value_key(category) for category in self.categories or []]
        return [keys.index(value_key(value)) for value in self.values]

    def encoded(self) -> list[float]:
        """Ordinal codes for a categorical column (the category's position), the value itself for a numeric one."""
        if self.categories is not None:
            return [float(position) for position in self.positions()]
        return [float(value) for value in self.values]


@dataclass
class DecisionTable:
    """The complete trials, their scores (the objective's own sign) and the columns every one of them has."""

    trials: list[Trial]
    scores: list[float]
    columns: list[Column]
    left_out: list[str] = field(default_factory=list)  # decisions some complete trial does not have
    total: int | None = None  # all complete trials when only a sample of them is here (:func:`sample_rows`)

    @property
    def decisions(self) -> list[Column]:
        return [column for column in self.columns if not column.derived]

    def describe(self) -> str:
        """``10 complete trials``, or ``1,000 of 10,000 complete trials (333 best + 667 sampled)``."""
        if self.total is None:
            return f"{len(self.trials):,} complete trials"
        best = len(self.trials) // 3
        return (
            f"{len(self.trials):,} of {self.total:,} complete trials ({best} best + {len(self.trials) - best} sampled)"
        )


def sample_rows(scores: Sequence[float], limit: int, maximise: bool) -> list[int]:
    """At most ``limit`` rows, in order: a third the best by score, the rest a fixed random sample."""
    import random

    if len(scores) <= limit:
        return list(range(len(scores)))
    ranked = sorted(range(len(scores)), key=lambda row: scores[row], reverse=maximise)
    best = ranked[: limit // 3]
    return sorted(best + random.Random(SEED).sample(ranked[len(best) :], limit - len(best)))


def hyperparameters_of(space: Any, trials: Sequence[Trial], paths: Sequence[str]) -> dict[str, Any]:
    """The space's hyperparameter at each path (replaying a trial that has them all), or {} when it does not replay."""
    from automl.space import SpaceError

    if space is None or not trials:
        return {}
    try:
        architecture = space.replay(trials[0].candidate)
        return {path: architecture.hyperparameter_at(path) for path in paths}
    except (SpaceError, KeyError):
        return {}


def decision_column(path: str, values: list[Any], hyperparameter: Any) -> Column:
    from automl.space import Bool, Choice, Float, Int

    if isinstance(hyperparameter, Choice):
        known = {value_key(value) for value in hyperparameter.values}
        if all(value_key(value) in known for value in values):
            return Column(path, values, categories=list(hyperparameter.values))
    if isinstance(hyperparameter, Bool):
        return Column(path, values, categories=[False, True])
    if isinstance(hyperparameter, Int | Float) and all(is_number(value) for value in values):
        return Column(
            path, values, log=bool(hyperparameter.log), low=float(hyperparameter.low), high=float(hyperparameter.high)
        )
    if all(is_number(value) for value in values):
        return Column(path, values)
    distinct = {value_key(value): value for value in values}
    return Column(path, values, categories=[distinct[key] for key in sorted(distinct)])


def trial_parameters(trial: Trial) -> float | None:
    """The parameters the search measured (``metrics.costs.params``, else ``metrics.parameters``), or None."""
    costs = trial.metrics.get("costs")
    for value in (costs.get("params") if isinstance(costs, dict) else None, trial.metrics.get("parameters")):
        if is_number(value):
            return float(value)
    return None


def trial_budgets(study: Study, trials: Sequence[Trial]) -> list[float] | None:
    """Each trial's budget when the complete trials trained at different ones (a multi-fidelity study), else None.

    A trial's score depends on how long it trained as much as on its
    decisions, so the budget is a column of its own: without it a decision that
    only the longer-trained trials had would look important.
    """
    from automl.cli.show_command import budget_of, study_config

    config = study_config(study)
    budgets = [budget_of(trial, config) for trial in trials]
    if any(budget is None for budget in budgets) or len(set(budgets)) < 2:
        return None
    return [float(budget) for budget in budgets]


def depth_column(trials: Sequence[Trial], space: Any) -> Column:
    """The op modules of each replayed architecture; the number of decisions when the space does not replay them."""
    from automl.space import SpaceError

    if space is not None:
        try:
            return Column("depth (ops)", [len(space.replay(trial.candidate).ops) for trial in trials], derived=True)
        except SpaceError:
            pass
    return Column("depth (decisions)", [len(trial.candidate) for trial in trials], derived=True)


def decision_table(study: Study, space: Any = None, limit: int | None = MAX_ROWS) -> DecisionTable:
    """The table of the study's complete trials, at most ``limit`` of them (:func:`sample_rows`).

    :class:`PlotUnavailable` when no trial completed with a score.
    """
    trials = [trial for trial in study.trials if trial.status is TrialStatus.COMPLETE and trial.score is not None]
    if not trials:
        raise PlotUnavailable("no trial completed with a score")
    seen: dict[str, None] = {}
    for trial in trials:
        seen.update(dict.fromkeys(trial.candidate))
    common = [path for path in seen if all(path in trial.candidate for trial in trials)]
    scores = [float(study.objective_value(trial)) for trial in trials]
    total = len(trials)
    if limit is not None and total > limit:  # a big study: the columns of a sample, replayed in seconds
        rows = sample_rows(scores, limit, study_maximises(study))
        trials, scores = [trials[row] for row in rows], [scores[row] for row in rows]
    hyperparameters = hyperparameters_of(space, trials, common)
    columns = [
        decision_column(path, [trial.candidate[path] for trial in trials], hyperparameters.get(path)) for path in common
    ]
    columns.append(depth_column(trials, space))
    parameters = [trial_parameters(trial) for trial in trials]
    if all(value is not None for value in parameters):
        columns.append(Column("parameters", parameters, log=True, derived=True))
    budgets = trial_budgets(study, trials)
    if budgets is not None:
        columns.append(Column("budget", budgets, derived=True))
    left_out = [path for path in seen if path not in common]
    return DecisionTable(trials, scores, columns, left_out, total if len(trials) < total else None)


@dataclass(frozen=True)
class Importance:
    """One feature's permutation importance: the mean drop in the forest's R² when it is shuffled, and its spread."""

    name: str
    mean: float
    spread: float
    derived: bool


def decision_importance(table: DecisionTable) -> list[Importance]:
    """Every column's importance for the validation score, most important first.

    A random forest (scikit-learn's ``RandomForestRegressor``, seeded) is fitted
    to the scores, and each column's importance is its *permutation* importance:
    how much the forest's R² drops when that column's values are shuffled across
    the trials (``sklearn.inspection.permutation_importance``, seeded, repeated).
    Permutation rather than impurity importance because impurity importance
    favours columns with many distinct values: a noisy dropout rate or the
    parameter count (a different number in every trial) would outrank a
    three-way choice that decides the score. A choice is one ordinal column (its
    values' positions), not several one-hot columns, so shuffling it shuffles the
    whole decision and its importance is one number.
    """
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    if len(table.trials) > MAX_ROWS:
        raise ValueError(f"decision_importance takes at most {MAX_ROWS} rows (decision_table's limit)")
    if len(table.trials) < MIN_TRIALS:
        raise PlotUnavailable(
            f"decision importance needs at least {MIN_TRIALS} complete trials; the study has {len(table.trials)}"
        )
    features = matrix(table.columns)
    scores = np.asarray(table.scores, dtype=float)
    forest = RandomForestRegressor(n_estimators=TREES, random_state=SEED, n_jobs=1).fit(features, scores)
    found = permutation_importance(forest, features, scores, n_repeats=REPEATS, random_state=SEED, n_jobs=1)
    ranked = [
        Importance(column.name, float(mean), float(spread), column.derived)
        for column, mean, spread in zip(table.columns, found.importances_mean, found.importances_std, strict=True)
    ]
    return sorted(ranked, key=lambda item: (-item.mean, item.name))


def matrix(columns: Sequence[Column]) -> np.ndarray:
    import numpy as np

    return np.column_stack([np.asarray(column.encoded(), dtype=float) for column in columns])


def score_label(study: Study, trials: Sequence[Trial]) -> str:
    metric = next((trial.metrics.get("metric") for trial in trials if trial.metrics.get("metric")), None)
    return f"validation {metric}" if metric else "score"


def importance_figure(study: Study, table: DecisionTable, ranked: Sequence[Importance]) -> Figure:
    """The top :data:`TOP` columns as horizontal bars (gid ``importance-<name>``), the most important on top."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    shown = list(ranked[:TOP])
    figure = Figure(figsize=(8, max(2.6, 0.38 * len(shown) + 1.4)))
    axes = figure.add_subplot()
    positions = list(range(len(shown)))[::-1]
    colours = ["tab:orange" if item.derived else "tab:blue" for item in shown]
    bars = axes.barh(
        positions, [item.mean for item in shown], xerr=[item.spread for item in shown], color=colours, capsize=2
    )
    for bar, item in zip(bars, shown, strict=True):
        bar.set_gid(f"importance-{item.name}")
    axes.set_yticks(positions, [item.name for item in shown], fontsize="small")
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel(f"permutation importance (drop in R² of a random forest on {score_label(study, table.trials)})")
    left = f", top {TOP} of {len(ranked)}" if len(ranked) > TOP else ""
    axes.set_title(f"decision importance ({table.describe()}{left})")
    axes.legend(
        handles=[Patch(color="tab:blue", label="decision"), Patch(color="tab:orange", label="derived")],
        loc="lower right",
        fontsize="small",
    )
    figure.tight_layout()
    return figure


def chosen_axes(table: DecisionTable, ranked: Sequence[Importance] | None) -> tuple[list[Column], str]:
    """At most :data:`MAX_AXES` decisions (the most important when ranked, else the first) and what was left out."""
    decisions = table.decisions
    if ranked is not None:
        order = {item.name: position for position, item in enumerate(ranked)}
        candidates = sorted(decisions, key=lambda column: order.get(column.name, len(order)))
        how = "the most important"
    else:
        candidates, how = decisions, "the first"
    shown = candidates[:MAX_AXES]
    notes = []
    if len(candidates) > len(shown):
        names = ", ".join(column.name for column in candidates[len(shown) :])
        notes.append(f"{len(shown)} of {len(candidates)} decisions drawn ({how}); left out: {names}")
    if table.left_out:
        notes.append(
            f"{len(table.left_out)} decisions not every complete trial has are left out: {', '.join(table.left_out)}"
        )
    return shown, "; ".join(notes)


def axis_positions(column: Column) -> tuple[list[float], list[tuple[float, str]]]:
    """Each trial's height on the column's axis (0 to 1) and the axis's ticks (height, label)."""
    import math

    if column.categories is not None:
        count = len(column.categories)
        spread = max(count - 1, 1)

        def height(position: int) -> float:
            return 0.5 if count == 1 else position / spread

        step = max(1, math.ceil(count / 12))  # at most about a dozen labels on one axis
        ticks = [(height(index), format_value(column.categories[index])) for index in range(0, count, step)]
        return [height(position) for position in column.positions()], ticks
    values = [float(value) for value in column.values]
    low = min(values) if column.low is None else min(column.low, *values)
    high = max(values) if column.high is None else max(column.high, *values)
    log = column.log and low > 0
    scale = math.log10 if log else float
    bottom, top = scale(low), scale(high)
    width = top - bottom
    if width == 0:
        return [0.5] * len(values), [(0.5, format_value(low))]
    heights = [(scale(value) - bottom) / width for value in values]
    integers = all(isinstance(value, int) for value in column.values) and float(low).is_integer()
    if integers and not log and high - low <= 12:  # a small integer range: a tick at each of its values
        return heights, [((number - low) / width, str(number)) for number in range(int(low), int(high) + 1)]
    ticks = [(index / 4, format_value(10 ** (bottom + width * index / 4) if log else bottom + width * index / 4))
             for index in range(5)]  # fmt: skip
    return heights, ticks


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 18 else text[:17] + "…"


def parallel_figure(study: Study, table: DecisionTable, ranked: Sequence[Importance] | None) -> tuple[Figure, str]:
    """One line per complete trial (gid ``trial-<number>``) across the decisions, coloured by score; and a note.

    Each axis is scaled on its own: a categorical decision's values evenly from
    bottom to top in the space's order, labelled; a numeric one from its range's
    low to high, on a log scale when the hyperparameter is log-scaled. The best
    trial's line is drawn on top, black and thick. The note (returned, and
    written under the plot) says which decisions were left out.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    columns, note = chosen_axes(table, ranked)
    if not columns:
        raise PlotUnavailable("no decision is shared by every complete trial")
    heights, ticks = zip(*(axis_positions(column) for column in columns), strict=True)
    figure = Figure(figsize=(max(8.0, 1.25 * len(columns) + 2.5), 4.6))
    axes = figure.add_subplot()
    colourmap = matplotlib.colormaps["viridis"]
    normal = Normalize(min(table.scores), max(table.scores))
    if normal.vmin == normal.vmax:
        normal = Normalize(normal.vmin - 0.5, normal.vmax + 0.5)
    best = study.best_trial
    order = sorted(range(len(table.trials)), key=lambda row: table.scores[row] * (1 if study_maximises(study) else -1))
    places = list(range(len(columns)))
    for row in order:  # the better trials drawn last, on top
        trial = table.trials[row]
        line_heights = [heights[axis][row] for axis in places]
        if best is not None and trial.number == best.number:
            style = {"color": "black", "linewidth": 2.6, "zorder": 5, "label": f"best (trial {trial.number})"}
        else:
            style = {"color": colourmap(normal(table.scores[row])), "linewidth": 1.0, "alpha": 0.7}
        (line,) = axes.plot(places, line_heights, **style)
        line.set_gid(f"trial-{trial.number}")
    for place, axis_ticks, column in zip(places, ticks, columns, strict=True):
        axes.axvline(place, color="0.35", linewidth=0.8, zorder=1).set_gid(f"axis-{column.name}")
        for height, label in axis_ticks:
            axes.text(place + 0.04, height, label, fontsize=7, va="center", ha="left", color="0.2", zorder=6)
    axes.set_xticks(places, [column.name for column in columns], rotation=20, ha="right", fontsize="small")
    axes.set_yticks([])
    axes.set_xlim(-0.2, len(columns) - 1 + 0.6)
    axes.set_ylim(-0.06, 1.06)
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    colourbar = figure.colorbar(ScalarMappable(normal, colourmap), ax=axes, label=score_label(study, table.trials))
    if colourbar.solids is not None:  # vectors, not the embedded bitmap matplotlib makes of a long colour bar
        colourbar.solids.set_rasterized(False)
    axes.set_title(f"parallel coordinates ({table.describe()})")
    if best is not None and any(trial.number == best.number for trial in table.trials):
        axes.legend(loc="upper left", bbox_to_anchor=(0.0, -0.28), fontsize="small", frameon=False)
    if note:  # what was left out, under the plot, so the PNG says it as the page's caption does
        import textwrap

        width, height = figure.get_size_inches()
        wrapped = textwrap.fill(note[0].upper() + note[1:] + ".", width=int(width * 15))
        extra = 0.16 * (wrapped.count("\n") + 1) + 0.1
        figure.set_size_inches(width, height + extra)
        figure.text(0.01, 0.01, wrapped, fontsize=7, va="bottom", ha="left", color="0.3").set_gid("left-out")
        figure.tight_layout(rect=(0.0, extra / (height + extra), 1.0, 1.0))
    else:
        figure.tight_layout()
    return figure, note


def study_maximises(study: Study) -> bool:
    return study.meta.get("direction") != "minimize"
