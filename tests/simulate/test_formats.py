"""network.json and orders.jsonl: the documented examples load, mistakes name file, line, field."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from omskit.domain.inventory import Capability, LocationKind
from omskit.simulate import InputError, load_network, load_orders, simulate
from omskit.simulate.runner import as_json

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "formats.md"


def doc_examples() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- example: (\S+) -->\n```json\n(.*?)```", text, re.S))


@pytest.fixture
def doc_files(tmp_path: Path) -> Path:
    for name, body in doc_examples().items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


def test_docs_have_an_example_of_each_format() -> None:
    assert set(doc_examples()) == {"network.json", "orders.jsonl", "decisions.jsonl"}


def test_documented_network_example_loads(doc_files: Path) -> None:
    network = load_network(doc_files / "network.json")
    assert network.currency == "EUR"
    assert network.backorder_penalty == 40.0
    assert [c.code for c in network.carriers] == ["poste", "brt"]
    assert network.carriers[0].km_per_day == 300
    assert network.carriers[1].transit_days_base == 1  # the default
    milano, napoli = network.locations
    assert milano.kind is LocationKind.DISTRIBUTION_CENTRE
    assert milano.daily_capacity is None
    assert milano.cutoff is not None
    assert milano.cutoff.hour == 14
    assert napoli.capabilities == {Capability.PICKUP, Capability.SHIP_FROM_STORE}
    assert napoli.safety_stock == {"SHIRT-001": 1}


def test_documented_orders_example_loads(doc_files: Path) -> None:
    first, second = load_orders(doc_files / "orders.jsonl", currency="EUR")
    assert (first.line, first.external_id, first.units) == (1, "WEB-1", 2)
    assert first.command.customer.segment == "gold"
    assert second.command.customer.segment is None
    assert second.placed_at.utcoffset() is not None
    assert [line.sku for line in second.command.lines] == ["SHOE-002", "NOT-STOCKED"]
    assert str(second.command.lines[1].unit_price) == "12.50"


def test_documented_decision_example_is_what_the_simulator_writes(doc_files: Path) -> None:
    network = load_network(doc_files / "network.json")
    orders = load_orders(doc_files / "orders.jsonl", currency=network.currency)
    (run,) = simulate(network, orders, ["optimal"])
    written = as_json(run.outcomes[1], run.strategy)
    documented = json.loads(doc_examples()["decisions.jsonl"])
    for line in (written, documented):
        line["explain"].pop("elapsed_ms")
    assert written == documented


def test_the_example_files_load() -> None:
    network = load_network(ROOT / "examples" / "simulation" / "network.json")
    orders = load_orders(ROOT / "examples" / "simulation" / "orders.jsonl",
                         currency=network.currency)
    assert 12 <= len(network.locations) <= 20
    assert any(loc.daily_capacity is not None for loc in network.locations)
    assert any(loc.safety_stock for loc in network.locations)
    assert len(orders) >= 200


# -- errors ---------------------------------------------------------------------------------


ORDER: dict[str, Any] = {
    "external_id": "WEB-1", "channel": "web", "placed_at": "2025-03-03T09:15:00Z",
    "customer": {"id": "c-1", "segment": "gold"},
    "ship_to": {"city": "Napoli", "country": "IT", "lat": 40.85, "lon": 14.27},
    "delivery": "ship", "lines": [{"sku": "SHIRT-001", "quantity": 2, "unit_price": 29.9}],
}


def _order_error(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_orders(path, currency="EUR")
    return str(caught.value).replace(str(path), "orders.jsonl")


def _changed(change: Any) -> str:
    order = copy.deepcopy(ORDER)
    change(order)
    return json.dumps(order)


@pytest.mark.parametrize(("change", "message"), [
    (lambda o: o["lines"][0].update(quantity=-2),
     "orders.jsonl, line 2, lines[0].quantity: must be a whole number ≥ 1, got -2"),
    (lambda o: o["lines"][0].update(quantity=1.5),
     "orders.jsonl, line 2, lines[0].quantity: must be a whole number ≥ 1, got 1.5"),
    (lambda o: o.pop("customer"), "orders.jsonl, line 2, customer: missing field"),
    (lambda o: o["ship_to"].pop("lat"), "orders.jsonl, line 2, ship_to.lat: missing field"),
    (lambda o: o["lines"][0].pop("sku"), "orders.jsonl, line 2, lines[0].sku: missing field"),
    (lambda o: o.update(colour="red"), "orders.jsonl, line 2, colour: unknown field"),
    (lambda o: o.update(placed_at="2025-03-03T09:15:00"),
     'orders.jsonl, line 2, placed_at: must carry a UTC offset (e.g. '
     '"2025-03-03T09:15:00Z"), got "2025-03-03T09:15:00"'),
    (lambda o: o.update(placed_at="yesterday"),
     'orders.jsonl, line 2, placed_at: must be an ISO 8601 date-time, got "yesterday"'),
    (lambda o: o.update(delivery="pickup"),
     'orders.jsonl, line 2, delivery: only "ship" is simulated, got "pickup"'),
    (lambda o: o.update(channel="Web Shop"),
     "orders.jsonl, line 2, channel: must be a lower-case code like 'dc-milano', "
     'got "Web Shop"'),
    (lambda o: o["ship_to"].update(lat=123),
     "orders.jsonl, line 2, ship_to.lat: must be a number from -90 to 90, got 123"),
    (lambda o: o.update(lines=[]), "orders.jsonl, line 2, lines: must be a non-empty list, got []"),
    (lambda o: o["lines"][0].update(unit_price=-1),
     "orders.jsonl, line 2, lines[0].unit_price: must be a number ≥ 0, got -1"),
])
def test_order_errors_name_file_line_and_field(tmp_path: Path, change: Any,
                                               message: str) -> None:
    assert _order_error(tmp_path, json.dumps(ORDER).replace("WEB-1", "WEB-0"),
                        _changed(change)) == message


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    assert _order_error(tmp_path, json.dumps(ORDER), "", '{"external_id": "x" "channel"}') == (
        "orders.jsonl, line 3: invalid JSON: Expecting ',' delimiter (column 21)")


def test_a_repeated_order_is_an_error(tmp_path: Path) -> None:
    assert _order_error(tmp_path, json.dumps(ORDER), json.dumps(ORDER)) == (
        "orders.jsonl, line 2, external_id: 'WEB-1' on channel 'web' repeats line 1")


def test_an_order_that_is_not_an_object(tmp_path: Path) -> None:
    assert _order_error(tmp_path, "[1, 2]") == (
        "orders.jsonl, line 1: must be a JSON object, got [1, 2]")


NETWORK: dict[str, Any] = {
    "currency": "EUR", "backorder_penalty": 40.0,
    "carriers": [{"code": "brt", "base": 4.5, "per_km": 0.004, "per_unit": 0.35}],
    "locations": [
        {"code": "dc-milano", "kind": "distribution_centre", "name": "Milano DC",
         "lat": 45.4642, "lon": 9.19, "capabilities": ["ship"], "handling_cost": 0.8,
         "daily_capacity": None, "stock": {"SHIRT-001": 40}},
    ],
}


def _network_error(tmp_path: Path, change: Any) -> str:
    doc = copy.deepcopy(NETWORK)
    change(doc)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_network(path)
    return str(caught.value).replace(str(path), "network.json")


@pytest.mark.parametrize(("change", "message"), [
    (lambda n: n["locations"][0].update(kind="shop"),
     'network.json, locations[0].kind: must be one of warehouse, distribution_centre, store, '
     'supplier, 3pl; got "shop"'),
    (lambda n: n["locations"][0].update(daily_capacity=-1),
     "network.json, locations[0].daily_capacity: must be a whole number ≥ 0, got -1"),
    (lambda n: n["locations"][0].update(handling_cost=-0.5),
     "network.json, locations[0].handling_cost: must be a number ≥ 0, got -0.5"),
    (lambda n: n["locations"][0]["stock"].update({"SHOE-1": -3}),
     "network.json, locations[0].stock.SHOE-1: must be a whole number ≥ 0, got -3"),
    (lambda n: n["locations"][0].update(capabilities=["ship", "fly"]),
     'network.json, locations[0].capabilities[1]: must be one of ship, pickup, '
     'ship_from_store; got "fly"'),
    (lambda n: n["locations"][0].pop("stock"),
     "network.json, locations[0].stock: missing field"),
    (lambda n: n["locations"].append(copy.deepcopy(n["locations"][0])),
     "network.json, locations[1].code: 'dc-milano' is used twice"),
    (lambda n: n.pop("carriers"), "network.json, carriers: missing field"),
    (lambda n: n["carriers"][0].update(per_km="cheap"),
     'network.json, carriers[0].per_km: must be a number ≥ 0, got "cheap"'),
    (lambda n: n["carriers"][0].update(km_per_day=0),
     "network.json, carriers[0].km_per_day: must be a number > 0, got 0"),
    (lambda n: n.update(currency="euro"),
     'network.json, currency: must be an ISO 4217 code such as "EUR", got "euro"'),
    (lambda n: n["locations"][0].update(cutoff="2pm"),
     'network.json, locations[0].cutoff: must be a local time "HH:MM", got "2pm"'),
])
def test_network_errors_name_file_and_field(tmp_path: Path, change: Any, message: str) -> None:
    assert _network_error(tmp_path, change) == message


def test_malformed_network_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_text('{\n "currency": "EUR",\n "carriers": [}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_network(path)
    assert caught.value.line == 3
    assert str(caught.value) == f"{path}, line 3: invalid JSON: Expecting value (column 15)"
