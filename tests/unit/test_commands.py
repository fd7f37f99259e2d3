"""PlaceOrder: every field is checked at construction and all problems are listed at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from omskit.domain.commands import MAX_LINE_QUANTITY, MAX_METADATA_BYTES, NewLine, PlaceOrder
from omskit.domain.errors import InvalidCommand
from omskit.domain.values import Address, Contact, Customer, DeliveryKind, DeliveryMethod

ADDRESS = Address(line1="Via Roma 1", city="Milano", country="IT")


def command(**overrides: Any) -> PlaceOrder:
    """A valid command, with ``overrides`` applied."""
    fields: dict[str, Any] = {
        "channel": "web",
        "external_id": "W-1",
        "currency": "EUR",
        "customer": Customer(id="c-1"),
        "lines": [NewLine(sku="SKU-1", quantity=2, unit_price="9.90")],
        "shipping_address": ADDRESS,
    }
    fields.update(overrides)
    return PlaceOrder(**fields)


def problems_of(**overrides: Any) -> tuple[str, ...]:
    with pytest.raises(InvalidCommand) as caught:
        command(**overrides)
    assert caught.value.subject == "order"
    return caught.value.problems


def test_a_valid_command_is_accepted() -> None:
    placed = command(placed_at=datetime(2024, 3, 1, 12, tzinfo=UTC), tags=["vip"],
                     metadata={"note": "leave at door"})
    assert placed.lines[0].quantity == 2
    assert placed.tags == ("vip",)


def test_an_order_needs_lines() -> None:
    assert problems_of(lines=[]) == ("lines: an order needs at least one line",)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, "lines[0].quantity: 0 is outside 1..1000000"),
        (-3, "lines[0].quantity: -3 is outside 1..1000000"),
        (MAX_LINE_QUANTITY + 1, "lines[0].quantity: 1000001 is outside 1..1000000"),
        (True, "lines[0].quantity: must be a whole number, not True"),
        (2.0, "lines[0].quantity: must be a whole number, not 2.0"),
        ("2", "lines[0].quantity: must be a whole number, not '2'"),
    ],
)
def test_bad_quantities(quantity: Any, expected: str) -> None:
    lines = [NewLine(sku="SKU-1", quantity=quantity, unit_price="1")]
    assert problems_of(lines=lines) == (expected,)


def test_largest_quantity_is_accepted() -> None:
    lines = [NewLine(sku="SKU-1", quantity=MAX_LINE_QUANTITY, unit_price="1")]
    assert command(lines=lines).lines[0].quantity == 1_000_000


def test_all_problems_are_listed_together() -> None:
    lines = [
        NewLine(sku="SKU-1", quantity=0, unit_price="1", line_id="a"),
        NewLine(sku="", quantity=1, unit_price="-1", line_id="a"),
    ]
    problems = problems_of(channel="Web Shop", external_id="", lines=lines,
                           shipping_address=None)
    assert problems == (
        "channel: 'Web Shop' is not a code like 'web' or 'dc-milan'",
        "external_id: must be a non-empty string",
        "lines[0].quantity: 0 is outside 1..1000000",
        "lines[1].sku: must be a non-empty string",
        "lines[1].unit_price: -1 is outside 0..1000000000000",
        "lines[1].line_id: 'a' is used twice",
        "shipping_address: required when the delivery method is ship",
    )


def test_duplicate_explicit_line_ids() -> None:
    lines = [NewLine(sku="A", quantity=1, unit_price="1", line_id="x"),
             NewLine(sku="B", quantity=1, unit_price="1", line_id="x")]
    assert problems_of(lines=lines) == ("lines[1].line_id: 'x' is used twice",)


def test_explicit_line_id_colliding_with_a_generated_one() -> None:
    # A line without an id is numbered by position ("1" for the first), so an explicit "1"
    # on another line would give the order two lines with the same id.
    lines = [NewLine(sku="A", quantity=1, unit_price="1"),
             NewLine(sku="B", quantity=1, unit_price="1", line_id="1")]
    assert problems_of(lines=lines) == ("lines[1].line_id: '1' is used twice",)


def test_generated_line_ids_do_not_collide_with_distinct_explicit_ids() -> None:
    lines = [NewLine(sku="A", quantity=1, unit_price="1"),
             NewLine(sku="B", quantity=1, unit_price="1", line_id="b")]
    assert len(command(lines=lines).lines) == 2


def test_ship_without_address() -> None:
    assert problems_of(shipping_address=None) == (
        "shipping_address: required when the delivery method is ship",)


def test_pickup_needs_no_shipping_address() -> None:
    pickup = DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="store-1")
    assert command(delivery=pickup, shipping_address=None).shipping_address is None


def test_pickup_location_must_be_a_code() -> None:
    pickup = DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="Store 1")
    assert problems_of(delivery=pickup) == (
        "delivery.pickup_location: 'Store 1' is not a location code like 'DC01' or "
        "'dc-milan' (letters, digits, '_', '.', ':', '-')",)


@pytest.mark.parametrize("metadata", [{"milan\x00": {}}, {"notes": ["ok", {"x": "a\x00b"}]}])
def test_nul_characters_in_metadata(metadata: dict[str, object]) -> None:
    # PostgreSQL's jsonb refuses NUL: found by the fault suite as a driver error on insert.
    assert problems_of(metadata=metadata) == ("metadata: must not contain NUL characters",)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinity_in_metadata(value: float) -> None:
    # Not JSON: PostgreSQL's jsonb refuses them, SQLite stored them, orjson writes null.
    problems = problems_of(metadata={"score": [1.5, value]})
    assert len(problems) == 1
    assert problems[0].startswith("metadata: not JSON-serialisable")


def test_an_escaped_backslash_u0000_is_just_text() -> None:
    assert command(metadata={"note": "\\u0000"}).metadata == {"note": "\\u0000"}


def test_naive_placed_at() -> None:
    assert problems_of(placed_at=datetime(2024, 3, 1, 12)) == (
        "placed_at: must be timezone-aware, not the naive 2024-03-01T12:00:00",)


# Regression (issue 9, item 10): PostgreSQL stored these as year 10000 or 1 BC, and the
# order could never be read back.
@pytest.mark.parametrize("placed_at", [
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    datetime(3000, 1, 1, tzinfo=UTC),
    datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
])
def test_placed_at_outside_the_sane_range(placed_at: datetime) -> None:
    (problem,) = problems_of(placed_at=placed_at)
    assert problem.startswith("placed_at: ")
    assert problem.endswith("is outside 1900-01-01..3000-01-01 (UTC)")


def test_placed_at_at_the_edges_of_the_range() -> None:
    command(placed_at=datetime(1900, 1, 1, tzinfo=UTC))
    command(placed_at=datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC))
    command(placed_at=datetime(3000, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))))


@pytest.mark.parametrize(("promised", "problem"), [
    (date(1, 1, 1), "promised_date: 0001-01-01 is outside 1900-01-01..3000-01-01"),
    (date(9999, 12, 31), "promised_date: 9999-12-31 is outside 1900-01-01..3000-01-01"),
    (datetime(2026, 1, 1, tzinfo=UTC),
     "promised_date: must be a date, not datetime.datetime(2026, 1, 1, 0, 0, "
     "tzinfo=datetime.timezone.utc)"),
])
def test_promised_date_must_be_a_sane_date(promised: date, problem: str) -> None:
    assert problems_of(promised_date=promised) == (problem,)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"external_id": "W-1\x00"},
         "external_id: must not contain control characters or edge spaces"),
        ({"external_id": " W-1"},
         "external_id: must not contain control characters or edge spaces"),
        ({"customer": Customer(id="c-1", contact=Contact(name="Eve\x1b[31m"))},
         "customer.contact.name: must not contain control characters"),
        ({"shipping_address": Address(line1="Via\x07 Roma", city="Milano", country="IT")},
         "shipping_address.line1: must not contain control characters"),
        ({"lines": [NewLine(sku="SKU\x7f", quantity=1, unit_price="1")]},
         "lines[0].sku: must not contain control characters or edge spaces"),
        ({"tags": ["ok", "bad\ttag"]},
         "tags[1]: must not contain control characters or edge spaces"),
    ],
)
def test_control_characters(overrides: dict[str, Any], expected: str) -> None:
    assert problems_of(**overrides) == (expected,)


def test_newlines_are_allowed_in_address_text() -> None:
    address = Address(line1="Via Roma 1\nScala B", city="Milano", country="IT")
    assert command(shipping_address=address).shipping_address == address


def test_empty_address_lines() -> None:
    address = Address(line1=" ", city="", country="IT")
    assert problems_of(shipping_address=address) == (
        "shipping_address.line1: must not be empty",
        "shipping_address.city: must not be empty",
    )


def test_overlong_identifier() -> None:
    assert problems_of(external_id="x" * 129) == ("external_id: longer than 128 characters",)
    assert command(external_id="x" * 128).external_id == "x" * 128


def test_oversized_metadata() -> None:
    # json.dumps({"blob": s}) is len(s) + 12 bytes ('{"blob": "' + '"}').
    fits = {"blob": "x" * (MAX_METADATA_BYTES - 12)}
    assert command(metadata=fits).metadata == fits
    too_big = {"blob": "x" * (MAX_METADATA_BYTES - 11)}
    assert problems_of(metadata=too_big) == ("metadata: larger than 65536 bytes as JSON",)


def test_metadata_must_be_json() -> None:
    (problem,) = problems_of(metadata={"when": datetime(2024, 1, 1, tzinfo=UTC)})
    assert problem.startswith("metadata: not JSON-serialisable")


def test_customer_segment_must_be_a_code() -> None:
    assert problems_of(customer=Customer(id="c-1", segment="Gold Members")) == (
        "customer.segment: 'Gold Members' is not a code like 'web' or 'dc-milan'",)


def test_bad_currency_is_refused_by_its_converter() -> None:
    with pytest.raises(InvalidCommand, match="ISO 4217"):
        command(currency="euro")


def test_float_unit_price_is_refused() -> None:
    with pytest.raises(InvalidCommand, match="unit_price"):
        NewLine(sku="A", quantity=1, unit_price=9.9)


def test_too_many_lines() -> None:
    lines = [NewLine(sku=f"S{i}", quantity=1, unit_price="1") for i in range(501)]
    assert problems_of(lines=lines) == ("lines: more than 500 lines",)


def test_evolve_revalidates() -> None:
    valid = command()
    with pytest.raises(InvalidCommand, match="external_id"):
        attrs.evolve(valid, external_id="")


# -- money (issue 9, item 10) ----------------------------------------------------------------


@pytest.mark.parametrize("currency", ["ZZZ", "XXX", "XAU", "eur"])
def test_currency_must_be_an_iso_4217_code_with_minor_units(currency: str) -> None:
    assert problems_of(currency=currency) == (
        f"currency: {currency!r} is not an ISO 4217 currency code such as 'EUR'",)


@pytest.mark.parametrize(("currency", "price"), [("JPY", "100.5"), ("EUR", "9.999"),
                                                 ("BHD", "0.0005")])
def test_prices_with_more_decimals_than_the_currency_are_refused(currency: str,
                                                                 price: str) -> None:
    lines = [NewLine(sku="SKU-1", quantity=1, unit_price=price)]
    assert problems_of(currency=currency, lines=lines) == (
        f"lines[0].unit_price: {price} has more decimals than {currency} allows "
        f"({ {'JPY': 0, 'EUR': 2, 'BHD': 3}[currency]})",)


def test_a_price_of_many_trailing_zeros_is_accepted_and_written_short() -> None:
    # 52 characters, one value: it is stored with the currency's two decimals.
    from omskit.domain.order import Order

    price = "1." + "0" * 50
    placed = command(lines=[NewLine(sku="SKU-1", quantity=1, unit_price=price)])
    order = Order.place(placed, order_id="o-1", at=datetime(2026, 1, 1, tzinfo=UTC))
    assert str(order.lines[0].unit_price) == "1.00"
    assert order.total.amount == order.lines[0].unit_price


def test_a_one_unit_order_totals_exactly_its_price() -> None:
    # Regression: 999999999999.999999999999999999 EUR once totalled 1000000000000.000000000000.
    from omskit.domain.order import Order

    price = "999999999999.99"
    placed = command(lines=[NewLine(sku="SKU-1", quantity=1, unit_price=price),
                            NewLine(sku="SKU-2", quantity=3, unit_price=price)])
    order = Order.place(placed, order_id="o-1", at=datetime(2026, 1, 1, tzinfo=UTC))
    assert str(order.total.amount) == "3999999999999.96"
    with pytest.raises(InvalidCommand, match="more decimals than EUR"):
        command(lines=[NewLine(sku="SKU-1", quantity=3,
                               unit_price="999999999999.999999999999999999")])


# -- metadata depth (issue 9, item 10) -------------------------------------------------------


def _nested(levels: int) -> dict[str, object]:
    root: dict[str, object] = {}
    node = root
    for _ in range(levels - 1):
        child: dict[str, object] = {}
        node["a"] = child
        node = child
    return root


def test_deeply_nested_metadata_is_refused_without_recursion() -> None:
    # Regression: 400 levels (2.8 KB) raised RecursionError from PlaceOrder.
    (problem,) = problems_of(metadata=_nested(400))
    assert problem.startswith("metadata: nested deeper than 32 levels")
    (problem,) = problems_of(metadata=_nested(100_000))
    assert problem.startswith("metadata: nested deeper than 32 levels")
    assert command(metadata=_nested(32)).metadata == _nested(32)
    (problem,) = problems_of(metadata=_nested(33))
    assert problem == ("metadata: nested deeper than 32 levels (at metadata" + ".a" * 32 + ")")


def test_metadata_that_contains_itself_is_refused() -> None:
    looped: dict[str, object] = {}
    looped["self"] = looped
    (problem,) = problems_of(metadata=looped)
    assert problem.startswith("metadata: nested deeper than 32 levels")


@pytest.mark.parametrize(("metadata", "problem"), [
    ({1: "x"}, "metadata: not JSON-serialisable (key 1 at metadata is not a string)"),
    ({"a": {"b": b"x"}}, "metadata: not JSON-serialisable (bytes at metadata.a.b)"),
    ({"a": ["\ud800"]}, "metadata: must be valid Unicode (at metadata.a[0])"),
    ({"n": 10**5000}, None),
    ({"list": list(range(100_001))}, "metadata: more than 100000 values"),
])
def test_metadata_is_plain_json(metadata: dict[object, object], problem: str | None) -> None:
    (found,) = problems_of(metadata=metadata)
    if problem is None:
        assert found.startswith("metadata: not JSON-serialisable")
    else:
        assert found == problem
