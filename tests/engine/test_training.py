"""Built-in training on the embedded data sets: scores, failures and the final test."""

import pytest
import torch
from torch import nn

import automl
from automl import space as s
from automl.data import load_dataset, split_dataset
from automl.engine.costs import Costs
from automl.nn import compile_architecture


@s.search_space
def small_mlp(x):
    x = s.op.linear(x, units=s.Choice([16, 32]))
    x = s.op.relu(x)
    return s.op.linear(x, units=s.OUTPUTS)


def test_digits_search_reports_validation_and_test_accuracy(tmp_path):
    study = automl.search(small_mlp, "digits-flat", trials=2, epochs=5, seed=0, study=tmp_path / "d.db")
    best = study.best_trial
    assert best.score > 0.8
    assert best.metrics["metric"] == "accuracy" and best.metrics["parameters"] > 0
    assert 0.8 < study.test_score <= 1.0
    assert study.meta["test_trial"] == best.number
    assert (study.artifacts / f"trial-{best.number}.pt").exists()


def test_regression_is_scored_by_r2(tmp_path):
    study = automl.search(small_mlp, "synthetic-regression", trials=1, epochs=30, study=tmp_path / "r.db")
    assert study.best_trial.metrics["metric"] == "r2"
    assert study.best_trial.score > 0.5


def test_exploding_training_fails_with_its_reason(tmp_path):
    @s.search_space
    def unstable(x):
        x = s.training(x, learning_rate=1e12, optimizer="sgd")
        x = s.op.linear(x, units=64)
        return s.op.linear(x, units=s.OUTPUTS)

    study = automl.search(unstable, "digits-flat", trials=1, epochs=3, study=tmp_path / "n.db")
    trial = study.trials[0]
    assert trial.status == "failed"
    assert "loss became" in trial.error


def test_training_past_trial_seconds_fails(tmp_path):
    study = automl.search(small_mlp, "digits-flat", trials=2, epochs=10_000, trial_seconds=0.5, study=tmp_path / "t.db")
    assert [trial.status for trial in study.trials] == ["failed", "failed"]
    assert all("timed out" in trial.error for trial in study.trials)


def test_training_hyperparameters_in_the_space_reach_the_trainer(tmp_path):
    @s.search_space
    def tuned(x):
        x = s.training(x, batch_size=s.Choice([16]), epochs=s.Choice([2]))
        return s.op.linear(x, units=s.OUTPUTS)

    study = automl.search(tuned, "wine", trials=1, epochs=50, study=tmp_path / "h.db")
    assert study.trials[0].metrics["epochs"] == 2


def test_unknown_training_setting_stops_the_search_before_it_starts(tmp_path):
    from automl.space import SpaceError

    @s.search_space
    def typo(x):
        x = s.training(x, learnin_rate=0.1)
        return s.op.linear(x, units=s.OUTPUTS)

    with pytest.raises(SpaceError, match="learnin_rate"):
        automl.search(typo, "wine", trials=1, epochs=1, study=tmp_path / "u.db")


def test_max_parameters_fails_large_candidates(tmp_path):
    study = automl.search(small_mlp, "digits-flat", trials=3, epochs=1, max_parameters=10, study=tmp_path / "p.db")
    assert all("too large" in trial.error for trial in study.trials)


def test_same_seed_same_training(tmp_path):
    first = automl.search(small_mlp, "wine", trials=2, epochs=3, seed=4, study=tmp_path / "a.db")
    second = automl.search(small_mlp, "wine", trials=2, epochs=3, seed=4, study=tmp_path / "b.db")
    assert [trial.score for trial in first.trials] == [trial.score for trial in second.trials]


def test_export_loads_without_the_space(tmp_path):
    from automl.engine.export import export_trial

    study = automl.search("search_spaces/mlp.py", "digits-flat", trials=2, epochs=2, study=tmp_path / "x.db")
    written = export_trial(study, None, tmp_path / "out")
    program = torch.export.load(written["program"]).module()
    splits = split_dataset(load_dataset("digits-flat"), seed=0)
    predictions = program(torch.as_tensor(splits.test.features[:5]))
    assert predictions.shape == (5, 10)
    retrained = export_trial(study, 1 - study.best_trial.number, tmp_path / "other")
    assert retrained["weights"].exists()


# ---------------------------------------------------------------------------------------------------------------
# --device auto|cpu|cuda: which device a search trains on, and that the trainer really puts everything there.


class StopTraining(Exception):
    """Raised by a spy once it has seen what it came for: no need to train on."""


@pytest.mark.parametrize(
    ("requested", "cuda_available", "expected"),
    [
        ("auto", False, "cpu"),
        ("auto", True, "cuda"),
        ("cpu", True, "cpu"),
        ("cuda", True, "cuda"),
    ],
)
def test_device_option_picks_the_device_trials_train_on(
    tmp_path, monkeypatch, requested: str, cuda_available: bool, expected: str
) -> None:
    """``auto`` is CUDA exactly when torch sees it; ``cpu`` stays on the CPU even then. CUDA's presence is
    faked and training is stopped before it starts, so nothing is allocated on a GPU."""
    import automl.engine.evaluation

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_available)
    monkeypatch.setattr(torch.cuda, "init", lambda: None)  # CUDA's start-up, faked with its presence
    devices: list[torch.device] = []

    def spy(module, splits, settings, seed, device, **options):
        devices.append(device)
        raise StopTraining(f"asked to train on {device}")

    def measure_spy(module, batch, device, latency=False):
        measured_on.append(device)
        return Costs(params=1, flops=1, memory_mb=0.0, device=str(device))

    measured_on: list[torch.device] = []
    monkeypatch.setattr(automl.engine.evaluation, "train_model", spy)
    monkeypatch.setattr(automl.engine.evaluation, "measure_costs", measure_spy)
    study = automl.search(small_mlp, "wine", trials=1, epochs=1, device=requested, study=tmp_path / "d.db")
    assert devices == [torch.device(expected)]
    assert measured_on == [torch.device(expected)]  # costs are measured where the model will run
    assert f"asked to train on {expected}" in study.trials[0].error


@pytest.mark.parametrize(("cuda_available", "expected"), [(False, "cpu"), (True, "cuda")])
def test_auto_device_resolves_to_cuda_only_when_torch_sees_it(monkeypatch, cuda_available: bool, expected: str):
    from automl.training import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_available)
    started: list[bool] = []
    monkeypatch.setattr(torch.cuda, "init", lambda: started.append(True))
    assert resolve_device("auto") == torch.device(expected)
    # CUDA starts when the device is resolved (before the first trial's clock), and only for cuda
    assert started == ([True] if expected == "cuda" else [])
    assert resolve_device() == torch.device(expected)  # auto is the default
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_gpu_stops_the_search_before_it_writes_a_study(tmp_path, monkeypatch) -> None:
    from automl.api import SearchSetupError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SearchSetupError, match=r"no CUDA device is available; use --device auto or cpu"):
        automl.search(small_mlp, "wine", trials=1, epochs=1, device="cuda", study=tmp_path / "c.db")
    with pytest.raises(SearchSetupError, match=r"unknown device 'gpu'; use auto, cpu or cuda"):
        automl.search(small_mlp, "wine", trials=1, epochs=1, device="gpu", study=tmp_path / "c.db")
    assert not (tmp_path / "c.db").exists()


def test_trainer_puts_the_model_and_every_batch_on_the_device_it_is_given(monkeypatch) -> None:
    """Checked on torch's "meta" device, which every machine has: a model or batch left on the CPU shows."""
    from automl.training import TrainingSettings, train_model

    splits = split_dataset(load_dataset("wine"), seed=0)
    compiled = compile_architecture(small_mlp.default(), splits.input_shape, splits.num_outputs)
    module = compiled.module
    seen: dict[str, set[torch.device]] = {"features": set(), "target": set(), "parameters": set()}

    class SpyLoss(nn.CrossEntropyLoss):
        def forward(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            seen["features"].add(outputs.device)
            seen["target"].add(target.device)
            seen["parameters"] |= {parameter.device for parameter in module.parameters()}
            raise StopTraining  # the first batch is enough: the meta device holds no values to train on

    monkeypatch.setattr(nn, "CrossEntropyLoss", SpyLoss)
    with pytest.raises(StopTraining):
        train_model(module, splits, TrainingSettings(epochs=1, batch_size=16), 0, torch.device("meta"))
    meta = {torch.device("meta")}
    assert seen == {"features": meta, "target": meta, "parameters": meta}
