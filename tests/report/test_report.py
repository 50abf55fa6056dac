"""``automl report``: one self-contained HTML page of a real study, checked as text and in a real browser."""

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import automl
from automl import space as s
from automl.cli.main import cli
from automl.engine.study import Study

ROOT = Path(__file__).resolve().parents[2]
TABULAR = ROOT / "search_spaces" / "tabular.py"
# where the browser test leaves its screenshot for a person to look at (runs/ is ignored by git)
SCREENSHOT = ROOT / "runs" / "test-screenshots" / "report.png"
HOSTILE_ERROR = '<img src=x onerror=alert(1)> & "boom"'
HOSTILE_CHOICE = "<script>alert('x')</script>"
# a resource the browser would fetch: src/href/url() pointing anywhere but the page itself, or an @import
NETWORK_REFERENCE = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*(?!#)[a-z]+:|url\(\s*["']?\s*(?!#)|@import)""", re.I)


@s.search_space
def hostile(x):
    x = s.op.linear(x, units=s.Choice([1, 2, 4, 8], name="width"))
    x = s.op.activation(x, kind=s.Choice([HOSTILE_CHOICE, "relu"], name="tag"))
    return s.op.linear(x, units=s.OUTPUTS)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Six trials of a real search on wine: some trained, some refused as too large (three of each with tpe's
    defaults today); a study name to escape."""
    path = tmp_path_factory.mktemp("report") / "wine<b>&c.db"
    automl.search(str(TABULAR), "wine", trials=6, epochs=2, seed=3, max_parameters=3000, study=path).close()
    return path


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A search scored by an objective, one trial of which raises an error full of HTML."""
    calls = []

    def objective(candidate):
        calls.append(candidate)
        if len(calls) == 2:
            raise RuntimeError(HOSTILE_ERROR)
        return candidate["width"] / 8

    path = tmp_path_factory.mktemp("report") / "objective.db"
    automl.search(hostile, objective=objective, trials=8, seed=1, study=path).close()
    return path


def report(*arguments):
    return CliRunner().invoke(cli, ["report", *map(str, arguments)])


def make_page(study, output):
    result = report(study, "--output", output)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {output}"
    return output.read_text(encoding="utf-8")


def trial_rows(page):
    return [int(number) for number in re.findall(r'<tr id="trial-(\d+)"', page)]


def test_the_page_shows_the_best_trial_its_decisions_test_score_and_interval(trained, tmp_path):
    from automl.engine.held_out import best_test_predictions
    from automl.evaluation.statistics import bootstrap_interval

    page = make_page(trained, tmp_path / "report.html")
    study = Study.open(trained)
    try:
        best = study.best_trial
        assert f'id="best-score">{best.score:.4f}<' in page
        assert f'id="test-score">{study.test_score:.4f}<' in page
        decisions = page.split('id="best-decisions"')[1].split("</table>")[0]
        for path, value in best.candidate.items():
            assert f"<td>{path}</td>" in decisions
            assert (f"{value:.4g}" if isinstance(value, float) else str(value)) in decisions
        predictions = best_test_predictions(study)
        expected = bootstrap_interval((predictions.predicted == predictions.truth).astype(float), np.mean)
        assert expected.estimate == pytest.approx(study.test_score)
        assert f'<span id="interval">[{expected.low:.4f}, {expected.high:.4f}]</span>' in page
        assert f"over the {len(predictions.truth)} test rows" in page
        complete = sum(trial.status.value == "complete" for trial in study.trials)
        infeasible = sum(trial.status.value == "infeasible" for trial in study.trials)
        assert complete >= 2 and infeasible >= 2 and complete + infeasible == 6  # the fixture has both kinds
        assert f"{complete} complete, {infeasible} infeasible" in page and "params&lt;=3000" in page
    finally:
        study.close()


def test_every_trial_has_a_row_best_first_with_its_costs_and_refusals(trained, tmp_path):
    page = make_page(trained, tmp_path / "report.html")
    study = Study.open(trained)
    try:
        trials = study.trials
        scored = sorted((trial for trial in trials if trial.score is not None), key=lambda trial: -trial.score)
        unscored = [trial for trial in trials if trial.score is None]
        assert trial_rows(page) == [trial.number for trial in scored + unscored]
        rows = dict(zip(trial_rows(page), re.findall(r'<tr id="trial-\d+".*?</tr>', page), strict=True))
        for trial in trials:
            assert f"{trial.metrics['costs']['params']:,}</td>" in rows[trial.number]
            if trial.error:
                assert trial.status.value == "infeasible" and trial.error.startswith("too large")
                assert trial.error in rows[trial.number]
        assert len(unscored) >= 2 and all(trial.status.value == "infeasible" for trial in unscored)
        assert 'class="best"' in rows[study.best_trial.number]
    finally:
        study.close()
    for plot in ("scores", "curves", "costs"):  # trained by epochs, with measured costs: all three plots
        assert re.search(rf'<figure id="plot-{plot}" class="plot"><svg ', page)


def test_the_page_is_self_contained_escaped_and_the_study_untouched(trained, tmp_path):
    before = digest(trained)
    records = [Study.open(trained).trial_record(trial) for trial in Study.open(trained).trials]
    page = make_page(trained, tmp_path / "report.html")
    assert NETWORK_REFERENCE.search(page) is None
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "wine&lt;b&gt;&amp;c.db" in page and "<b>" not in page
    assert digest(trained) == before
    study = Study.open(trained)
    assert [study.trial_record(trial) for trial in study.trials] == records
    study.close()


def test_hostile_decisions_and_errors_show_as_text(scored, tmp_path):
    page = make_page(scored, tmp_path / "objective.html")
    escaped_error = "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;boom&quot;"
    assert escaped_error in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "<script" not in page
    assert NETWORK_REFERENCE.search(page) is None
    assert "1 failed" in page and "7 complete" in page
    assert "custom objective" in page.split('id="interval"')[1].split("</span>")[0]
    assert "plot-costs" not in page and "plot-scores" in page  # no measured costs: no scatter
    study = Study.open(scored)
    failed = study.failed()
    study.close()
    assert len(failed) == 1 and HOSTILE_ERROR in failed[0].error
    assert trial_rows(page)[-1] == failed[0].number  # no score: after every scored trial


def test_no_interval_says_so(trained, tmp_path):
    page = make_page(trained, tmp_path / "quick.html")
    quick = tmp_path / "quick-no-interval.html"
    result = report(trained, "-o", quick, "--no-interval")
    assert result.exit_code == 0, result.output
    assert "not computed (--no-interval)" in quick.read_text() and "not computed" not in page


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (lambda study, tmp: [tmp / "missing.db"], "does not exist"),
        (lambda study, tmp: [tmp / "text.db"], "is not a study"),
        (lambda study, tmp: [study, "-o", tmp], "is a directory"),
        (lambda study, tmp: [study, "-o", tmp / "text.db" / "report.html"], "cannot write the report"),
        (lambda study, tmp: [study, "-o", study], "is the study file itself"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(trained, tmp_path, arguments, expected):
    (tmp_path / "text.db").write_text("not a database")
    before = digest(trained)
    result = report(*arguments(trained, tmp_path))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.output
    assert "Traceback" not in result.output
    assert digest(trained) == before


def test_the_page_renders_in_a_real_browser(trained, tmp_path):
    """Chromium opens the file: the title, the best score and six non-empty plots, no console error, no fetch;
    a full-page screenshot is left in runs/test-screenshots/report.png."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    output = tmp_path / "report.html"
    make_page(trained, output)
    study = Study.open(trained)
    best_score = f"{study.best_trial.score:.4f}"
    study.close()
    problems, requests = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(output.as_uri())
            page.wait_for_load_state("load")
            assert page.title() == "automl report: tabular / tpe (wine<b>&c.db)"
            assert page.locator("#best-score").inner_text() == best_score
            plots = page.locator("figure.plot svg")
            # scores, time, curves, costs, parallel coordinates, architecture (under 8 complete trials: no importance)
            assert plots.count() == 6
            for index in range(6):
                box = plots.nth(index).bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 100
                assert plots.nth(index).locator("path").count() > 10  # axes, ticks and marks were drawn
            assert page.locator("#trials tbody tr").count() == 6
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert requests == [output.as_uri()]
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and SCREENSHOT.stat().st_size > 10_000


def test_a_regression_study_says_why_it_has_no_interval(tmp_path):
    path = tmp_path / "regression.db"
    automl.search(str(TABULAR), "synthetic-regression", trials=1, epochs=1, seed=0, study=path).close()
    page = make_page(path, tmp_path / "regression.html")
    note = page.split('id="interval"')[1].split("</span>")[0]
    assert "needs the best model&#x27;s per-example test predictions, which the study does not store" in note
    assert "regression study" in note and "[" not in note
    assert 'id="test-score">' in page  # the test score itself is stored and shown


def test_a_study_without_a_score_has_no_plots_and_no_best_trial(tmp_path):
    path = tmp_path / "refused.db"
    automl.search(str(TABULAR), "wine", trials=2, epochs=1, seed=0, max_parameters=10, study=path).close()
    page = make_page(path, tmp_path / "refused.html")
    assert "there is no best trial yet" in page and "nothing to plot" in page and "<svg" not in page
    assert "2 infeasible" in page and len(trial_rows(page)) == 2


def test_a_hyperband_study_shows_each_trials_budget_and_names_its_scheduler(tmp_path):
    path = tmp_path / "hyperband.db"
    automl.search(
        str(TABULAR),
        "wine",
        trials=8,
        strategy="random",
        multi_fidelity="hyperband",
        max_budget=3,
        seed=2,
        device="cpu",
        study=path,
    ).close()
    page = make_page(path, tmp_path / "report.html")
    study = Study.open(path)
    try:
        trials = study.trials
        rows = dict(zip(trial_rows(page), re.findall(r'<tr id="trial-\d+".*?</tr>', page), strict=True))
        assert sorted(rows) == sorted(trial.number for trial in trials)
        budgets = {trial.budget for trial in trials if trial.budget is not None}
        assert len(budgets) > 1  # several rungs were trained
        for trial in trials:
            if trial.budget is not None:  # the budget column follows the score column
                assert re.search(
                    rf'status-[a-z]+">[a-z]+</td><td class="number">[^<]*</td><td class="number">'
                    rf"{trial.budget:g}</td>",
                    rows[trial.number],
                )
        assert "hyperband" in page
        assert f'id="best-score">{study.best_trial.score:.4f}<' in page
    finally:
        study.close()
