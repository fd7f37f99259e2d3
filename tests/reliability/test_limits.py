"""omskit's limits, the same on SQLite and PostgreSQL, each enforced by a typed error before
anything reaches the driver (issue 9, item 10; ``docs/embedding.md``, "Limits"; the bug table
of ``docs/reliability.md``). Each test failed on the code before its fix: a value was
accepted, rounded, or failed raw on one database only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import omskit_channel_storefront
import pytest
import sqlalchemy as sa

from omskit import Oms
from omskit.domain.checks import MAX_STOCK_UNITS
from omskit.domain.commands import NewLine
from omskit.domain.errors import (
    IdempotencyConflict,
    InvalidCommand,
    InvalidSettings,
    PayloadError,
    StockLimitExceeded,
)
from omskit.domain.inventory import Capability
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.values import Address, DeliveryKind, DeliveryMethod
from omskit.store.orders import OrderQuery
from omskit.store.uow import UnitOfWork
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> Oms:
    """One location with stock of SKU-1, and the storefront connector."""
    oms = make_oms(plugins=[omskit_channel_storefront])
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("milan-2", *MILAN))
    oms.inventory.receive("milan", "SKU-1", 10)
    return oms


def refused(oms: Oms, call: Callable[[], Any], error: type[Exception] = InvalidCommand
            ) -> Exception:
    """Run ``call``: it must raise ``error`` and change no row of any table."""
    before = table_contents(oms)
    with pytest.raises(error) as caught:
        call()
    assert table_contents(oms) == before
    return caught.value


def storefront_payload(external_id: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": external_id, "source": "web", "created_at": "2026-11-25T10:15:00+01:00",
        "currency": "EUR", "customer": {"id": "cus_1", "email": "anna@example.com"},
        "shipping_address": {"line1": "Via Torino 12", "city": "Milano", "country": "IT"},
        "fulfillment": {"type": "ship"},
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": "19.90"}]}
    payload.update(changes)
    return payload


# -- money -------------------------------------------------------------------------------------


def test_prices_are_stored_in_the_currency_s_minor_units_and_totals_are_exact(
        shop: Oms) -> None:
    lines = [NewLine(sku="SKU-1", quantity=1, unit_price="999999999999.99"),
             NewLine(sku="SKU-1", quantity=2, unit_price="19.9")]
    order = shop.orders.place(attrs.evolve(order_command("M-1", {"SKU-1": 1}), lines=lines))
    stored = shop.orders.get(order.id)
    assert [str(x.unit_price) for x in stored.lines] == ["999999999999.99", "19.90"]
    assert str(stored.total.amount) == "1000000000039.79"
    assert str(shop.orders.search()[0].total) == "1000000000039.79"
    yen = shop.orders.place(order_command("M-2", {"SKU-1": 3}, currency="JPY",
                                          unit_price="1500"))
    assert str(shop.orders.get(yen.id).total.amount) == "4500"


@pytest.mark.parametrize(("currency", "price"), [("ZZZ", "10.00"), ("JPY", "100.5"),
                                                 ("EUR", "0." + "1" * 50)])
def test_unknown_currencies_and_extra_decimals_are_refused(shop: Oms, currency: str,
                                                           price: str) -> None:
    # Before: all three were accepted; the 52-character price then failed raw on
    # PostgreSQL (VARCHAR(48)) and was stored on SQLite.
    refused(shop, lambda: shop.orders.place(
        order_command("M-3", {"SKU-1": 1}, currency=currency, unit_price=price)))
    payload = storefront_payload("M-4", currency=currency)
    payload["items"][0]["unit_price"] = price
    refused(shop, lambda: shop.channels.receive("storefront", payload), PayloadError)


# -- timestamps --------------------------------------------------------------------------------

EDGE_MOMENTS = [datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))),
                datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))]


@pytest.mark.parametrize("moment", EDGE_MOMENTS, ids=["year-10000", "year-0"])
def test_timestamps_postgresql_cannot_read_back_are_refused(shop: Oms, moment: datetime) -> None:
    # Before: PostgreSQL stored the order as year 10000 or 1 BC, then get, cancel,
    # timeline, search and iter_all of it failed raw; SQLite failed raw at once.
    with pytest.raises(InvalidCommand, match=r"placed_at: .* is outside 1900-01-01"):
        attrs.evolve(order_command("T-1", {"SKU-1": 1}), placed_at=moment)
    payload = storefront_payload("T-2", created_at=moment.isoformat())
    error = refused(shop, lambda: shop.channels.receive("storefront", payload), PayloadError)
    assert "created_at" in str(error)
    for call in (
        lambda: shop.inventory.register_supply("milan", "SKU-1", 5, moment),
        lambda: shop.inventory.transfer("SKU-1", "milan", "milan-2", 1, eta=moment),
        lambda: shop.inventory.available("SKU-1", at=moment),
        lambda: shop.orders.search(placed_from=moment),
        lambda: shop.orders.search(placed_to=moment),
        lambda: list(shop.orders.iter_all(OrderQuery(placed_from=moment))),
        lambda: shop.carts.expire(now=moment),
        lambda: shop.promise.quote({"SKU-1": 1}, at=moment),
    ):
        refused(shop, call)
    assert shop.orders.search() == []


@pytest.mark.parametrize("call", [
    lambda oms: oms.orders.search(placed_from=datetime(2026, 1, 1)),
    lambda oms: oms.carts.expire(now=datetime(2026, 1, 1)),
    lambda oms: oms.carts.expire(now="2026-01-01T00:00:00Z"),
    lambda oms: oms.inventory.available("SKU-1", at=datetime(2026, 1, 1)),
    lambda oms: oms.inventory.register_supply("milan", "SKU-1", 1, datetime(2026, 1, 1)),
    lambda oms: oms.promise.quote({"SKU-1": 1}, at=datetime(2026, 1, 1)),
], ids=["search", "expire", "expire-text", "available", "register_supply", "quote"])
def test_naive_datetimes_are_refused_everywhere(shop: Oms, call: Callable[[Oms], Any]) -> None:
    # Before: search raised a raw StatementError, expire an AttributeError.
    error = refused(shop, lambda: call(shop))
    assert "timezone-aware" in str(error)


def test_an_unreadable_waiting_order_does_not_stop_the_queue(
        shop: Oms, omskit_backend: str, caplog: pytest.LogCaptureFixture) -> None:
    # Both orders wait for SKU-2; the first one's row is then made unreadable, as a row
    # written by an older version or by hand could be.
    shop.inventory.receive("milan", "SKU-2", 1)
    shop.orders.place(order_command("Q-0", {"SKU-2": 1}))
    bad = shop.orders.place(order_command("Q-1", {"SKU-2": 1}))
    good = shop.orders.place(order_command("Q-2", {"SKU-2": 1}))
    assert {bad.status, good.status} == {OrderStatus.BACKORDERED}
    unreadable = ("10000-01-01 00:59:59+00" if omskit_backend == "postgresql"
                  else "not a timestamp")
    orders = shop.tables.orders
    with shop.engine.begin() as conn:
        conn.execute(sa.update(orders).where(orders.c.id == bad.id)
                     .values(placed_at=sa.literal_column(f"'{unreadable}'")))
    with pytest.raises(Exception):  # noqa: B017, PT011 - the row really is unreadable
        shop.orders.get(bad.id)
    assert [o.id for o in shop.orders.waiting(["SKU-2"])] == [good.id]
    shop.inventory.receive("milan", "SKU-2", 5)  # allocates the waiting orders it can read
    assert shop.orders.get(good.id).status is OrderStatus.ALLOCATED
    assert f"waiting order {bad.id} cannot be read" in caplog.text


# -- integer and text limits -------------------------------------------------------------------


def _set_on_hand(oms: Oms, location_code: str, sku: str, units: int) -> None:
    s = oms.tables.stock_items
    with oms.engine.begin() as conn:
        conn.execute(sa.update(s).where(s.c.location == location_code, s.c.sku == sku)
                     .values(on_hand=units))


def test_stock_above_the_ceiling_is_a_typed_error_on_both_databases(shop: Oms) -> None:
    # Before: PostgreSQL raised a raw NumericValueOutOfRange past 2**31 - 1 (after many
    # receipts, say) and SQLite stored any number.
    _set_on_hand(shop, "milan", "SKU-1", MAX_STOCK_UNITS - 5)
    shop.inventory.receive("milan", "SKU-2", 1)
    supply = shop.inventory.register_supply("milan", "SKU-1", 6,
                                            datetime.now(UTC) + timedelta(days=1))
    error = refused(shop, lambda: shop.inventory.receive("milan", "SKU-1", 6),
                    StockLimitExceeded)
    assert (error.location, error.sku, error.quantity, error.limit) == (
        "milan", "SKU-1", 6, MAX_STOCK_UNITS)
    refused(shop, lambda: shop.inventory.adjust("milan", "SKU-1", 6, reason="count"),
            StockLimitExceeded)
    refused(shop, lambda: shop.inventory.receive_supply(supply.id), StockLimitExceeded)
    _set_on_hand(shop, "milan-2", "SKU-1", 0)
    shop.inventory.receive("milan-2", "SKU-1", 6)
    refused(shop, lambda: shop.inventory.transfer("SKU-1", "milan-2", "milan", 6),
            StockLimitExceeded)
    assert shop.inventory.receive("milan", "SKU-1", 5).on_hand == MAX_STOCK_UNITS


def test_long_decimal_texts_are_stored_short_or_refused(shop: Oms) -> None:
    # Before: a 52-character handling cost or unit price passed the checks and then failed
    # raw on PostgreSQL (VARCHAR(48)); SQLite stored it.
    long_one = Decimal("1." + "0" * 60)
    saved = shop.inventory.save_location(
        attrs.evolve(location("rome", *MILAN), handling_cost=long_one))
    assert saved.code == "rome"
    assert str(shop.inventory.location("rome").handling_cost) == "1"
    for cost in (Decimal("0." + "1" * 50), Decimal(10**7), Decimal("-1")):
        refused(shop, lambda cost=cost: shop.inventory.save_location(
            attrs.evolve(location("rome", *MILAN), handling_cost=cost)))
    lines = [NewLine(sku="SKU-1", quantity=1, unit_price="2." + "0" * 50)]
    order = shop.orders.place(attrs.evolve(order_command("L-1", {"SKU-1": 1}), lines=lines))
    assert str(shop.orders.get(order.id).lines[0].unit_price) == "2.00"


@pytest.mark.parametrize("change", [
    {"address": Address(line1="Via Roma 1\x00", city="Milano", country="IT")},
    {"address": Address(line1="x" * 501, city="Milano", country="IT")},
    {"address": "Via Roma 1"},
    {"coordinates": (45.0, 9.0)},
    {"timezone": "Europe/" + "x" * 70},
    {"groups": frozenset(f"g{i}" for i in range(101))},
], ids=["address-nul", "address-long", "address-text", "coordinates-tuple", "timezone-long",
        "many-groups"])
def test_location_fields_are_bounded(shop: Oms, change: dict[str, Any]) -> None:
    # Before: a NUL in the address reached PostgreSQL's jsonb (DataError); the others were
    # stored unchecked.
    refused(shop, lambda: shop.inventory.save_location(
        attrs.evolve(location("rome", *MILAN), **change)))


def test_an_order_has_at_most_a_hundred_tags(shop: Oms) -> None:
    with pytest.raises(InvalidCommand, match="tags: more than 100 tags"):
        attrs.evolve(order_command("G-1", {"SKU-1": 1}), tags=[f"t{i}" for i in range(101)])


# -- location codes ----------------------------------------------------------------------------

RETAIL_CODES = ["WA-0000", "DC01", "ST_042", "Store.7"]


def test_retailers_location_codes_are_accepted_everywhere_case_kept(shop: Oms) -> None:
    # Before: every one was refused ("is not a code like 'web' or 'dc-milan'").
    for code in RETAIL_CODES:
        shop.inventory.save_location(location(
            code, *MILAN, capabilities=(Capability.SHIP, Capability.PICKUP)))
    assert [loc.code for loc in shop.inventory.locations()] == sorted(
        [*RETAIL_CODES, "milan", "milan-2"])
    shop.inventory.receive("WA-0000", "SKU-9", 10, idempotency_key="grn-1")
    shop.inventory.adjust("WA-0000", "SKU-9", -1, reason="damaged")
    shop.inventory.set_safety_stock("WA-0000", "SKU-9", 1)
    shop.inventory.transfer("SKU-9", "WA-0000", "DC01", 3)
    eta = datetime.now(UTC) + timedelta(days=2)
    shop.inventory.transfer("SKU-9", "WA-0000", "ST_042", 1, eta=eta)
    shop.inventory.register_supply("Store.7", "SKU-9", 4, eta)
    assert shop.inventory.stock_item("DC01", "SKU-9").on_hand == 3
    assert shop.inventory.location("WA-0000").code == "WA-0000"
    assert [e.on_hand_delta for e in shop.inventory.ledger("DC01", "SKU-9")] == [3]
    assert shop.inventory.available("SKU-9", location="DC01") == 3
    [summary] = shop.inventory.stock_view(skus=["SKU-9"], locations=["WA-0000", "DC01"])
    assert summary.on_hand == 5 + 3
    order = shop.orders.place(order_command("P-1", {"SKU-9": 2}, pickup_at="DC01"))
    assert [fo.location for fo in order.fulfillment_orders] == ["DC01"]
    quote = shop.promise.quote({"SKU-9": 1}, pickup_locations=["DC01", "ST_042"])
    pickup = quote.pickup("DC01")
    assert pickup is not None
    assert pickup.available
    held = shop.carts.hold("cart-1", {"SKU-9": 1}, ttl=timedelta(minutes=5), channel="web",
                           delivery=DeliveryMethod(kind=DeliveryKind.PICKUP,
                                                   pickup_location="DC01"))
    assert held.locations() == ["DC01"]


@pytest.mark.parametrize("code", ["WA 0000", "-DC01", "", "ｍｉｌａｎ", "DC01\x00", "D" * 129,
                                  "dc/01"])
def test_malformed_location_codes_are_still_refused(shop: Oms, code: str) -> None:
    refused(shop, lambda: shop.inventory.save_location(location(code, *MILAN)))
    refused(shop, lambda: shop.inventory.receive(code, "SKU-1", 1))
    with pytest.raises(InvalidCommand, match="not a location code"):
        order_command("P-2", {"SKU-1": 1}, pickup_at=code or "x y")


def test_routing_rules_settings_take_retailers_location_codes(
        make_oms: Callable[..., Oms]) -> None:
    import omskit_routing_rules

    oms = make_oms(plugins=[omskit_routing_rules],
                   settings={"routing_rules": {"ship_to": {"WA-0000": ["IT"]}}})
    for code in ("WA-0000", "DC01"):
        oms.inventory.save_location(location(code, *MILAN, country="IT"))
        oms.inventory.receive(code, "SKU-1", 5)
    order = oms.orders.place(order_command("R-1", {"SKU-1": 1}, country="FR"))
    assert [fo.location for fo in order.fulfillment_orders] == ["DC01"]
    with pytest.raises(InvalidSettings, match="not a location code"):
        make_oms(plugins=[omskit_routing_rules],
                 settings={"routing_rules": {"ship_to": {"WA 0000": ["IT"]}}})


# -- metadata ----------------------------------------------------------------------------------


def _nested(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels - 1):
        node["a"] = node = {}
    return root


def test_metadata_depth_is_bounded_and_the_deepest_allowed_reads_back(shop: Oms) -> None:
    # Before: 400 levels raised RecursionError from PlaceOrder.
    with pytest.raises(InvalidCommand, match="nested deeper than 32 levels"):
        attrs.evolve(order_command("D-1", {"SKU-1": 1}), metadata=_nested(400))
    deepest = _nested(32)
    order = shop.orders.place(attrs.evolve(order_command("D-2", {"SKU-1": 1}),
                                           metadata=deepest))
    assert shop.orders.get(order.id).metadata == deepest


# -- re-delivery conflicts ---------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    lambda c: attrs.evolve(c, lines=[NewLine(sku="SKU-2", quantity=1, unit_price="10.00")]),
    lambda c: attrs.evolve(c, lines=[NewLine(sku="SKU-1", quantity=2, unit_price="10.00")]),
    lambda c: attrs.evolve(c, lines=[NewLine(sku="SKU-1", quantity=1, unit_price="11.00")]),
    lambda c: attrs.evolve(c, customer=attrs.evolve(c.customer, id="someone-else")),
    lambda c: attrs.evolve(c, currency="USD"),
    lambda c: attrs.evolve(c, metadata={"gift": True}),
], ids=["sku", "quantity", "price", "customer", "currency", "metadata"])
def test_a_re_delivery_with_other_content_is_a_conflict(
        shop: Oms, change: Callable[[Any], Any]) -> None:
    # Before: the first order came back and the new content was silently lost.
    first = order_command("C-1", {"SKU-1": 1})
    placed = shop.orders.place(first)
    error = refused(shop, lambda: shop.orders.place(change(first)), IdempotencyConflict)
    assert (error.channel, error.external_id, error.order_id) == ("web", "C-1", placed.id)


def test_an_identical_re_delivery_returns_the_first_order(shop: Oms) -> None:
    moment = datetime(2026, 11, 25, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    first = attrs.evolve(order_command("C-2", {"SKU-1": 1}, unit_price="19.90"),
                         placed_at=moment, metadata={"b": 1, "a": [1, 2]})
    placed = shop.orders.place(first)
    before = table_contents(shop)
    # The same command written differently: price decimals, placed_at's offset, key order.
    again = attrs.evolve(order_command("C-2", {"SKU-1": 1}, unit_price="19.9"),
                         placed_at=moment.astimezone(UTC), metadata={"a": [1, 2], "b": 1})
    assert shop.orders.place(again).id == placed.id
    assert shop.orders.place_many([again, again])[0].id == placed.id
    assert table_contents(shop) == before


def test_a_storefront_re_delivery_with_other_items_is_a_conflict(shop: Oms) -> None:
    payload = storefront_payload("WEB-1")
    order = shop.channels.receive("storefront", payload)
    assert shop.channels.receive("storefront", storefront_payload("WEB-1")).id == order.id
    payload["items"][0]["quantity"] = 3
    refused(shop, lambda: shop.channels.receive("storefront", payload), IdempotencyConflict)


def test_a_conflict_is_found_when_the_other_delivery_wins_the_race(
        shop: Oms, monkeypatch: pytest.MonkeyPatch) -> None:
    # The look-up misses the order a concurrent delivery is committing; the unique index
    # then refuses the insert, and the stored command is compared after all.
    placed = shop.orders.place(order_command("C-3", {"SKU-1": 1}))
    real = UnitOfWork.placed_for_external
    calls: list[int] = []

    def racing(self: UnitOfWork, channel: str, external_id: str, **kwargs: Any) -> Any:
        calls.append(1)
        found = real(self, channel, external_id, **kwargs)  # its stock rows locked too
        return None if len(calls) == 1 else found

    monkeypatch.setattr(UnitOfWork, "placed_for_external", racing)
    refused(shop, lambda: shop.orders.place(order_command("C-3", {"SKU-1": 2})),
            IdempotencyConflict)
    assert calls == [1]  # the unique index refused the insert; no second attempt
    calls.clear()
    assert shop.orders.place(order_command("C-3", {"SKU-1": 1})).id == placed.id


def test_orders_placed_before_fingerprints_accept_any_re_delivery(shop: Oms) -> None:
    placed = shop.orders.place(order_command("C-4", {"SKU-1": 1}))
    orders = shop.tables.orders
    with shop.engine.begin() as conn:
        conn.execute(sa.update(orders).where(orders.c.id == placed.id)
                     .values(command_hash=None))
    assert shop.orders.place(order_command("C-4", {"SKU-1": 2})).id == placed.id
