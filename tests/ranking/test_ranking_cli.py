"""``automl rank``: the ranking it prints and writes on a table whose informative columns are known, and one-line
errors with exit status 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from automl.cli.main import cli
from automl.cli.rank_command import rank_command


@pytest.fixture
def csv_path(tmp_path, mixed_data):
    path = tmp_path / "data.csv"
    mixed_data.to_csv(path, index=False)
    return path


def run(arguments):
    return CliRunner().invoke(rank_command, [str(argument) for argument in arguments])


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


# ------------------------------------------------- what the ranking says, on a table whose answer is known
INFORMATIVE_COLUMNS = {"a", "b"}
NOISE_COLUMNS = {"noise_small", "noise_float", "noise_many"}
ID_COLUMN = "user_id"
ROWS = 4_000


@pytest.fixture(scope="module")
def known_table(tmp_path_factory) -> Path:
    """``label`` depends on ``a`` and ``b`` only; three noise columns and a unique-per-row id beside them.

    The id is what plain mutual information is fooled by (one value per row predicts every
    label of the sample), and what OutRank's cardinality correction must push down.
    """
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, ROWS)
    b = rng.integers(0, 4, ROWS)
    label = (a + b + rng.normal(0, 0.7, ROWS) >= 3).astype(int)
    frame = pd.DataFrame(
        {
            ID_COLUMN: [f"u{index:05d}" for index in rng.permutation(ROWS)],
            "noise_small": rng.integers(0, 5, ROWS),
            "a": a,
            "noise_float": rng.normal(size=ROWS),
            "b": b,
            "noise_many": rng.integers(0, 1_000, ROWS),
            "label": np.array(["no", "yes"], dtype=object)[label],
        }
    )
    path = tmp_path_factory.mktemp("known") / "known.csv"
    frame.to_csv(path, index=False)
    return path


def automl_rank(arguments: list[object]) -> Result:
    """``automl rank ...`` through the top-level command, as a user types it."""
    return CliRunner().invoke(cli, ["rank", *(str(argument) for argument in arguments)])


def printed_rows(stdout: str) -> list[dict[str, object]]:
    """The body rows of the printed table (``│ feature │ score │ cardinality │ rank │``), in printed order."""
    rows = []
    for line in stdout.splitlines():
        if not line.startswith("│"):
            continue
        feature, score, cardinality, rank = (cell.strip() for cell in line.strip("│").split("│"))
        rows.append({"feature": feature, "score": float(score), "cardinality": int(cardinality), "rank": int(rank)})
    return rows


def written_rows(output: Path) -> tuple[str | None, list[dict[str, object]]]:
    """(ranker named in the file, its rows) of a written .csv or .json ranking."""
    if output.suffix == ".json":
        document = json.loads(output.read_text())
        assert set(document) == {"ranker", "features"}, document.keys()
        return document["ranker"], document["features"]
    frame = pd.read_csv(output)
    assert list(frame.columns) == ["feature", "score", "cardinality", "rank"]
    return None, frame.to_dict("records")


@pytest.mark.parametrize("extension", [".csv", ".json"])
def test_outrank_prints_and_writes_the_informative_columns_first_and_the_id_below(tmp_path, known_table, extension):
    output = tmp_path / f"ranking{extension}"
    result = automl_rank([known_table, "--target", "label", "-o", output])
    assert result.exit_code == 0, result.output
    assert "Feature ranking (outrank) of known.csv against 'label'" in " ".join(result.stdout.split())
    printed = printed_rows(result.stdout)
    order = [row["feature"] for row in printed]
    assert set(order[:2]) == INFORMATIVE_COLUMNS, order
    assert set(order[2:]) == NOISE_COLUMNS | {ID_COLUMN}, order
    assert [row["rank"] for row in printed] == [1, 2, 3, 4, 5, 6]
    scores = {row["feature"]: row["score"] for row in printed}
    assert [row["score"] for row in printed] == sorted(scores.values(), reverse=True)
    # the correction, not luck: the id scores near zero, far below what either informative column gets
    assert scores[ID_COLUMN] < min(scores[name] for name in INFORMATIVE_COLUMNS) / 20, scores
    cardinality = {row["feature"]: row["cardinality"] for row in printed}
    assert cardinality["a"] == cardinality["b"] == 4 and cardinality["noise_small"] == 5
    assert cardinality[ID_COLUMN] > ROWS * 0.9  # one code per row, up to a few hash collisions
    assert result.stdout.rstrip().endswith(f"wrote {output}")

    ranker, rows = written_rows(output)
    assert ranker in (None, "outrank")
    assert [row["feature"] for row in rows] == order
    assert [row["rank"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [row["cardinality"] for row in rows] == [row["cardinality"] for row in printed]
    assert [round(row["score"], 6) for row in rows] == pytest.approx([row["score"] for row in printed], abs=1e-6)


def test_plain_mutual_information_is_fooled_by_the_id_where_outrank_is_not(known_table):
    """The table really tests the correction: without it the id column comes first."""
    result = automl_rank([known_table, "--target", "label", "--ranker", "mi"])
    assert result.exit_code == 0, result.output
    order = [row["feature"] for row in printed_rows(result.stdout)]
    assert order[0] == ID_COLUMN and set(order[1:3]) == INFORMATIVE_COLUMNS, order


@pytest.mark.parametrize("extension", [".csv", ".json"])
def test_top_keeps_exactly_that_many_best_columns_printed_and_written(tmp_path, known_table, extension):
    output = tmp_path / f"top{extension}"
    result = automl_rank([known_table, "--target", "label", "--top", "2", "-o", output])
    assert result.exit_code == 0, result.output
    printed = printed_rows(result.stdout)
    assert {row["feature"] for row in printed} == INFORMATIVE_COLUMNS and [row["rank"] for row in printed] == [1, 2]
    _, rows = written_rows(output)
    assert [row["feature"] for row in rows] == [row["feature"] for row in printed]
    assert [row["rank"] for row in rows] == [1, 2]


def test_3mr_on_a_row_sample_keeps_the_informative_columns_first_and_the_id_last(tmp_path, known_table):
    output = tmp_path / "3mr.json"
    result = automl_rank(
        [known_table, "--target", "label", "--ranker", "3mr", "--sample-rows", "1000", "--seed", "1", "-o", output]
    )
    assert result.exit_code == 0, result.output
    assert "Feature ranking (3mr)" in result.stdout
    printed = printed_rows(result.stdout)
    order = [row["feature"] for row in printed]
    assert set(order[:2]) == INFORMATIVE_COLUMNS and order[-1] == ID_COLUMN, order
    # ranked on 1000 of the 4000 rows: the id, one value per row, shows at most 1000 codes
    cardinality = {row["feature"]: row["cardinality"] for row in printed}
    assert 900 < cardinality[ID_COLUMN] <= 1000, cardinality
    ranker, rows = written_rows(output)
    assert ranker == "3mr" and [row["feature"] for row in rows] == order


def test_a_target_column_that_does_not_exist_gives_one_line_status_2_and_writes_nothing(tmp_path, known_table):
    output = tmp_path / "ranking.csv"
    result = automl_rank([known_table, "--target", "lable", "-o", output])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: target column 'lable' not found in {known_table}; "
        "columns are: user_id, noise_small, a, noise_float, b, noise_many, label"
    ]
    assert "Traceback" not in result.output
    assert not output.exists()


def test_a_categorical_column_that_does_not_exist_gives_one_line_and_status_2(known_table):
    result = automl_rank([known_table, "--target", "label", "--categorical", "noise_smal"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "noise_smal" in lines[0], result.stderr
