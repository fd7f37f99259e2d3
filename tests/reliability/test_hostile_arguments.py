"""Every public method of ``oms.orders``, ``oms.inventory``, ``oms.fulfillment``, ``oms.carts``,
``oms.promise``, ``oms.outbox``, ``oms.channels`` and ``oms.edits``, called with hostile
arguments one at a time (the others valid): wrong types, control characters and NUL, empty
and huge strings, lone surrogates, naive and out-of-range datetimes, zero, negative,
fractional and huge sizes.

Each call must raise :class:`InvalidCommand` (a subclass of ``OmsError``: the shared
validators of ``omskit.domain.checks`` refuse the argument before anything is read or
written) and leave every row of every table as it was, on SQLite and on PostgreSQL alike.
Before (issue 9, item 10) 47 of 60 such calls raised a raw ``TypeError``, ``IndexError``,
``DataError`` or ``ProgrammingError``, and 13 answered on SQLite but raised on PostgreSQL.

``test_every_public_method_is_in_the_table`` keeps the table complete: a new public method
fails it until its hostile arguments are listed here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import omskit_channel_storefront
import pytest

from omskit import EditOrder, Oms
from omskit.domain.errors import InvalidCommand, OmsError
from omskit.domain.promise import CartLine
from omskit.domain.values import DeliveryKind, DeliveryMethod
from omskit.store.orders import OrderQuery
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN

SOON = datetime(2030, 1, 1, tzinfo=UTC)

# -- hostile values per kind of argument --------------------------------------------------------

_WRONG_TYPES: list[Any] = [None, 42, 1.5, True, b"SKU-1", {}, [], object(), Decimal("1")]
_BAD_STRINGS: list[Any] = ["", " ", "\x00", "id\x00", "\t", "\x1b[31m", "x" * 129, "\ud800",
                           " padded", "\u0085"]
#: Identifiers: order, fulfilment-order, supply and cart ids, SKUs, codes of holds.
IDS = _WRONG_TYPES + _BAD_STRINGS
#: Codes (channels, segments): identifiers plus what only the code rule refuses.
CODES = [*IDS, "Web Shop", "WEB", "ｗｅｂ"]
#: Location codes: identifiers plus what only the location-code rule refuses.
LOCATIONS = [*IDS, "WA 0000", "-DC01", "dc/01"]
#: Optional identifiers and codes: None is valid there.
OPTIONAL_IDS = [v for v in IDS if v is not None]
OPTIONAL_CODES = [v for v in CODES if v is not None]
OPTIONAL_LOCATIONS = [v for v in LOCATIONS if v is not None]
#: Free text (reasons, references, tracking numbers).
TEXTS = [None, 42, b"x", [], "\x00", "a\x1bb", "x" * 501, "\ud800"]
#: Datetimes: naive, text, numbers, dates, and aware ones PostgreSQL cannot read back.
MOMENTS = [datetime(2030, 1, 1), "2030-01-01T00:00:00Z", 1893456000, date(2030, 1, 1),
           datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 1, 1, tzinfo=UTC), [], {}]
#: Whole quantities (units).
QUANTITIES = [0, -1, True, 1.5, "5", None, Decimal(5), 10**7, 2**63, -(2**63)]
#: Stock corrections (any sign, not zero).
DELTAS = [0, True, 1.5, "5", None, Decimal(5), 10**7, -(10**7), 2**63]
#: Page sizes and limits.
SIZES = [0, -1, True, 1.5, "5", None, 10**7, 2**63]
#: Collections of SKUs or codes.
COLLECTIONS = ["SKU-1", b"SKU-1", 42, [None], [""], ["\x00"], [{}], ["x" * 129]]


@attrs.frozen
class Method:
    """A public method, the valid arguments of a call to it, and hostile ones per argument."""

    service: str
    name: str
    valid: dict[str, Any]
    hostile: dict[str, list[Any]]

    @property
    def key(self) -> str:
        return f"{self.service}.{self.name}"


#: Stand-ins replaced by the fixture's ids when a call is made.
ORDER, FULFILMENT_ORDER, SUPPLY = "<order>", "<fulfilment order>", "<supply>"
EDIT = "<edit>"


METHODS: list[Method] = [
    # -- oms.orders
    Method("orders", "place", {"command": "<command>"},
           {"command": [None, {}, "W-1", [order_command("W-1", {"SKU-1": 1})]]}),
    Method("orders", "place_many", {"commands": "<commands>"},
           {"commands": [None, 5, "W-1", b"W-1", [None], [{}], [order_command("W-2", {"A": 1}),
                                                               "W-3"]]}),
    Method("orders", "get", {"order_id": ORDER}, {"order_id": IDS}),
    Method("orders", "find_by_external", {"channel": "web", "external_id": "W-9"},
           {"channel": CODES, "external_id": IDS}),
    Method("orders", "search", {},
           {"placed_from": MOMENTS, "placed_to": MOMENTS, "limit": SIZES,
            "offset": [-1, True, 1.5, "5", 10**7], "customer_id": OPTIONAL_IDS,
            "channel": OPTIONAL_CODES, "statuses": ["allocated", 5, ("nope",), (None,)],
            "after": [5, (SOON,), (datetime(2030, 1, 1), "id"), (SOON, "\x00")],
            "query": [5, "q", {}], "unknown_filter": [1]}),
    Method("orders", "iter_all", {},
           {"page_size": SIZES, "query": [5, "q", {}, OrderQuery(limit=0),
                                          OrderQuery(placed_from=datetime(2030, 1, 1))]}),
    Method("orders", "count_by_status", {}, {}),
    Method("orders", "timeline", {"order_id": ORDER}, {"order_id": IDS}),
    Method("orders", "change", {"order_id": ORDER, "change": lambda uow, order, at: None},
           {"order_id": IDS, "change": [None, 5, "cancel"]}),
    Method("orders", "expecting_version", {"order_id": ORDER, "version": 1},
           {"order_id": IDS, "version": [-1, True, 1.5, "5", None, Decimal(1)]}),
    Method("orders", "place_hold", {"order_id": ORDER, "code": "fraud", "reason": "check"},
           {"order_id": IDS, "code": IDS, "reason": TEXTS}),
    Method("orders", "release_hold", {"order_id": ORDER, "code": "fraud"},
           {"order_id": IDS, "code": IDS}),
    Method("orders", "explain", {"order_id": ORDER}, {"order_id": IDS}),
    Method("orders", "waiting", {}, {"skus": COLLECTIONS, "limit": SIZES}),
    Method("orders", "allocate_waiting", {}, {"skus": COLLECTIONS}),
    Method("orders", "allocate_backorders", {"order_id": ORDER}, {"order_id": IDS}),
    Method("orders", "cancel", {"order_id": ORDER, "reason": "x"},
           {"order_id": IDS, "reason": TEXTS}),
    Method("orders", "complete", {"order_id": ORDER}, {"order_id": IDS}),
    Method("orders", "cancel_lines", {"order_id": ORDER, "quantities": {"1": 1}},
           {"order_id": IDS, "quantities": [None, {}, 5, "1", {"1": 0}, {"1": -1},
                                             {"": 1}, {"1": "2"}, {"1": True}],
            "reason": TEXTS, "idempotency_key": OPTIONAL_IDS}),
    Method("orders", "short_close", {"order_id": ORDER}, {"order_id": IDS, "reason": TEXTS}),
    Method("orders", "revalidate_unknown_skus", {"skus": ["SKU-1"]}, {"skus": COLLECTIONS}),
    # -- oms.inventory
    Method("inventory", "save_location", {"location": location("new-dc", *MILAN)},
           {"location": [None, {}, "new-dc", 5]}),
    Method("inventory", "location", {"code": "milan"}, {"code": LOCATIONS}),
    Method("inventory", "locations", {}, {}),
    Method("inventory", "receive", {"location": "milan", "sku": "SKU-1", "quantity": 1},
           {"location": LOCATIONS, "sku": IDS, "quantity": QUANTITIES, "reference": TEXTS,
            "idempotency_key": OPTIONAL_IDS}),
    Method("inventory", "adjust",
           {"location": "milan", "sku": "SKU-1", "delta": 1, "reason": "count"},
           {"location": LOCATIONS, "sku": IDS, "delta": DELTAS, "reason": TEXTS,
            "idempotency_key": OPTIONAL_IDS}),
    Method("inventory", "set_safety_stock", {"location": "milan", "sku": "SKU-1", "quantity": 1},
           {"location": LOCATIONS, "sku": IDS, "quantity": [-1, True, 1.5, "5", None, 10**7]}),
    Method("inventory", "transfer",
           {"sku": "SKU-1", "from_location": "milan", "to_location": "rome", "quantity": 1},
           {"sku": IDS, "from_location": LOCATIONS, "to_location": [*LOCATIONS, "milan"],
            "quantity": QUANTITIES, "eta": MOMENTS, "reference": TEXTS,
            "idempotency_key": OPTIONAL_IDS}),
    Method("inventory", "register_supply",
           {"location": "milan", "sku": "SKU-1", "quantity": 1, "eta": SOON},
           {"location": LOCATIONS, "sku": IDS, "quantity": QUANTITIES, "eta": [None, *MOMENTS],
            "kind": ["purchase_order!", 5, None], "reference": TEXTS,
            "idempotency_key": OPTIONAL_IDS}),
    Method("inventory", "receive_supply", {"supply_id": SUPPLY}, {"supply_id": IDS}),
    Method("inventory", "stock_item", {"location": "milan", "sku": "SKU-1"},
           {"location": LOCATIONS, "sku": IDS}),
    Method("inventory", "stock", {"sku": "SKU-1"}, {"sku": IDS}),
    Method("inventory", "available", {"sku": "SKU-1"},
           {"sku": IDS, "location": OPTIONAL_LOCATIONS, "at": MOMENTS,
            "channel": OPTIONAL_CODES}),
    Method("inventory", "stock_view", {},
           {"skus": COLLECTIONS, "locations": ["milan", ["WA 0000"], [None], 5],
            "channel": OPTIONAL_CODES, "page_size": SIZES}),
    Method("inventory", "channel_buffer", {"channel": "web"}, {"channel": CODES}),
    Method("inventory", "ledger", {"location": "milan", "sku": "SKU-1"},
           {"location": LOCATIONS, "sku": IDS}),
    Method("inventory", "ledger_mismatches", {}, {}),
    # -- oms.fulfillment
    Method("fulfillment", "release", {"order_id": ORDER}, {"order_id": IDS}),
    Method("fulfillment", "accept", {"fulfillment_order_id": FULFILMENT_ORDER},
           {"fulfillment_order_id": IDS}),
    Method("fulfillment", "pick", {"fulfillment_order_id": FULFILMENT_ORDER},
           {"fulfillment_order_id": IDS}),
    Method("fulfillment", "pack", {"fulfillment_order_id": FULFILMENT_ORDER},
           {"fulfillment_order_id": IDS}),
    Method("fulfillment", "reject", {"fulfillment_order_id": FULFILMENT_ORDER, "reason": "x"},
           {"fulfillment_order_id": IDS, "reason": TEXTS}),
    Method("fulfillment", "ship",
           {"fulfillment_order_id": FULFILMENT_ORDER, "carrier": "brt", "tracking_number": "T"},
           {"fulfillment_order_id": IDS, "carrier": IDS, "tracking_number": TEXTS}),
    Method("fulfillment", "deliver", {"fulfillment_order_id": FULFILMENT_ORDER},
           {"fulfillment_order_id": IDS}),
    Method("fulfillment", "get", {"fulfillment_order_id": FULFILMENT_ORDER},
           {"fulfillment_order_id": IDS}),
    Method("fulfillment", "at_location", {"location": "milan"},
           {"location": LOCATIONS, "statuses": [5, "released", [None], ["nope"]],
            "limit": [0, -1, True, 1.5, "5", 10**6]}),
    # -- oms.carts
    Method("carts", "hold",
           {"cart_id": "cart-9", "lines": {"SKU-1": 1}, "ttl": timedelta(minutes=5),
            "channel": "web"},
           {"cart_id": IDS, "lines": [None, 5, "SKU-1", {}, {"SKU-1": 0}, {"SKU-1": "1"},
                                      {"\x00": 1}, [CartLine(sku="SKU-1", quantity=-1)]],
            "ttl": [None, 5, timedelta(0), timedelta(days=-1), timedelta(days=3650), "5m"],
            "channel": CODES, "destination": [(45.0, 9.0), "Milan", 5],
            "country": ["Italy", "it", 5, "\x00\x00"], "segment": OPTIONAL_CODES,
            "delivery": ["pickup", 5, DeliveryMethod(kind=DeliveryKind.PICKUP,
                                                     pickup_location="WA 0000")]}),
    Method("carts", "get", {"cart_id": "cart-1"}, {"cart_id": IDS}),
    Method("carts", "release", {"cart_id": "cart-1"}, {"cart_id": IDS}),
    Method("carts", "expire", {}, {"now": MOMENTS}),
    # -- oms.promise
    Method("promise", "quote", {"lines": {"SKU-1": 1}},
           {"lines": [None, 5, "SKU-1", {}, {"SKU-1": 0}, {"SKU-1": 10**9}],
            "destination": [(45.0, 9.0), "Milan", 5], "country": ["Italy", "it", 5],
            "channel": CODES, "at": MOMENTS,
            "pickup_locations": ["milan", 5, [None], ["WA 0000"], ["milan"] * 51],
            "ship": [None, "yes", 1], "cart_id": OPTIONAL_IDS,
            "segment": OPTIONAL_CODES}),
    # -- oms.outbox
    Method("outbox", "dispatch_pending", {}, {"limit": SIZES}),
    Method("outbox", "dispatch_batch", {}, {"limit": SIZES}),
    Method("outbox", "pending_count", {}, {}),
    Method("outbox", "parked_count", {}, {}),
    Method("outbox", "parked", {}, {"limit": SIZES, "after": [True, 1.5, "5"]}),
    Method("outbox", "retry", {"seq": 1}, {"seq": [0, -1, True, 1.5, "1", None]}),
    Method("outbox", "skip", {"seq": 1, "reason": "given up"},
           {"seq": [0, -1, True, 1.5, "1", None], "reason": [*TEXTS, "", "  "]}),
    Method("outbox", "relay", {"name": "amqp"}, {"name": CODES, "limit": SIZES}),
    Method("outbox", "relay_status", {"name": "amqp"}, {"name": CODES}),
    Method("outbox", "relays", {}, {}),
    # -- oms.channels
    Method("channels", "codes", {}, {}),
    Method("channels", "parse", {"channel": "storefront", "payload": "<payload>"},
           {"channel": IDS, "payload": [None, 5, "{}", [], {}, {"id": "\x00"}]}),
    Method("channels", "receive", {"channel": "storefront", "payload": "<payload>"},
           {"channel": IDS, "payload": [None, 5, "{}", [], {}, {"id": "\x00"}],
            "delivery_id": OPTIONAL_IDS}),
    Method("channels", "namespace", {"channel": "storefront"}, {"channel": IDS}),
    Method("channels", "owner", {"order_channel": "web"}, {"order_channel": CODES}),
    Method("channels", "status_updates", {"order_id": ORDER}, {"order_id": IDS}),
    Method("channels", "record_status", {"order_id": ORDER, "status": "accepted", "key": "k"},
           {"order_id": IDS, "status": [None, 42, "lost", "ACCEPTED", []], "key": IDS,
            "details": [42, "x", [], {"carrier": None}, {"carrier": "\x00"}]}),
    Method("channels", "push", {}, {"now": MOMENTS, "limit": SIZES}),
    Method("channels", "parse_edit", {"channel": "storefront", "payload": "<edit payload>"},
           {"channel": IDS, "payload": [None, 5, "{}", [], {}, {"edit_id": "\x00"}]}),
    Method("channels", "receive_edit", {"channel": "storefront", "payload": "<edit payload>"},
           {"channel": IDS, "payload": [None, 5, "{}", [], {}, {"edit_id": "\x00"}]}),
    # -- oms.edits
    Method("edits", "begin", {"order_id": ORDER, "channel": "mobile"},
           {"order_id": IDS, "channel": CODES, "actor": TEXTS,
            "idempotency_key": OPTIONAL_IDS}),
    Method("edits", "stage", {"edit_id": EDIT, "quantities": {"1": 3}},
           {"edit_id": IDS, "quantities": [5, "1", {"1": -1}, {"": 1}, {"1": "2"},
                                            {"1": True}, {"1": 10**7}],
            "add_lines": [5, "SKU-1", [None], [{}], [order_command("W-9", {"A": 1})]],
            "remove_lines": [5, [None], [""], ["\x00"]],
            "shipping_address": [5, "Via Roma 1", {}],
            "delivery": ["pickup", 5, DeliveryMethod(kind=DeliveryKind.PICKUP,
                                                     pickup_location="WA 0000")],
            "idempotency_key": OPTIONAL_IDS}),
    Method("edits", "preview", {"edit_id": EDIT}, {"edit_id": IDS}),
    Method("edits", "commit", {"edit_id": EDIT}, {"edit_id": IDS}),
    Method("edits", "abandon", {"edit_id": EDIT}, {"edit_id": IDS}),
    Method("edits", "get", {"edit_id": EDIT}, {"edit_id": IDS}),
    Method("edits", "for_order", {"order_id": ORDER}, {"order_id": IDS}),
    Method("edits", "recent", {}, {"status": ["nope", 5, b"open"], "limit": SIZES}),
    Method("edits", "submit", {"command": "<edit command>"},
           {"command": [None, {}, "edit", 5, [order_command("W-9", {"A": 1})]]}),
    Method("edits", "expire", {}, {"now": MOMENTS}),
]

SERVICES = ("orders", "inventory", "fulfillment", "carts", "promise", "outbox", "channels",
            "edits")


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> tuple[Oms, dict[str, Any]]:
    """Two locations with stock, an allocated order with its fulfilment order, an open
    supply, a cart hold; and the values the stand-ins of the table stand for."""
    oms = make_oms(plugins=[omskit_channel_storefront])
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *MILAN))
    oms.inventory.receive("milan", "SKU-1", 20)
    order = oms.orders.place(order_command("W-1", {"SKU-1": 2}))
    supply = oms.inventory.register_supply("milan", "SKU-1", 5, SOON)
    oms.carts.hold("cart-1", {"SKU-1": 1}, ttl=timedelta(minutes=5), channel="web")
    payload = {
        "id": "WEB-1", "source": "web", "created_at": "2026-11-25T10:15:00+01:00",
        "currency": "EUR", "customer": {"id": "c-1", "email": "anna@example.com"},
        "shipping_address": {"line1": "Via Roma 1", "city": "Milano", "country": "IT"},
        "fulfillment": {"type": "ship"},
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": "9.90"}]}
    edit = oms.edits.begin(order.id, channel="mobile")
    edit_payload = {"edit_id": "E-1", "source": "mobile", "customer_id": "c-1",
                    "order": {"source": "web", "id": "W-1"},
                    "items": [{"line_id": "1", "quantity": 3}]}
    stand_ins = {ORDER: order.id, FULFILMENT_ORDER: order.fulfillment_orders[0].id,
                 SUPPLY: supply.id, "<command>": order_command("W-5", {"SKU-1": 1}),
                 "<commands>": [order_command("W-6", {"SKU-1": 1})], "<payload>": payload,
                 EDIT: edit.id, "<edit payload>": edit_payload,
                 "<edit command>": EditOrder(channel="mobile", idempotency_key="E-2",
                                             order_id=order.id, quantities={"1": 1})}
    return oms, stand_ins


def _resolved(value: Any, stand_ins: dict[str, Any]) -> Any:
    return stand_ins.get(value, value) if isinstance(value, str) else value


def _call(oms: Oms, method: Method, arguments: dict[str, Any]) -> Any:
    result = getattr(getattr(oms, method.service), method.name)(**arguments)
    if inspect.isgenerator(result) or hasattr(result, "__next__"):
        return list(result)  # a lazy iterator must fail at the call, before iteration
    return result


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.key)
def test_hostile_arguments_raise_invalid_command_and_write_nothing(
        shop: tuple[Oms, dict[str, Any]], method: Method) -> None:
    oms, stand_ins = shop
    valid = {k: _resolved(v, stand_ins) for k, v in method.valid.items()}
    escaped: list[str] = []
    # One snapshot for all the calls: each must raise, so none may have written anything.
    before = table_contents(oms)
    for parameter, values in method.hostile.items():
        for value in values:
            try:
                result = _call(oms, method, {**valid, parameter: value})
            except InvalidCommand:
                continue
            except Exception as exc:
                escaped.append(f"{parameter}={value!r:.60}: {type(exc).__name__}: {exc!s:.120}")
            else:
                escaped.append(f"{parameter}={value!r:.60}: accepted, returned {result!r:.60}")
    assert not escaped, f"{method.key}: " + "\n".join(escaped)
    assert table_contents(oms) == before, f"{method.key}: a refused call wrote to the database"
    # The valid arguments pass the checks, so each hostile case differs from a call the
    # checks accept by one argument only. The call may still fail for what it asks (an
    # unreleased fulfilment order cannot be shipped: IllegalTransition), not as bad input.
    try:
        _call(oms, method, valid)
    except InvalidCommand as exc:
        pytest.fail(f"{method.key} refused its valid arguments: {exc!r}")
    except OmsError:
        pass


def test_every_public_method_is_in_the_table(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    listed = {m.key for m in METHODS}
    public = {f"{service}.{name}"
              for service in SERVICES
              for name, member in inspect.getmembers(getattr(oms, service))
              if not name.startswith("_") and inspect.ismethod(member)}
    assert public - listed == set(), "public methods with no hostile arguments listed"
    assert listed - public == set(), "listed methods that do not exist"


def test_lazy_listings_check_their_arguments_at_the_call(
        shop: tuple[Oms, dict[str, Any]]) -> None:
    # iter_all(page_size=0) raised IndexError only once iterated, and stock_view likewise.
    oms, _ = shop
    with pytest.raises(InvalidCommand):
        oms.orders.iter_all(page_size=0)
    with pytest.raises(InvalidCommand):
        oms.inventory.stock_view(page_size=0)
