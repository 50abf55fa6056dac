"""The Python API: ``automl.search(space, data, ...)`` returns a finished study."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from automl.data import Dataset, DataSplits, load_dataset, split_dataset
from automl.engine.evaluation import Evaluator, Objective
from automl.engine.feature_selection import rank_training_features
from automl.engine.search import Budget, SearchDriver, final_test, start_context
from automl.engine.space_loader import load_space
from automl.engine.storage import StudyError, StudyStorage, Trial
from automl.engine.study import Study
from automl.nn import CompileError, compile_architecture
from automl.plugins import Plugins, load_plugins
from automl.space import SearchSpace, SpaceError
from automl.training import TrainingSettings, TrainingSettingsError


class SearchSetupError(ValueError):
    """The search cannot start: a bad combination of options."""


def _splits(
    data: Any, target: str | None, seed: int, validation_fraction: float, test_fraction: float, datasets: Mapping
) -> tuple[DataSplits | None, str | None]:
    if data is None:
        return None, None
    if isinstance(data, DataSplits):
        return data, "splits given in Python"
    if isinstance(data, (str, Path)):
        data = load_dataset(str(data), target=target, seed=seed, datasets=datasets)
    if not isinstance(data, Dataset):
        raise SearchSetupError(f"data must be a data set name, a file path, a Dataset or DataSplits, not {type(data)}")
    splits = split_dataset(data, validation_fraction=validation_fraction, test_fraction=test_fraction, seed=seed)
    return splits, data.describe()


def _standardisation(splits: DataSplits | None) -> dict[str, Any] | None:
    if splits is None or getattr(splits, "feature_mean", None) is None:
        return None
    return {"mean": splits.feature_mean.tolist(), "scale": splits.feature_scale.tolist()}


def _check_space_compiles(space: SearchSpace, evaluator: Evaluator) -> None:
    """Compile the default architecture once, so a broken space fails before the search starts."""
    architecture = space.default()
    try:
        splits = evaluator.data_for(evaluator.settings.updated(architecture.training_values()))
        compile_architecture(architecture, splits.input_shape, splits.num_outputs, evaluator.op_registry)
    except CompileError as error:
        raise SpaceError(f"space {space.name!r} does not compile for its input: {error}") from None
    except TrainingSettingsError as error:
        raise SpaceError(f"space {space.name!r}: {error}") from None


def _feature_order(ranking: Any, splits: DataSplits | None) -> list[int] | None:
    if ranking is None or splits is None:
        return None
    position = {name: index for index, name in enumerate(splits.feature_names)}
    return [position[name] for name in ranking.features]


def _trial_limits(
    workers: int,
    scheduler: str | None,
    trial_memory: str | int | None,
    retries: int,
    threads_per_worker: int,
    trial_seconds: float | None,
) -> Any:
    """The limits of a trial on Dask, or None for the in-process runner (the default: no cluster, no processes)."""
    if workers < 1:
        raise SearchSetupError(f"workers must be at least 1, got {workers}")
    if scheduler is not None and workers != 1:
        raise SearchSetupError("give workers or a scheduler address, not both: a cluster brings its own workers")
    if retries < 0:
        raise SearchSetupError(f"retries must be 0 or more, got {retries}")
    if threads_per_worker < 1:
        raise SearchSetupError(f"threads per worker must be at least 1, got {threads_per_worker}")
    if scheduler is not None and "://" not in scheduler:
        raise SearchSetupError(f"scheduler address {scheduler!r} needs a protocol, e.g. tcp://127.0.0.1:8786")
    if workers == 1 and scheduler is None and trial_memory is None:
        return None
    from automl.engine.resources import MemoryLimitError, TrialLimits, parse_memory

    try:
        memory = parse_memory(trial_memory)
    except MemoryLimitError as error:
        raise SearchSetupError(str(error)) from None
    return TrialLimits(seconds=trial_seconds, memory=memory, threads=threads_per_worker)


def _runner(evaluator: Evaluator, workers: int, scheduler: str | None, limits: Any, retries: int) -> Any:
    """A Dask runner when the limits ask for one; None leaves the driver its in-process default."""
    if limits is None:
        return None
    from automl.engine.dask_runner import ClusterError, DaskRunner

    try:
        if scheduler is not None:
            return DaskRunner(evaluator, scheduler=scheduler, limits=limits, retries=retries)
        return DaskRunner(evaluator, workers=workers, limits=limits, retries=retries)
    except ClusterError as error:
        raise SearchSetupError(str(error)) from None


def search(
    space: SearchSpace | str,
    data: Any = None,
    *,
    strategy: str = "random",
    trials: int = 20,
    time_budget: float | None = None,
    epochs: int = 20,
    trial_seconds: float | None = None,
    seed: int = 0,
    study: str | Path | None = None,
    resume: bool = False,
    objective: Objective | None = None,
    direction: str = "maximize",
    target: str | None = None,
    device: str = "auto",
    training: TrainingSettings | Mapping[str, Any] | None = None,
    strategy_options: Mapping[str, Any] | None = None,
    max_parameters: int | None = None,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    rank_features: str | None = None,
    keep: int | None = None,
    plugins: Plugins | None = None,
    on_trial: Callable[[Trial, Study], None] | None = None,
    on_start: Callable[[Study, int], None] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    trial_memory: str | int | None = None,
    retries: int = 1,
    threads_per_worker: int = 1,
) -> Study:
    """Search ``space`` and return the study.

    ``data`` is a built-in data set name, a CSV/Parquet/NPZ path (with
    ``target``), a ``Dataset`` or ``DataSplits``; or give ``objective``, a
    callable that scores a candidate (``direction`` says whether to maximise
    or minimise it) instead of the built-in training. The study lives in the
    SQLite file ``study`` (a temporary one when None); ``resume=True``
    continues it.

    Parallel trials (docs/distributed.md): ``workers=N`` runs up to N trials at
    once on a Dask LocalCluster of N processes (call ``search`` under
    ``if __name__ == "__main__":`` in a script); ``scheduler="tcp://host:port"``
    uses a running cluster. ``trial_memory`` ("2GiB") fails a trial past that
    resident memory; it needs trials in their own processes, so it runs them on
    Dask even with one worker. ``retries``: how many times a trial whose worker
    died, or that was in flight when the search was killed, is run again.
    ``threads_per_worker``: torch threads of each trial on Dask.
    """
    if direction not in ("maximize", "minimize"):
        raise SearchSetupError(f"direction must be 'maximize' or 'minimize', not {direction!r}")
    if data is None and objective is None:
        raise SearchSetupError("give data to train candidates on, or an objective that scores them")
    trial_limits = _trial_limits(workers, scheduler, trial_memory, retries, threads_per_worker, trial_seconds)
    plugins = plugins or load_plugins()
    if isinstance(space, str):
        space_reference = space
        space = load_space(space)
    else:
        space_reference = getattr(space, "name", "space")
    strategy_class = plugins.strategy(strategy)
    budget = Budget(trials=trials, seconds=time_budget)
    splits, data_description = _splits(
        data, target, seed, validation_fraction, test_fraction, plugins.datasets() if data is not None else {}
    )
    if isinstance(training, TrainingSettings):
        settings = training
    else:
        settings = TrainingSettings(epochs=epochs, seconds=trial_seconds).updated(dict(training or {}))
    if keep is not None:
        settings = settings.updated({"keep_features": keep})
    registry = plugins.op_registry()
    ranking = None
    if (
        splits is not None
        and objective is None
        and (rank_features or settings.keep_features is not None or "keep_features" in space.default().training)
    ):
        ranking = rank_training_features(
            splits, rank_features or "outrank", seed, [entry.value for entry in plugins.feature_rankers().values()]
        )
    evaluator = Evaluator(
        space=space,
        splits=splits,
        settings=settings,
        op_registry=registry,
        device=device,
        objective=objective,
        max_parameters=max_parameters,
        trial_seconds=trial_seconds,
        direction=direction,
        feature_order=_feature_order(ranking, splits),
    )
    if splits is not None and objective is None:
        _check_space_compiles(space, evaluator)

    if study is None:
        study = Path(tempfile.mkdtemp(prefix="automl-")) / "study.db"
    storage = StudyStorage(study, create=True)
    runner = None
    try:
        meta = storage.meta()
        has_trials = storage.next_number() > 0
        if has_trials and not resume:
            raise StudyError(
                f"study {storage.path} already has trials; pass --resume to continue it, or choose a new --study path"
            )
        if has_trials and (meta.get("strategy"), meta.get("seed")) != (strategy, seed):
            raise StudyError(
                f"study {storage.path} was run with strategy {meta.get('strategy')!r} and seed {meta.get('seed')}; "
                "resume it with the same ones"
            )
        storage.set_meta(
            {
                "space": space_reference,
                "space_name": space.name,
                "strategy": strategy,
                "strategy_options": dict(strategy_options or {}),
                "seed": seed,
                "direction": direction,
                "trials_requested": trials,
                "data": data_description,
                "data_source": str(data) if isinstance(data, (str, Path)) else None,
                "target": target,
                "validation_fraction": validation_fraction,
                "test_fraction": test_fraction,
                "standardisation": _standardisation(splits),
                "task": splits.task if splits else None,
                "input_shape": list(splits.input_shape) if splits else None,
                "num_outputs": splits.num_outputs if splits else None,
                "feature_names": list(splits.feature_names) if splits else None,
                "training": settings.to_dict(),
                "device": device,
                "feature_ranker": (rank_features or "outrank") if ranking is not None else None,
                "feature_ranking": ranking.to_records() if ranking is not None else None,
            }
        )
        driver_study = Study(storage)

        def report(key: str, value: Any) -> None:
            storage.set_meta({f"strategy.{key}": value})

        strategy_instance = strategy_class()
        strategy_instance.setup(space, start_context(seed, trials, dict(strategy_options or {}), evaluator, report))
        runner = _runner(evaluator, workers, scheduler, trial_limits, retries)
        driver = SearchDriver(
            storage=storage,
            strategy=strategy_instance,
            evaluator=evaluator,
            budget=budget,
            seed=seed,
            events=plugins.events,
            on_trial=on_trial,
            runner=runner,
            retries=retries,
        )
        if on_start is not None:
            on_start(driver_study, storage.finished_count())
        result = driver.run()
        final_test(result, evaluator)
        return result
    except BaseException:
        if runner is not None:
            runner.close()
        storage.close()
        raise
