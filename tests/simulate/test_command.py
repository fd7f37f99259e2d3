"""``omskit simulate`` through click's runner."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from omskit.cli import cli
from omskit.simulate import report

from .conftest import USES_EXAMPLE_RUN, ExampleRun

NETWORK = {
    "currency": "EUR", "backorder_penalty": 40.0,
    "carriers": [{"code": "brt", "base": 4.5, "per_km": 0.004, "per_unit": 0.35}],
    "locations": [
        {"code": "dc-milano", "kind": "distribution_centre", "name": "Milano DC",
         "lat": 45.4642, "lon": 9.19, "capabilities": ["ship"], "handling_cost": 0.8,
         "daily_capacity": None, "stock": {"A": 5, "B": 5}},
        {"code": "dc-roma", "kind": "distribution_centre", "name": "Roma DC",
         "lat": 41.9028, "lon": 12.4964, "capabilities": ["ship"], "handling_cost": 0.9,
         "daily_capacity": 2, "stock": {"A": 5}},
    ],
}


def order(n: int, lat: float, lon: float, lines: dict[str, int]) -> str:
    return json.dumps({
        "external_id": f"W-{n}", "channel": "web", "placed_at": f"2025-03-03T{8 + n:02d}:00:00Z",
        "customer": {"id": f"c-{n}"},
        "ship_to": {"city": "X", "country": "IT", "lat": lat, "lon": lon},
        "lines": [{"sku": s, "quantity": q, "unit_price": 10} for s, q in lines.items()]})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    network = tmp_path / "network.json"
    network.write_text(json.dumps(NETWORK))
    orders = tmp_path / "orders.jsonl"
    orders.write_text("\n".join([
        order(1, 41.9, 12.5, {"A": 1}), order(2, 41.9, 12.5, {"A": 1, "B": 1}),
        order(3, 45.4, 9.2, {"B": 2}), order(4, 40.8, 14.2, {"A": 2, "ZZZ": 1}),
    ]) + "\n")
    return network, orders


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, ["simulate", *map(str, args)], catch_exceptions=False)


@USES_EXAMPLE_RUN
def test_the_documented_command_prints_a_kpi_table(example_run: ExampleRun) -> None:
    # The session fixture ran the command of docs/simulate.md with --json; this is its KPIs.
    assert [k["strategy"] for k in example_run.kpis] == ["optimal", "nearest",
                                                         "fewest-shipments"]
    assert all(k["orders"] == len(example_run.orders) for k in example_run.kpis)


def test_table_output_out_and_report(files: tuple[Path, Path], tmp_path: Path) -> None:
    network, orders = files
    result = run(network, orders, "--strategy", "nearest", "--strategy", "optimal",
                 "--out", tmp_path / "d.jsonl", "--report", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    for text in ("total cost (EUR)", "split rate", "on-time promise rate", "nearest",
                 "optimal", "backorder rate (units)", "decisions:", "report:"):
        assert text in result.stdout
    lines = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [x["strategy"] for x in lines] == ["nearest"] * 4 + ["optimal"] * 4
    assert lines[3]["backordered"] == [{"sku": "ZZZ", "quantity": 1}]
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_json_output(files: tuple[Path, Path]) -> None:
    result = run(*files, "--strategy", "fewest-shipments", "--json")
    assert result.exit_code == 0, result.output
    (kpis,) = json.loads(result.stdout)
    assert kpis["strategy"] == "fewest-shipments"
    assert kpis["orders"] == 4
    assert kpis["units"] == 8
    assert kpis["units_backordered"] == 1
    assert kpis["unit_backorder_rate"] == 0.125
    assert kpis["order_backorder_rate"] == 0.25


def test_bad_input_is_a_clear_error(files: tuple[Path, Path]) -> None:
    network, orders = files
    orders.write_text(orders.read_text().replace('"quantity": 2', '"quantity": -2', 1))
    result = run(network, orders)
    assert result.exit_code == 1
    assert f"Error: {orders}, line 3, lines[0].quantity: must be a whole number ≥ 1, got -2" \
        in result.output


def test_unknown_strategy_is_a_usage_error(files: tuple[Path, Path]) -> None:
    result = run(*files, "--strategy", "cheapest-ever")
    assert result.exit_code == 2
    assert "--strategy" in result.output
    assert "cheapest-ever" in result.output


def test_report_without_plotly_tells_what_to_install(files: tuple[Path, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def without_plotly(name: str, package: str | None = None) -> Any:
        if name.startswith("plotly"):
            raise ImportError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(report.importlib, "import_module", without_plotly)
    result = run(*files, "--report", tmp_path / "r.html")
    assert result.exit_code == 2
    assert "pip install 'omskit[simulate]'" in result.output
    assert not (tmp_path / "r.html").exists()
    # Without --report, plotly is not needed.
    assert run(*files, "--strategy", "nearest").exit_code == 0
