"""``automl rank``: output files, and one-line errors with exit status 2 for bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from automl.cli.rank_command import rank_command


@pytest.fixture
def csv_path(tmp_path, mixed_data):
    path = tmp_path / "data.csv"
    mixed_data.to_csv(path, index=False)
    return path


def run(arguments):
    return CliRunner().invoke(rank_command, [str(argument) for argument in arguments])


@pytest.mark.parametrize("extension", [".csv", ".json"])
def test_rank_prints_table_and_writes_output(tmp_path, csv_path, extension):
    output = tmp_path / f"ranking{extension}"
    result = run([csv_path, "--target", "label", "--top", "3", "-o", output, "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "feature" in result.stdout and "cardinality" in result.stdout and "signal" in result.stdout
    if extension == ".json":
        rows = json.loads(output.read_text())["features"]
    else:
        rows = pd.read_csv(output).to_dict("records")
    assert len(rows) == 3 and rows[0]["rank"] == 1


def test_rank_with_other_ranker_and_sample(csv_path):
    result = run([csv_path, "--target", "label", "--ranker", "3mr", "--sample-rows", "3000"])
    assert result.exit_code == 0, result.output
    assert "3mr" in result.stdout


def bad_inputs(tmp_path, csv_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    constant = tmp_path / "constant.csv"
    pd.DataFrame({"feature": [1, 2, 3], "label": ["same", "same", "same"]}).to_csv(constant, index=False)
    header_only = tmp_path / "header.csv"
    header_only.write_text("feature,label\n")
    spreadsheet = tmp_path / "data.xlsx"
    spreadsheet.write_text("not really")
    return {
        "missing file": ([tmp_path / "nope.csv", "--target", "label"], "not found"),
        "unsupported extension": ([spreadsheet, "--target", "label"], "unsupported file type"),
        "empty file": ([empty, "--target", "label"], "empty"),
        "header only": ([header_only, "--target", "label"], "no data rows"),
        "missing target": ([csv_path, "--target", "price"], "columns are: city, measure, small, signal, label"),
        "constant target": ([constant, "--target", "label"], "single value"),
        "unknown ranker": ([csv_path, "--target", "label", "--ranker", "magic"], "choose one of: 3mr, mi, outrank"),
        "bad top": ([csv_path, "--target", "label", "--top", "0"], "top must be"),
        "bad output": ([csv_path, "--target", "label", "-o", tmp_path / "out.txt"], "use a .csv or .json"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "unsupported extension",
        "empty file",
        "header only",
        "missing target",
        "constant target",
        "unknown ranker",
        "bad top",
        "bad output",
    ],
)
def test_bad_input_gives_one_line_error_and_status_2(tmp_path, csv_path, case):
    arguments, expected = bad_inputs(tmp_path, csv_path)[case]
    result = run(arguments)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in result.output


def test_help_names_every_builtin_ranker():
    """The help lists the rankers without importing the ranking code; the list must not drift."""
    from automl.cli.rank_command import RANKER_NAMES
    from automl.ranking import builtin_rankers

    assert sorted(RANKER_NAMES) == sorted(ranker.name for ranker in builtin_rankers())
    result = run(["--help"])
    assert result.exit_code == 0 and f"Ranking method: {', '.join(RANKER_NAMES)}." in result.stdout
