"""Promise dates without a database: cut-off, processing days, time zones, ready times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import attrs
import pytest

from omskit.domain.delivery_dates import delivery_date, ship_date
from omskit.domain.inventory import IncomingSupply, LocationKind, StockPosition
from omskit.domain.promise import (
    CartLine,
    PromiseOption,
    PromisePart,
    PromiseQuote,
    as_cart_lines,
    check_delivery,
    check_destination,
    check_ttl,
    units_of,
)
from omskit.domain.values import DeliveryKind, DeliveryMethod
from omskit.services.promise import ready_at
from omskit.testing import location

WINTER = datetime(2026, 1, 15, tzinfo=UTC)  # New York is UTC-5


def at(hour: int, minute: int = 0, *, day: datetime = WINTER) -> datetime:
    return day.replace(hour=hour, minute=minute)


# -- ship and delivery dates -------------------------------------------------------------------


def test_before_cutoff_ships_the_same_day_after_it_the_next() -> None:
    dc = attrs.evolve(location("dc", 45.0, 9.0), cutoff=time(14, 0))
    assert ship_date(dc, at(13, 59)) == date(2026, 1, 15)
    assert ship_date(dc, at(14, 0)) == date(2026, 1, 16)  # at the cut-off is too late
    assert ship_date(dc, at(18, 0)) == date(2026, 1, 16)


def test_no_cutoff_ships_the_same_day_whatever_the_hour() -> None:
    dc = location("dc", 45.0, 9.0)
    assert ship_date(dc, at(23, 59)) == date(2026, 1, 15)


def test_processing_days_add_to_the_ship_date() -> None:
    dc = attrs.evolve(location("dc", 45.0, 9.0), cutoff=time(14, 0), processing_days=2)
    assert ship_date(dc, at(9, 0)) == date(2026, 1, 17)
    assert ship_date(dc, at(15, 0)) == date(2026, 1, 18)
    assert delivery_date(dc, at(9, 0), 3) == date(2026, 1, 20)


def test_cutoff_is_local_time_in_the_location_time_zone() -> None:
    ny = attrs.evolve(location("dc-ny", 40.71, -74.0), cutoff=time(14, 0),
                      timezone="America/New_York")
    assert ship_date(ny, at(18, 59)) == date(2026, 1, 15)  # 13:59 in New York
    assert ship_date(ny, at(19, 0)) == date(2026, 1, 16)  # 14:00 in New York
    # 02:00 UTC on the 16th is still the evening of the 15th in New York.
    late = at(2, 0, day=WINTER + timedelta(days=1))
    assert ship_date(attrs.evolve(ny, cutoff=None), late) == date(2026, 1, 15)
    assert ship_date(ny, late) == date(2026, 1, 16)


def test_daylight_saving_time_moves_the_utc_cutoff() -> None:
    ny = attrs.evolve(location("dc-ny", 40.71, -74.0), cutoff=time(14, 0),
                      timezone="America/New_York")
    summer = datetime(2026, 7, 15, tzinfo=UTC)  # New York is UTC-4
    assert ship_date(ny, at(17, 59, day=summer)) == date(2026, 7, 15)
    assert ship_date(ny, at(18, 0, day=summer)) == date(2026, 7, 16)


# -- ready times -------------------------------------------------------------------------------


def position(on_hand: int = 0, reserved: int = 0, safety: int = 0,
             incoming: tuple[tuple[datetime, int], ...] = ()) -> StockPosition:
    return StockPosition(location="dc", location_kind=LocationKind.WAREHOUSE, on_hand=on_hand,
                         reserved=reserved, safety_stock=safety,
                         incoming=tuple(IncomingSupply(eta=e, quantity=q) for e, q in incoming))


def test_ready_now_when_available_to_promise_covers() -> None:
    now = at(10)
    assert ready_at(position(on_hand=5, reserved=2, safety=1), 2, at=now) == (now, False)
    assert ready_at(position(on_hand=5, reserved=2, safety=1), 3, at=now) == (None, False)
    assert ready_at(None, 1, at=now) == (None, False)


def test_ready_at_the_eta_of_the_supply_that_covers() -> None:
    now = at(10)
    soon, later = now + timedelta(days=2), now + timedelta(days=5)
    stock = position(on_hand=1, incoming=((later, 10), (soon, 2)))
    assert ready_at(stock, 3, at=now) == (soon, True)
    assert ready_at(stock, 4, at=now) == (later, True)
    assert ready_at(stock, 14, at=now) == (None, False)


def test_supply_first_fills_reservations_it_is_short_of() -> None:
    now = at(10)
    eta = now + timedelta(days=1)
    oversold = position(on_hand=2, reserved=4, incoming=((eta, 3),))
    assert ready_at(oversold, 1, at=now) == (eta, True)
    assert ready_at(oversold, 2, at=now) == (None, False)


def test_overdue_supply_counts_as_arriving_now() -> None:
    now = at(10)
    assert ready_at(position(incoming=((now - timedelta(days=1), 5),)), 5, at=now) == (now, True)


def test_holdback_and_own_held_units() -> None:
    now = at(10)
    stock = position(on_hand=5, reserved=3)
    assert ready_at(stock, 2, at=now, holdback=1) == (None, False)
    assert ready_at(stock, 4, at=now, held=2) == (now, False)  # the asker's own cart hold


# -- value types -------------------------------------------------------------------------------


def test_cart_lines_from_a_mapping_or_objects() -> None:
    problems: list[str] = []
    assert as_cart_lines({"A": 1, "B": 2}, problems) == (CartLine(sku="A", quantity=1),
                                                         CartLine(sku="B", quantity=2))
    assert as_cart_lines([CartLine(sku="A", quantity=3)], problems) == (
        CartLine(sku="A", quantity=3),)
    assert problems == []
    assert units_of([CartLine(sku="A", quantity=1), CartLine(sku="A", quantity=2)]) == {"A": 3}


@pytest.mark.parametrize(("lines", "expected"), [
    ({}, ["lines: at least one line is needed"]),
    ({"A": 0, "": 1}, ["lines[0].quantity: 0 is outside 1..1000000",
                       "lines[1].sku: must be a non-empty string"]),
    ("A", ["lines: must be {sku: quantity} or CartLine objects"]),
    (42, ["lines: must be {sku: quantity} or CartLine objects"]),
    ([("A", 1)], ["lines[0]: must be a CartLine, not tuple"]),
])
def test_bad_cart_lines_list_every_problem(lines: object, expected: list[str]) -> None:
    problems: list[str] = []
    as_cart_lines(lines, problems)
    assert problems == expected


def test_argument_checks() -> None:
    problems: list[str] = []
    check_destination("45,9", "it", problems)
    check_ttl(60, timedelta(minutes=1), timedelta(days=7), problems)
    check_ttl(timedelta(days=8), timedelta(minutes=1), timedelta(days=7), problems)
    assert check_delivery("ship", problems) == DeliveryMethod()
    assert problems == [
        "destination: must be Coordinates or None",
        "country: 'it' is not like 'IT'",
        "ttl: must be a timedelta, not int",
        "ttl: 8 days, 0:00:00 is outside 0:01:00..7 days, 0:00:00",
        "delivery: must be a DeliveryMethod",
    ]


def test_option_of_parts_takes_the_latest_part() -> None:
    now = at(10)
    early = PromisePart(location="b", units={"B": 1}, ready_at=now, date=date(2026, 1, 16),
                        carrier="fast", transit_days=1)
    late = PromisePart(location="a", units={"A": 1}, ready_at=now + timedelta(days=2),
                       date=date(2026, 1, 19), carrier="slow", transit_days=2,
                       uses_future_supply=True)
    option = PromiseOption.of(DeliveryKind.SHIP, [early, late])
    assert option.locations == ("a", "b")
    assert option.split
    assert (option.date, option.transit_days, option.carrier) == (date(2026, 1, 19), 2, None)
    assert option.uses_future_supply
    assert option.ready_at == now + timedelta(days=2)
    single = PromiseOption.of(DeliveryKind.SHIP, [early])
    assert (single.split, single.carrier) == (False, "fast")
    quote = PromiseQuote(quoted_at=now, lines=(), channel="web", options=(
        option, PromiseOption.unavailable(DeliveryKind.PICKUP, "no stock", ("s",)),
        PromiseOption.of(DeliveryKind.PICKUP, [attrs.evolve(early, location="t")])))
    assert quote.ship is option
    unavailable = quote.pickup("s")
    assert unavailable is not None
    assert not unavailable.available
    assert quote.earliest is not None
    assert quote.earliest.locations == ("t",)
