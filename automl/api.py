"""The Python API: ``automl.search(space, data, **options)`` returns a finished study.

A thin assembly over one :class:`~automl.engine.config.SearchConfig`: the
keywords are its fields (``trials=``, ``strategy=``, ``epochs=``...), checked
once; everything else (the evaluator, the study, the strategy, the runner) is
built from it, the same way for the CLI, ``--resume`` and ``export``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automl.data import DataSplits
from automl.engine.assembly import build_evaluator, load_splits, resolve_space
from automl.engine.config import SearchConfig, SearchSetupError
from automl.engine.evaluation import Evaluator, Objective, takes_budget
from automl.engine.feature_selection import rank_training_features
from automl.engine.lock import StudyLock
from automl.engine.objectives import ObjectiveError, check_known
from automl.engine.pruning import PercentileStopping
from automl.engine.search import Budget, SearchDriver, final_test, start_context
from automl.engine.storage import StudyError, StudyStorage, Trial
from automl.engine.study import Study
from automl.nn import CompileError
from automl.plugins import Plugins, load_plugins
from automl.schedulers import scheduled
from automl.space import Candidate, SearchSpace, SpaceError
from automl.training import TrainingSettingsError, resolve_device

__all__ = ["SearchConfig", "SearchSetupError", "build_evaluator", "load_splits", "search"]


def _default_architecture(space: SearchSpace) -> Any:
    """The space's default architecture; a space function that raises is the user's to fix, in one line."""
    try:
        return space.default()
    except SpaceError:
        raise
    except Exception as error:
        text = (str(error).strip().splitlines() or [""])[0]
        raise SpaceError(f"space {space.name!r} raised while it was built: {type(error).__name__}: {text}") from None


def _check_space_compiles(space: SearchSpace, evaluator: Evaluator, default_architecture: Any) -> None:
    """Build the default architecture once, so a broken space fails before the search starts."""
    try:
        evaluator.build(Candidate(default_architecture.decisions))
    except CompileError as error:
        raise SpaceError(f"space {space.name!r} does not compile for its input: {error}") from None
    except TrainingSettingsError as error:
        raise SpaceError(f"space {space.name!r}: {error}") from None


def _strategy_label(plugins: Plugins, name: str) -> str:
    provided = plugins.strategies().get(name)
    if provided is None or provided.plugin == "automl":
        return f"{name!r} (built-in)"
    return f"{name!r} (plugin {provided.plugin}: {plugins.source(provided.plugin)})"


def _trial_limits(config: SearchConfig) -> Any:
    """The limits of a trial on Dask, or None for the in-process runner (the default: no cluster, no processes)."""
    if config.workers == 1 and config.scheduler is None and config.trial_memory is None:
        return None
    from automl.engine.resources import MemoryLimitError, TrialLimits, parse_memory

    try:
        memory = parse_memory(config.trial_memory)
    except MemoryLimitError as error:
        raise SearchSetupError(str(error)) from None
    return TrialLimits(seconds=config.trial_seconds, memory=memory, threads=config.threads_per_worker)


def _runner(evaluator: Evaluator, config: SearchConfig, limits: Any) -> Any:
    """A Dask runner when the limits ask for one; None leaves the driver its in-process default."""
    if limits is None:
        return None
    from automl.engine.dask_runner import ClusterError, DaskRunner

    try:
        if config.scheduler is not None:
            return DaskRunner(evaluator, scheduler=config.scheduler, limits=limits, retries=config.retries)
        return DaskRunner(evaluator, workers=config.workers, limits=limits, retries=config.retries)
    except ClusterError as error:
        raise SearchSetupError(str(error)) from None


def _check_resume(storage: StudyStorage, config: SearchConfig, resume: bool) -> None:
    """A study with trials continues only with ``resume`` and a config that means the same trials."""
    if storage.next_number() == 0:
        return
    if not resume:
        raise StudyError(
            f"study {storage.path} already has trials; pass --resume to continue it, or choose a new --study path"
        )
    storage.check_writable()
    stored = storage.meta().get("config")
    if stored is None:
        raise StudyError(f"study {storage.path} has no stored search configuration and cannot be resumed")
    differences = SearchConfig.from_dict(stored).differences(config)
    if differences:
        raise StudyError(
            f"study {storage.path} was made with other settings, so its trials would mean something else: "
            + "; ".join(differences)
            + " (resume with the same settings, or start a new --study)"
        )


def _move_aside(path: Path) -> Path | None:
    """``--fresh``: move an existing automl study (and its WAL and artifacts) to ``<name>.bak-<time>``."""
    import time

    if not path.exists():
        return None
    if path.is_dir():
        raise StudyError(f"--study {path} is a directory; give a file path for the study")
    StudyStorage.check_is_study(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
        counter += 1
    for suffix in ("-wal", "-shm"):
        companion = Path(str(path) + suffix)
        if companion.exists():
            companion.replace(Path(str(backup) + suffix))
    artifacts = path.with_name(path.name + ".artifacts")
    if artifacts.exists():
        artifacts.replace(backup.with_name(backup.name + ".artifacts"))
    path.replace(backup)
    return backup


# ----------------------------------------------------------------- the search
def search(
    space: SearchSpace | str,
    data: Any = None,
    *,
    objective: Objective | None = None,
    study: str | Path | None = None,
    resume: bool = False,
    fresh: bool = False,
    config: SearchConfig | None = None,
    plugins: Plugins | None = None,
    on_trial: Callable[[Trial, Study], None] | None = None,
    on_start: Callable[[Study, int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    **options: Any,
) -> Study:
    """Search ``space`` and return the study.

    ``data`` is a built-in data set name, a CSV/Parquet/NPZ path (with
    ``target=``), a ``Dataset`` or ``DataSplits``; or give ``objective``, a
    callable that scores a candidate (``direction=`` says whether to maximise
    or minimise it) instead of the built-in training. The keywords in
    ``options`` are the fields of :class:`SearchConfig` (``strategy``,
    ``trials``, ``time_budget``, ``epochs`` and the other training settings,
    ``trial_seconds``, ``seed``, ``strategy_options``, ``workers``...), or give
    a whole ``config``.

    The study lives in the SQLite file ``study`` (a temporary one when None);
    ``resume=True`` continues it (with settings that mean the same trials);
    ``fresh=True`` first moves an existing study to ``<study>.bak-<time>``.
    ``on_notice`` receives one-line notices (default: ``warnings.warn``).

    Parallel trials (docs/distributed.md): ``workers=N`` runs up to N trials at
    once on a Dask LocalCluster of N processes (call ``search`` under
    ``if __name__ == "__main__":`` in a script); ``scheduler="tcp://host:port"``
    uses a running cluster; ``trial_memory="2GiB"`` fails a trial past that
    resident memory (it runs trials on Dask even with one worker).
    """
    if config is not None and options:
        raise SearchSetupError(f"give a config or keywords, not both (got {', '.join(sorted(options))})")
    objective_name = None
    if objective is not None:
        objective_name = f"{getattr(objective, '__module__', '?')}.{getattr(objective, '__qualname__', '?')}"
    if config is None:  # with the objective's name: a constraint may then bound the objective's own metrics
        config = SearchConfig.from_options({**options, "objective": objective_name} if objective_name else options)
    if resume and fresh:
        raise SearchSetupError("resume and fresh contradict each other; pick one")
    if data is None and objective is None:
        raise SearchSetupError("give data to train candidates on, or an objective that scores them")
    try:
        resolve_device(config.device)
    except ValueError as error:
        raise SearchSetupError(str(error)) from None
    plugins = plugins or load_plugins()
    space, space_reference, space_hash = resolve_space(space)
    strategy_class = plugins.strategy(config.strategy)
    strategy_options = strategy_class.parse_options(config.strategy_options)
    _check_fidelity(config, strategy_class, objective)
    objectives = config.objective_metrics()
    _check_objectives(config, strategy_class, plugins)
    splits, data_reference, data_hash, data_description = load_splits(
        data, config, plugins.datasets() if data is not None else {}
    )
    try:
        check_known(objectives, splits.task if splits is not None else None, objective is not None)
    except ObjectiveError as error:
        raise SearchSetupError(str(error)) from None
    config = config.replace(
        space=space_reference,
        space_hash=space_hash,
        data=data_reference,
        data_hash=data_hash,
        objective=objective_name,
    )
    notice = on_notice or _warn
    default_architecture = _default_architecture(space)
    ranking = None
    if (
        splits is not None
        and objective is None
        and (
            config.rank_features
            or config.keep is not None
            or config.training.keep_features is not None
            or "keep_features" in default_architecture.training
        )
    ):
        ranking = rank_training_features(
            splits,
            config.rank_features or "outrank",
            config.seed,
            [entry.value for entry in plugins.feature_rankers().values()],
        )
    if config.keep is not None:
        config = config.replace(training=config.training.updated({"keep_features": config.keep}))
    evaluator = build_evaluator(
        config, space, splits, plugins, objective, list(ranking.features) if ranking is not None else None
    )
    if splits is not None and objective is None:
        _check_space_compiles(space, evaluator, default_architecture)
    budget_trials = config.trials
    if not default_architecture.decisions and config.trials > 1:
        budget_trials = 1
        notice(f"space {space.name!r} has no decisions: one trial trains its only network (not {config.trials})")
    trial_limits = _trial_limits(config)

    if study is None:
        study = Path(tempfile.mkdtemp(prefix="automl-")) / "study.db"
    study = Path(study)
    StudyStorage.check_path(study)
    lock = StudyLock(study).acquire()
    storage = None
    runner = None
    try:
        if not fresh and study.exists():
            storage = StudyStorage(study, create=True)
            _check_resume(storage, config, resume)  # misuse is refused before a cluster starts
        # Connect before anything is stored or moved aside: a cluster that cannot be reached leaves the study as it was.
        runner = _runner(evaluator, config, trial_limits)
        if storage is None:
            if fresh:
                _move_aside(study)
            storage = StudyStorage(study, create=True)
            _check_resume(storage, config, resume)
        previous_runner = storage.meta().get("runner")
        storage.set_meta(
            {
                "config": config.to_dict(),
                "space": space_reference,
                "space_name": space.name,
                "strategy": config.strategy,
                "seed": config.seed,
                "direction": config.direction,
                "objectives": [objective.text for objective in objectives] or None,
                "data": data_description,
                "standardisation": _standardisation(splits),
                "task": splits.task if splits else None,
                "input_shape": list(splits.input_shape) if splits else None,
                "num_outputs": splits.num_outputs if splits else None,
                "feature_names": list(splits.feature_names) if splits else None,
                "feature_ranker": (config.rank_features or "outrank") if ranking is not None else None,
                "feature_ranking": ranking.to_records() if ranking is not None else None,
                "runner": "in-process" if trial_limits is None else "dask",
            }
        )
        driver_study = Study(storage)

        def report(key: str, value: Any) -> None:
            storage.set_meta({f"strategy.{key}": value})

        from automl.engine.runners import InProcessRunner

        runner = runner or InProcessRunner(evaluator)
        fidelity = config.fidelity_settings()
        strategy_instance = scheduled(strategy_class(), fidelity)
        context = start_context(config.seed, config.trials, strategy_options, evaluator, report, runner.run_job)
        context.fidelity = fidelity
        context.objectives = tuple(objective.name for objective in objectives)
        strategy_instance.setup(space, context)
        driver = SearchDriver(
            storage=storage,
            strategy=strategy_instance,
            evaluator=evaluator,
            budget=Budget(trials=budget_trials, seconds=config.time_budget),
            seed=config.seed,
            events=plugins.events,
            on_trial=on_trial,
            runner=runner,
            strategy_label=_strategy_label(plugins, config.strategy),
            previous_runner=previous_runner,
            pruner=_pruner(config),
            max_infeasible=config.max_infeasible,
            objectives=objectives,
        )
        if objective is None:
            from automl.engine.resources import import_lazy_torch_modules

            import_lazy_torch_modules()  # not on the first trial's clock
        if on_start is not None:
            on_start(driver_study, storage.finished_count())
        result = driver.run()
        if driver.stop_reason is not None:
            notice(driver.stop_reason)
        final_test(result, evaluator)
        return result
    except BaseException:
        if runner is not None:
            runner.close()
        if storage is not None:
            storage.close()
        raise
    finally:
        lock.release()


def _check_fidelity(config: SearchConfig, strategy_class: type, objective: Objective | None) -> None:
    """Fidelity settings the strategy or the objective cannot honour are refused before anything is stored."""
    if config.fidelity is None and config.prune is None:
        return
    what = "--prune" if config.fidelity is None else f"--fidelity {config.fidelity}"
    if not getattr(strategy_class, "accepts_fidelity", True):
        raise SearchSetupError(
            f"strategy {config.strategy!r} selects architectures with a supernet; it takes no {what} "
            "(drop it, or pick a strategy that trains candidates: tpe, random, mcts, smbo, evolution)"
        )
    if objective is not None and config.prune is not None:
        raise SearchSetupError(
            "--prune stops trials between epochs of the built-in training; an objective reports no epochs "
            "(use --multi-fidelity with an objective(candidate, budget) instead)"
        )
    if objective is not None and config.fidelity is not None and not takes_budget(objective):
        name = getattr(objective, "__qualname__", repr(objective))
        raise SearchSetupError(
            f"with --fidelity {config.fidelity} the objective is called as objective(candidate, budget), "
            f"but {name} takes only a candidate; add a budget parameter"
        )


def _check_objectives(config: SearchConfig, strategy_class: type, plugins: Plugins) -> None:
    """Several objectives need a strategy that searches a front; the others are refused, naming those that do."""
    if len(config.objectives) < 2 or getattr(strategy_class, "multi_objective", False):
        return
    able = sorted(
        name for name, entry in plugins.strategies().items() if getattr(entry.value, "multi_objective", False)
    )
    raise SearchSetupError(
        f"strategy {config.strategy!r} optimises one objective; with {len(config.objectives)} objectives "
        f"({', '.join(config.objectives)}) use one that searches a Pareto front: {', '.join(able)}"
    )


def _pruner(config: SearchConfig) -> PercentileStopping | None:
    if config.prune is None:
        return None
    return PercentileStopping(config.prune_percentile, config.prune_warmup, config.prune_min_trials)


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, UserWarning, stacklevel=3)


def _standardisation(splits: DataSplits | None) -> dict[str, Any] | None:
    if splits is None or getattr(splits, "feature_mean", None) is None:
        return None
    return {"mean": splits.feature_mean.tolist(), "scale": splits.feature_scale.tolist()}
