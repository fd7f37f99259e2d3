"""The examples of docs/reference.md run, as a reader would run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "reference.md"
EXAMPLE = re.compile(r"<!-- reference example -->\n```python\n(.*?)```", re.DOTALL)


def examples() -> list[str]:
    return EXAMPLE.findall(DOC.read_text(encoding="utf-8"))


def test_the_page_has_examples() -> None:
    assert examples(), f"{DOC} has no <!-- example --> block"


@pytest.mark.parametrize("number", range(len(examples())))
def test_example_runs(number: int) -> None:
    exec(compile(examples()[number], f"{DOC}:example {number + 1}", "exec"), {})
