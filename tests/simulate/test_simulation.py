"""What the simulator reports on the example matches the formula, the stock and the capacities."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omskit.simulate import kpis, load_network, load_orders, simulate
from omskit.simulate.runner import DEFAULT_STRATEGIES

from .conftest import USES_EXAMPLE_RUN, ExampleRun

# Nearly every test here reads the example run.
pytestmark = USES_EXAMPLE_RUN


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a sphere of radius 6371.0088 km (docs/formats.md)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def expected_cost(network: dict[str, Any], order: dict[str, Any],
                  decision: dict[str, Any]) -> float:
    """The documented cost of the decision's plan, computed from the files alone."""
    locations = {loc["code"]: loc for loc in network["locations"]}
    to = order["ship_to"]
    cost = 0.0
    for f in decision["fulfillments"]:
        loc = locations[f["location"]]
        km = haversine_km(loc["lat"], loc["lon"], to["lat"], to["lon"])
        lane = min(network["carriers"],
                   key=lambda c: (c["base"] + c["per_km"] * km, c["per_unit"], c["code"]))
        units = sum(line["quantity"] for line in f["lines"])
        cost += lane["base"] + lane["per_km"] * km
        cost += units * (lane["per_unit"] + loc["handling_cost"])
    backordered = sum(b["quantity"] for b in decision["backordered"])
    return cost + backordered * network["backorder_penalty"]


def by_strategy(run: ExampleRun) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in run.decisions:
        grouped[line["strategy"]].append(line)
    return grouped


def test_one_line_per_order_and_strategy_in_stream_order(example_run: ExampleRun) -> None:
    grouped = by_strategy(example_run)
    assert list(grouped) == list(DEFAULT_STRATEGIES)
    ids = [o["external_id"] for o in example_run.orders]
    for lines in grouped.values():
        assert [line["external_id"] for line in lines] == ids
    for line in example_run.decisions:
        assert set(line) == {"strategy", "external_id", "fulfillments", "backordered", "cost",
                             "promise", "explain"}
        assert set(line["explain"]) == {"solver", "locations", "cost_by_term", "candidates",
                                        "rounds", "elapsed_ms", "status", "holds"}
        assert set(line["promise"]) == {"promised_date", "earliest_date", "on_time"}
        assert line["explain"]["locations"] == [f["location"] for f in line["fulfillments"]]
        assert all(set(f) == {"location", "lines"} for f in line["fulfillments"])
        assert all(set(q) == {"sku", "quantity"} and q["quantity"] > 0
                   for f in line["fulfillments"] for q in f["lines"])
        assert math.isclose(sum(line["explain"]["cost_by_term"].values()), line["cost"],
                            abs_tol=1e-4)


def test_reported_costs_follow_the_documented_formula(example_run: ExampleRun) -> None:
    orders = {o["external_id"]: o for o in example_run.orders}
    for line in example_run.decisions:
        want = expected_cost(example_run.network, orders[line["external_id"]], line)
        assert line["cost"] == pytest.approx(want, abs=1e-4), line


def test_every_unit_is_shipped_or_backordered(example_run: ExampleRun) -> None:
    orders = {o["external_id"]: o for o in example_run.orders}
    for line in example_run.decisions:
        ordered: Counter[str] = Counter()
        for item in orders[line["external_id"]]["lines"]:
            ordered[item["sku"]] += item["quantity"]
        planned: Counter[str] = Counter()
        for f in line["fulfillments"]:
            for q in f["lines"]:
                planned[q["sku"]] += q["quantity"]
        for b in line["backordered"]:
            planned[b["sku"]] += b["quantity"]
        assert planned == ordered


def test_safety_stock_and_daily_capacity_are_respected(example_run: ExampleRun) -> None:
    locations = {loc["code"]: loc for loc in example_run.network["locations"]}
    placed = {o["external_id"]: datetime.fromisoformat(o["placed_at"]).astimezone(UTC).date()
              for o in example_run.orders}
    binds = []
    for strategy, lines in by_strategy(example_run).items():
        taken: Counter[tuple[str, str]] = Counter()
        per_day: Counter[tuple[str, Any]] = Counter()
        for line in lines:
            for f in line["fulfillments"]:
                per_day[(f["location"], placed[line["external_id"]])] += 1
                for q in f["lines"]:
                    taken[(f["location"], q["sku"])] += q["quantity"]
        for (code, sku), units in taken.items():
            loc = locations[code]
            promisable = loc["stock"].get(sku, 0) - loc.get("safety_stock", {}).get(sku, 0)
            assert units <= promisable, (strategy, code, sku)
        for (code, day), count in per_day.items():
            capacity = locations[code]["daily_capacity"]
            assert capacity is None or count <= capacity, (strategy, code, day)
        capped = [c for c, loc in locations.items() if loc["daily_capacity"] is not None]
        binds += [(strategy, c, d) for c in capped for d in set(placed.values())
                  if per_day[(c, d)] == locations[c]["daily_capacity"]]
        shippers = {c for c, loc in locations.items()
                    if {"ship", "ship_from_store"} & set(loc["capabilities"])}
        assert {code for code, _ in taken} <= shippers
    assert {strategy for strategy, _, _ in binds} == set(DEFAULT_STRATEGIES)


def test_the_optimiser_costs_no_more_than_the_other_strategies(
        example_run: ExampleRun) -> None:
    totals = {k["strategy"]: k["total_cost"] for k in example_run.kpis}
    assert set(totals) == set(DEFAULT_STRATEGIES)
    for strategy, total in totals.items():
        assert totals["optimal"] <= total + 1e-6, strategy
    costs = by_strategy(example_run)
    for k in example_run.kpis:
        assert k["total_cost"] == pytest.approx(
            sum(line["cost"] for line in costs[k["strategy"]]), abs=0.01)


def test_kpis_are_consistent_with_the_decisions(example_run: ExampleRun) -> None:
    grouped = by_strategy(example_run)
    units = sum(i["quantity"] for o in example_run.orders for i in o["lines"])
    for k in example_run.kpis:
        lines = grouped[k["strategy"]]
        assert k["orders"] == len(lines) == len(example_run.orders)
        assert k["units"] == units
        split = sum(len(line["fulfillments"]) > 1 for line in lines)
        assert k["split_rate"] == round(split / len(lines), 4)
        backordered = sum(b["quantity"] for line in lines for b in line["backordered"])
        assert k["unit_backorder_rate"] == round(backordered / units, 4)
        assert k["order_backorder_rate"] == round(
            sum(bool(line["backordered"]) for line in lines) / len(lines), 4)
        assert k["on_time_rate"] == round(
            sum(line["promise"]["on_time"] for line in lines) / len(lines), 4)
        assert sum(k["shipments_by_location"].values()) == k["shipments"]


def test_promises(example_run: ExampleRun) -> None:
    for line in example_run.decisions:
        promise = line["promise"]
        if line["backordered"]:
            assert promise["promised_date"] is None
            assert not promise["on_time"]
        else:
            # The plan's date can never beat the earliest date the network could give.
            assert promise["earliest_date"] is not None
            assert promise["promised_date"] >= promise["earliest_date"]
            assert promise["on_time"] == (promise["promised_date"] == promise["earliest_date"])
    assert any(line["promise"]["on_time"] for line in example_run.decisions)
    assert not all(line["promise"]["on_time"] for line in example_run.decisions
                   if not line["backordered"])


def test_unknown_skus_are_backordered_at_the_penalty(example_run: ExampleRun) -> None:
    unknown = [line for line in example_run.decisions
               if any(b["sku"].startswith("DISCONTINUED") for b in line["backordered"])]
    assert unknown
    for line in unknown:
        assert line["explain"]["status"] in ("backordered",)
        assert line["explain"]["cost_by_term"]["backorder_penalty"] >= 40.0


def test_report_is_self_contained_with_the_charts_data(example_run: ExampleRun) -> None:
    html = example_run.report
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"""<link[^>]*href\s*=\s*["']?https?:""", html, re.I)
    assert html.count("Plotly.newPlot") == 4
    for title in ("Cost by strategy", "Shipments per location", "Decision latency"):
        assert title in html
    for strategy in DEFAULT_STRATEGIES:
        assert f'"name":"{strategy}"' in html
    for loc in example_run.network["locations"]:
        assert loc["code"] in html
    for k in example_run.kpis:
        code, count = max(k["shipments_by_location"].items(), key=lambda kv: kv[1])
        units = k["units_by_location"][code]
        assert f'["{code}",{count},{units}]' in html  # the marker's data for the scatter
    assert '"type":"box"' in html
    assert '"type":"bar"' in html
    assert '"type":"scatter"' in html


def test_capacity_is_counted_per_utc_day_and_safety_stock_is_kept(tmp_path: Path) -> None:
    network = tmp_path / "network.json"
    network.write_text("""{"currency": "EUR", "backorder_penalty": 100,
      "carriers": [{"code": "flat", "base": 5, "per_km": 0.01, "per_unit": 0}],
      "locations": [
        {"code": "near", "kind": "store", "name": "Near", "lat": 45.0, "lon": 9.0,
         "capabilities": ["ship_from_store"], "handling_cost": 0, "daily_capacity": 1,
         "stock": {"A": 10, "B": 3}, "safety_stock": {"B": 2}},
        {"code": "far", "kind": "warehouse", "name": "Far", "lat": 41.0, "lon": 12.0,
         "capabilities": ["ship"], "handling_cost": 0, "daily_capacity": null,
         "stock": {"A": 10}}]}""")
    orders = tmp_path / "orders.jsonl"
    rows = [("o1", "2025-03-03T23:00:00+00:00", "A", 1),
            ("o2", "2025-03-04T00:30:00+02:00", "A", 1),  # 2025-03-03 22:30 UTC
            ("o3", "2025-03-04T00:30:00+00:00", "A", 1),
            ("o4", "2025-03-05T10:00:00Z", "B", 2)]
    orders.write_text("\n".join(
        f'{{"external_id": "{i}", "channel": "web", "placed_at": "{at}", '
        f'"customer": {{"id": "c"}}, "ship_to": {{"city": "X", "country": "IT", '
        f'"lat": 45.01, "lon": 9.01}}, "lines": [{{"sku": "{sku}", "quantity": {q}, '
        f'"unit_price": 1}}]}}' for i, at, sku, q in rows))
    net = load_network(network)
    stream = load_orders(orders, currency="EUR")
    for run in simulate(net, stream, ["optimal", "nearest"]):
        used = [[s.location for s in o.shipments] for o in run.outcomes]
        assert used[:3] == [["near"], ["far"], ["near"]], run.strategy
        # One unit of B is promisable at "near" (3 on hand, 2 safety): one is backordered.
        assert run.outcomes[3].backordered == (("B", 1),)
        assert [s.lines for s in run.outcomes[3].shipments] == [(("B", 1),)]
        assert kpis(run).units_backordered == 1


def test_docs_quote_the_example_figures(example_run: ExampleRun) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "simulate.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip().strip("*") for c in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("| ") and line.count("|") == 5}
    assert rows["measure"] == list(DEFAULT_STRATEGIES)
    for label, key, fmt in (("total cost (EUR)", "total_cost", "{:,.2f}"),
                            ("cost per order (EUR)", "cost_per_order", "{:.2f}"),
                            ("mean distance per shipment", "mean_distance_km", "{:.1f} km")):
        assert rows[label] == [fmt.format(k[key]) for k in example_run.kpis], label
    for label, key in (("split rate", "split_rate"), ("on-time promise rate", "on_time_rate")):
        assert rows[label] == [f"{k[key] * 100:.1f} %" for k in example_run.kpis], label
