"""docs/tutorial/first-plugin.md works as written: its steps run, in order, in a fresh folder.

Each fenced block after ``<!-- step -->`` is a step: a ``console`` block runs in bash from the
tutorial's working folder (which holds ``plugins/_template`` as omskit's checkout does); a
block with ``title="path"`` is written to that path. The last step runs the new plugin's
tests (SQLite, and PostgreSQL when ``OMSKIT_TEST_POSTGRES_URL`` is set), ruff and mypy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial" / "first-plugin.md"
STEP = re.compile(r"<!-- step -->\n```(\w+)([^\n]*)\n(.*?)\n```", re.S)


def steps() -> list[tuple[str, str | None, str]]:
    """(language, title or None, body) of every step, in order."""
    found = []
    for lang, attributes, body in STEP.findall(TUTORIAL.read_text(encoding="utf-8")):
        title = re.search(r'title="([^"]+)"', attributes)
        found.append((lang, title.group(1) if title else None, body))
    return found


def test_the_tutorial_has_its_steps() -> None:
    kinds = [(lang, title is not None) for lang, title, _ in steps()]
    assert kinds == [("console", False), ("python", True), ("python", True),
                     ("console", False)]


@pytest.mark.slow
def test_every_step_of_the_tutorial_runs(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "plugins" / "_template", tmp_path / "plugins" / "_template",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("OMSKIT_TEST_DATABASES", None)  # the template's conftest decides from the URL
    outputs = []
    for lang, title, body in steps():
        if title is not None:
            target = tmp_path / title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body + "\n", encoding="utf-8")
            continue
        assert lang == "console"
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"step failed:\n{body}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    tests = outputs[-1]
    passed = re.search(r"(\d+) passed", tests)
    assert passed, tests
    assert " failed" not in tests
    # 6 conformance tests (2 more about edits are skipped: the connector takes none) + 1 of
    # its own, per database, + the entry-point test.
    databases = 2 if os.environ.get("OMSKIT_TEST_POSTGRES_URL") else 1
    assert int(passed.group(1)) == 7 * databases + 1, tests
