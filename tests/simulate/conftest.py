"""The example simulation, run once per test session through the CLI (the documented command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from omskit.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "simulation"

#: Marks the tests that read ``example_run``. The session fixture runs once per process, so
#: under ``pytest -n auto --dist loadgroup`` these tests share one worker and one run of the
#: simulation instead of repeating it on every worker.
USES_EXAMPLE_RUN = pytest.mark.xdist_group("simulate-example")


@attrs.frozen
class ExampleRun:
    """Outputs of ``omskit simulate`` on the example files."""

    network: dict[str, Any]
    orders: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    kpis: list[dict[str, Any]]
    report: str
    stdout: str


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> ExampleRun:
    out = tmp_path_factory.mktemp("simulate")
    result = CliRunner().invoke(cli, [
        "simulate", str(EXAMPLE / "network.json"), str(EXAMPLE / "orders.jsonl"),
        "--out", str(out / "decisions.jsonl"), "--report", str(out / "report.html"), "--json",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return ExampleRun(
        network=json.loads((EXAMPLE / "network.json").read_text()),
        orders=[json.loads(line) for line in
                (EXAMPLE / "orders.jsonl").read_text().splitlines() if line.strip()],
        decisions=[json.loads(line) for line in
                   (out / "decisions.jsonl").read_text().splitlines()],
        kpis=json.loads(result.stdout),
        report=(out / "report.html").read_text(),
        stdout=result.stdout,
    )
