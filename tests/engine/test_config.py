"""One SearchConfig: built from keywords, validated once, stored whole, compared whole on resume."""

from __future__ import annotations

import pytest

import automl
from automl.engine.config import SearchConfig, SearchSetupError
from automl.engine.storage import StudyError
from automl.engine.study import Study
from tests.strategies.helpers import tiny


def score(candidate) -> float:
    return 1.0 if candidate["or.branch"] == "deep" else 0.5


def test_flat_options_build_the_training_settings():
    config = SearchConfig.from_options({"epochs": 3, "batch_size": 32, "trial_seconds": 9.0, "trials": 4})
    assert (config.training.epochs, config.training.batch_size, config.training.seconds) == (3, 32, 9.0)
    assert config.trial_seconds == 9.0
    assert SearchConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trails": 3}, "did you mean 'trials'"),
        ({"time_budget": -5}, "time budget must be > 0"),
        ({"keep": 0}, "keep must be at least 1"),
        ({"keep": -2}, "keep must be at least 1"),
        ({"trials": 0}, "trials must be at least 1"),
        ({"trial_seconds": 0}, "trial seconds must be > 0"),
        ({"validation_fraction": 0.6, "test_fraction": 0.5}, "no training rows"),
        ({"direction": "up"}, "direction"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, "not both"),
        ({"scheduler": "127.0.0.1:8786"}, "needs a protocol"),
        ({"optimizer": "lbfgs"}, "optimizer"),
    ],
)
def test_bad_values_are_refused_with_one_message(options, message):
    with pytest.raises(SearchSetupError, match=message):
        SearchConfig.from_options(options)


def test_the_study_stores_the_whole_config(tmp_path):
    path = tmp_path / "s.db"
    automl.search(
        tiny, objective=score, trials=2, seed=4, study=path, strategy="mcts", strategy_options={"bins": 3}
    ).close()
    study = Study.open(path)
    config = SearchConfig.from_dict(study.meta["config"])
    assert (config.seed, config.strategy, dict(config.strategy_options), config.trials) == (4, "mcts", {"bins": 3}, 2)
    assert config.space == "python:tiny" and config.space_hash
    assert config.objective.endswith("score")
    study.close()


def test_resume_refuses_a_changed_option_and_names_it(tmp_path):
    path = tmp_path / "s.db"
    automl.search(tiny, objective=score, trials=2, study=path, strategy="mcts", strategy_options={"bins": 3}).close()
    with pytest.raises(StudyError, match=r"strategy_options\.bins: 3 -> 4"):
        automl.search(
            tiny, objective=score, trials=4, study=path, strategy="mcts", strategy_options={"bins": 4}, resume=True
        )
    with pytest.raises(StudyError, match=r"training\.epochs: 20 -> 5"):
        automl.search(
            tiny,
            objective=score,
            trials=4,
            study=path,
            strategy="mcts",
            strategy_options={"bins": 3},
            resume=True,
            epochs=5,
        )
    # more trials, another time budget or device: how the search runs, not what a trial means
    study = automl.search(
        tiny,
        objective=score,
        trials=4,
        study=path,
        strategy="mcts",
        strategy_options={"bins": 3},
        resume=True,
        time_budget=600,
        device="cpu",
    )
    assert len(study.completed()) == 4
    study.close()


def test_resume_refuses_another_space_or_data(tmp_path):
    space_file = tmp_path / "space.py"
    space_file.write_text(
        "from automl import space as s\n\n@s.search_space\ndef grid(x):\n"
        "    x = s.op.linear(x, units=s.Choice([4, 8]))\n    return s.op.linear(x, units=s.OUTPUTS)\n"
    )
    path = tmp_path / "s.db"
    automl.search(str(space_file), "wine", trials=1, epochs=1, study=path).close()
    with pytest.raises(StudyError, match=r"data: .*wine.* -> .*breast-cancer"):
        automl.search(str(space_file), "breast-cancer", trials=2, epochs=1, study=path, resume=True)
    space_file.write_text(space_file.read_text().replace("[4, 8]", "[4, 16]"))
    with pytest.raises(StudyError, match="space_hash"):
        automl.search(str(space_file), "wine", trials=2, epochs=1, study=path, resume=True)


def test_a_study_of_the_previous_schema_is_refused_in_one_line_and_still_readable(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    automl.search(tiny, objective=score, trials=2, study=path).close()
    with sqlite3.connect(path) as connection:  # what automl 0.1 wrote: schema 1
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.close()
    with pytest.raises(StudyError, match=r"schema 1, this one writes schema 3\) and cannot be resumed"):
        automl.search(tiny, objective=score, trials=4, study=path, resume=True)
    study = Study.open(path)
    assert len(study.completed()) == 2
    study.close()
