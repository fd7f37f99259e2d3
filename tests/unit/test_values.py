"""Value objects: money, coordinates, addresses, delivery methods (no database)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from omskit.domain.commands import MAX_LINE_QUANTITY, MAX_LINES
from omskit.domain.errors import InvalidCommand
from omskit.domain.values import (
    MAX_UNIT_PRICE,
    MONEY_DIGITS,
    Address,
    Coordinates,
    DeliveryKind,
    DeliveryMethod,
    Hold,
    Money,
    minor_units,
    to_decimal,
)
from tests.support import MILAN, ROME


class TestMoney:
    def test_amount_is_exact_decimal(self) -> None:
        # 0.10 + 0.20 is exactly 0.30 in decimal arithmetic (it is not in binary floats).
        total = Money("0.10", "EUR") + Money("0.20", "EUR")
        assert total == Money("0.30", "EUR")
        assert total.amount == Decimal("0.30")

    def test_integers_and_decimals_are_accepted(self) -> None:
        assert Money(7, "USD").amount == Decimal("7.00")
        assert Money(Decimal("1.005"), "BHD").amount == Decimal("1.005")

    @pytest.mark.parametrize("amount", [0.1, 1.0, float("nan"), True, False])
    def test_floats_and_bools_are_refused(self, amount: Any) -> None:
        with pytest.raises(InvalidCommand, match="decimal string or integer"):
            Money(amount, "EUR")

    @pytest.mark.parametrize("amount", ["abc", "", "1,50", None])
    def test_non_numbers_are_refused(self, amount: Any) -> None:
        with pytest.raises(InvalidCommand, match="is not a decimal number"):
            Money(amount, "EUR")

    @pytest.mark.parametrize("amount", ["NaN", "Infinity", "-inf", Decimal("sNaN")])
    def test_non_finite_decimals_are_refused(self, amount: Any) -> None:
        with pytest.raises(InvalidCommand, match="finite"):
            Money(amount, "EUR")

    @pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "", "E1R", 978, None, " EUR"])
    def test_currency_must_be_three_capital_letters(self, currency: Any) -> None:
        with pytest.raises(InvalidCommand, match="ISO 4217"):
            Money("1", currency)

    # Regression (issue 9, item 10): "ZZZ" was accepted, like any three capitals.
    @pytest.mark.parametrize("currency", ["ZZZ", "ABC", "EUX", "XXX", "XAU", "XDR", "XTS"])
    def test_currency_must_be_in_iso_4217_with_minor_units(self, currency: str) -> None:
        with pytest.raises(InvalidCommand, match="ISO 4217"):
            Money("1", currency)

    @pytest.mark.parametrize(("currency", "units"), [
        ("JPY", 0), ("KRW", 0), ("EUR", 2), ("USD", 2), ("HUF", 2), ("BHD", 3), ("KWD", 3),
        ("IQD", 3), ("CLF", 4), ("UYW", 4)])
    def test_minor_units_are_iso_4217_s(self, currency: str, units: int) -> None:
        # HUF and IQD are where CLDR's digits (babel) differ from ISO 4217's minor units.
        assert minor_units(currency) == units

    # Regression (issue 9, item 10): 100.5 JPY was accepted.
    @pytest.mark.parametrize(("amount", "currency"), [
        ("100.5", "JPY"), ("1.005", "EUR"), ("0.0001", "BHD"), ("1.00001", "CLF")])
    def test_more_decimals_than_the_currency_has_are_refused(self, amount: str,
                                                             currency: str) -> None:
        with pytest.raises(InvalidCommand, match=f"more decimals than {currency} allows"):
            Money(amount, currency)

    @pytest.mark.parametrize(("amount", "currency", "written"), [
        ("100", "JPY", "100"), ("100.000", "JPY", "100"), ("1E+3", "JPY", "1000"),
        ("19.9", "EUR", "19.90"), ("-0", "EUR", "0.00"), ("1.5", "BHD", "1.500")])
    def test_amounts_are_written_with_the_currency_s_decimals(
            self, amount: str, currency: str, written: str) -> None:
        assert str(Money(amount, currency).amount) == written

    def test_largest_order_total_is_exact(self) -> None:
        # The worst case the limits allow: MAX_LINES lines of MAX_LINE_QUANTITY units at the
        # highest price with the most decimals any currency has (4). 25 digits: exact.
        price = MAX_UNIT_PRICE - Decimal("0.0001")
        total = Money.total("CLF", [(price, MAX_LINE_QUANTITY)] * MAX_LINES)
        assert total.amount == price * MAX_LINE_QUANTITY * MAX_LINES  # exact in Python ints
        assert total.amount == Decimal("499999999999999950000.0000")
        assert len(total.amount.as_tuple().digits) <= MONEY_DIGITS

    # Regression (issue 9, item 10): sums were rounded to 28 significant digits.
    def test_a_sum_that_would_round_raises_instead(self) -> None:
        big = Decimal("999999999999999999999999.9999")  # 28 digits
        with pytest.raises(InvalidCommand, match="exactly"):
            Money.total("CLF", [(big, 3)])
        assert Money.total("EUR", [(Decimal("19.99"), 1)]).amount == Decimal("19.99")

    def test_adding_different_currencies_is_refused(self) -> None:
        with pytest.raises(InvalidCommand, match="cannot add USD to EUR"):
            Money("1", "EUR") + Money("1", "USD")

    def test_times_multiplies_exactly(self) -> None:
        assert Money("19.99", "EUR").times(3) == Money("59.97", "EUR")

    def test_str_shows_amount_and_currency(self) -> None:
        assert str(Money("12.50", "GBP")) == "12.50 GBP"

    def test_to_decimal_names_the_field(self) -> None:
        with pytest.raises(InvalidCommand) as caught:
            to_decimal(2.5, field="unit_price")
        assert caught.value.problems[0].startswith("unit_price:")


class TestCoordinates:
    def test_milan_to_rome_is_about_477_km(self) -> None:
        # Worked by hand with the equirectangular approximation:
        # dlat = 3.5614 deg, dlon = 3.3064 deg at mean latitude 43.68 deg (cos = 0.7233)
        # -> 6371 km * sqrt((0.05771 * 0.7233)^2 + 0.06216^2) = 477 km.
        milan = Coordinates(lat=MILAN[0], lon=MILAN[1])
        rome = Coordinates(lat=ROME[0], lon=ROME[1])
        assert milan.distance_km(rome) == pytest.approx(477, abs=3)

    def test_distance_is_symmetric_and_zero_to_itself(self) -> None:
        a = Coordinates(lat=51.5074, lon=-0.1278)
        b = Coordinates(lat=40.7128, lon=-74.006)
        assert a.distance_km(b) == pytest.approx(b.distance_km(a))
        assert a.distance_km(a) == 0

    def test_antipodes_are_half_the_circumference_apart(self) -> None:
        north = Coordinates(lat=90, lon=0)
        south = Coordinates(lat=-90, lon=0)
        assert north.distance_km(south) == pytest.approx(math.pi * 6371.0088)

    def test_boundaries_are_accepted(self) -> None:
        Coordinates(lat=-90, lon=-180)
        Coordinates(lat=90, lon=180)

    @pytest.mark.parametrize(
        ("lat", "lon"),
        [(90.0001, 0), (-90.5, 0), (0, 180.01), (0, -181), (math.nan, 0), (0, math.inf),
         ("45", 9), (None, 9), (True, 9), (45, False)],
    )
    def test_out_of_range_or_non_numbers_are_refused(self, lat: Any, lon: Any) -> None:
        with pytest.raises(InvalidCommand, match="coordinates"):
            Coordinates(lat=lat, lon=lon)


class TestAddress:
    def test_country_is_an_iso_alpha_2_code(self) -> None:
        address = Address(line1="Via Roma 1", city="Milano", country="IT")
        assert address.country == "IT"

    @pytest.mark.parametrize("country", ["it", "ITA", "I", "", "1T", None])
    def test_bad_country_codes_are_refused(self, country: Any) -> None:
        with pytest.raises(InvalidCommand, match=r"address\.country"):
            Address(line1="Via Roma 1", city="Milano", country=country)


class TestDeliveryMethod:
    def test_ship_is_the_default(self) -> None:
        method = DeliveryMethod()
        assert method.kind is DeliveryKind.SHIP
        assert method.pickup_location is None

    def test_pickup_needs_a_location(self) -> None:
        with pytest.raises(InvalidCommand, match="required for pickup"):
            DeliveryMethod(kind=DeliveryKind.PICKUP)
        with pytest.raises(InvalidCommand, match="required for pickup"):
            DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="")

    def test_ship_must_not_name_a_pickup_location(self) -> None:
        with pytest.raises(InvalidCommand, match="only allowed for pickup"):
            DeliveryMethod(kind=DeliveryKind.SHIP, pickup_location="store-1")

    def test_pickup_with_location(self) -> None:
        method = DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="store-1")
        assert method.pickup_location == "store-1"


def test_hold_is_active_until_released() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    hold = Hold(code="fraud", reason="review", placed_at=at)
    assert hold.active
    assert not Hold(code="fraud", reason="review", placed_at=at, released_at=at).active
