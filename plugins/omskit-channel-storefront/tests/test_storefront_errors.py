"""Bad payloads: one PayloadError, every problem listed, each with the path where it is."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from omskit import PayloadError

from omskit_channel_storefront import StorefrontConnector
from omskit_channel_storefront.problems import UnexpectedStructuringError, problems_from

Problems = Callable[[Mapping[str, Any]], list[str]]

#: Marks a field to remove in :func:`changed`.
DELETE = object()


def changed(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``payload`` with the value at ``path`` (``items[1].quantity``) replaced or deleted."""
    steps: list[str | int] = [int(s) if s.isdigit() else s
                              for s in re.findall(r"[^.\[\]]+", path)]
    target: Any = payload
    for step in steps[:-1]:
        target = target[step]
    if value is DELETE:
        del target[steps[-1]]
    else:
        target[steps[-1]] = value
    return payload


def two_items(payload: dict[str, Any]) -> dict[str, Any]:
    payload["items"].append({"sku": "SKU-2", "quantity": 2, "unit_price": "7.50"})
    return payload


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        # identity and dates
        ("id", DELETE, "id: required"),
        ("id", 100045, "id: must be a string, not 100045"),
        ("id", "", "id: must not be empty"),
        ("id", " WEB-1", "id: must not contain control characters or leading/trailing spaces"),
        ("id", "W" * 129, "id: longer than 128 characters"),
        ("source", "kiosk", "source: 'kiosk' is not one of 'web', 'mobile'"),
        ("source", "WEB", "source: 'WEB' is not one of 'web', 'mobile'"),
        ("created_at", "2026-11-26T08:00:00",
         "created_at: '2026-11-26T08:00:00' has no timezone (end it with Z or an offset "
         "like +01:00)"),
        ("created_at", "2026-11-26",
         "created_at: '2026-11-26' is not an ISO 8601 date-time like "
         "'2026-11-25T10:15:00+01:00'"),
        ("created_at", "yesterday",
         "created_at: 'yesterday' is not an ISO 8601 date-time like "
         "'2026-11-25T10:15:00+01:00'"),
        ("created_at", 1764144000, "created_at: must be a string, not 1764144000"),
        # a PostgreSQL timestamp out of Python's range once this was read back (issue 9)
        ("created_at", "9999-12-31T23:59:59-01:00",
         "created_at: '9999-12-31T23:59:59-01:00' is outside 1900-01-01..3000-01-01 (UTC)"),
        ("created_at", "0001-01-01T00:00:00+01:00",
         "created_at: '0001-01-01T00:00:00+01:00' is outside 1900-01-01..3000-01-01 (UTC)"),
        ("currency", "eur", "currency: 'eur' is not an ISO 4217 currency code like 'EUR'"),
        ("currency", DELETE, "currency: required"),
        # ISO 4217 codes only, and prices in the currency's minor units (issue 9, item 10)
        ("currency", "ZZZ", "currency: 'ZZZ' is not an ISO 4217 currency code like 'EUR'"),
        ("currency", "XXX", "currency: 'XXX' is not an ISO 4217 currency code like 'EUR'"),
        ("items[0].unit_price", "19.999",
         "items[0].unit_price: '19.999' has more decimals than EUR allows (2)"),
        # customer
        ("customer", DELETE, "customer: required"),
        ("customer", [], "customer: must be an object, not an array"),
        ("customer.email", DELETE, "customer.email: required"),
        ("customer.email", "marco", "customer.email: 'marco' is not an e-mail address like "
                                    "'anna@example.com'"),
        ("customer.email", "", "customer.email: must not be empty"),
        ("customer.id", None, "customer.id: must be a string, not null"),
        ("customer.first_name", "A" * 201, "customer.first_name: longer than 200 characters"),
        ("customer.last_name", "Rossi\x00", "customer.last_name: must not contain control "
                                            "characters"),
        ("customer.phone", "call me", "customer.phone: 'call me' is not a phone number "
                                      "(digits, spaces and '+', '(', ')', '.', '-', '/')"),
        ("customer.segment", "Gold",
         "customer.segment: 'Gold' is not a code like 'gold' or 'store-milan' "
         "(lower-case letters, digits, '_', '.', ':' and '-')"),
        ("customer.nickname", "Marco", "customer.nickname: unknown field"),
        # addresses
        ("shipping_address", DELETE, "shipping_address: required when fulfillment.type is "
                                     "'ship'"),
        ("shipping_address", "Via Roma 1, Torino",
         "shipping_address: must be an object, not 'Via Roma 1, Torino'"),
        ("shipping_address.line1", "  ", "shipping_address.line1: must not be empty"),
        ("shipping_address.city", DELETE, "shipping_address.city: required"),
        ("shipping_address.country", "Italy",
         "shipping_address.country: 'Italy' is not an ISO 3166-1 alpha-2 country code like "
         "'IT'"),
        ("shipping_address.line2", "Scala B\ninterno 4",
         "shipping_address.line2: must not contain control characters"),
        ("shipping_address.postcode", "10121", "shipping_address.postcode: unknown field"),
        ("shipping_address.lat", 45.07, "shipping_address.lon: required when lat is given"),
        ("shipping_address.lon", 7.68, "shipping_address.lat: required when lon is given"),
        ("billing_address", {"line1": "Via Po 3", "city": "Torino", "country": "IT",
                             "lat": 91, "lon": 7.68},
         "billing_address.lat: must be a number between -90 and 90, not 91"),
        ("billing_address", {"line1": "Via Po 3", "city": "Torino", "country": "IT",
                             "lat": 45.07, "lon": "7.68"},
         "billing_address.lon: must be a number between -180 and 180, not '7.68'"),
        # fulfilment
        ("fulfillment", DELETE, "fulfillment: required"),
        ("fulfillment", "ship", "fulfillment: must be an object, not 'ship'"),
        ("fulfillment", {}, "fulfillment.type: required"),
        ("fulfillment", {"type": "drone"},
         "fulfillment.type: 'drone' is not one of 'ship', 'pickup'"),
        ("fulfillment", {"type": "ship", "location": "store-milan-duomo"},
         "fulfillment.location: unknown field"),
        ("fulfillment", {"type": "pickup"}, "fulfillment.location: required"),
        ("fulfillment", {"type": "pickup", "location": "Milan Duomo"},
         "fulfillment.location: 'Milan Duomo' is not a location code like 'DC01' or "
         "'store-milan' (letters, digits, '_', '.', ':' and '-')"),
        # items
        ("items", DELETE, "items: required"),
        ("items", [], "items: an order needs at least one item"),
        ("items", {"sku": "SKU-1"}, "items: must be an array, not an object"),
        ("items", [{"sku": "SKU-1", "quantity": 1, "unit_price": "1"}] * 501,
         "items: must list at most 500 items, not 501"),
        ("items[0]", "SKU-1", "items[0]: must be an object, not 'SKU-1'"),
        ("items[0].sku", DELETE, "items[0].sku: required"),
        ("items[0].quantity", "2", "items[0].quantity: must be a whole number, not '2'"),
        ("items[0].quantity", 2.0, "items[0].quantity: must be a whole number, not 2.0"),
        ("items[0].quantity", True, "items[0].quantity: must be a whole number, not true"),
        ("items[0].quantity", 0, "items[0].quantity: must be at least 1, not 0"),
        ("items[0].quantity", -3, "items[0].quantity: must be at least 1, not -3"),
        ("items[0].quantity", 10**9,
         "items[0].quantity: must be at most 1000000, not 1000000000"),
        ("items[0].unit_price", 19.9,
         "items[0].unit_price: must be a decimal string such as '19.90' or a whole number, "
         "not the float 19.9 (floats cannot hold prices exactly)"),
        ("items[0].unit_price", None,
         "items[0].unit_price: must be a decimal string such as '19.90' or a whole number, "
         "not null"),
        ("items[0].unit_price", "19,90",
         "items[0].unit_price: '19,90' is not a decimal number like '19.90'"),
        ("items[0].unit_price", "1e3",
         "items[0].unit_price: '1e3' is not a decimal number like '19.90'"),
        ("items[0].unit_price", "NaN",
         "items[0].unit_price: 'NaN' is not a decimal number like '19.90'"),
        ("items[0].unit_price", "-1.00", "items[0].unit_price: must not be negative, "
                                         "not '-1.00'"),
        ("items[0].unit_price", "1000000000000.01",
         "items[0].unit_price: must be at most 1000000000000, not '1000000000000.01'"),
        ("items[0].price", "5.00", "items[0].price: unknown field"),
        # the rest
        ("tags", "vip", "tags: must be an array, not 'vip'"),
        ("tags", ["vip", ""], "tags[1]: must not be empty"),
        ("tags", [f"t{i}" for i in range(51)], "tags: must list at most 50 tags, not 51"),
        ("note", "x" * 2001, "note: longer than 2000 characters"),
        ("note", ["gift"], "note: must be a string, not an array"),
        ("app", {"platform": "ios"}, "app.version: required"),
        ("app", {"platform": "iOS", "version": "5.2.1"},
         "app.platform: 'iOS' is not a code like 'gold' or 'store-milan' "
         "(lower-case letters, digits, '_', '.', ':' and '-')"),
        ("attributes", ["utm_source"], "attributes: must be an object, not an array"),
        ("attributes", {"utm source": "x"},
         "attributes: key 'utm source' must be 1 to 64 letters, digits, '_', '.', ':' "
         "or '-'"),
        ("attributes", {"gift_wrap": True}, "attributes.gift_wrap: must be a string, not true"),
        ("totals", {"grand_total": "5.00"}, "totals: unknown field"),
    ],
)
def test_one_problem(problems_of: Problems, minimal_payload: dict[str, Any], path: str,
                     value: Any, problem: str) -> None:
    assert problems_of(changed(minimal_payload, path, value)) == [problem]


def test_prices_are_checked_against_the_currency_s_minor_units(
        problems_of: Problems, connector: StorefrontConnector,
        minimal_payload: dict[str, Any]) -> None:
    # Regression (issue 9, item 10): 100.5 JPY was accepted.
    payload = two_items(minimal_payload)
    payload["currency"] = "JPY"
    payload["items"][0]["unit_price"] = "100.5"
    payload["items"][1]["unit_price"] = "1500"
    assert problems_of(payload) == [
        "items[0].unit_price: '100.5' has more decimals than JPY allows (0)"]
    payload["items"][0]["unit_price"] = 100
    assert connector.parse(payload).currency == "JPY"


@pytest.mark.parametrize(
    ("first_id", "second_id", "problem"),
    [
        ("A", "A", "items[1].line_id: 'A' is used by an earlier item"),
        # The second line has no id, so omskit numbers it "2", which the first already took.
        ("2", None, "items[1].line_id: missing, so omskit would number the line '2', which "
                    "an earlier item uses"),
    ],
)
def test_line_ids_must_be_unique(problems_of: Problems, minimal_payload: dict[str, Any],
                                 first_id: str, second_id: str | None, problem: str) -> None:
    payload = two_items(minimal_payload)
    payload["items"][0]["line_id"] = first_id
    payload["items"][1]["line_id"] = second_id

    assert problems_of(payload) == [problem]


def test_every_problem_is_listed_at_once(problems_of: Problems,
                                         minimal_payload: dict[str, Any]) -> None:
    payload = two_items(minimal_payload)
    payload.update(source="kiosk", currency="euro", coupon="BF2026")
    del payload["shipping_address"]
    payload["customer"] = {"id": "cus_9", "email": 42, "first_name": "Marco"}
    payload["items"][0].update(quantity="2", unit_price=19.9)
    payload["items"][1].update(sku="", line_id="1")

    assert sorted(problems_of(payload)) == sorted([
        "source: 'kiosk' is not one of 'web', 'mobile'",
        "currency: 'euro' is not an ISO 4217 currency code like 'EUR'",
        "coupon: unknown field",
        "shipping_address: required when fulfillment.type is 'ship'",
        "customer.email: must be a string, not 42",
        "items[0].quantity: must be a whole number, not '2'",
        "items[0].unit_price: must be a decimal string such as '19.90' or a whole number, "
        "not the float 19.9 (floats cannot hold prices exactly)",
        "items[1].sku: must not be empty",
        # Item 0 has no id and so is numbered "1"; item 1 claims "1" too.
        "items[1].line_id: '1' is used by an earlier item",
    ])


def test_the_error_names_the_channel_and_every_problem(connector: StorefrontConnector,
                                                       minimal_payload: dict[str, Any]) -> None:
    minimal_payload.update(source="kiosk", currency="eur")

    with pytest.raises(PayloadError) as caught:
        connector.parse(minimal_payload)

    error = caught.value
    assert error.channel == "storefront"
    assert isinstance(error, ValueError)
    assert str(error) == ("invalid storefront payload: source: 'kiosk' is not one of 'web', "
                          "'mobile'; currency: 'eur' is not an ISO 4217 currency code like "
                          "'EUR'")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "payload: must be a JSON object, not an array"),
        ("order", "payload: must be a JSON object, not 'order'"),
        (42, "payload: must be a JSON object, not 42"),
        (None, "payload: must be a JSON object, not null"),
    ],
)
def test_a_payload_that_is_not_an_object(problems_of: Problems, payload: Any,
                                         problem: str) -> None:
    assert problems_of(payload) == [problem]


def test_long_values_are_shortened_in_messages(problems_of: Problems,
                                               minimal_payload: dict[str, Any]) -> None:
    minimal_payload["currency"] = "E" * 1000

    assert problems_of(minimal_payload) == [
        f"currency: '{'E' * 36}... is not an ISO 4217 currency code like 'EUR'"
    ]


def test_problems_omskit_finds_are_passed_on(problems_of: Problems,
                                             minimal_payload: dict[str, Any]) -> None:
    # Every attribute is within the payload's limits, but escaped as JSON (12 bytes per
    # emoji) they exceed omskit's 64 KiB metadata limit: PlaceOrder refuses the command and
    # the connector reports its problem, unchanged, as a PayloadError.
    minimal_payload["attributes"] = {f"a{i}": "\U0001f381" * 500 for i in range(50)}

    assert problems_of(minimal_payload) == ["metadata: larger than 65536 bytes as JSON"]


def test_an_unexpected_failure_is_a_bug_not_a_payload_problem() -> None:
    crash = RuntimeError("boom")

    with pytest.raises(UnexpectedStructuringError, match="boom"):
        list(problems_from(crash, "items[0]"))
