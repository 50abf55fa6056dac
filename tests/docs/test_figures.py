"""The figures the docs quote are the ones the benchmark result files hold, and those files are not stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import figures  # noqa: E402


def test_every_figure_block_is_what_its_result_file_renders():
    stale = [problem for problem in figures.problems() if "figures" in problem]
    assert not stale, "\n".join(stale)


def test_every_result_file_is_newer_than_the_code_it_measures():
    stale = [problem for problem in figures.problems() if "older than the code" in problem or "missing" in problem]
    assert not stale, "\n".join(stale)


def test_a_block_edited_by_hand_is_found(tmp_path, monkeypatch):
    document = tmp_path / "doc.md"
    rendered = figures.RENDERERS["multi-fidelity-part1"]()
    document.write_text(f"<!-- figures:multi-fidelity-part1 -->\n{rendered}\n<!-- /figures:multi-fidelity-part1 -->\n")
    monkeypatch.setattr(figures, "documents", lambda: [document])
    monkeypatch.setattr(figures, "ROOT", tmp_path)
    assert not [problem for problem in figures.problems() if "doc.md" in problem]
    document.write_text(document.read_text().replace(rendered.splitlines()[4][:20], "| random | ours | 0.0001", 1))
    assert [problem for problem in figures.problems() if "doc.md" in problem]


def test_a_result_older_than_its_code_is_found(tmp_path, monkeypatch):
    measured_file = tmp_path / "module.py"
    measured_file.write_text("x = 1\n")
    result = tmp_path / "results" / "toy.json"
    result.parent.mkdir()
    monkeypatch.setattr(figures, "ROOT", tmp_path)
    monkeypatch.setattr(figures, "RESULTS", result.parent)
    monkeypatch.setattr(figures, "documents", lambda: [])
    monkeypatch.setattr(figures, "MEASURED", {"toy": ("module.py",)})
    import common

    monkeypatch.setattr(common, "ROOT", tmp_path)
    result.write_text(json.dumps({"measured": {"sha256": figures.measured_hash(("module.py",))}}))
    assert figures.problems() == []
    measured_file.write_text("x = 2\n")
    assert figures.problems() and "older than the code" in figures.problems()[0]


@pytest.mark.parametrize("name", sorted(figures.RENDERERS))
def test_every_renderer_has_a_block_in_the_docs(name):
    assert any(f"<!-- figures:{name} -->" in path.read_text() for path in figures.documents())
