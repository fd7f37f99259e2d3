"""Hostile input that the fuzzing in ``test_bad_input.py`` found to escape as an untyped
exception (not an ``OmsError``): each case was a core bug, now fixed, and stays here as a
regression test (a typed error, and nothing written).

Found bugs, with the fix (see docs/reliability.md):

1. identifiers of the wrong type (a dict, list or object where a location code, order id or
   fulfilment-order id is expected) reach the database driver: ``ProgrammingError`` or
   ``TypeError`` (unhashable) instead of ``InvalidCommand``/``NotFound``;
2. an unhashable channel code makes ``Registry.get`` raise ``TypeError``;
3. strings with lone surrogates (``"\\ud800"``, what a lenient JSON decoder yields for a bad
   escape) pass the text checks and fail to encode: ``UnicodeEncodeError``;
4. an ``eta`` that is not a datetime: ``AttributeError`` (``transfer``, ``register_supply``);
5. ``promise.quote(pickup_locations=<not iterable>)``: ``TypeError``;
6. ``save_location`` with a non-decimal ``handling_cost``, a non-string ``timezone`` or
   non-iterable ``capabilities``:
   ``TypeError``;
7. ``PlaceOrder(...)`` accepts an address whose ``coordinates`` is not a ``Coordinates``
   (a list): placing it fails in routing with ``AttributeError``; and ``PlaceOrder(...)``
   with ``lines``, ``customer``, ``shipping_address``, ``delivery`` or
   ``tags`` of the wrong type: ``TypeError``/``AttributeError``;
8. ``idempotency_key`` of ``receive``/``adjust`` is not checked at all: on PostgreSQL a NUL
   byte (``DataError``), more than 128 characters (``StringDataRightTruncation``) or a
   non-string (``ProgrammingError``) escapes; SQLite stores them silently;
9. ``adjust`` does not check its location code, nor ``cancel`` its order id: a NUL byte
   reaches PostgreSQL (``DataError``) instead of ``LocationNotFound``/``OrderNotFound``;
10. ``register_supply(kind=...)`` is not checked against ``SupplyKind``: the driver fails.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import omskit_channel_storefront
import pytest

from omskit import Oms
from omskit.domain.commands import NewLine, PlaceOrder
from omskit.domain.errors import OmsError
from omskit.domain.values import Address, Customer
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN

ETA = datetime.now(UTC) + timedelta(days=1)


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> tuple[Oms, str, str]:
    oms = make_oms(plugins=[omskit_channel_storefront])
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "SKU-1", 10)
    order = oms.orders.place(order_command("BUG-1", {"SKU-1": 1}))
    return oms, order.id, order.fulfillment_orders[0].id


def _calls() -> dict[str, Callable[[Oms, str, str], Any]]:
    """Each case: (oms, order id, fulfilment-order id) -> the hostile call."""
    return {
        # 1. identifiers of the wrong type reach the database driver
        "receive-location-dict": lambda o, _, __: o.inventory.receive({}, "SKU-1", 1),
        "adjust-location-dict": lambda o, _, __: o.inventory.adjust({}, "SKU-1", 1, reason="x"),
        "set_safety_stock-location-object":
            lambda o, _, __: o.inventory.set_safety_stock(object(), "SKU-1", 1),
        "transfer-location-dict": lambda o, _, __: o.inventory.transfer("SKU-1", {}, "milan", 1),
        "register_supply-location-dict":
            lambda o, _, __: o.inventory.register_supply({}, "SKU-1", 1, ETA),
        "place_hold-order-id-dict": lambda o, _, __: o.orders.place_hold({}, "x", "y"),
        "cancel-order-id-list": lambda o, _, __: o.orders.cancel([], "y"),
        "reject-fo-id-dict": lambda o, _, __: o.fulfillment.reject({}, "y"),
        "ship-fo-id-dict":
            lambda o, _, __: o.fulfillment.ship({}, carrier="b", tracking_number="t"),
        # 2. unhashable channel code
        "channels.receive-code-list": lambda o, _, __: o.channels.receive([], {}),
        "channels.receive-code-dict": lambda o, _, __: o.channels.receive({}, {}),
        # 3. lone surrogates
        "receive-idempotency-key-surrogate": lambda o, _, __: o.inventory.receive(
            "milan", "SKU-1", 1, idempotency_key="\ud800"),
        "receive-reference-surrogate":
            lambda o, _, __: o.inventory.receive("milan", "SKU-1", 1, reference="\ud800"),
        "receive-sku-surrogate": lambda o, _, __: o.inventory.receive("milan", "\ud800", 1),
        "place_hold-reason-surrogate": lambda o, oid, _: o.orders.place_hold(oid, "x", "\ud800"),
        "place-sku-surrogate":
            lambda o, _, __: o.orders.place(order_command("BUG-2", {"\ud800": 1})),
        "place-external-id-surrogate":
            lambda o, _, __: o.orders.place(order_command("BUG-\udfff", {"SKU-1": 1})),
        "save_location-name-surrogate": lambda o, _, __: o.inventory.save_location(
            attrs.evolve(location("new-dc", 1, 1), name="\ud800")),
        # 4. eta not a datetime
        "transfer-eta-str":
            lambda o, _, __: o.inventory.transfer("SKU-1", "milan", "rome", 1, eta="tomorrow"),
        "register_supply-eta-str":
            lambda o, _, __: o.inventory.register_supply("milan", "SKU-1", 1, "tomorrow"),
        "register_supply-kind-decimal": lambda o, _, __: o.inventory.register_supply(
            "milan", "SKU-1", 1, ETA, kind=Decimal("Infinity")),
        # 5. pickup locations not iterable
        "quote-pickup-locations-int":
            lambda o, _, __: o.promise.quote({"SKU-1": 1}, pickup_locations=0),
        # 7. a PlaceOrder whose address coordinates are not Coordinates is accepted
        "place-address-coordinates-list": lambda o, _, __: o.orders.place(_command(
            shipping_address=Address(line1="Via Roma 1", city="Milano", country="IT",
                                     coordinates=[45.4, 9.1]))),  # type: ignore[arg-type]
        # 6. Location fields of the wrong type
        "save_location-handling-cost-str": lambda o, _, __: o.inventory.save_location(
            attrs.evolve(location("new-dc", 1, 1), handling_cost="1")),
        "save_location-timezone-int": lambda o, _, __: o.inventory.save_location(
            attrs.evolve(location("new-dc", 1, 1), timezone=5)),
        "save_location-capabilities-int": lambda o, _, __: o.inventory.save_location(
            attrs.evolve(location("new-dc", 1, 1), capabilities=3)),
    }


CALLS = _calls()
#: Cases that escape on PostgreSQL only (SQLite accepts them: a clean success there).
POSTGRES_ONLY: dict[str, Callable[[Oms, str, str], Any]] = {
    "receive-idempotency-key-nul": lambda o, _, __: o.inventory.receive(
        "milan", "SKU-1", 1, idempotency_key="grn\x00"),
    "receive-idempotency-key-too-long": lambda o, _, __: o.inventory.receive(
        "milan", "SKU-1", 1, idempotency_key="k" * 300),
    "adjust-location-nul": lambda o, _, __: o.inventory.adjust(
        "\x00", "SKU-1", 1, reason="count"),
    "cancel-order-id-nul": lambda o, _, __: o.orders.cancel("\x00", "y"),
    "adjust-idempotency-key-int": lambda o, _, __: o.inventory.adjust(
        "milan", "SKU-1", 1, reason="count", idempotency_key=7),
}




@pytest.mark.parametrize("case", sorted(CALLS))
def test_hostile_argument_is_a_typed_error(shop: tuple[Oms, str, str], case: str) -> None:
    oms, order_id, fo_id = shop
    before = table_contents(oms)
    with pytest.raises(OmsError):
        CALLS[case](oms, order_id, fo_id)
    assert table_contents(oms) == before


@pytest.mark.parametrize("case", sorted(POSTGRES_ONLY))
def test_unchecked_idempotency_key(shop: tuple[Oms, str, str], case: str) -> None:
    oms, order_id, fo_id = shop
    before = table_contents(oms)
    # Refused before the database sees it, on every backend (SQLite used to store it).
    with pytest.raises(OmsError):
        POSTGRES_ONLY[case](oms, order_id, fo_id)
    assert table_contents(oms) == before


def _command(**changes: Any) -> PlaceOrder:
    fields: dict[str, Any] = {
        "channel": "web", "external_id": "BUG-3", "currency": "EUR", "customer": Customer(id="c-1"),
        "lines": [NewLine(sku="SKU-1", quantity=1, unit_price="1.00")],
        "shipping_address": Address(line1="Via Roma 1", city="Milano", country="IT")}
    fields.update(changes)
    return PlaceOrder(**fields)


COMMANDS: dict[str, dict[str, Any]] = {
    "lines-int": {"lines": 5},
    "lines-none": {"lines": None},
    "lines-str": {"lines": "SKU-1"},
    "lines-of-ints": {"lines": [5]},
    "customer-str": {"customer": "c-1"},
    "shipping-address-str": {"shipping_address": "Via Roma 1"},
    "delivery-str": {"delivery": "ship"},
    "tags-int": {"tags": 5},
}


@pytest.mark.parametrize("case", sorted(COMMANDS))
def test_wrongly_typed_place_order_field_is_invalid_command(case: str) -> None:
    with pytest.raises(OmsError):
        _command(**COMMANDS[case])
