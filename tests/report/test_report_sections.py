"""The report page shows what `automl evaluate` stored and the feature ranking a search trained on."""

from __future__ import annotations

from click.testing import CliRunner

import automl
from automl.cli.main import cli
from automl.engine.study import Study
from automl.report.page import report_html


def test_the_page_shows_the_stored_evaluation_and_the_feature_ranking(tmp_path):
    path = tmp_path / "s.db"
    options = {"strategy": "random", "trials": 3, "epochs": 1, "device": "cpu", "study": path}
    automl.search("search_spaces/mlp.py", "wine", rank_features="mi", keep=8, **options).close()
    study = Study.open(path)
    page = report_html(study)
    ranking = study.meta["feature_ranking"]
    study.close()
    assert "Feature ranking (mi)" in page and 'id="feature-ranking"' in page
    assert all(f"<td>{record['feature']}</td>" in page for record in ranking)
    assert 'id="evaluation"' not in page  # nothing evaluated yet: no section
    result = CliRunner().invoke(cli, ["evaluate", str(path), "--top", "2", "--folds", "2", "--repeats", "1"])
    assert result.exit_code == 0, result.output
    study = Study.open(path)
    page = report_html(study)
    study.close()
    assert 'id="evaluation"' in page and "CV" in page and "test (trial" in page
