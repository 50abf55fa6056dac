"""`automl show` lists the rungs and promotions of a multi-fidelity study; `automl plot` draws its learning curves.

The studies are written by hand through ``StudyStorage`` in the layout a Hyperband search leaves: trials with a
budget, a ``schedule`` note (bracket, rung, the trial promoted from) and ``continues`` links, each with its own
learning curve.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from automl.cli.main import cli
from automl.cli.plot_command import candidate_curves, figure
from automl.cli.show_command import fidelity_line, full_budget, promotions, rungs, study_config
from automl.engine.config import SearchConfig
from automl.engine.storage import StudyStorage
from automl.engine.study import Study
from automl.strategies.base import Proposal, TrialStatus
from automl.testing.strategies import tiny

COMPLETE, PRUNED, FAILED, RUNNING = (
    TrialStatus.COMPLETE,
    TrialStatus.PRUNED,
    TrialStatus.FAILED,
    TrialStatus.RUNNING,
)
MULTI_FIDELITY = {"fidelity": "epochs", "min_budget": 1, "max_budget": 9, "eta": 3, "multi_fidelity": "hyperband"}


def candidate(index: int):
    return tiny.sample_candidate(np.random.default_rng(index))


def score_at(quality: float, epoch: int) -> float:
    return round(quality - 0.3 / epoch, 4)


def curve(quality: float, first: int, last: int) -> list[dict]:
    """The points of epochs ``first``..``last`` (counted from the start of training)."""
    return [
        {
            "epoch": epoch,
            "score": score_at(quality, epoch),
            "validation_loss": 1 / epoch,
            "train_loss": 0.9 / epoch,
            "seconds": 0.1 * (epoch - first + 1),
        }
        for epoch in range(first, last + 1)
    ]


class Writer:
    """Writes trials into a study as the search driver would (ask, then tell)."""

    def __init__(self, path: Path, schedule: bool = True, config: dict | None = None) -> None:
        self.storage = StudyStorage(path, create=True)
        options = {"space": "python:tiny", "data": "python:hand-made", "epochs": 9, **(config or {})}
        known = {item.name for item in dataclasses.fields(SearchConfig)}
        options = {key: value for key, value in options.items() if key in known or key == "epochs"}
        self.storage.set_meta(
            {
                "config": SearchConfig.from_options(options).to_dict(),
                "space_name": "tiny",
                "strategy": "hyperband" if schedule else "random",
                "direction": "maximize",
                "data": "hand-made",
            }
        )
        self.number = 0
        self.candidates: dict[int, object] = {}

    def trial(
        self,
        index: int,
        quality: float,
        status: TrialStatus,
        budget: float | None = None,
        start: int = 1,
        stop: int | None = None,
        schedule: dict | None = None,
        continues: int | None = None,
    ) -> int:
        """Trial of candidate ``index`` training epochs ``start``..``stop`` (default: up to its budget)."""
        number = self.number
        self.number += 1
        data = {} if schedule is None else {"schedule": {"name": "hyperband", **schedule}}
        self.storage.record_ask(Proposal(candidate(index), budget, data, number, continues), seed=number)
        if status is RUNNING:
            return number
        if status is FAILED:
            self.storage.record_tell(number, status, None, {"epochs": 0}, "diverged: NaN loss")
            return number
        last = stop if stop is not None else int(budget or 9)
        points = curve(quality, start, last)
        metrics = {
            "metric": "accuracy",
            "curve": points,
            "epochs": len(points),
            "cost": len(points) / 9,
            "seconds": points[-1]["seconds"],
            "parameters": 100 + index,
        }
        best = max(point["score"] for point in points)
        self.storage.record_tell(number, status, best, metrics, None)
        return number

    def close(self) -> None:
        self.storage.close()


QUALITIES = [0.80, 0.60, 0.95, 0.55, 0.50, 0.85, 0.45, 0.40, 0.70]  # candidates 0..8 of bracket 0


def hyperband_study(path: Path) -> Path:
    """Bracket 0: 9 trials at 1 epoch (7 complete, 1 pruned, 1 failed); the 3 best continue to 3 epochs (1 of them
    pruned at epoch 2); the best of those continues to 9 epochs. Bracket 1: 3 trials at 3 epochs; the best is promoted
    to 9 epochs, trained from scratch (``from`` without ``continues``), and still running."""
    writer = Writer(path, config=MULTI_FIDELITY)
    rung0 = {}
    for index, quality in enumerate(QUALITIES):
        status = PRUNED if index == 7 else FAILED if index == 8 else COMPLETE
        rung0[index] = writer.trial(index, quality, status, budget=1, schedule={"bracket": 0, "rung": 0})
    up = {}
    for index in (2, 5, 0):  # the three best of rung 0
        pruned = index == 0
        up[index] = writer.trial(
            index,
            QUALITIES[index],
            PRUNED if pruned else COMPLETE,
            budget=3,
            start=2,
            stop=2 if pruned else 3,
            schedule={"bracket": 0, "rung": 1, "from": rung0[index]},
            continues=rung0[index],
        )
    writer.trial(
        2, QUALITIES[2], COMPLETE, budget=9, start=4, schedule={"bracket": 0, "rung": 2, "from": up[2]}, continues=up[2]
    )
    second = {}
    for index, quality in ((9, 0.75), (10, 0.90), (11, 0.65)):
        second[index] = writer.trial(index, quality, COMPLETE, budget=3, schedule={"bracket": 1, "rung": 1})
    writer.trial(10, 0.90, RUNNING, budget=9, schedule={"bracket": 1, "rung": 2, "from": second[10]})
    writer.close()
    return path


def plain_study(path: Path, trials: int = 6, curves: bool = True) -> Path:
    """A search without fidelity: every trial at the full budget, no schedule."""
    writer = Writer(path, schedule=False)
    for index in range(trials):
        if curves:
            writer.trial(index, 0.4 + 0.5 * index / trials, COMPLETE)
        else:
            number = writer.number
            writer.number += 1
            writer.storage.record_ask(Proposal(candidate(index), None, {}, number), seed=number)
            writer.storage.record_tell(number, COMPLETE, 0.5 + index / 100, {"epochs": 9}, None)
    writer.close()
    return path


def invoke(*arguments):
    result = CliRunner().invoke(cli, list(map(str, arguments)), env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# ------------------------------------------------------------------------------------------------------- show


def test_rungs_count_trials_promotions_and_best_scores(tmp_path):
    study = Study.open(hyperband_study(tmp_path / "hb.db"))
    found = rungs(study.trials, study_config(study))
    table = {
        (rung.bracket, rung.rung): (
            rung.budget,
            rung.counts[COMPLETE],
            rung.counts[PRUNED],
            rung.counts[FAILED],
            rung.counts[RUNNING],
            rung.promoted,
            None if rung.best is None else rung.best.number,
        )
        for rung in found
    }
    assert [(rung.bracket, rung.rung) for rung in found] == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)]
    assert table == {
        (0, 0): (1.0, 7, 1, 1, 0, 3, 2),
        (0, 1): (3.0, 2, 1, 0, 0, 1, 9),
        (0, 2): (9.0, 1, 0, 0, 0, 0, 12),
        (1, 1): (3.0, 3, 0, 0, 0, 1, 14),
        (1, 2): (9.0, 0, 0, 0, 1, 0, None),
    }
    moves = [
        (source.number, target.number, target.continues is not None) for source, target in promotions(study.trials)
    ]
    assert moves == [(2, 9, True), (5, 10, True), (0, 11, True), (9, 12, True), (14, 16, False)]
    study.close()


def test_show_prints_rungs_promotions_and_budgets(tmp_path):
    output = invoke("show", hyperband_study(tmp_path / "hb.db"))
    assert "rungs (hyperband)" in output
    assert "13 complete, 1 failed, 2 pruned, 1 running" in output  # the per-status summary counts pruned trials
    assert "promotions: 5 (4 continued from a checkpoint); the last 5:" in output
    assert f"trial 9 (3 epochs, {score_at(0.95, 3):.4f}) -> trial 12 (9 epochs, {score_at(0.95, 9):.4f})" in output
    assert f"trial 2 (1 epoch, {score_at(0.95, 1):.4f}) -> trial 9 (3 epochs" in output
    assert "-> trial 11 (3 epochs, " in output and "pruned)" in output  # a pruned promotion says so
    assert "trial 14 (3 epochs, 0.8000) -> trial 16 (9 epochs, running), trained from scratch" in output
    if "multi_fidelity" in {item.name for item in dataclasses.fields(SearchConfig)}:  # once the fields land
        assert "fidelity: epochs, budgets 1 to 9, eta 3, schedule hyperband" in output
    header = next(line for line in output.splitlines() if "trial" in line and "status" in line)
    assert "budget" in header
    assert "9 (from 9)" in output and "3 (from 14)" not in output and "9 (from 14)" in output
    rung_lines = [line for line in output.splitlines() if "│" in line and line.count("│") > 10]
    assert len(rung_lines) == 5, output  # one row per bracket and rung, not per trial


def test_fidelity_line_reads_whatever_the_config_holds():
    config = SimpleNamespace(
        fidelity="epochs", min_budget=1, max_budget=27, eta=3, multi_fidelity="asha", prune="median", training=None
    )
    assert fidelity_line(config) == "fidelity: epochs, budgets 1 to 27, eta 3, schedule asha, pruning median"
    assert fidelity_line(SimpleNamespace(fidelity="rows", max_budget=None)) == "fidelity: rows"
    assert fidelity_line(SimpleNamespace()) is None and fidelity_line(None) is None
    assert full_budget(SimpleNamespace(training=SimpleNamespace(epochs=20))) == 20.0  # before the fields land
    assert full_budget(SimpleNamespace(max_budget=27, training=SimpleNamespace(epochs=20))) == 27.0


def test_show_without_schedule_has_no_rungs_and_no_budget_column(tmp_path):
    output = invoke("show", plain_study(tmp_path / "plain.db", curves=False))
    assert "rungs" not in output and "promotions" not in output and "fidelity:" not in output
    header = next(line for line in output.splitlines() if "trial" in line and "status" in line)
    assert "budget" not in header
    assert "6 complete" in output


def test_show_top_keeps_working_with_budgets(tmp_path):
    output = invoke("show", hyperband_study(tmp_path / "hb.db"), "--top", "3")
    trial_rows = [line for line in output.splitlines() if "complete" in line and "{" in line]
    assert len(trial_rows) == 3
    assert "rungs (hyperband)" in output  # the rungs summarise the whole study, not only the top trials


def test_show_many_brackets_sums_rungs(tmp_path):
    """ASHA-like numbering (a new bracket per candidate) would make the rungs table long: it is summed by rung."""
    writer = Writer(tmp_path / "many.db", config=MULTI_FIDELITY)
    for index in range(60):
        first = writer.trial(index, 0.5 + index / 200, COMPLETE, budget=1, schedule={"bracket": index, "rung": 0})
        if index % 3 == 0:
            writer.trial(
                index,
                0.5 + index / 200,
                COMPLETE,
                budget=3,
                start=2,
                schedule={"bracket": index, "rung": 1, "from": first},
                continues=first,
            )
    writer.close()
    study = Study.open(tmp_path / "many.db")
    summed = rungs(study.trials, study_config(study), by_bracket=False)
    assert [(rung.rung, rung.trials, rung.promoted) for rung in summed] == [(0, 60, 20), (1, 20, 0)]
    study.close()
    output = invoke("show", tmp_path / "many.db")
    assert "60 brackets, summed by rung" in output


# ------------------------------------------------------------------------------------------------------- plot


def learning_axes(drawn):
    [axes] = [axes for axes in drawn.axes if axes.get_label() == "learning curves"]
    return axes


def test_plot_draws_one_learning_curve_per_candidate(tmp_path):
    study = Study.open(hyperband_study(tmp_path / "hb.db"))
    drawn = figure(study)
    assert len(drawn.axes) == 2  # the scores panel is kept
    axes = learning_axes(drawn)
    lines = {line.get_gid(): line for line in axes.get_lines() if line.get_gid()}
    candidates = {gid: line for gid, line in lines.items() if gid.startswith("candidate-")}
    # 8 candidates of bracket 0 with a curve (the failed one has none) + 3 of bracket 1; promoted ones are one line
    assert sorted(int(gid.split("-")[1]) for gid in candidates) == [1, 3, 4, 6, 7, 10, 11, 12, 13, 14, 15]
    promoted = candidates["candidate-12"]
    assert list(promoted.get_xdata()) == list(range(1, 10))  # trials 2 -> 9 -> 12 joined along `continues`
    assert list(promoted.get_ydata()) == [score_at(0.95, epoch) for epoch in range(1, 10)]
    assert list(candidates["candidate-11"].get_xdata()) == [1, 2]  # pruned at epoch 2 of rung 1
    assert candidates["candidate-11"].get_color() != promoted.get_color()  # pruned endings are told apart
    assert list(candidates["candidate-14"].get_xdata()) == [1, 2, 3]  # its promotion is running, with no curve yet
    assert list(lines["best"].get_xdata()) == list(range(1, 10))  # the best trial (12) highlighted
    assert {gid for gid in lines if gid.startswith("rung-")} == {"rung-1", "rung-3", "rung-9"}
    assert "11 candidates" in axes.get_title()
    study.close()


def test_plot_cli_writes_a_png(tmp_path):
    output = invoke("plot", hyperband_study(tmp_path / "hb.db"), "-o", tmp_path / "out" / "curves.png")
    assert "wrote" in output
    written = (tmp_path / "out" / "curves.png").read_bytes()
    assert written[:8] == b"\x89PNG\r\n\x1a\n" and len(written) > 20_000


def test_plot_without_curves_keeps_the_single_scores_panel(tmp_path):
    study = Study.open(plain_study(tmp_path / "plain.db", curves=False))
    drawn = figure(study)
    assert len(drawn.axes) == 1 and drawn.axes[0].get_xlabel() == "trial"
    study.close()
    invoke("plot", tmp_path / "plain.db", "-o", tmp_path / "plain.png")
    assert (tmp_path / "plain.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_draws_the_best_and_a_sample_of_many_curves(tmp_path):
    study = Study.open(plain_study(tmp_path / "many.db", trials=60))
    assert len(candidate_curves(study.trials)) == 60
    axes = learning_axes(figure(study, limit=12))
    drawn = [line for line in axes.get_lines() if (line.get_gid() or "").startswith("candidate-")]
    assert len(drawn) == 12
    assert "12 of 60 candidates: 4 best + 8 sampled" in axes.get_title()
    numbers = {int(line.get_gid().split("-")[1]) for line in drawn}
    assert {56, 57, 58, 59} <= numbers  # the best (the highest quality) are always drawn
    study.close()


@pytest.mark.slow
def test_show_and_plot_stay_fast_for_ten_thousand_trials(tmp_path):
    """10,000 Hyperband-like trials: `show` prints no row per rung instance, `plot` draws at most a few hundred."""
    path = tmp_path / "big.db"
    writer = Writer(path, config=MULTI_FIDELITY)
    rng = np.random.default_rng(0)
    with writer.storage.transaction() as connection:  # one transaction: the layout of record_ask + record_tell
        import json

        number = 0
        for bracket in range(1000):
            for index in range(10):
                quality = float(rng.uniform(0.3, 0.95))
                budget, first, source = (1, 1, None) if index < 9 else (3, 2, number - 9)
                points = curve(quality, first, budget)
                schedule = {"name": "hyperband", "bracket": bracket % 3, "rung": 0 if index < 9 else 1}
                if source is not None:
                    schedule["from"] = source
                connection.execute(
                    "INSERT INTO trials (number, candidate, status, score, metrics, seed, started, finished, budget,"
                    " proposal, continues) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        number,
                        candidate(index).to_json(),
                        (PRUNED if index == 4 else COMPLETE).value,
                        points[-1]["score"],
                        json.dumps({"curve": points, "epochs": len(points), "metric": "accuracy"}),
                        number,
                        time.time(),
                        time.time(),
                        budget,
                        json.dumps({"schedule": schedule}),
                        source,
                    ),
                )
                number += 1
    writer.close()
    started = time.perf_counter()
    output = invoke("show", path)
    assert "rungs (hyperband)" in output and "promotions: 1000 (1000 continued" in output
    invoke("plot", path, "-o", tmp_path / "big.png")
    assert time.perf_counter() - started < 120
    study = Study.open(path)
    axes = learning_axes(figure(study))
    assert len([line for line in axes.get_lines() if (line.get_gid() or "").startswith("candidate-")]) == 300
    assert "300 of 9,000 candidates" in axes.get_title()
    study.close()


def test_plot_scores_panel_marks_failed_trials_apart_and_follows_the_incumbent(tmp_path):
    """Failed trials have no score: they are ticks on the bottom edge, not points at the lowest score; the best
    so far is the engine's incumbent (highest budget first), and trials are numbered in whole numbers."""
    writer = Writer(tmp_path / "study.db", config=MULTI_FIDELITY)
    writer.trial(0, 0.99, COMPLETE, budget=1, schedule={"bracket": 0, "rung": 0})  # high score, 1 epoch
    writer.trial(1, 0.50, FAILED, budget=1, schedule={"bracket": 0, "rung": 0})
    writer.trial(2, 0.70, COMPLETE, budget=9, schedule={"bracket": 1, "rung": 2})  # lower, but full budget
    writer.close()
    study = Study.open(tmp_path / "study.db")
    drawn = figure(study)
    scores = drawn.axes[0]
    failed = next(line for line in scores.get_lines() if line.get_label().startswith("failed"))
    assert list(failed.get_xdata()) == [1]
    assert failed.get_transform() is not scores.transData  # y in axes coordinates: the bottom edge, no score
    points = {int(x) for collection in scores.collections for x, _ in collection.get_offsets()}
    assert points == {0, 2}
    best = next(line for line in scores.get_lines() if line.get_label() == "best so far")
    assert list(best.get_ydata())[-1] == pytest.approx(score_at(0.70, 9))
    assert scores.xaxis.get_major_locator()._integer
    study.close()
