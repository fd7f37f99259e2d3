"""The suite's own pytest-xdist plumbing works: groups stay together, figures reach the summary.

The test runs a small pytest session with two workers in a subprocess, loading only the
plugins under test (not omskit), so it costs a few seconds.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

GROUPED = '''
import time

import pytest


@pytest.mark.parametrize("n", range(6))
@pytest.mark.xdist_group("together")
def test_grouped(n):
    time.sleep(0.05)


@pytest.mark.parametrize("n", range(6))
def test_free(n):
    time.sleep(0.05)
'''

FIGURES = '''
def test_records(figures):
    figures.update(orders=3, kills={"placer": 2})
'''


def test_groups_stay_on_one_worker_and_figures_reach_the_controller(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # `tests.` is importable in the subprocess
    figures = tmp_path / "figures.json"
    monkeypatch.setenv("OMSKIT_RELIABILITY_FIGURES", str(figures))
    pytester.makeconftest(
        'pytest_plugins = ["tests.reliability.figures", "tests.xdist_groups"]\n')
    pytester.makepyfile(test_groups=GROUPED, test_figures=FIGURES)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=13)

    # One group, one worker (pytest-xdist issue #1386 lost the groups on pytest 9.2).
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, nodeid in re.findall(r"\[(gw\d)\].*PASSED (\S+)", result.stdout.str()):
        workers[nodeid.split("::")[1].split("[")[0]].add(worker)
        assert ("@together" in nodeid) == ("test_grouped" in nodeid), nodeid
    assert len(workers["test_grouped"]) == 1, workers

    # The figures were recorded in a worker; the summary and the JSON file are the controller's.
    result.stdout.fnmatch_lines(["*reliability figures*",
                                 "test_records: orders=3, kills={'placer': 2}"])
    assert json.loads(figures.read_text()) == {
        "test_figures.py::test_records": {"kills": {"placer": 2}, "orders": 3}}
