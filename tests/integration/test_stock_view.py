"""The streamed global stock view (``oms.inventory.stock_view``) and the one-query
``available()``, on every backend: sums per SKU against hand-computed expectations and against
``stock(sku)`` / ``available(sku)``, keyset paging across page boundaries, filters, bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from omskit import Oms
from omskit.domain.availability import StockSummary
from omskit.domain.errors import InvalidCommand
from omskit.testing import location, order_command
from tests.support import MILAN, NAPLES, ROME, TURIN

NOW = datetime.now(UTC)

#: (sku, on_hand, reserved, safety_stock, available at active locations, open supply),
#: worked out by hand from the stock ``network`` builds below.
EXPECTED = [
    # milan 10 (safety 3) + rome 5 + closed 7 (inactive); supply 4 due at rome in 2 days.
    ("A", 22, 0, 3, 7 + 5, 4),
    # milan 4, one reserved by order W-1.
    ("B", 4, 1, 0, 3, 0),
    # rome 2 under a safety stock of 5: nothing to promise, never negative.
    ("C", 2, 0, 5, 0, 0),
    # only expected: 6 on a purchase order at naples, none on hand anywhere.
    ("D", 0, 0, 0, 0, 6),
    # only at the inactive location: counted on hand, not promisable.
    ("E", 9, 0, 0, 0, 0),
    # milan 1 + naples 2, and a transfer in transit from naples to rome (leaves naples now).
    ("F", 1 + 2 - 1, 0, 0, 1 + 1, 1),
]


def summary(row: tuple[str, int, int, int, int, int]) -> StockSummary:
    sku, on_hand, reserved, safety, available, in_transit = row
    return StockSummary(sku=sku, on_hand=on_hand, reserved=reserved, safety_stock=safety,
                        available=available, in_transit=in_transit)


def build(oms: Oms) -> Oms:
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME), ("naples", NAPLES),
                             ("closed", TURIN)):
        oms.inventory.save_location(location(code, lat, lon))
    inv = oms.inventory
    inv.receive("milan", "A", 10)
    inv.set_safety_stock("milan", "A", 3)
    inv.receive("rome", "A", 5)
    inv.receive("closed", "A", 7)
    inv.register_supply("rome", "A", 4, NOW + timedelta(days=2))
    inv.receive("milan", "B", 4)
    inv.receive("rome", "C", 2)
    inv.set_safety_stock("rome", "C", 5)
    inv.register_supply("naples", "D", 6, NOW + timedelta(days=5))
    inv.receive("closed", "E", 9)
    inv.receive("milan", "F", 1)
    inv.receive("naples", "F", 2)
    inv.transfer("F", "naples", "rome", 1, eta=NOW + timedelta(days=1))
    order = oms.orders.place(order_command("W-1", {"B": 1}))
    assert order.status.value == "allocated"
    # Closed after its stock arrived: its rows stay, its stock is no longer promisable.
    inv.save_location(attrs.evolve(inv.location("closed"), active=False))
    return oms


@pytest.fixture
def network(oms: Oms) -> Oms:
    return build(oms)


def test_view_sums_each_sku_as_worked_out_by_hand(network: Oms) -> None:
    assert list(network.inventory.stock_view()) == [summary(r) for r in EXPECTED]


def test_view_agrees_with_stock_and_available(network: Oms) -> None:
    for row in network.inventory.stock_view(page_size=2):
        stock = network.inventory.stock(row.sku)
        assert (row.on_hand, row.reserved, row.in_transit) == (
            stock.on_hand, stock.reserved, stock.in_transit), row.sku
        assert row.safety_stock == sum(p.safety_stock for p in stock.positions), row.sku
        assert row.available == network.inventory.available(row.sku), row.sku


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 6, 7, 1000])
def test_paging_crosses_page_boundaries_without_loss_or_repeats(network: Oms,
                                                                page_size: int) -> None:
    assert [s.sku for s in network.inventory.stock_view(page_size=page_size)] == list("ABCDEF")


def test_many_skus_page_by_page(oms: Oms) -> None:
    oms.inventory.save_location(location("milan", *MILAN))
    skus = [f"SKU-{i:03d}" for i in range(23)]
    for i, sku in enumerate(skus):
        oms.inventory.receive("milan", sku, i + 1)
    # Supply-only SKUs sorting between, before and after the stocked ones.
    for sku in ("SKU-000a", "AAA", "ZZZ"):
        oms.inventory.register_supply("milan", sku, 2, NOW + timedelta(days=1))
    wanted = sorted([*skus, "SKU-000a", "AAA", "ZZZ"])
    for page_size in (2, 4, 25, 26, 27):
        rows = list(oms.inventory.stock_view(page_size=page_size))
        assert [r.sku for r in rows] == wanted, page_size
        assert sum(r.on_hand for r in rows) == sum(range(1, 24))
        assert sum(r.in_transit for r in rows) == 6


def test_pages_are_read_as_the_caller_goes(network: Oms) -> None:
    view = network.inventory.stock_view(page_size=2)
    assert next(view).sku == "A"
    network.inventory.receive("milan", "G", 3)  # after the first page was read
    network.inventory.receive("milan", "A", 100)  # on the page already read
    rest = list(view)
    assert [r.sku for r in rest] == ["B", "C", "D", "E", "F", "G"]
    assert rest[-1] == StockSummary(sku="G", on_hand=3, reserved=0, safety_stock=0,
                                    available=3, in_transit=0)


def test_sku_filter(network: Oms) -> None:
    view = network.inventory.stock_view(skus=["F", "A", "nothing-here", "A"], page_size=1)
    assert list(view) == [summary(EXPECTED[0]), summary(EXPECTED[5])]
    assert list(network.inventory.stock_view(skus=[])) == []
    assert list(network.inventory.stock_view(skus=iter(["D"]))) == [summary(EXPECTED[3])]


def test_location_filter_sums_only_those_locations(network: Oms) -> None:
    view = list(network.inventory.stock_view(locations=["rome", "closed"]))
    assert view == [
        # rome 5 + closed 7 on hand, only rome's promisable; rome's supply of 4.
        StockSummary(sku="A", on_hand=12, reserved=0, safety_stock=0, available=5,
                     in_transit=4),
        StockSummary(sku="C", on_hand=2, reserved=0, safety_stock=5, available=0,
                     in_transit=0),
        StockSummary(sku="E", on_hand=9, reserved=0, safety_stock=0, available=0,
                     in_transit=0),
        # The transfer is open supply at rome.
        StockSummary(sku="F", on_hand=0, reserved=0, safety_stock=0, available=0,
                     in_transit=1),
    ]
    both = list(network.inventory.stock_view(skus=["B", "D"], locations=["naples"]))
    assert both == [summary(EXPECTED[3])]
    assert list(network.inventory.stock_view(locations=["nowhere"])) == []


def test_channel_buffer_is_kept_back_at_every_active_location(
        make_oms: Callable[..., Oms]) -> None:
    oms = build(make_oms(settings={"inventory": {"channel_buffers": {"marketplace": 2}}}))
    rows = {r.sku: r for r in oms.inventory.stock_view(channel="marketplace")}
    # A: milan 7 − 2, rome 5 − 2. B: milan 3 − 2. F: milan 1 − 2 and naples 1 − 2 floor at 0.
    assert {sku: r.available for sku, r in rows.items()} == {
        "A": 8, "B": 1, "C": 0, "D": 0, "E": 0, "F": 0}
    for sku, row in rows.items():
        assert row.available == oms.inventory.available(sku, channel="marketplace"), sku
    # The buffer changes nothing but ``available``.
    plain = {r.sku: r for r in oms.inventory.stock_view()}
    assert {sku: attrs.evolve(r, available=0) for sku, r in rows.items()} == {
        sku: attrs.evolve(r, available=0) for sku, r in plain.items()}


def test_available_in_one_query_keeps_its_meaning(network: Oms) -> None:
    inv = network.inventory
    assert inv.available("A") == 12
    assert inv.available("A", location="closed") == 0
    assert inv.available("A", location="milan") == 7
    # Supply due by ``at`` counts at its location; later supply does not.
    assert inv.available("A", at=NOW + timedelta(days=2)) == 16
    assert inv.available("A", at=NOW + timedelta(days=1)) == 12
    # C: 2 on hand under a safety stock of 5; its location is not short after 3 more.
    inv.register_supply("rome", "C", 3, NOW + timedelta(days=1))
    assert inv.available("C", at=NOW + timedelta(days=1)) == 0
    inv.register_supply("rome", "C", 1, NOW + timedelta(days=1))
    assert inv.available("C", at=NOW + timedelta(days=1)) == 1
    # Supply at a location without a stock row of the SKU.
    assert inv.available("D", at=NOW + timedelta(days=5)) == 6
    assert inv.available("D", location="naples", at=NOW + timedelta(days=5)) == 6
    assert inv.available("D", location="rome", at=NOW + timedelta(days=5)) == 0
    assert inv.available("unknown") == 0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"page_size": 0}, "page_size"),
    ({"page_size": -5}, "page_size"),
    ({"page_size": 10_001}, "page_size"),
    ({"page_size": True}, "page_size"),
    ({"page_size": "100"}, "page_size"),
    ({"page_size": 2.0}, "page_size"),
    ({"skus": "A"}, "skus"),
    ({"skus": 7}, "skus"),
    ({"skus": ["A", 7]}, "skus[]"),
    ({"skus": [None]}, "skus[]"),
    ({"skus": [""]}, "skus[]"),
    ({"locations": "milan"}, "locations"),
    ({"locations": ["Not A Code"]}, "locations[]"),
    ({"locations": [3]}, "locations[]"),
    ({"channel": 3}, "channel"),
])
def test_bad_arguments_are_refused_at_the_call(network: Oms, kwargs: dict[str, Any],
                                               field: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        network.inventory.stock_view(**kwargs)  # not iterated: refused before any read
    assert refused.value.subject == "stock view"
    assert any(p.startswith(f"{field}:") for p in refused.value.problems), refused.value


def test_every_problem_is_listed_at_once(network: Oms) -> None:
    with pytest.raises(InvalidCommand) as refused:
        network.inventory.stock_view(page_size=0, skus=[1], locations="x")
    fields = sorted(p.split(":")[0] for p in refused.value.problems)
    assert fields == ["locations", "page_size", "skus[]"]


def test_available_refuses_a_naive_time_and_a_non_string_sku(network: Oms) -> None:
    with pytest.raises(InvalidCommand, match="at:"):
        network.inventory.available("A", at=datetime(2030, 1, 1))
    with pytest.raises(InvalidCommand, match="sku"):
        network.inventory.available(7)  # type: ignore[arg-type]
