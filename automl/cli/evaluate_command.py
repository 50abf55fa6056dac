"""``automl evaluate``: how good are a study's best candidates, and its final model, beyond one validation split?

Raschka (2018, arXiv:1811.12808) keeps three roles apart: training data fits
the weights, validation data chooses, test data gives the final number, once.
A search's best validation score did the choosing, so it is optimistic. This
command:

* retrains the top K complete full-budget candidates (by validation score) on
  repeated stratified k-fold resamples of the study's training and validation
  rows (repeated holdout above 20,000 rows, or with ``--holdout``), the way the
  search trained them (``automl.engine.retraining``), and reports each one's
  mean score with a 95% t-interval, and the corrected resampled t-test
  (Nadeau & Bengio, 2003) of each against the top one. The fold scores are not
  independent (Bengio & Grandvalet, 2004): the plain interval is too narrow,
  so the corrected one is printed beside it and the comparison uses the test;
* reports the final model's test score (the best trial with its stored
  weights, as the search scored it; nothing is retrained, and the test rows
  take no part in anything above) with a 95% bootstrap percentile interval
  (``automl.report.interval``);
* with ``--nested``, estimates choosing among those K candidates by nested
  cross-validation (``automl.evaluation.cross_validation``). The search itself
  is not rerun per outer fold: the K candidates came from a search that saw all
  these rows, so the estimate covers the final selection step, not the search.

The results are stored in the study (meta key ``evaluation``, replacing an
earlier evaluation; nothing else is touched), with the study's writer lock held
so no search writes meanwhile; ``automl show`` prints them.

Only click and the standard library are imported with this module; torch and
the engine come when the command runs.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from automl.cli.errors import UsageProblem

META_KEY = "evaluation"
LARGE_DATA_ROWS = 20_000  # the same as automl.evaluation.cross_validation.LARGE_DATA_ROWS (a test checks it)


@click.command("evaluate")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--top", "top", type=int, required=True, help="Retrain the K best complete full-budget candidates.")
@click.option("--folds", type=int, default=5, show_default=True, help="k of k-fold (holdout: 1/k of rows held out).")
@click.option("--repeats", type=int, default=2, show_default=True, help="Repeats of k-fold, or holdout splits.")
@click.option("--nested", is_flag=True, help="Also nested cross-validation of choosing among the K (small data).")
@click.option(
    "--holdout", is_flag=True, help=f"Repeated holdout instead of k-fold (the default above {LARGE_DATA_ROWS:,} rows)."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the document stored in the study.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resamples and the retrainings.")
def evaluate_command(
    study: Path, top: int, folds: int, repeats: int, nested: bool, holdout: bool, output_format: str, seed: int
) -> None:
    """Cross-validate the top K candidates of STUDY and give its test score an interval; stored in the study."""
    progress = _progress_line if sys.stderr.isatty() else None  # a line rewritten in place, on a terminal only
    try:
        document = evaluate_study(study, top, folds, repeats, nested, holdout, seed, progress)
    finally:
        if progress is not None:
            click.echo("\r\033[K", nl=False, err=True)  # cleared, so an error line starts on its own
    if output_format == "json":
        click.echo(json.dumps(document, indent=1))
    else:
        for line in evaluation_lines(document):
            click.echo(line)


def _progress_line(message: str) -> None:
    click.echo(f"\r\033[Kevaluating: {message}", nl=False, err=True)


def _check_options(top: int, folds: int, repeats: int) -> None:
    if top < 1:
        raise UsageProblem(f"--top must be 1 or more, got {top}; e.g. --top 3 retrains the three best candidates")
    if folds < 2:
        raise UsageProblem(f"--folds must be 2 or more, got {folds}; use --folds 5 (or 10)")
    if repeats < 1:
        raise UsageProblem(f"--repeats must be 1 or more, got {repeats}")


def _check_rebuildable(study: Any) -> None:
    """One line on why the study's candidates cannot be retrained, before anything is loaded."""
    meta = study.meta
    config = meta.get("config")
    if config is None:
        raise UsageProblem(f"study {study.path} has no stored search configuration (made by an older automl)")
    if config.get("objective") is not None or meta.get("input_shape") is None:
        raise UsageProblem(
            f"study {study.path} scored candidates with a custom objective: there is no model or data to retrain; "
            "evaluate works on studies searched with a space file and --data"
        )
    for what in ("space", "data"):
        reference = config.get(what)
        if reference is None or str(reference).startswith("python:"):
            raise UsageProblem(
                f"study {study.path}: its {what} was given as a Python object, which cannot be loaded again; "
                f"evaluate needs a study searched with a space file and --data NAME or FILE"
            )


def evaluate_study(
    path: Path,
    top: int,
    folds: int = 5,
    repeats: int = 2,
    nested: bool = False,
    holdout: bool = False,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the evaluation, store it in the study (meta ``evaluation``) and return the stored document."""
    from automl.engine.lock import StudyLock, StudyLockedError
    from automl.engine.study import Study

    _check_options(top, folds, repeats)
    study = Study.open(path)
    try:
        _check_rebuildable(study)
        lock = StudyLock(study.path)
        try:
            lock.acquire()
        except StudyLockedError as error:
            holder = str(error).split(";")[0]
            raise UsageProblem(
                f"{holder}; evaluate stores its results in the study, so run it once that search has ended"
            ) from None
        try:
            document = _evaluate(study, top, folds, repeats, nested, holdout, seed, progress)
            study.storage.set_meta({META_KEY: document})  # one key in one transaction: the rest is left as it was
        finally:
            lock.release()
    finally:
        study.close()
    return document


def _evaluate(
    study: Any,
    top: int,
    folds: int,
    repeats: int,
    nested: bool,
    holdout: bool,
    seed: int,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    from automl.engine.export import evaluator_of
    from automl.engine.retraining import CandidateTrainer, full_budget_trials
    from automl.evaluation.cross_validation import (
        ResamplingError,
        TrainingFailed,
        cross_validate,
        holdout_plan,
        kfold_plan,
        nested_cross_validation,
    )
    from automl.report.interval import test_interval

    started = time.monotonic()
    evaluator = evaluator_of(study)  # the space file and the data must be the ones searched
    candidates = full_budget_trials(study.trials, evaluator)
    if not candidates:
        completed = study.completed()
        if not completed:
            raise UsageProblem(f"study {study.path} has no complete trial to evaluate; run its search first")
        highest = max(trial.budget or 0.0 for trial in completed)
        raise UsageProblem(
            f"study {study.path} has no complete trial at the full budget (the highest reached is {highest:g} of "
            f"{evaluator.fidelity.max_budget:g}); resume its search (automl search ... --resume) for more trials"
        )
    if top > len(candidates):
        raise UsageProblem(
            f"--top {top} asks for more candidates than study {study.path} has: {len(candidates)} complete "
            f"full-budget trial{'s' if len(candidates) != 1 else ''} with distinct candidates; "
            f"use --top {len(candidates)} or fewer"
        )
    chosen = candidates[:top]
    trainer = CandidateTrainer(evaluator, {trial.number: trial for trial in chosen})
    rows = trainer.rows
    large = rows.rows > LARGE_DATA_ROWS
    if nested and large:
        raise UsageProblem(
            f"--nested on {rows.rows:,} rows would train {top * folds * folds + folds} models; nested "
            f"cross-validation is for small data (up to {LARGE_DATA_ROWS:,} rows): drop --nested"
        )
    numbers = [trial.number for trial in chosen]
    try:  # every split is made (and checked) before the first training
        if holdout or large:
            plan = holdout_plan(rows.target, 1.0 / folds, repeats, seed, rows.classification)
        else:
            plan = kfold_plan(rows.target, folds, repeats, seed, rows.classification)
        smallest = rows.rows - math.ceil(rows.rows / folds)  # the smallest outer training part, which nested splits
        if nested and smallest < 2 * folds:
            raise ResamplingError(f"{smallest} rows of an outer training part are too few for {folds} inner folds")
        results = cross_validate(trainer, numbers, plan, progress)
        nested_result = (
            nested_cross_validation(trainer, numbers, rows.target, folds, folds, seed, rows.classification, progress)
            if nested
            else None
        )
    except ResamplingError as error:
        raise UsageProblem(f"study {study.path}: {error}") from None
    except TrainingFailed as error:
        what = "nested cross-validation" if nested else "cross-validation"
        raise UsageProblem(f"study {study.path}: {what} stopped: {error}") from None
    metric = "accuracy" if rows.classification else "r2"
    bounds = (0.0, 1.0) if rows.classification else (float("-inf"), 1.0)  # R² is at most 1, unbounded below
    settings = evaluator.settings
    document: dict[str, Any] = {
        "created": time.time(),
        "method": plan.method,
        "description": plan.describe(),
        "folds": folds,
        "repeats": repeats,
        "stratified": plan.stratified,
        "seed": seed,
        "rows": rows.rows,
        "test_size": plan.test_size,
        "train_size": plan.train_size,
        "early_stopping_share": rows.validation_share,
        "metric": metric,
        "training": {
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "optimizer": settings.optimizer,
            "learning_rate": settings.learning_rate,
            "patience": settings.patience,
        },
        "complete_trials": len(study.completed()),
        "data_hash": study.meta.get("config", {}).get("data_hash"),
        "candidates": _candidate_records(chosen, results, plan, bounds),
        "test": _test_record(study, test_interval(study)),
        "nested": None if nested_result is None else _nested_record(nested_result, bounds),
    }
    document["trainings"] = trainer.trainings
    document["seconds"] = time.monotonic() - started
    return document


def _candidate_records(
    chosen: list[Any], results: list[Any], plan: Any, bounds: tuple[float, float]
) -> list[dict[str, Any]]:
    """One record per candidate: its resample scores, mean, both intervals, and its test against the top one."""
    from automl.evaluation.cross_validation import t_interval
    from automl.evaluation.statistics import corrected_resampled_t_test

    top = results[0]
    records = []
    for trial, result in zip(chosen, results, strict=True):
        record: dict[str, Any] = {
            "trial": trial.number,
            "validation_score": trial.score,
            "scores": list(result.scores),
            "failure": result.failure,
            "mean": result.mean,
            "interval": None,
            "corrected_interval": None,
            "against_top": None,
        }
        if result.mean is not None:
            plain = t_interval(result.scores, bounds=bounds)
            corrected = t_interval(result.scores, test_size=plan.test_size, train_size=plan.train_size, bounds=bounds)
            record["interval"] = [plain.low, plain.high]
            record["corrected_interval"] = [corrected.low, corrected.high]
            if result is not top and top.mean is not None:
                test = corrected_resampled_t_test(
                    result.scores,
                    top.scores,
                    plan.test_size,
                    plan.train_size,
                    names=(f"trial {trial.number}", f"trial {chosen[0].number}"),
                )
                record["against_top"] = {
                    "test": test.test,
                    "statistic": test.statistic if math.isfinite(test.statistic) else None,  # JSON has no inf
                    "p_value": test.p_value,
                    "reading": test.reading,
                }
        records.append(record)
    return records


def _test_record(study: Any, interval: Any) -> dict[str, Any]:
    best = study.best_trial
    return {
        "trial": study.meta.get("test_trial", None if best is None else best.number),
        "score": study.test_score,
        "interval": None if interval.interval is None else [interval.interval.low, interval.interval.high],
        "estimate": None if interval.interval is None else interval.interval.estimate,
        "rows": interval.rows,
        "note": interval.note,
    }


def _nested_record(result: Any, bounds: tuple[float, float]) -> dict[str, Any]:
    from automl.evaluation.cross_validation import t_interval

    interval = t_interval(result.scores, bounds=bounds)
    return {
        "outer_folds": len(result.folds),
        "inner_folds": result.inner_folds,
        "stratified": result.outer.stratified,
        "scores": list(result.scores),
        "mean": interval.estimate,
        "interval": [interval.low, interval.high],
        "folds": [
            {
                "fold": fold.fold + 1,
                "selected": fold.selected,
                "score": fold.score,
                "inner_means": {str(number): mean for number, mean in fold.inner_means.items()},
                "train_rows": fold.train_rows,
                "test_rows": fold.test_rows,
            }
            for fold in result.folds
        ],
        "scope": "selection among the stored top candidates by inner cross-validation; the search is not rerun",
    }


# ------------------------------------------------------------------------------------------------ output


def _interval(values: Any) -> str:
    return "-" if not values else f"[{values[0]:.4f}, {values[1]:.4f}]"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def evaluation_lines(document: Mapping[str, Any]) -> list[str]:
    """What ``automl evaluate`` prints: every number as stored, to 4 decimals."""
    candidates = document["candidates"]
    top = candidates[0]["trial"]
    training = document["training"]
    lines = [
        f"{len(candidates)} candidate{'s' if len(candidates) != 1 else ''}, {document['description']}, on the "
        f"{document['rows']:,} training and validation rows (seed {document['seed']}; test rows not used)",
        f"trained as the search did: up to {training['epochs']} epochs, batch size {training['batch_size']}, "
        f"{training['optimizer']}, learning rate {training['learning_rate']:g} (unless the space sets them); "
        f"early stopping on {document['early_stopping_share']:.0%} of each resample's training rows",
        f"{document['metric']} of each candidate on the held-out rows of each resample:",
        f"{'trial':>7}  {'validation':>10}  {'CV mean':>8}  {'95% t-interval':>18}  {'corrected interval':>18}  "
        f"{'p vs trial ' + str(top):>14}",
    ]
    for record in candidates:
        against = record["against_top"]
        p_value = "-" if against is None else f"{against['p_value']:.4f}"
        lines.append(
            f"{record['trial']:>7}  {_score(record['validation_score']):>10}  {_score(record['mean']):>8}  "
            f"{_interval(record['interval']):>18}  {_interval(record['corrected_interval']):>18}  {p_value:>14}"
        )
    for record in candidates:
        if record["failure"]:
            lines.append(f"trial {record['trial']} could not be trained on every resample: {record['failure']}")
        elif record["against_top"] is not None:
            lines.append(f"trial {record['trial']} against trial {top}: {record['against_top']['reading']}")
    compared = sum(record["against_top"] is not None for record in candidates)
    if compared > 1:
        lines.append(
            f"{compared} comparisons: for all of them at once, read p against {0.05 / compared:.4g} "
            "(Bonferroni: 5% divided by the number of comparisons)"
        )
    lines.append(
        "fold scores are not independent (their training rows overlap; Bengio & Grandvalet, 2004), so the "
        "t-interval is too narrow; the corrected one adds n_test/n_train to the variance (Nadeau & Bengio, 2003), "
        "as the corrected resampled t-test behind p does"
    )
    test = document["test"]
    if test["score"] is None:
        lines.append("test score: none stored (the search kept no weights for its best trial)")
    else:
        line = (
            f"test {document['metric']} of the final model (trial {test['trial']}, its stored weights, scored once): "
            f"{test['score']:.4f}"
        )
        if test["interval"] is None:
            lines += [line, f"no test interval: {test['note']}"]
        else:
            lines.append(f"{line}, 95% bootstrap interval {_interval(test['interval'])} over {test['rows']} test rows")
    nested = document.get("nested")
    if nested is not None:
        lines.append(
            f"nested cross-validation ({nested['outer_folds']} outer folds, {nested['inner_folds']} inner): "
            f"each outer fold chooses among these {len(candidates)} candidates by inner cross-validation on its "
            "training part, retrains the choice there and scores it on the outer test fold (the search is not rerun)"
        )
        for fold in nested["folds"]:
            lines.append(f"  outer fold {fold['fold']}: selected trial {fold['selected']}, score {fold['score']:.4f}")
        lines.append(f"  mean {nested['mean']:.4f}, 95% t-interval {_interval(nested['interval'])}")
    lines.append(f"{document['trainings']} trainings in {document['seconds']:.0f} s; stored in the study (automl show)")
    return lines


def summary_lines(document: Mapping[str, Any], complete_trials: int | None = None) -> list[str]:
    """The short section ``automl show`` prints of a stored evaluation."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(document.get("created", 0)))
    lines = [f"evaluation ({when}, automl evaluate): {document['description']}, {document['rows']:,} rows"]
    stored = document.get("complete_trials")
    if complete_trials is not None and stored is not None and complete_trials != stored:
        lines[0] += f"; made when the study had {stored} complete trials, it has {complete_trials} now"
    candidates = document["candidates"]
    top = candidates[0]["trial"]
    for record in candidates:
        line = (
            f"  trial {record['trial']}: CV {_score(record['mean'])} {_interval(record['interval'])}, "
            f"corrected {_interval(record['corrected_interval'])} (validation {_score(record['validation_score'])})"
        )
        if record["failure"]:
            line = f"  trial {record['trial']}: not trained on every resample ({record['failure']})"
        elif record["against_top"] is not None:
            line += f"; against trial {top}: p = {record['against_top']['p_value']:.4f}"
        lines.append(line)
    test = document["test"]
    if test["score"] is not None:
        lines.append(f"  test (trial {test['trial']}): {test['score']:.4f} {_interval(test['interval'])}")
    nested = document.get("nested")
    if nested is not None:
        counts: dict[int, int] = {}
        for fold in nested["folds"]:
            counts[fold["selected"]] = counts.get(fold["selected"], 0) + 1
        chosen = ", ".join(f"trial {number} x{count}" for number, count in counts.items())
        lines.append(
            f"  nested CV: {nested['mean']:.4f} {_interval(nested['interval'])} over "
            f"{nested['outer_folds']} outer folds (selected: {chosen})"
        )
    return lines
