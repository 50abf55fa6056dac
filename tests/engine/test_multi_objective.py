"""Several objectives: parsed and checked, their values stored and told, the front shown, misuse refused."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import automl
import automl.engine.study
from automl import space as s
from automl.engine.config import SearchSetupError
from automl.engine.objectives import ObjectiveError, ObjectiveMetric, parse_objective, parse_objectives
from automl.engine.storage import StudyError
from automl.evaluation.pareto import dominates
from automl.plugins import load_plugins
from automl.plugins.hookspecs import hookimpl
from automl.strategies.base import Proposal, Strategy, TrialStatus
from tests.engine.test_cli import assert_one_line_error, run

SPACE = "search_spaces/mlp.py"
OBJECTIVES = ["accuracy:max", "latency_ms:min"]


@s.search_space
def grid(x: Any) -> Any:
    """40 candidates: a width and a depth, traded against each other by the objective below."""
    x = s.op.linear(x, units=s.Choice([1, 2, 4, 8, 16, 32, 64, 128]))
    x = s.op.activation(x, kind=s.Choice(["relu", "tanh", "gelu", "sigmoid", "elu"]))
    return s.op.linear(x, units=s.OUTPUTS)


def quality_and_size(candidate: Any) -> dict[str, float]:
    """More units score better and cost more: every width is on the front for the best activation."""
    units = candidate["linear.units"]
    bonus = {"relu": 0.1, "tanh": 0.05, "gelu": 0.0, "sigmoid": -0.05, "elu": -0.1}[candidate["activation.kind"]]
    return {"score": math.log2(units) / 7 + bonus, "size": float(units)}


def test_objectives_are_read_as_name_and_direction():
    assert parse_objective("latency_ms:min") == ObjectiveMetric("latency_ms", "min")
    assert parse_objective(" accuracy : maximize ") == ObjectiveMetric("accuracy", "max")
    assert parse_objectives(["accuracy:max"]) == (ObjectiveMetric("accuracy", "max"),)
    with pytest.raises(ObjectiveError, match="no direction; write accuracy:max or accuracy:min"):
        parse_objective("accuracy")
    with pytest.raises(ObjectiveError, match="'up' is not max or min"):
        parse_objective("accuracy:up")
    with pytest.raises(ObjectiveError, match="given twice"):
        parse_objectives(["params:min", "params:min"])
    with pytest.raises(ObjectiveError, match="all name the validation score"):
        parse_objectives(["accuracy:max", "score:max"])
    with pytest.raises(ObjectiveError, match="give two or more"):
        parse_objectives(["latency_ms:min"])


def test_a_search_stores_each_trials_objective_values_and_show_lists_its_front(tmp_path):
    path = tmp_path / "s.db"
    study = automl.search(
        SPACE, "wine", strategy="random", trials=5, epochs=1, device="cpu", objectives=OBJECTIVES, study=path
    )
    assert study.meta["objectives"] == OBJECTIVES
    points = {}
    for trial in study.trials:
        assert trial.status is TrialStatus.COMPLETE
        accuracy, latency = trial.metrics["objectives"]
        assert accuracy == trial.score and latency == trial.metrics["costs"]["latency_ms"] > 0  # measured: named
        points[trial.number] = np.array([-accuracy, latency])
    study.close()
    expected = sorted(
        number for number, point in points.items() if not any(dominates(other, point) for other in points.values())
    )
    result = run("show", path, "--pareto", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [objective["name"] for objective in document["objectives"]] == ["accuracy", "latency_ms"]
    assert sorted(point["number"] for point in document["front"]) == expected
    table = run("show", path, "--pareto")
    assert table.returncode == 0 and f"{len(expected)} of 5 complete trials are on the front" in table.stdout
    before = run("show", "--pareto", path)  # the option's optional value takes the path: still the study
    assert before.returncode == 0 and before.stdout == table.stdout
    assert_one_line_error(run("show"), "give the study file")
    figure = run("plot", path, "--pareto", "-o", tmp_path / "front.png")
    assert figure.returncode == 0 and (tmp_path / "front.png").read_bytes()[:4] == b"\x89PNG"


def test_a_single_objective_strategy_is_refused_naming_those_that_search_a_front(tmp_path):
    result = run(
        "search", SPACE, "--data", "wine", "--strategy", "mcts", "--trials", "2", "--study", tmp_path / "s.db",
        "--objective", "accuracy:max", "--objective", "params:min",
    )  # fmt: skip
    assert_one_line_error(result, "strategy 'mcts' optimises one objective")
    assert "evolution, random, smbo, tpe" in result.stderr
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize(
    ("objectives", "expected"),
    [
        (["accuracy", "params:min"], "no direction"),
        (["accuracy:max", "speed:min"], "unknown metric 'speed'"),
        (["r2:max", "params:min"], "validation score is accuracy"),
        (["params:min", "flops:min"], "no objective is the validation score"),
        (["accuracy:max", "params:down"], "is not max or min"),
    ],
)
def test_bad_objectives_get_one_line(tmp_path, objectives, expected):
    flags = [item for objective in objectives for item in ("--objective", objective)]
    result = run("search", SPACE, "--data", "wine", "--strategy", "random", "--study", tmp_path / "s.db", *flags)
    assert_one_line_error(result, expected)


def test_several_objectives_with_a_budget_schedule_are_refused():
    with pytest.raises(SearchSetupError, match="promoted and trials stopped by one score"):
        automl.search(grid, objective=quality_and_size, objectives=["score:max", "size:min"], multi_fidelity="asha")


def test_a_resume_with_other_objectives_is_refused_and_the_study_kept(tmp_path):
    path = tmp_path / "s.db"
    options = {"strategy": "random", "trials": 2, "study": path, "objective": quality_and_size}
    automl.search(grid, objectives=["score:max", "size:min"], **options).close()
    with pytest.raises(StudyError, match="objectives"):
        automl.search(grid, objectives=["score:max"], resume=True, **options)
    study = automl.search(grid, objectives=["score:max", "size:min"], resume=True, **{**options, "trials": 4})
    assert len(study.trials) == 4
    study.close()


def test_strategies_are_told_one_value_per_objective_each_to_be_maximised(tmp_path):
    told: list[Any] = []
    seen_objectives: list[tuple[str, ...]] = []

    class Recorder(Strategy):
        name = "recorder"
        description = "records what it is told"
        multi_objective = True

        def setup(self, space: Any, context: Any) -> None:
            super().setup(space, context)
            self.rng = np.random.default_rng(context.seed)
            seen_objectives.append(context.objectives)

        def ask(self) -> Proposal:
            return Proposal(self.space.sample_candidate(self.rng))

        def tell(self, proposal: Proposal, result: Any) -> None:
            told.append(result)

        def state_dict(self) -> dict[str, Any]:
            return {"rng": self.rng.bit_generator.state}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.rng.bit_generator.state = state["rng"]

    class Provides:
        @hookimpl
        def automl_strategies(self):
            return [Recorder]

    study = automl.search(
        grid,
        objective=quality_and_size,
        objectives=["score:max", "size:min"],
        strategy="recorder",
        trials=4,
        plugins=load_plugins(entry_points=False, extra=[Provides()]),
        study=tmp_path / "s.db",
    )
    assert seen_objectives == [("score", "size")]
    assert len(told) == 4
    for trial, result in zip(study.trials, told):
        score, size = trial.metrics["objectives"]
        assert result.values == (score, -size)  # size is minimised: negated
    study.close()


def test_a_user_objective_without_a_named_metric_fails_the_trial_and_the_search_goes_on(tmp_path):
    def sometimes_without_size(candidate: Any) -> dict[str, float]:
        values = quality_and_size(candidate)
        if candidate["activation.kind"] == "relu":
            del values["size"]
        return values

    study = automl.search(
        grid,
        objective=sometimes_without_size,
        objectives=["score:max", "size:min"],
        strategy="random",
        trials=12,
        seed=1,
        study=tmp_path / "s.db",
    )
    assert len(study.trials) == 12
    for trial in study.trials:
        if trial.candidate["activation.kind"] == "relu":
            assert trial.status is TrialStatus.FAILED and "'size'" in trial.error
        else:
            assert trial.status is TrialStatus.COMPLETE
    assert any(trial.status is TrialStatus.FAILED for trial in study.trials)
    study.close()


def test_a_constraint_on_a_user_objectives_metric_makes_trials_infeasible(tmp_path):
    study = automl.search(
        grid,
        objective=quality_and_size,
        objectives=["score:max", "size:min"],
        constraints=["size<=16"],
        strategy="random",
        trials=10,
        study=tmp_path / "s.db",
    )
    for trial in study.trials:
        feasible = trial.candidate["linear.units"] <= 16
        assert trial.status is (TrialStatus.COMPLETE if feasible else TrialStatus.INFEASIBLE), trial.error
        if not feasible:
            assert "size" in trial.error and "breaks size<=16" in trial.error
    study.close()


@pytest.mark.parametrize("strategy", ["random", "evolution", "smbo", "tpe"])
def test_multi_objective_strategies_are_reproducible_and_resume_to_the_same_candidates(tmp_path, strategy):
    options = {
        "objective": quality_and_size,
        "objectives": ["score:max", "size:min"],
        "strategy": strategy,
        "seed": 3,
        "strategy_options": {"population": 6} if strategy == "evolution" else {},
    }
    whole = automl.search(grid, trials=14, study=tmp_path / "whole.db", **options)
    again = automl.search(grid, trials=14, study=tmp_path / "again.db", **options)
    assert [trial.candidate for trial in whole.trials] == [trial.candidate for trial in again.trials]
    automl.search(grid, trials=8, study=tmp_path / "parts.db", **options).close()
    resumed = automl.search(grid, trials=14, study=tmp_path / "parts.db", resume=True, **options)
    assert [trial.candidate for trial in resumed.trials] == [trial.candidate for trial in whole.trials]
    for study in (whole, again, resumed):
        study.close()


def test_the_search_summary_and_the_report_page_show_the_front(tmp_path):
    from automl.report.page import report_html

    path = tmp_path / "s.db"
    result = run(
        "search", SPACE, "--data", "wine", "--strategy", "random", "--trials", "3", "--epochs", "1",
        "--device", "cpu", "--study", path, "--objective", "accuracy:max", "--objective", "params:min",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "accuracy:max, params:min" in result.stdout
    assert "Pareto front" in result.stdout and "--pareto" in result.stdout  # the row names the command
    study = automl.engine.study.Study.open(path)
    page = report_html(study)
    study.close()
    assert 'id="plot-objectives"' in page and "accuracy:max, params:min (a Pareto front)" in page


def test_numpy_numbers_a_user_objective_returns_count_as_numbers(tmp_path):
    def with_numpy(candidate: Any) -> dict[str, Any]:
        values = quality_and_size(candidate)
        return {"score": np.float32(values["score"]), "size": np.int64(values["size"])}

    study = automl.search(
        grid,
        objective=with_numpy,
        objectives=["score:max", "size:min"],
        constraints=["size<=16"],
        strategy="random",
        trials=8,
        study=tmp_path / "s.db",
    )
    for trial in study.trials:
        feasible = trial.candidate["linear.units"] <= 16
        assert trial.status is (TrialStatus.COMPLETE if feasible else TrialStatus.INFEASIBLE), trial.error
        if feasible:
            assert trial.metrics["objectives"][1] == float(trial.candidate["linear.units"])
    study.close()
