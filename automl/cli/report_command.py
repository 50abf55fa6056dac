"""``automl report STUDY``: write one self-contained HTML page of a study, to open in any browser.

The study is only read. Bad input (a missing file, a file that is not a study,
an output that cannot be written or that is the study itself) is one line and
exit status 2.
"""

from __future__ import annotations

from pathlib import Path

from automl.cli.errors import UsageProblem


def default_output(study: Path) -> Path:
    """``runs/mlp.db`` -> ``runs/mlp.html``, beside the study."""
    return study.with_suffix(".html")


def report(study_path: Path, output: Path | None = None, interval: bool = True) -> Path:
    """Build the page of ``study_path`` and write it to ``output`` [STUDY.html]; returns the path written."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed

    from automl.engine.study import Study
    from automl.report.interval import not_computed, test_interval
    from automl.report.page import report_html, write_page

    output = default_output(study_path) if output is None else output
    study_files = {study_path.resolve().with_name(study_path.name + suffix) for suffix in ("", "-wal", "-shm")}
    if output.resolve() in study_files:
        raise UsageProblem(f"--output {output} is the study file itself; give another path, e.g. {output}.html")
    if output.is_dir():
        raise UsageProblem(f"--output {output} is a directory; give a file path such as {output / 'report.html'}")
    study = Study.open(study_path)
    try:
        found = test_interval(study) if interval else not_computed("not computed (--no-interval)")
        text = report_html(study, found)
    finally:
        study.close()
    try:
        return write_page(text, output)
    except OSError as error:
        raise UsageProblem(f"cannot write the report to {output}: {error.strerror or error}") from None
