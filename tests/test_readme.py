"""The README's embedding example runs as printed, and its two commands stay in place."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_embedding_example_runs() -> None:
    text = README.read_text()
    match = re.search(r"<!-- readme-example -->\n```python\n(.*?)```", text, re.S)
    assert match, "README lost its tested embedding example"
    code = match.group(1)
    assert len(code.strip().splitlines()) <= 16, "the README example should stay short"
    exec(compile(code, str(README), "exec"), {})


def test_readme_opens_with_the_two_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    assert blocks[0].strip().endswith("omskit demo")
    assert blocks[1].strip().endswith("tox")
    ci = (README.parent / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci, ".ci/run must run the README's test command verbatim"
