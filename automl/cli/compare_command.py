"""``automl compare``: is one group of studies (a strategy over several seeds) better than another?

Several studies a side: the paired Wilcoxon signed-rank test on the studies'
best scores (``automl.evaluation.statistics.wilcoxon_signed_rank``), pairs
matched by the seed each study stored, else in the order given (and it says
so). One study a side: two models, one test set: McNemar's test on the two best
models' predictions for the same test rows, recomputed from the weights the
studies kept (``automl.engine.held_out``); when that cannot be done (a custom
objective, no stored weights, different test rows) it says what is missing
instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.cli.errors import UsageProblem


@dataclass(frozen=True)
class StudySummary:
    """What a comparison needs of one study."""

    path: Path
    strategy: str | None
    seed: int | None
    data_hash: str | None
    direction: str
    best_score: float  # as maximised by the search (a minimised objective's negated value)
    best_value: float  # the objective's own sign
    test_score: float | None


def summarise(path: Path) -> StudySummary:
    from automl.engine.study import Study

    study = Study.open(path)
    try:
        best = study.best_trial
        if best is None or best.score is None:
            raise UsageProblem(f"study {path} has no complete trial to compare; run its search first")
        meta = study.meta
        config: dict[str, Any] = meta.get("config") or {}
        seed = config.get("seed")
        return StudySummary(
            path=path,
            strategy=config.get("strategy"),
            seed=int(seed) if isinstance(seed, int) else None,
            data_hash=config.get("data_hash"),
            direction=str(meta.get("direction") or config.get("direction") or "maximize"),
            best_score=float(best.score),
            best_value=float(study.objective_value(best)),
            test_score=study.test_score,
        )
    finally:
        study.close()


def _labels(side_a: Sequence[StudySummary], side_b: Sequence[StudySummary]) -> tuple[str, str]:
    """The strategies' names when each side has one and they differ, else A and B."""
    strategies_a = {summary.strategy for summary in side_a}
    strategies_b = {summary.strategy for summary in side_b}
    if (
        len(strategies_a) == len(strategies_b) == 1
        and strategies_a != strategies_b
        and None not in strategies_a | strategies_b
    ):
        return str(next(iter(strategies_a))), str(next(iter(strategies_b)))
    return "A", "B"


def side_labels(paths_a: Sequence[Path], paths_b: Sequence[Path]) -> tuple[str, str]:
    """The names ``compare`` gives the two sides (the strategies', else A and B)."""
    return _labels([summarise(path) for path in paths_a], [summarise(path) for path in paths_b])


def _check_comparable(studies: Sequence[StudySummary]) -> None:
    directions = {summary.direction for summary in studies}
    if len(directions) > 1:
        raise UsageProblem(
            "the studies do not share one direction (some maximise, some minimise); compare like with like"
        )
    hashes = {summary.data_hash: summary.path for summary in studies if summary.data_hash is not None}
    if len(hashes) > 1:
        (hash_a, path_a), (hash_b, path_b) = list(hashes.items())[:2]
        raise UsageProblem(
            f"{path_a} and {path_b} were searched on different data (hash {hash_a[:12]} vs {hash_b[:12]}); "
            "their scores cannot be compared"
        )


def pairing(side_a: Sequence[StudySummary], side_b: Sequence[StudySummary]) -> tuple[list[tuple[Any, Any]], str]:
    """The pairs of studies (by seed when both sides stored the same distinct seeds) and how they were paired."""
    seeds_a = [summary.seed for summary in side_a]
    seeds_b = [summary.seed for summary in side_b]
    stored = None not in seeds_a and None not in seeds_b
    if stored and len(set(seeds_a)) == len(seeds_a) and set(seeds_a) == set(seeds_b):
        by_seed = {summary.seed: summary for summary in side_b}
        pairs = sorted(((summary, by_seed[summary.seed]) for summary in side_a), key=lambda pair: pair[0].seed)
        return pairs, "paired by seed (" + ", ".join(str(pair[0].seed) for pair in pairs) + ")"
    if not stored:
        why = "not every study stored its seed"
    elif len(set(seeds_a)) < len(seeds_a) or len(set(seeds_b)) < len(seeds_b):
        why = "a side repeats a seed"
    else:
        why = f"the seeds differ ({', '.join(map(str, seeds_a))} against {', '.join(map(str, seeds_b))})"
    return list(zip(side_a, side_b, strict=True)), f"paired in the order given: {why}"


def split_sides(arguments: Sequence[str]) -> tuple[list[Path], list[Path]]:
    """``A1 A2 ... --against B1 B2 ...`` as the two lists of study paths (so shell globs work on both sides)."""
    if list(arguments).count("--against") != 1:
        raise UsageProblem("give the two sides as STUDIES... --against STUDIES..., with --against once between them")
    index = list(arguments).index("--against")
    first, second = arguments[:index], arguments[index + 1 :]
    if not first or not second:
        raise UsageProblem("compare needs studies on both sides of --against (one per seed on each side)")
    return [Path(argument) for argument in first], [Path(argument) for argument in second]


def compare(paths_a: Sequence[Path], paths_b: Sequence[Path]) -> list[str]:
    """The lines ``automl compare`` prints; bad input raises :class:`UsageProblem` (one line, exit status 2)."""
    from automl.evaluation.statistics import wilcoxon_signed_rank

    if not paths_a or not paths_b:
        raise UsageProblem("compare needs studies on both sides of --against (one per seed on each side)")
    if len(paths_a) != len(paths_b):
        raise UsageProblem(
            f"compare needs as many studies on each side (one per seed), got {len(paths_a)} and {len(paths_b)}"
        )
    side_a = [summarise(path) for path in paths_a]
    side_b = [summarise(path) for path in paths_b]
    _check_comparable([*side_a, *side_b])
    first, second = _labels(side_a, side_b)
    minimised = side_a[0].direction == "minimize"
    if len(side_a) == 1:
        a, b = side_a[0], side_b[0]
        lines = [f"{first}: {a.path}, best {a.best_value:.4f}" + _test(a)]
        lines.append(f"{second}: {b.path}, best {b.best_value:.4f}" + _test(b))
        return lines + mcnemar_lines(a.path, b.path, (first, second))
    pairs, how = pairing(side_a, side_b)
    lines = [f"{first}: {len(side_a)} studies; {second}: {len(side_b)} studies; {how}"]
    by_seed = how.startswith("paired by seed")
    lines.append(f"{'seed' if by_seed else 'pair':>6}  {first:>12}  {second:>12}  {'difference':>10}")
    for index, (left, right) in enumerate(pairs, start=1):
        seed = str(left.seed) if by_seed else str(index)
        difference = left.best_value - right.best_value
        lines.append(f"{seed:>6}  {left.best_value:>12.4f}  {right.best_value:>12.4f}  {difference:>+10.4f}")
    result = wilcoxon_signed_rank(
        [left.best_score for left, _ in pairs], [right.best_score for _, right in pairs], names=(first, second)
    )
    note = " (on the negated objective, which the search maximised: higher is better)" if minimised else ""
    lines.append(f"{result.test} on the best scores{note}: statistic {result.statistic:g}, p = {result.p_value:.4g}")
    lines.append(result.reading)
    return lines


def mcnemar_lines(path_a: Path, path_b: Path, names: tuple[str, str]) -> list[str]:
    """McNemar's test on the two best models' predictions for the same test rows, or one line on what is missing."""
    from automl.engine.held_out import best_test_predictions
    from automl.engine.storage import StudyError
    from automl.engine.study import Study
    from automl.evaluation.statistics import mcnemar_test

    predictions = []
    for path in (path_a, path_b):
        study = Study.open(path)
        try:
            predictions.append(best_test_predictions(study))
        except StudyError as error:
            return [
                "no test: one study a side compares two models on one test set, which needs McNemar's test on "
                f"both best models' predictions for the same test rows, recomputed from their stored weights: {error}"
            ]
        finally:
            study.close()
    a, b = predictions
    if a.features.shape != b.features.shape or not (
        np.array_equal(a.features, b.features) and np.array_equal(a.truth, b.truth)
    ):
        return [
            "no test: the two studies' test splits are not the same rows (a different seed or split changes them); "
            "McNemar's test needs both models scored on the same test examples"
        ]
    result = mcnemar_test(a.truth, a.predicted, b.predicted, names=names)
    lines = [f"{result.test} on {len(a.truth)} test rows (trials {a.trial} and {b.trial}): "]
    lines[0] += f"statistic {result.statistic:g}, p = {result.p_value:.4g}"
    return [*lines, result.reading]


def _test(summary: StudySummary) -> str:
    return "" if summary.test_score is None else f", test {summary.test_score:.4f}"
