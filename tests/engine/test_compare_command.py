"""``automl compare``: a paired Wilcoxon test on two groups of studies' best scores; bad input is one line, exit 2."""

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

import automl
from automl import space as s
from automl.cli.main import cli
from automl.engine.study import Study

SEEDS = range(8)


@s.search_space
def toy(x):
    x = s.op.linear(x, units=s.Choice([1, 2, 4, 8], name="width"))
    x = s.Optional(lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5, name="rate")))(x)
    return s.op.linear(x, units=s.OUTPUTS)


def score(candidate):
    return candidate["width"] + candidate.get("rate", 0.0)


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Per seed: a long random search, a short one (a prefix of the long one's candidates), and a tpe search."""
    folder = tmp_path_factory.mktemp("compare")
    paths = {"long": [], "short": [], "tpe": [], "other_seeds": []}
    for seed in SEEDS:
        for kind, strategy, trials, study_seed in (
            ("long", "random", 12, seed),
            ("short", "random", 2, seed),
            ("tpe", "tpe", 4, seed),
            ("other_seeds", "tpe", 4, seed + 100),
        ):
            path = folder / f"{kind}-{seed}.db"
            automl.search(toy, objective=score, trials=trials, seed=study_seed, strategy=strategy, study=path).close()
            paths[kind].append(path)
    return paths


def invoke(*arguments):
    result = CliRunner().invoke(cli, ["compare", *map(str, arguments)])
    return result


def best_scores(paths):
    values = []
    for path in paths:
        study = Study.open(path)
        values.append(study.best_trial.score)
        study.close()
    return values


def against(paths):
    return ["--against", *paths]


def test_compare_pairs_by_seed_and_reports_scipys_wilcoxon(studies):
    shuffled = list(reversed(studies["short"]))  # the pairing follows the stored seeds, not the order given
    result = invoke(*studies["long"], *against(shuffled))
    assert result.exit_code == 0, result.output
    assert "paired by seed (0, 1, 2, 3, 4, 5, 6, 7)" in result.stdout
    best_differences = np.subtract(best_scores(studies["long"]), best_scores(studies["short"]))
    expected = stats.wilcoxon(best_differences[best_differences != 0])  # ties dropped, exact distribution of the rest
    match = re.search(r"statistic (\S+), p = (\S+)", result.stdout)
    assert match and float(match.group(1)) == pytest.approx(expected.statistic)
    assert float(match.group(2)) == pytest.approx(expected.pvalue, rel=1e-3)
    # the long search saw every candidate of the short one, so it is never worse
    differences = [float(line.split()[-1]) for line in result.stdout.splitlines() if re.match(r"\s+\d+\s", line)]
    assert len(differences) == len(SEEDS) and min(differences) >= 0
    reading = result.stdout.strip().splitlines()[-1]
    assert ("A is better than B" in reading) == (expected.pvalue < 0.05)


def test_compare_names_the_strategies_and_says_when_it_pairs_by_order(studies):
    result = invoke(*studies["tpe"], *against(studies["long"]))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("tpe: 8 studies; random: 8 studies; paired by seed")
    by_order = invoke(*studies["other_seeds"], *against(studies["long"]))
    assert by_order.exit_code == 0, by_order.output
    assert "paired in the order given: the seeds differ (100, 101" in by_order.stdout


def test_one_study_a_side_says_what_mcnemar_needs(studies):
    result = invoke(studies["tpe"][0], "--against", studies["long"][0])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("tpe: ") and lines[1].startswith("random: ")
    assert lines[-1].startswith("no test: ") and "McNemar" in lines[-1] and "custom objective" in lines[-1]
    assert "p =" not in result.stdout  # no test is made up


TABULAR = Path(__file__).resolve().parents[2] / "search_spaces" / "tabular.py"


def test_one_trained_study_a_side_gets_mcnemar_on_the_best_models_test_predictions(tmp_path):
    from automl.engine.held_out import best_test_predictions
    from automl.evaluation.statistics import mcnemar_test

    paths = []
    for strategy in ("random", "tpe"):
        path = tmp_path / f"{strategy}.db"
        automl.search(str(TABULAR), "wine", trials=2, epochs=2, seed=3, strategy=strategy, study=path).close()
        paths.append(path)
    result = invoke(paths[0], "--against", paths[1])
    assert result.exit_code == 0, result.output
    predictions = []
    for path in paths:
        study = Study.open(path)
        predictions.append(best_test_predictions(study))
        assert (predictions[-1].predicted == predictions[-1].truth).mean() == pytest.approx(study.test_score)
        study.close()
    expected = mcnemar_test(predictions[0].truth, predictions[0].predicted, predictions[1].predicted)
    assert f"on {len(predictions[0].truth)} test rows" in result.stdout
    assert f"statistic {expected.statistic:g}, p = {expected.p_value:.4g}" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("only random right on ")


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (lambda paths, tmp: [tmp / "missing.db", "--against", paths["long"][0]], "does not exist"),
        (lambda paths, tmp: [*paths["long"][:3], *against(paths["short"][:2])], "got 3 and 2"),
        (lambda paths, tmp: paths["long"][:2], "--against once"),
        (lambda paths, tmp: [paths["long"][0], "--against"], "both sides"),
        (lambda paths, tmp: [paths["long"][0], "--against", paths["short"][0], "--against", paths["tpe"][0]], "once"),
        (lambda paths, tmp: [tmp / "text.db", "--against", paths["long"][0]], "is not a study"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(studies, tmp_path, arguments, expected):
    (tmp_path / "text.db").write_text("not a database")
    result = invoke(*arguments(studies, tmp_path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


def test_studies_that_cannot_be_compared_are_refused(studies, tmp_path):
    def fails(candidate):
        raise RuntimeError("no score")

    failed = tmp_path / "failed.db"
    automl.search(toy, objective=fails, trials=2, seed=0, study=failed).close()
    minimised = tmp_path / "minimised.db"
    automl.search(toy, objective=score, trials=2, seed=1, direction="minimize", study=minimised).close()
    for arguments, expected in (
        ([failed, "--against", studies["long"][0]], "no complete trial"),
        ([minimised, studies["long"][0], "--against", *studies["short"][:2]], "one direction"),
    ):
        result = invoke(*arguments)
        assert result.exit_code == 2 and result.stderr.startswith("error: ") and expected in result.stderr, (
            result.output
        )


def test_plot_draws_each_sides_best_so_far_with_a_band_over_its_studies(studies, tmp_path):
    from automl.cli.compare_plot import band, best_so_far, comparison_figure

    output = tmp_path / "compare.png"
    result = invoke(*studies["tpe"], "--plot", output, *against(studies["long"]))
    assert result.exit_code == 0, result.output
    assert f"wrote {output}" in result.stdout and output.read_bytes()[:4] == b"\x89PNG"
    curves = [best_so_far(path) for path in studies["long"]]
    assert all(np.all(np.diff(curve) >= 0) for curve in curves)  # a best so far never falls (maximised)
    assert [curve[-1] for curve in curves] == pytest.approx(best_scores(studies["long"]))
    mean, low, high = band(curves)
    assert mean == pytest.approx(np.mean(curves, axis=0)) and np.all(low <= mean) and np.all(mean <= high)
    axes = comparison_figure([("tpe", studies["tpe"]), ("random", studies["long"])]).axes[0]
    assert [line.get_label() for line in axes.lines] == ["tpe (8 studies)", "random (8 studies)"]
    assert len(axes.lines[0].get_xdata()) == 4  # cut to the shortest study of the side
    missing = invoke(*studies["tpe"], *against(studies["long"]), "--plot")
    assert missing.exit_code == 2 and "--plot takes the PNG file" in missing.output
