"""One self-contained HTML page of a study: what was searched, the best trial, the plots and every trial.

The page needs no network and no script: the CSS is inline, the plots are
inline SVG (:mod:`automl.report.figures`), and every string that comes from the
study (paths, names, decisions, errors) is escaped with :func:`html.escape`, so
a hostile value shows as text. The study is only read.
"""

from __future__ import annotations

import datetime
import html
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from automl.engine.constraints import format_cost
from automl.engine.storage import Trial
from automl.engine.study import Study
from automl.report.interval import TestInterval
from automl.strategies.base import TrialStatus

STATUS_ORDER = (
    TrialStatus.COMPLETE, TrialStatus.PRUNED, TrialStatus.FAILED, TrialStatus.INFEASIBLE, TrialStatus.RUNNING,
)  # fmt: skip
RANKED_FEATURES_SHOWN = 30  # the best ones; the rest are counted
COST_COLUMNS = ("params", "flops", "latency_ms", "latency_batch_ms", "memory_mb")  # automl.engine.constraints order

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 80em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 0.2em 0.6em; vertical-align: top; }
table.facts th { text-align: left; font-weight: 600; }
table.trials th { background: #eee; position: sticky; top: 0; } table.trials td { border-top: 1px solid #ddd; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.decision { display: inline-block; margin-right: 0.8em; white-space: nowrap; }
.error { color: #a00; white-space: pre-wrap; min-width: 18em; }
.status-complete { color: #060; } .status-failed, .status-infeasible { color: #a00; } .status-pruned { color: #a60; }
tr.best { background: #fff6cc; } .note { color: #555; } .score { font-size: 1.3em; font-weight: 600; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; } figcaption { color: #555; font-size: 0.9em; }
"""


def escape(value: Any) -> str:
    """Any value as HTML text: every user string passes through here."""
    return html.escape(str(value), quote=True)


def format_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def format_time(stamp: float | None) -> str:
    if not stamp:
        return "?"
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def status_counts(trials: Iterable[Trial]) -> str:
    """``5 complete, 1 pruned, 2 failed``: the statuses the study has, each trial counted once."""
    counts = Counter(trial.status for trial in trials)
    return ", ".join(f"{counts[status]} {status.value}" for status in STATUS_ORDER if counts[status]) or "no trials"


def score_text(study: Study, trial: Trial) -> str:
    value = study.objective_value(trial)
    return "" if value is None else f"{value:.4f}"


def by_score(trials: Iterable[Trial]) -> list[Trial]:
    """Scored trials best first (as the search maximised), then the ones without a score by number."""
    return sorted(trials, key=lambda trial: (trial.score is None, -(trial.score or 0.0), trial.number))


def facts_table(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of label and value; the values are HTML already."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<table class="facts">{body}</table>'


def decisions_html(decisions: Mapping[str, Any]) -> str:
    return " ".join(
        f'<span class="decision">{escape(path)}={escape(format_number(value))}</span>'
        for path, value in decisions.items()
    )


def number_cell(value: Any) -> str:
    return f'<td class="number">{escape(value)}</td>'


class StudyReport:
    """The page of one study; :meth:`html` builds it from what the study stores."""

    def __init__(self, study: Study, interval: TestInterval) -> None:
        self.study = study
        self.interval = interval
        self.meta = study.meta
        config = self.meta.get("config")
        self.config: dict[str, Any] = config if isinstance(config, dict) else {}
        self.trials = study.trials
        self.best = study.best_trial
        self.metric = next((trial.metrics.get("metric") for trial in self.trials if trial.metrics.get("metric")), None)

    # ------------------------------------------------------------------------------------------ pieces
    @property
    def title(self) -> str:
        space = self.meta.get("space_name") or "study"
        strategy = self.meta.get("strategy") or self.config.get("strategy") or "?"
        return f"automl report: {space} / {strategy} ({self.study.path.name})"

    def score_name(self) -> str:
        return f"validation {self.metric}" if self.metric else "score"

    def header(self) -> str:
        meta, config = self.meta, self.config
        space = escape(meta.get("space_name") or "?")
        if config.get("space"):
            space += f' <span class="note">({escape(config["space"])})</span>'
        strategy = escape(meta.get("strategy") or config.get("strategy") or "?")
        options = config.get("strategy_options") or {}
        if options:
            strategy += " " + escape(", ".join(f"{key}={value}" for key, value in options.items()))
        schedule = [f"{key} {config[key]}" for key in ("multi_fidelity", "prune") if config.get(key)]
        if schedule:
            strategy += f' <span class="note">({escape("; ".join(schedule))})</span>'
        started = [trial.started for trial in self.trials if trial.started]
        finished = [trial.finished for trial in self.trials if trial.finished]
        summed = sum(seconds for trial in self.trials if (seconds := trial.seconds) is not None)
        if started and finished:
            span = max(finished) - min(started)
            times = f"{format_seconds(span)} from {format_time(min(started))} to {format_time(max(finished))}"
            times += f' <span class="note">({format_seconds(summed)} of trials, summed)</span>'
        else:
            times = "no trial finished"
        rows = [
            ("study", escape(self.study.path.resolve())),
            ("space", space),
            ("strategy", strategy),
            ("data", escape(meta.get("data") or config.get("data") or "?")),
            ("seed", escape(meta.get("seed", config.get("seed", "?")))),
            ("objective", escape(f"{meta.get('direction', 'maximize')} {self.score_name()}")),
            ("trials", escape(status_counts(self.trials))),
            ("time", times),
        ]
        constraints = config.get("constraints") or []
        if config.get("max_parameters") is not None:
            constraints = [f"params<={config['max_parameters']}", *constraints]
        if constraints:
            rows.append(("constraints", escape(", ".join(map(str, constraints)))))
        if meta.get("objectives"):
            rows.append(("objectives", escape(", ".join(map(str, meta["objectives"])) + " (a Pareto front)")))
        if meta.get("created"):
            rows.append(("created", escape(format_time(meta["created"]))))
        return f"<h1>{escape(self.title)}</h1>" + facts_table(rows)

    def best_section(self) -> str:
        best = self.best
        if best is None:
            return "<h2>Best trial</h2><p>No trial completed, so there is no best trial yet.</p>"
        rows = [
            ("trial", str(best.number)),
            (self.score_name(), f'<span class="score" id="best-score">{escape(score_text(self.study, best))}</span>'),
        ]
        test_score = self.study.test_score
        if test_score is not None:
            test_trial = self.meta.get("test_trial")
            test = f'<span class="score" id="test-score">{test_score:.4f}</span>'
            if test_trial is not None and test_trial != best.number:
                test += f' <span class="note">(of trial {escape(test_trial)}, the best when the test ran)</span>'
            rows.append((f"test {self.metric or 'score'}", test))
        else:
            rows.append(("test score", '<span class="note">not stored (no final test ran)</span>'))
        rows.append(("95% interval" if self.interval.interval else "interval", self.interval_html()))
        if best.budget is not None:
            rows.append(("budget", escape(format_number(best.budget))))
        for name, label in (("epochs", "epochs"), ("parameters", "parameters")):
            if name in best.metrics:
                rows.append((label, escape(format_number(best.metrics[name]))))
        costs = best.metrics.get("costs")
        if isinstance(costs, dict) and costs:
            rows.append(("costs", escape(", ".join(f"{name} {format_cost(name, costs[name])}" for name in costs))))
        if self.meta.get("model"):
            rows.append(("weights", escape(self.meta["model"])))
        decisions = best.candidate.to_dict()
        decision_rows = "".join(
            f"<tr><td>{escape(path)}</td><td>{escape(format_number(value))}</td></tr>"
            for path, value in decisions.items()
        )
        decision_table = (
            f'<table class="facts" id="best-decisions"><tr><th>decision</th><th>value</th></tr>{decision_rows}</table>'
            if decisions
            else "<p>The space has no decisions.</p>"
        )
        return (
            "<h2>Best trial</h2>"
            + facts_table(rows)
            + "<h3>Its decisions (architecture and hyperparameters)</h3>"
            + decision_table
        )

    def interval_html(self) -> str:
        found = self.interval.interval
        if found is None:
            return f'<span class="note" id="interval">{escape(self.interval.note)}</span>'
        return (
            f'<span id="interval">[{found.low:.4f}, {found.high:.4f}]</span> '
            f'<span class="note">{escape(self.interval.note)}</span>'
        )

    def evaluation_section(self) -> str:
        """What ``automl evaluate`` stored (cross-validation of the top candidates, nested CV), when it ran."""
        from automl.cli.evaluate_command import META_KEY, summary_lines

        document = self.study.meta.get(META_KEY)
        if document is None:
            return ""
        try:
            lines = summary_lines(document, len(self.study.completed()))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):  # written by another version
            lines = ["stored in a form this automl cannot read; run automl evaluate again"]
        items = "".join(f"<li>{escape(line.strip())}</li>" for line in lines)
        return f'<h2>Evaluation</h2><ul id="evaluation">{items}</ul>'

    def ranking_section(self) -> str:
        """The feature ranking the search trained on (``--rank-features``), best first, when it ranked."""
        records = self.study.meta.get("feature_ranking")
        if not records:
            return ""
        ranker = self.study.meta.get("feature_ranker") or "?"
        rows = "".join(
            f"<tr>{number_cell(record.get('rank'))}<td>{escape(record.get('feature'))}</td>"
            f"{number_cell(format_number(record.get('score')))}{number_cell(record.get('cardinality'))}</tr>"
            for record in records[:RANKED_FEATURES_SHOWN]
        )
        more = len(records) - RANKED_FEATURES_SHOWN
        note = f'<p class="note">and {more} more features</p>' if more > 0 else ""
        return (
            f"<h2>Feature ranking ({escape(ranker)})</h2>"
            f'<table id="feature-ranking"><tr><th>rank</th><th>feature</th><th>score</th><th>cardinality</th></tr>'
            f"{rows}</table>{note}"
        )

    def plots_section(self) -> str:
        from automl.report.figures import (
            costs_figure,
            curves_figure,
            objectives_figure,
            scores_figure,
            svg_of,
            time_figure,
        )

        if not any(trial.score is not None for trial in self.trials):
            return '<h2>Plots</h2><p class="note">No trial has a score yet: there is nothing to plot.</p>'
        plots = [
            ("scores", scores_figure(self.study, self.trials), "Every trial's score and the best so far."),
            (
                "time",
                time_figure(self.study, self.trials),
                "The best so far against wall-clock time since the search started; failed trials are ticks "
                "along the bottom.",
            ),
            ("curves", curves_figure(self.study, self.trials), "Learning curves: score against epoch per candidate."),
            (
                "costs",
                costs_figure(self.study, self.trials),
                "Score against the parameters measured before training, with the Pareto front.",
            ),
            (
                "objectives",
                objectives_figure(self.study, self.trials),
                "The trials on the study's two objectives, with their Pareto front.",
            ),
            *self.decision_plots(),
        ]
        parts = ["<h2>Plots</h2>"]
        for name, figure, caption in plots:
            if figure is None:
                continue
            if isinstance(figure, str):  # a plot the study cannot give: the line that says why
                parts.append(f'<p class="note" id="plot-{name}-note">{escape(caption)}: {escape(figure)}</p>')
                continue
            svg, text = svg_of(figure, name), escape(caption)
            parts.append(f'<figure id="plot-{name}" class="plot">{svg}<figcaption>{text}</figcaption></figure>')
        return "".join(parts)

    def decision_plots(self) -> list[tuple[str, Any, str]]:
        """Importance, parallel coordinates and the best architecture: a figure, or the reason there is none."""
        from automl.report import decision_plots
        from automl.report.figures import architecture_figure
        from automl.report.study_space import PlotUnavailable, study_space

        try:
            space, space_problem = study_space(self.study), None
        except PlotUnavailable as error:
            space, space_problem = None, str(error)
        plots: list[tuple[str, Any, str]] = []
        try:
            table = decision_plots.decision_table(self.study, space)
        except PlotUnavailable as error:
            table, ranked = None, None
            plots.append(("importance", str(error), "No decision importance"))
        if table is not None:
            try:
                ranked = decision_plots.decision_importance(table)
                plots.append(
                    (
                        "importance",
                        decision_plots.importance_figure(self.study, table, ranked),
                        "Decision importance: the permutation importance of each decision (and of depth and "
                        "parameters) in a random forest fitted to the validation scores of the complete trials.",
                    )
                )
            except PlotUnavailable as error:
                ranked = None
                plots.append(("importance", str(error), "No decision importance"))
            try:
                figure, note = decision_plots.parallel_figure(self.study, table, ranked)
                caption = "Parallel coordinates: one line per complete trial, coloured by score, the best in black."
                plots.append(("parallel", figure, caption + (f" {note[0].upper()}{note[1:]}." if note else "")))
            except PlotUnavailable as error:
                plots.append(("parallel", str(error), "No parallel coordinates"))
        if self.best is not None:
            if space is None:
                plots.append(("architecture", space_problem, "The best architecture is not drawn"))
            else:
                try:
                    figure = architecture_figure(self.study, space)
                    caption = f"The best trial's architecture (trial {self.best.number}), inputs left, outputs right."
                    plots.append(("architecture", figure, caption))
                except PlotUnavailable as error:
                    plots.append(("architecture", str(error), "The best architecture is not drawn"))
        return plots

    def trials_section(self) -> str:
        costs = [name for name in COST_COLUMNS if any(name in self.costs_of(trial) for trial in self.trials)]
        budgets = any(trial.budget is not None for trial in self.trials)
        head = ["trial", "status", self.score_name(), *(["budget"] if budgets else []), "decisions", *costs]
        head += ["epochs", "duration", "error"]
        rows = []
        for trial in by_score(self.trials):
            status = trial.status.value + (f" ({trial.attempts} attempts)" if trial.attempts > 1 else "")
            cells = [
                number_cell(trial.number),
                f'<td class="status-{escape(trial.status.value)}">{escape(status)}</td>',
                number_cell(score_text(self.study, trial)),
            ]
            if budgets:
                cells.append(number_cell("full" if trial.budget is None else format_number(trial.budget)))
            cells.append(f"<td>{decisions_html(trial.candidate.to_dict())}</td>")
            cells += [number_cell(format_cost(name, self.costs_of(trial).get(name))) for name in costs]
            cells.append(number_cell(format_number(trial.metrics.get("epochs", ""))))
            cells.append(number_cell(format_seconds(trial.seconds)))
            cells.append(f'<td class="error">{escape(trial.error or "")}</td>')
            best = ' class="best"' if self.best is not None and trial.number == self.best.number else ""
            rows.append(f'<tr id="trial-{trial.number}"{best}>{"".join(cells)}</tr>')
        header = "".join(f"<th>{escape(name)}</th>" for name in head)
        return (
            f"<h2>All trials ({len(self.trials)}), best score first</h2>"
            f'<table class="trials" id="trials"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        )

    @staticmethod
    def costs_of(trial: Trial) -> dict[str, Any]:
        costs = trial.metrics.get("costs")
        return costs if isinstance(costs, dict) else {}

    def footer(self) -> str:
        try:
            version = metadata.version("automl")
        except metadata.PackageNotFoundError:
            version = "(not installed)"
        made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f'<p class="note">Made by automl {escape(version)} report on {escape(made)} from the study file; '
            "the page is self-contained (inline styles and SVG, no scripts, no network).</p>"
        )

    # ------------------------------------------------------------------------------------------- page
    def html(self) -> str:
        body = (
            self.header()
            + self.best_section()
            + self.evaluation_section()
            + self.plots_section()
            + self.ranking_section()
            + self.trials_section()
            + self.footer()
        )
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(self.title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
        )


def report_html(study: Study, interval: TestInterval | None = None) -> str:
    """The page of ``study``; ``interval`` None computes the test interval (see :mod:`automl.report.interval`)."""
    if interval is None:
        from automl.report.interval import test_interval

        interval = test_interval(study)
    return StudyReport(study, interval).html()


def write_page(text: str, output: Path) -> Path:
    """Write the page whole or not at all: a temporary file beside ``output``, then renamed over it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.writing")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    return output
