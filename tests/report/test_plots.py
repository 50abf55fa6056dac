"""``automl plot --kind`` and the report page's decision plots, on a real small search and on objective studies."""

import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import automl
from automl import space as s
from automl.cli.main import cli
from automl.engine.study import Study
from automl.report import decision_plots
from automl.report.figures import architecture_figure, time_figure
from automl.report.study_space import PlotUnavailable, study_space
from automl.strategies.base import TrialStatus

MLP = Path(__file__).resolve().parents[2] / "search_spaces" / "mlp.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DECISIVE_SCORES = {"relu": 0.2, "tanh": 0.5, "gelu": 0.9}  # the score is this decision's, whatever the rest


@s.search_space
def synthetic(x):
    """One decision decides the score (``decisive``); ``noise`` (log-scaled) and ``width`` do not."""
    x = s.op.linear(x, units=s.Choice([4, 8, 16], name="width"))
    x = s.op.activation(x, kind=s.Choice(["relu", "tanh", "gelu"], name="decisive"))
    x = s.op.dropout(x, p=s.Float(1e-4, 0.1, log=True, name="noise"))
    return s.op.linear(x, units=s.OUTPUTS)


@s.search_space
def wide(x):
    """Fourteen decisions: more than the parallel-coordinates plot draws."""
    for index in range(14):
        x = s.op.linear(x, units=s.Choice([2, 4, 8], name=f"layer{index:02d}"))
    return s.op.linear(x, units=s.OUTPUTS)


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """Ten trials of the MLP space on wine, one epoch each, on the CPU."""
    path = tmp_path_factory.mktemp("plots") / "wine.db"
    automl.search(str(MLP), "wine", trials=10, epochs=1, seed=0, device="cpu", study=path).close()
    return path


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    """24 random trials scored by ``decisive`` alone; the third one fails."""
    calls = []

    def objective(candidate):
        calls.append(candidate)
        if len(calls) == 3:
            raise RuntimeError("a trial that fails")
        return DECISIVE_SCORES[candidate["decisive"]]

    path = tmp_path_factory.mktemp("plots") / "decided.db"
    automl.search(synthetic, objective=objective, trials=24, strategy="random", seed=4, study=path).close()
    return path


@pytest.fixture(scope="module")
def few(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "few.db"
    automl.search(synthetic, objective=lambda candidate: candidate["noise"], trials=5, seed=0, study=path).close()
    return path


def opened(path):
    return Study.open(path)


def plot(*arguments):
    return CliRunner().invoke(cli, ["plot", *map(str, arguments)])


def assert_one_line_error(result, *expected):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("kind", ["scores", "time", "importance", "parallel", "architecture"])
def test_each_kind_writes_a_png(wine, tmp_path, kind):
    output = tmp_path / f"{kind}.png"
    result = plot(wine, "--kind", kind, "-o", output)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {output}"
    data = output.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000


def test_the_command_offers_every_kind_the_plot_module_draws():
    from automl.cli.plot_kinds import KINDS

    (option,) = [parameter for parameter in cli.commands["plot"].params if parameter.name == "kind"]
    assert tuple(option.type.choices) == KINDS and option.default == "scores"


def test_the_default_output_is_named_after_the_kind(wine, tmp_path):
    copy = tmp_path / "copy.db"
    copy.write_bytes(wine.read_bytes())
    result = plot(copy, "--kind", "time")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "copy.time.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (tmp_path / "copy.png").exists()  # that name stays the scores plot's


def test_the_decision_that_decides_the_score_ranks_first(decided):
    study = opened(decided)
    try:
        table = decision_plots.decision_table(study, None)
        ranked = decision_plots.decision_importance(table)
    finally:
        study.close()
    assert len(table.trials) == 23  # the failed trial has no score to explain
    names = [item.name for item in ranked]
    assert names[0] == "decisive", ranked
    assert {"noise", "width", "depth (decisions)"} <= set(names)
    by_name = {item.name: item for item in ranked}
    assert by_name["decisive"].mean > 0.5
    assert by_name["decisive"].mean > 5 * max(by_name["noise"].mean, by_name["width"].mean)


def test_a_big_study_is_read_as_its_best_and_a_fixed_sample(decided):
    study = opened(decided)
    try:
        table = decision_plots.decision_table(study, None, limit=9)
        again = decision_plots.decision_table(study, None, limit=9)
        complete = sorted(study.completed(), key=lambda trial: -trial.score)
    finally:
        study.close()
    numbers = [trial.number for trial in table.trials]
    assert len(numbers) == 9 and numbers == sorted(numbers) == [trial.number for trial in again.trials]
    assert {trial.number for trial in complete[:3]} <= set(numbers)  # the best third is always kept
    assert table.describe() == "9 of 23 complete trials (3 best + 6 sampled)"
    assert all(len(column.values) == 9 for column in table.columns)


def test_a_multi_fidelity_study_has_the_budget_as_a_column(tmp_path):
    """Scores that rise with the budget alone: the budget ranks first, not a decision the longer trials had."""
    path = tmp_path / "hyperband.db"
    automl.search(
        synthetic, objective=lambda candidate, budget: budget / 9, trials=30, strategy="random",
        multi_fidelity="hyperband", max_budget=9, seed=0, study=path,
    ).close()  # fmt: skip
    study = Study.open(path)
    try:
        table = decision_plots.decision_table(study, None)
        budgets = [trial.budget for trial in table.trials]
    finally:
        study.close()
    column = next(column for column in table.columns if column.name == "budget")
    assert column.values == budgets and len(set(budgets)) > 1
    assert decision_plots.decision_importance(table)[0].name == "budget"


def test_importance_is_the_same_for_the_same_study(decided):
    study = opened(decided)
    try:
        first = decision_plots.decision_importance(decision_plots.decision_table(study, None))
        second = decision_plots.decision_importance(decision_plots.decision_table(study, None))
    finally:
        study.close()
    assert first == second


def test_importance_of_a_real_search_has_the_derived_features(wine):
    study = opened(wine)
    try:
        table = decision_plots.decision_table(study, study_space(study))
        ranked = decision_plots.decision_importance(table)
        complete = study.completed()
        figure = decision_plots.importance_figure(study, table, ranked)
    finally:
        study.close()
    names = {item.name for item in ranked}
    assert {"depth (ops)", "parameters", "activation", "repeat.times"} <= names
    depth = next(column for column in table.columns if column.name == "depth (ops)")
    # depth counts the replayed ops: every layer's linear and activation, its dropout when present, the output layer
    for trial, value in zip(table.trials, depth.values, strict=True):
        layers = trial.candidate["repeat.times"]
        dropouts = sum(trial.candidate[f"repeat.{index}.optional.present"] for index in range(layers))
        assert value == 2 * layers + dropouts + 1
    parameters = next(column for column in table.columns if column.name == "parameters")
    assert parameters.values == [trial.metrics["costs"]["params"] for trial in complete]
    bars = [patch.get_gid() for patch in figure.axes[0].patches if (patch.get_gid() or "").startswith("importance-")]
    assert bars == [f"importance-{item.name}" for item in ranked[: decision_plots.TOP]]


def test_fewer_than_eight_complete_trials_is_one_line_and_exit_2(few, tmp_path):
    output = tmp_path / "importance.png"
    result = plot(few, "--kind", "importance", "-o", output)
    assert_one_line_error(result, "at least 8 complete trials", "has 5")
    assert not output.exists()
    report = tmp_path / "few.html"
    result = CliRunner().invoke(cli, ["report", str(few), "-o", str(report)])
    assert result.exit_code == 0, result.output
    page = report.read_text()
    assert 'id="plot-importance-note"' in page and "at least 8 complete trials" in page
    assert 'id="plot-importance"' not in page
    assert 'id="plot-parallel"' in page  # parallel coordinates need no importance: the first axes are drawn


def test_parallel_coordinates_have_one_line_per_complete_trial(wine):
    study = opened(wine)
    try:
        table = decision_plots.decision_table(study, study_space(study))
        ranked = decision_plots.decision_importance(table)
        figure, note = decision_plots.parallel_figure(study, table, ranked)
        complete = [trial.number for trial in study.trials if trial.status is TrialStatus.COMPLETE]
        best = study.best_trial.number
    finally:
        study.close()
    axes = figure.axes[0]
    drawn = [line for line in axes.get_lines() if (line.get_gid() or "").startswith("trial-")]
    assert sorted(line.get_gid() for line in drawn) == sorted(f"trial-{number}" for number in complete)
    others = [line.get_gid() for line in axes.get_lines() if line not in drawn]
    assert others == [f"axis-{label.get_text()}" for label in axes.get_xticklabels()]  # the best: no extra line
    lines = {line.get_gid(): line for line in drawn}
    assert lines[f"trial-{best}"].get_linewidth() > max(
        line.get_linewidth() for gid, line in lines.items() if gid != f"trial-{best}"
    )
    # the axes are the shared decisions, the most important first; the ones some trials lack are named
    order = [item.name for item in ranked if not item.derived]
    assert [label.get_text() for label in axes.get_xticklabels()] == order
    assert "repeat.1.linear.units" in note and "not every complete trial has" in note
    times = next(column for column in table.columns if column.name == "repeat.times")  # s.Int(1, 4)
    heights, ticks = decision_plots.axis_positions(times)
    assert ticks == [(0.0, "1"), (1 / 3, "2"), (2 / 3, "3"), (1.0, "4")]
    assert heights == pytest.approx([(value - 1) / 3 for value in times.values])
    (written,) = [text for text in figure.texts if text.get_gid() == "left-out"]  # the PNG says it too
    assert "not every complete trial has" in written.get_text()
    assert len(figure.axes) == 2  # the plot and its colour bar


def test_parallel_axes_scale_categories_and_log_ranges(decided):
    study = opened(decided)
    try:
        table = decision_plots.decision_table(study, study_space_or_none(study))
    finally:
        study.close()
    noise = next(column for column in table.columns if column.name == "noise")
    decisive = next(column for column in table.columns if column.name == "decisive")
    assert decisive.categories is not None and noise.categories is None
    heights, ticks = decision_plots.axis_positions(decisive)
    labels = [label for _, label in ticks]
    assert sorted(labels) == ["gelu", "relu", "tanh"]
    assert set(heights) <= {0.0, 0.5, 1.0}
    heights, _ = decision_plots.axis_positions(noise)
    low, high = min(noise.values), max(noise.values)
    # a space given in Python is not loaded again: nothing says the range is log-scaled, so the axis is linear
    assert not noise.log
    assert heights == pytest.approx([(value - low) / (high - low) for value in noise.values])


def study_space_or_none(study):
    try:
        return study_space(study)
    except PlotUnavailable:
        return None


def test_the_space_says_log_when_it_can_be_loaded(tmp_path):
    space_file = tmp_path / "logged.py"
    space_file.write_text(
        "from automl import space as s\n\n\n@s.search_space\ndef logged(x):\n"
        "    x = s.op.dropout(x, p=s.Float(1e-4, 0.1, log=True, name='rate'))\n"
        "    return s.op.linear(x, units=s.Choice([2, 4, 8], name='width'))\n"
    )
    path = tmp_path / "logged.db"
    automl.search(str(space_file), objective=lambda candidate: candidate["width"], trials=4, seed=0, study=path).close()
    study = Study.open(path)
    try:
        table = decision_plots.decision_table(study, study_space(study))
        figure = architecture_figure(study)
        graph = study_space(study).replay(study.best_trial.candidate).to_networkx()
    finally:
        study.close()
    rate = next(column for column in table.columns if column.name == "rate")
    width = next(column for column in table.columns if column.name == "width")
    assert rate.log and (rate.low, rate.high) == (1e-4, 0.1)
    assert width.categories == [2, 4, 8]  # a choice of numbers is an axis of its values, in the space's order
    _, ticks = decision_plots.axis_positions(rate)
    assert [label for _, label in ticks] == ["0.0001", "0.000562", "0.00316", "0.0178", "0.1"]
    heights, _ = decision_plots.axis_positions(rate)
    for value, height in zip(rate.values, heights, strict=True):  # even steps in log10 over the declared range
        assert height == pytest.approx((math.log10(value) + 4) / 3)
    nodes = [text.get_gid() for text in figure.axes[0].texts if (text.get_gid() or "").startswith("node-")]
    assert sorted(nodes) == sorted(f"node-{node}" for node in graph.nodes)


def test_a_wide_space_draws_twelve_axes_and_names_the_rest(tmp_path):
    path = tmp_path / "wide.db"
    automl.search(wide, objective=lambda candidate: candidate["layer00"], trials=4, seed=0, study=path).close()
    study = Study.open(path)
    try:
        table = decision_plots.decision_table(study, None)
        figure, note = decision_plots.parallel_figure(study, table, None)  # fewer than 8 trials: the first axes
    finally:
        study.close()
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert labels == [f"layer{index:02d}" for index in range(decision_plots.MAX_AXES)]
    assert "12 of 14 decisions drawn (the first); left out: layer12, layer13" in note


def test_the_architecture_graph_has_the_replayed_architectures_nodes(wine):
    study = opened(wine)
    try:
        best = study.best_trial
        graph = study_space(study).replay(best.candidate).to_networkx()
        figure = architecture_figure(study)
    finally:
        study.close()
    texts = {text.get_gid(): text.get_text() for text in figure.axes[0].texts if text.get_gid()}
    assert sorted(texts) == sorted(f"node-{node}" for node in graph.nodes)
    for node, attributes in graph.nodes(data=True):
        label = texts[f"node-{node}"]
        assert label.startswith("input" if attributes["kind"] == "input" else attributes["kind"])
        if attributes["kind"] == "linear" and isinstance(attributes["hyperparameters"]["units"], int):
            assert f"units={attributes['hyperparameters']['units']}" in label
    # left to right: every edge goes from a column to a later one
    positions = {
        text.get_gid().removeprefix("node-"): text.get_position()[0] for text in figure.axes[0].texts if text.get_gid()
    }
    assert all(positions[source] < positions[target] for source, target in graph.edges)


def test_the_architecture_of_a_space_given_in_python_is_one_line_and_exit_2(decided, tmp_path):
    result = plot(decided, "--kind", "architecture", "-o", tmp_path / "architecture.png")
    assert_one_line_error(result, "no architecture plot", "Python object")


def test_the_time_plot_marks_failed_trials_apart_from_the_scores(decided):
    study = opened(decided)
    try:
        trials = study.trials
        figure = time_figure(study, trials)
        best = study.best_trial
    finally:
        study.close()
    axes = figure.axes[0]
    scored = [trial for trial in trials if trial.score is not None]
    failed = [trial for trial in trials if trial.score is None]
    assert len(failed) == 1
    (points,) = axes.collections  # one scatter: the scored trials only
    assert len(points.get_offsets()) == len(scored)
    assert sorted(points.get_offsets()[:, 1]) == sorted(trial.score for trial in scored)
    start = min(trial.started for trial in trials)
    times = sorted(points.get_offsets()[:, 0])
    assert times == pytest.approx(sorted(trial.finished - start for trial in scored))
    (ticks,) = [line for line in axes.get_lines() if line.get_marker() == "|"]
    assert list(ticks.get_xdata()) == pytest.approx([failed[0].finished - start])
    (best_so_far,) = [line for line in axes.get_lines() if line.get_gid() == "best-so-far"]
    values = list(best_so_far.get_ydata())
    assert values == sorted(values) and values[-1] == best.score
    assert "seconds" in axes.get_xlabel()


def test_pareto_and_another_kind_is_one_line_and_exit_2(wine, tmp_path):
    assert_one_line_error(plot(wine, "--kind", "time", "--pareto"), "--pareto")


def test_the_report_page_has_the_new_figures(wine, decided, tmp_path):
    pages = {}
    for name, study in (("wine", wine), ("decided", decided)):
        output = tmp_path / f"{name}.html"
        result = CliRunner().invoke(cli, ["report", str(study), "-o", str(output), "--no-interval"])
        assert result.exit_code == 0, result.output
        pages[name] = output.read_text()
    for plot_name in ("time", "importance", "parallel", "architecture"):
        assert re.search(rf'<figure id="plot-{plot_name}" class="plot"><svg ', pages["wine"]), plot_name
    assert "data:" not in pages["wine"] and "<image" not in pages["wine"]  # vectors only, nothing embedded
    decided_page = pages["decided"]
    for plot_name in ("time", "importance", "parallel"):
        assert re.search(rf'<figure id="plot-{plot_name}" class="plot"><svg ', decided_page), plot_name
    assert 'id="plot-architecture"' not in decided_page
    note = decided_page.split('id="plot-architecture-note">')[1].split("</p>")[0]
    assert "Python object" in note
