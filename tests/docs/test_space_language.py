"""Run every ```python block of docs/space-language.md, in order, in one namespace.

A line ``expression  # -> expected`` is checked too: ``repr(expression)`` must equal
``expected`` (so outputs shown in the tutorial stay truthful).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "space-language.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
CHECKED = re.compile(r"^(?P<expression>\S.*?)\s+# -> (?P<expected>.+)$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block."""
    return [(text.count("\n", 0, match.start()) + 2, match.group(1)) for match in BLOCK.finditer(text)]


def with_checks(code: str) -> str:
    """Turn top-level ``expression  # -> expected`` lines into checks."""
    lines = []
    for line in code.splitlines():
        match = CHECKED.match(line)
        if match:
            expression, expected = match["expression"], match["expected"].strip()
            line = f"__check__(({expression}), {expected!r}, {expression!r})"
        lines.append(line)
    return "\n".join(lines) + "\n"


def check(value: object, expected: str, expression: str) -> None:
    shown = repr(value)
    assert shown == expected, f"{expression} gives {shown}, the doc says {expected}"


def test_the_doc_has_python_blocks():
    assert len(python_blocks(DOC.read_text())) >= 10


def test_checked_lines_are_rewritten():
    code = with_checks("x = 1\nx + 1  # -> 2\n")
    namespace = {"__check__": check}
    exec(compile(code, "<example>", "exec"), namespace)
    with pytest.raises(AssertionError, match="the doc says 3"):
        exec(compile(with_checks("1 + 1  # -> 3\n"), "<example>", "exec"), namespace)


def test_every_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace: dict[str, object] = {"__name__": "space_language_doc", "__check__": check}
    for number, (line, code) in enumerate(python_blocks(DOC.read_text()), start=1):
        source = with_checks(textwrap.dedent(code))
        try:
            exec(compile(source, f"{DOC.name}, block {number} (line {line})", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"python block {number} of {DOC.name} (line {line}) failed: {type(error).__name__}: {error}")
