"""Zones, weight bands and transit days; the settings' checks (no database)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from omskit import Address, ParcelSpec, RateRequest
from omskit.testing import location

from omskit_carrier_tablerate import TableRateCarrier, parse, validate


def request(country: str, postcode: str | None, *grams: int) -> RateRequest:
    return RateRequest(origin=location("dc", 45.46, 9.19, country="IT"),
                       destination=Address(line1="Via Roma 1", city="X", country=country,
                                           postal_code=postcode),
                       parcels=tuple(ParcelSpec(weight_grams=g) for g in grams))


def test_the_most_specific_zone_prices_each_parcel_by_its_band(
        carrier: TableRateCarrier, settings: dict[str, Any]) -> None:
    standard, express = carrier.rates(request("IT", "20123", 1500, 2500), settings)
    assert (standard.service, standard.amount, standard.transit_days) == (
        "standard", Decimal("12.80"), 1)
    assert standard.per_parcel == (Decimal("4.90"), Decimal("7.90"))
    assert (express.amount, express.transit_days) == (Decimal("20.80"), 1)
    (rome, _) = carrier.rates(request("IT", "00184", 1500), settings)
    assert (rome.amount, rome.transit_days) == (Decimal("5.90"), 2)
    (paris, paris_express) = carrier.rates(request("FR", "75001", 9000), settings)
    assert (paris.amount, paris.transit_days, paris_express.transit_days) == (
        Decimal("12.00"), 4, 3)


def test_no_offer_for_an_unserved_lane_or_an_overweight_parcel(
        carrier: TableRateCarrier, settings: dict[str, Any]) -> None:
    assert carrier.rates(request("US", "10001", 100), settings) == []
    assert carrier.rates(request("FR", None, 10_001), settings) == []
    assert carrier.rates(request("IT", "20100", 30_001), settings) == []


def test_tracking_numbers_follow_the_key(carrier: TableRateCarrier,
                                        settings: dict[str, Any]) -> None:
    first = carrier.tracking_number("parcel-1:1", settings)
    assert first == carrier.tracking_number("parcel-1:1", settings)
    assert first != carrier.tracking_number("parcel-1:2", settings)
    assert first.startswith("TR")
    assert len(first) == 13
    assert first[2:].isdigit()


def test_good_settings_parse(settings: dict[str, Any]) -> None:
    parsed, problems = parse(settings["carrier_tablerate"])
    assert problems == []
    assert parsed is not None
    assert [z.name for z in parsed.zones] == ["milan-turin", "italy", "eu"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"webhook_secret": "short"}, "carrier_tablerate.webhook_secret: required, at least 16 "
                                  "characters"),
    ({"zones": []}, "carrier_tablerate.zones: a non-empty list of zones"),
    ({"currency": "euro"}, "carrier_tablerate.currency: an ISO 4217 code like 'EUR'"),
    ({"colour": "red"}, "carrier_tablerate.colour: unknown field"),
    ({"zones": [{"name": "x", "countries": ["Italy"], "transit_days": 0,
                 "bands": [{"up_to_grams": 10, "price": 1.5}]}]},
     "carrier_tablerate.zones[0].countries: a non-empty list of ISO country codes like 'IT'"),
    ({"zones": [{"name": "x", "countries": ["IT"], "transit_days": 0,
                 "bands": [{"up_to_grams": 10, "price": "1"}]}]},
     "carrier_tablerate.zones[0].transit_days: must be a whole number ≥ 1, not 0"),
    ({"zones": [{"name": "x", "countries": ["IT"], "transit_days": 1,
                 "bands": [{"up_to_grams": 10, "price": 1.5}]}]},
     "carrier_tablerate.zones[0].bands[0].price: must be a decimal string like '5.90', not "
     "1.5"),
    ({"zones": [{"name": "x", "countries": ["IT"], "transit_days": 1,
                 "bands": [{"up_to_grams": 10, "price": "1"},
                           {"up_to_grams": 5, "price": "2"}]}]},
     "carrier_tablerate.zones[0].bands: up_to_grams must increase from band to band"),
])
def test_bad_settings_are_refused_with_their_path(settings: dict[str, Any],
                                                  change: dict[str, Any], problem: str) -> None:
    settings["carrier_tablerate"].update(change)
    assert problem in validate(settings)


def test_without_the_key_the_plugin_checks_nothing() -> None:
    assert validate({}) == []
