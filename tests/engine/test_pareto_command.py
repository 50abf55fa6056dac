"""``automl show STUDY --pareto COST``: the non-dominated trials of a real search, and its bad input."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from automl.evaluation.pareto import dominates
from tests.engine.test_cli import assert_one_line_error, run
from tests.engine.test_hardware_aware import search


def test_the_front_lists_exactly_the_trials_no_other_beats_on_score_and_size(tmp_path):
    study = search(tmp_path / "s.db", trials=6)
    scored = [(trial.number, trial.score, trial.metrics["costs"]["params"]) for trial in study.trials]
    study.close()
    result = run("show", tmp_path / "s.db", "--pareto", "params", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    # brute force: a trial is on the front when no trial has a score at least as high and at most its size, one strictly
    points = {number: np.array([-score, params]) for number, score, params in scored}
    expected = sorted(
        number for number, point in points.items() if not any(dominates(other, point) for other in points.values())
    )
    assert sorted(point["number"] for point in document["front"]) == expected
    sizes = [point["costs"]["params"] for point in document["front"]]
    assert sizes == sorted(sizes)  # cheapest first
    assert document["considered"] == 6 and document["left_out_without_values"] == 0
    assert document["hypervolume"] > 0 and len(document["reference"]) == 2

    table = run("show", tmp_path / "s.db", "--pareto", "params")
    assert table.returncode == 0, table.stderr
    assert f"{len(expected)} of 6 complete trials are on the front" in table.stdout
    assert "automl export STUDY --trial N" in table.stdout


def test_an_unknown_cost_names_the_valid_ones(tmp_path):
    search(tmp_path / "s.db", trials=1).close()
    assert_one_line_error(run("show", tmp_path / "s.db", "--pareto", "params,speed"), "'speed'")
    assert_one_line_error(run("show", tmp_path / "s.db", "--pareto", "speed"), "latency_ms")


def test_a_study_without_costs_says_how_to_get_them(tmp_path):
    search(tmp_path / "s.db", trials=2).close()
    with sqlite3.connect(tmp_path / "s.db") as connection:  # as an older version stored its trials: no costs
        rows = connection.execute("SELECT number, metrics FROM trials").fetchall()
        for number, metrics in rows:
            values = json.loads(metrics)
            values.pop("costs", None)
            connection.execute("UPDATE trials SET metrics = ? WHERE number = ?", (json.dumps(values), number))
    assert_one_line_error(run("show", tmp_path / "s.db", "--pareto", "params"), "costs are measured")
    # latency is measured only under a latency constraint: the line says so
    search(tmp_path / "t.db", trials=1).close()
    result = run("show", tmp_path / "t.db", "--pareto", "latency_ms")
    assert_one_line_error(result, "constraint or an objective names it")


def test_the_pareto_plot_draws_the_front_of_the_study(tmp_path):
    from automl.cli.pareto_command import front_axes, front_document, pareto_figure
    from automl.engine.study import Study

    search(tmp_path / "s.db", trials=5).close()
    result = run("plot", tmp_path / "s.db", "--pareto", "params", "-o", tmp_path / "front.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    study = Study.open(tmp_path / "s.db")
    axes = pareto_figure(study, front_axes(study, "params")).axes[0]
    front = front_document(study, front_axes(study, "params"))["front"]
    steps = axes.lines[0]
    assert list(steps.get_xdata()) == [point["costs"]["params"] for point in front]
    assert list(steps.get_ydata()) == [point["score"] for point in front]
    study.close()
    assert_one_line_error(run("plot", tmp_path / "s.db", "--pareto", "params,flops"), "one cost")
