"""Multi-fidelity through the engine: continuation, pruning, checkpoints, resume, the incumbent, bad input."""

from __future__ import annotations

import sqlite3
from collections import Counter

import numpy as np
import pytest
import torch

import automl
from automl import space as s
from automl.engine.assembly import load_splits
from automl.engine.config import SearchConfig, SearchSetupError
from automl.engine.evaluation import Evaluator, TrialPlan
from automl.engine.storage import StudyError
from automl.strategies.base import TrialStatus
from automl.training import TrainingSettings


@s.search_space
def dropout_mlp(x):
    x = s.op.linear(x, units=s.Choice([16, 32]))
    x = s.op.activation(x, kind=s.Choice(["relu", "tanh"]))
    x = s.op.dropout(x, p=0.3)  # draws from the global random state: continuation must restore it
    x = s.op.linear(x, units=s.Choice([16, 32]))
    return s.op.linear(x, units=s.OUTPUTS)


def digits_splits():
    from automl.data.builtin import builtin_datasets

    splits, *_ = load_splits("digits", SearchConfig(), builtin_datasets())
    return splits


def evaluator(patience: int | None = 2) -> Evaluator:
    settings = TrainingSettings(epochs=9, batch_size=128, patience=patience)
    return Evaluator(space=dropout_mlp, splits=digits_splits(), settings=settings, device="cpu")


def candidate():
    return dropout_mlp.sample_candidate(np.random.default_rng(0))


def same_weights(first, second) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("patience", [None, 2])
def test_a_continued_trial_ends_with_the_weights_of_an_uninterrupted_training(tmp_path, patience):
    trials = evaluator(patience)
    uninterrupted, weights = trials(candidate(), 11, TrialPlan(budget=9))
    first, _ = trials(candidate(), 11, TrialPlan(budget=3, checkpoint=str(tmp_path / "3.pt")))
    continued, continued_weights = trials(
        candidate(),
        11,
        TrialPlan(budget=9, checkpoint=str(tmp_path / "9.pt"), continue_from=str(tmp_path / "3.pt")),
    )
    assert same_weights(weights, continued_weights)
    assert continued.score == uninterrupted.score
    assert first.metrics["epochs"] + continued.metrics["epochs"] == uninterrupted.metrics["epochs"]
    assert [point["epoch"] for point in continued.metrics["curve"]] == list(
        range(4, 4 + continued.metrics["epochs"])
    )  # its own epochs, counted from the start of training
    assert continued.metrics["cost"] == pytest.approx(continued.metrics["epochs"] / 9)


def test_a_rerun_trial_goes_on_from_its_own_checkpoint(tmp_path):
    """A trial killed after some epochs left its checkpoint; run again, it trains only the epochs left."""
    trials = evaluator(None)
    _, weights = trials(candidate(), 5, TrialPlan(budget=9))
    own = str(tmp_path / "trial.pt")
    trials(candidate(), 5, TrialPlan(budget=4, checkpoint=own))  # the attempt that died after epoch 4
    again, again_weights = trials(candidate(), 5, TrialPlan(budget=9, checkpoint=own))
    assert again.metrics["epochs"] == 5
    assert same_weights(weights, again_weights)


def test_a_missing_checkpoint_means_training_from_the_start(tmp_path):
    trials = evaluator(None)
    plan = TrialPlan(budget=3, checkpoint=str(tmp_path / "new.pt"), continue_from=str(tmp_path / "gone.pt"))
    result, _ = trials(candidate(), 5, plan)
    assert result.ok and result.metrics["epochs"] == 3


def test_rows_fidelity_trains_on_a_growing_share_of_the_same_rows():
    from automl.engine.evaluation import training_rows
    from automl.strategies.fidelity import Fidelity

    splits = digits_splits()
    third, all_rows = training_rows(splits, 1 / 3), training_rows(splits, 1.0)
    assert all_rows is splits
    assert len(third.train.target) == int(np.ceil(len(splits.train.target) / 3))
    rows = {row.tobytes() for row in splits.train.features}
    assert all(row.tobytes() in rows for row in third.train.features)
    settings = TrainingSettings(epochs=2, batch_size=128)
    rows_evaluator = Evaluator(dropout_mlp, splits, settings, device="cpu", fidelity=Fidelity("rows", 1 / 9, 1.0, 3))
    result, _ = rows_evaluator(candidate(), 0, TrialPlan(budget=1 / 3))
    assert result.metrics["cost"] == pytest.approx(1 / 3, abs=0.01)


def scheduled_search(path, **options):
    settings = {"strategy": "random", "trials": 22, "multi_fidelity": "hyperband", "max_budget": 9, "seed": 4}
    settings.update({"batch_size": 128, "patience": None, "device": "cpu"})
    settings.update(options)
    return automl.search(dropout_mlp, "digits", study=path, **settings)


def outline(study) -> list[tuple]:
    return [
        (trial.candidate.key, trial.budget, trial.continues, trial.status.value, trial.score, trial.seed)
        for trial in study.trials
    ]


@pytest.fixture(scope="module")
def hyperband(tmp_path_factory):
    """One uninterrupted hyperband search, and the checkpoints on disk after each trial (a hook that only reads).

    Shared: the test of its rungs and the crash-and-resume test that must reproduce it only read it."""
    seen: list[set[str]] = []

    def watch(trial, study):
        seen.append({path.name for path in (study.artifacts / "checkpoints").glob("*.pt")})

    study = scheduled_search(tmp_path_factory.mktemp("hyperband") / "study.db", on_trial=watch)
    yield study, seen
    study.close()


def test_hyperband_search_trains_rungs_continues_and_cleans_up(hyperband):
    study, seen = hyperband
    trials = study.trials
    assert Counter(trial.budget for trial in trials) == {1.0: 9, 3.0: 8, 9.0: 5}
    promoted = [trial for trial in trials if trial.continues is not None]
    assert len(promoted) == 3 + 1 + 1  # bracket 0: 9 -> 3 -> 1; bracket 1: 5 -> 1; bracket 2 starts at 9
    for trial in promoted:
        parent = study.storage.trial(trial.continues)
        assert parent.candidate == trial.candidate and trial.seed == parent.seed
        assert trial.metrics["epochs"] == trial.budget - parent.budget  # continued, not restarted
        assert trial.curve[0]["epoch"] == parent.budget + 1
    # while the search ran, only checkpoints that may still be continued were kept
    assert max(len(names) for names in seen) <= 9
    assert all(f"trial-{trial.number}.pt" not in seen[-1] for trial in trials)
    assert not (study.artifacts / "checkpoints").exists()  # none left at the end
    best = study.best_trial
    assert best.budget == 9.0  # the incumbent is judged at the highest budget reached
    assert (study.artifacts / f"trial-{best.number}.pt").exists() and study.test_score is not None
    assert sum(trial.metrics["cost"] for trial in trials) == pytest.approx(
        sum(
            trial.budget - (study.storage.trial(trial.continues).budget if trial.continues is not None else 0)
            for trial in trials
        )
        / 9
    )


class Crash(BaseException):
    """Escapes the driver like a kill: the trial in flight stays 'running'."""


def test_a_crashed_and_resumed_hyperband_study_equals_an_uninterrupted_one(tmp_path, hyperband):
    expected = outline(hyperband[0])
    path = tmp_path / "crashed.db"
    crash_at = {6, 13}

    def crash(trial, study):
        if trial.number in crash_at:
            crash_at.discard(trial.number)
            raise Crash

    for _ in range(5):
        try:
            study = scheduled_search(path, resume=path.exists(), on_trial=crash)
            break
        except Crash:
            continue
    assert outline(study) == expected
    assert not crash_at


def test_median_pruning_stops_trials_that_fall_behind(tmp_path):
    study = automl.search(
        dropout_mlp,
        "digits",
        study=tmp_path / "study.db",
        strategy="random",
        trials=12,
        epochs=6,
        batch_size=256,
        learning_rate=3e-4,
        patience=None,
        prune="median",
        prune_min_trials=2,
        seed=1,
        device="cpu",
    )
    pruned = [trial for trial in study.trials if trial.status is TrialStatus.PRUNED]
    assert pruned, [trial.score for trial in study.trials]
    for trial in pruned:
        assert trial.error.startswith("pruned after epoch") and "median" in trial.error
        assert len(trial.curve) < 6 and trial.score is not None and trial.metrics["epochs"] == len(trial.curve)
    assert all(trial.metrics["epochs"] == 6 for trial in study.trials if trial.status is TrialStatus.COMPLETE)
    assert study.best_trial.status is TrialStatus.COMPLETE


def test_pruning_thresholds_follow_the_completed_trials_running_averages():
    from automl.engine.pruning import PercentileStopping

    rule = PercentileStopping(percentile=50, warmup_epochs=2, min_trials=3)
    for number, scores in enumerate([[0.2, 0.4], [0.4, 0.6], [0.6, 0.8]]):
        rule.add(number, [{"epoch": e + 1, "score": v} for e, v in enumerate(scores)], None, completed=True)
    rule.add(9, [{"epoch": 1, "score": 0.99}], None, completed=False)  # pruned: not part of the rule
    assert rule.thresholds(3) == (None, pytest.approx(0.5), None)  # warm-up, median of 0.3/0.5/0.7, no data
    # a continued trial's running average starts from its parent's sum
    rule.add(10, [{"epoch": 1, "score": 1.0}], None, completed=True)
    rule.add(11, [{"epoch": 2, "score": 1.0}], 10, completed=True)
    assert rule.averages[1] == pytest.approx([0.3, 0.5, 0.7, 1.0])


def test_resume_refuses_other_fidelity_settings(tmp_path):
    path = tmp_path / "study.db"
    objective = lambda candidate, budget: budget / 9  # noqa: E731
    automl.search(dropout_mlp, objective=objective, study=path, trials=5, multi_fidelity="asha", max_budget=9)
    with pytest.raises(StudyError, match=r"eta: 3 -> 2"):
        automl.search(
            dropout_mlp, objective=objective, study=path, trials=9, multi_fidelity="asha", max_budget=9, eta=2,
            resume=True,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "objective", "message"),
    [
        ({"min_budget": 9, "max_budget": 9}, None, "min budget 9 must be below max budget 9"),
        ({"multi_fidelity": "asha", "eta": 1}, None, "eta must be a whole number of at least 2"),
        ({"multi_fidelity": "asha", "min_budget": 0.5}, None, "budgets are whole epochs"),
        ({"multi_fidelity": "hyperband", "max_budget": 2}, None, "only one rung"),
        ({"fidelity": "rows", "max_budget": 3}, None, "share of the rows"),
        ({"fidelity": "rows", "prune": "median"}, None, "needs the epochs fidelity"),
        ({"prune": "percentile", "prune_percentile": 100}, None, "between 0 and 100"),
        ({"multi_fidelity": "asha", "strategy": "darts"}, None, "strategy 'darts' selects architectures"),
        ({"multi_fidelity": "asha"}, lambda candidate: 1.0, "takes only a candidate; add a budget parameter"),
        ({"prune": "median"}, lambda candidate: 1.0, "an objective reports no epochs"),
    ],
)
def test_bad_fidelity_settings_are_refused_in_one_line_before_anything_is_stored(tmp_path, options, objective, message):
    path = tmp_path / "study.db"
    data = None if objective is not None else "digits"
    with pytest.raises(SearchSetupError, match=message):
        automl.search(dropout_mlp, data, objective=objective, study=path, **options)
    assert not path.exists()


def test_cli_bad_fidelity_exits_2_with_one_line(tmp_path):
    from click.testing import CliRunner

    from automl.cli.main import cli

    space_file = tmp_path / "space.py"
    space_file.write_text("from search_spaces.mlp import mlp\n")
    result = CliRunner().invoke(
        cli, ["search", "search_spaces/mlp.py", "--data", "digits", "--multi-fidelity", "asha", "--eta", "1"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: eta must be a whole number of at least 2 (the factor between rungs), got 1"
    ]


def test_a_schema_2_study_is_upgraded_when_resumed(tmp_path):
    path = tmp_path / "study.db"
    objective = lambda candidate: 1.0  # noqa: E731
    automl.search(dropout_mlp, objective=objective, study=path, trials=2)
    with sqlite3.connect(path) as connection:  # as automl 0.1 left it: no 'continues' column, schema 2
        connection.execute("ALTER TABLE trials DROP COLUMN continues")
        connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    study = automl.search(dropout_mlp, objective=objective, study=path, trials=4, resume=True)
    assert len(study.trials) == 4 and study.meta["schema_version"] == 3


KILLED_SEARCH = """
import sys
import automl
from automl import space as s

@s.search_space
def dropout_mlp(x):
    x = s.op.linear(x, units=s.Choice([16, 32]))
    x = s.op.activation(x, kind=s.Choice(["relu", "tanh"]))
    x = s.op.dropout(x, p=0.3)
    x = s.op.linear(x, units=s.Choice([16, 32]))
    return s.op.linear(x, units=s.OUTPUTS)

if __name__ == "__main__":
    automl.search(
        dropout_mlp, "digits", study=sys.argv[1], resume=len(sys.argv) > 2, strategy="random", trials=22,
        multi_fidelity="hyperband", max_budget=9, seed=4, batch_size=16, patience=None, device="cpu",
    )
"""


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_promoted_trial_then_resume_equals_an_uninterrupted_study(tmp_path):
    """No rung result lost, no promotion repeated, nothing trained twice beyond the epoch in flight."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from automl.engine.study import Study

    script = tmp_path / "search.py"
    script.write_text(KILLED_SEARCH)
    environment = {**os.environ, "PYTHONPATH": os.getcwd()}
    whole = tmp_path / "whole.db"
    subprocess.run([sys.executable, str(script), str(whole)], check=True, env=environment, timeout=600)

    path = tmp_path / "killed.db"
    process = subprocess.Popen([sys.executable, str(script), str(path)], env=environment)
    checkpoints = tmp_path / "killed.db.artifacts" / "checkpoints"
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        if not path.exists():
            continue
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
                running = connection.execute(
                    "SELECT number FROM trials WHERE status = 'running' AND continues IS NOT NULL"
                ).fetchall()
        except sqlite3.Error:
            continue
        for (number,) in running:
            if (checkpoints / f"trial-{number}.pt").exists():  # it has trained at least one epoch of its own
                victim = number
                process.send_signal(signal.SIGKILL)
                break
    process.wait(60)
    assert victim is not None, "the search ended before a promoted trial was caught mid-training"
    subprocess.run([sys.executable, str(script), str(path), "--resume"], check=True, env=environment, timeout=600)

    expected, resumed = Study.open(whole), Study.open(path)
    assert outline(resumed) == outline(expected)
    rerun = resumed.storage.trial(victim)
    assert rerun.attempts == 2
    parent = resumed.storage.trial(rerun.continues)
    assert rerun.metrics["epochs"] < rerun.budget - parent.budget  # went on from its own last epoch
    trained = sum(trial.metrics["epochs"] for trial in resumed.trials)
    assert trained < sum(trial.metrics["epochs"] for trial in expected.trials)


def test_a_rows_fidelity_search_promotes_on_more_rows_and_trains_from_the_start(tmp_path):
    study = automl.search(
        dropout_mlp,
        "digits",
        study=tmp_path / "study.db",
        strategy="random",
        trials=13,
        multi_fidelity="successive-halving",
        fidelity="rows",
        epochs=3,
        batch_size=128,
        seed=2,
        device="cpu",
    )
    trials = study.trials
    assert [trial.budget for trial in trials] == pytest.approx([1 / 9] * 9 + [1 / 3] * 3 + [1.0])
    assert all(trial.continues is None for trial in trials)  # more rows: trained from the start
    assert [trial.proposal_data["schedule"].get("from") is not None for trial in trials] == [False] * 9 + [True] * 4
    assert trials[0].metrics["cost"] == pytest.approx(1 / 9, abs=0.01)
    assert not (study.artifacts / "checkpoints").exists()
    assert study.best_trial.number == 12


def test_export_retrains_a_continued_trial_to_the_same_weights(tmp_path):
    from automl.engine.export import export_trial
    from automl.engine.search import weights_path

    study = scheduled_search(tmp_path / "study.db")
    best = study.best_trial
    assert best.continues is not None  # the incumbent at 9 epochs went on from a lower rung
    saved = torch.load(weights_path(study, best.number), weights_only=True)
    weights_path(study, best.number).unlink()  # as if only its record were left: export trains it again
    from automl.data.builtin import builtin_datasets

    splits, *_ = load_splits("digits", study.config, builtin_datasets())  # split with the search's seed
    built = Evaluator(dropout_mlp, splits, study.config.training, device="cpu")
    written = export_trial(study, best.number, tmp_path / "exported", evaluator=built)
    assert same_weights(saved, torch.load(written["weights"], weights_only=True))
