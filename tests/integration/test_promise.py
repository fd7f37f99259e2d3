"""The promise API and date-aware availability, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs
import pytest

from omskit import Oms, hookimpl
from omskit.domain.carriers import RateTableCarrier
from omskit.domain.errors import InvalidCommand, LocationNotFound
from omskit.domain.inventory import Capability, Location, LocationKind
from omskit.domain.values import Coordinates, DeliveryKind
from omskit.testing import location, table_contents
from tests.support import MILAN, ROME

#: A Thursday in winter, 10:00 UTC (05:00 in New York).
NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
CUSTOMER = Coordinates(lat=45.07, lon=7.69)  # Turin


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Carriers:
    """Two carriers: ``cheap`` (3 days) and ``fast`` (1 day, dearer), Italy only for fast."""

    @hookimpl
    def omskit_register_carriers(self, register: Callable[[Any], None]) -> None:
        register(RateTableCarrier(code="cheap", base=4.0, per_km=0.0, transit_days_base=3,
                                  km_per_day=0))
        register(RateTableCarrier(code="fast", base=9.0, per_km=0.0, transit_days_base=1,
                                  km_per_day=0, countries=frozenset({"IT"})))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], clock: Clock) -> Oms:
    """milan (cut-off 14:00) and rome (1 processing day); no carriers: transit 0."""
    oms = make_oms(clock=clock, settings={"inventory": {"channel_buffers": {"marketplace": 3}}})
    oms.inventory.save_location(attrs.evolve(location("milan", *MILAN), cutoff=time(14, 0)))
    oms.inventory.save_location(attrs.evolve(location("rome", *ROME), processing_days=1))
    return oms


def save(oms: Oms, code: str, **changes: Any) -> Location:
    found = attrs.evolve(oms.inventory.location(code), **changes)
    oms.inventory.save_location(found)
    return found


# -- ship -------------------------------------------------------------------------------------


def test_before_the_cutoff_ships_today_after_it_tomorrow(shop: Oms, clock: Clock) -> None:
    shop.inventory.receive("milan", "A", 5)
    ship = shop.promise.quote({"A": 2}, destination=CUSTOMER).ship
    assert ship is not None
    assert ship.available
    assert (ship.locations, ship.date, ship.uses_future_supply) == (("milan",), TODAY, False)
    assert ship.carrier is None
    assert ship.transit_days == 0
    assert ship.ready_at == NOW
    clock.now = NOW.replace(hour=15)
    after = shop.promise.quote({"A": 2}, destination=CUSTOMER).ship
    assert after is not None
    assert after.date == TODAY + timedelta(days=1)
    # The same answer for an explicit time, whatever the clock says.
    again = shop.promise.quote({"A": 2}, destination=CUSTOMER, at=NOW).ship
    assert again is not None
    assert again.date == TODAY


def test_processing_days_push_the_date(shop: Oms) -> None:
    shop.inventory.receive("rome", "A", 5)
    ship = shop.promise.quote({"A": 1}, destination=CUSTOMER).ship
    assert ship is not None
    assert (ship.locations, ship.date) == (("rome",),
                                                                TODAY + timedelta(days=1))
    save(shop, "rome", processing_days=3)
    ship = shop.promise.quote({"A": 1}, destination=CUSTOMER).ship
    assert ship is not None
    assert ship.date == TODAY + timedelta(days=3)


def test_the_earliest_location_wins_not_the_nearest(shop: Oms) -> None:
    shop.inventory.receive("milan", "A", 5)
    shop.inventory.receive("rome", "A", 5)
    ship = shop.promise.quote({"A": 1}, destination=Coordinates(lat=41.9, lon=12.5),
                              at=NOW.replace(hour=16)).ship
    # milan is past its cut-off (tomorrow), rome processes for a day (tomorrow): a tie,
    # broken by distance: rome.
    assert ship is not None
    assert (ship.locations, ship.date) == (("rome",),
                                                                TODAY + timedelta(days=1))
    save(shop, "rome", processing_days=2)
    ship = shop.promise.quote({"A": 1}, destination=Coordinates(lat=41.9, lon=12.5),
                              at=NOW.replace(hour=16)).ship
    assert ship is not None
    assert ship.locations == ("milan",)


def test_a_new_york_location_counts_in_new_york_time(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    oms.inventory.save_location(attrs.evolve(
        location("dc-ny", 40.71, -74.0), cutoff=time(14, 0), timezone="America/New_York"))
    oms.inventory.receive("dc-ny", "A", 5)

    def ship_on(moment: datetime) -> date | None:
        found = oms.promise.quote({"A": 1}, at=moment).ship
        assert found is not None
        assert found.available
        return found.date

    assert ship_on(NOW.replace(hour=18, minute=59)) == TODAY  # 13:59 in New York
    assert ship_on(NOW.replace(hour=19)) == TODAY + timedelta(days=1)  # 14:00 there
    # 03:00 UTC on the 16th is 22:00 on the 15th in New York: past the cut-off of the 15th.
    assert ship_on(NOW + timedelta(hours=17)) == TODAY + timedelta(days=1)
    save(oms, "dc-ny", cutoff=None)
    assert ship_on(NOW + timedelta(hours=17)) == TODAY  # still the 15th there


def test_future_supply_gives_its_eta(shop: Oms) -> None:
    eta = NOW + timedelta(days=4, hours=2)
    shop.inventory.receive("milan", "A", 1)
    shop.inventory.register_supply("milan", "A", 10, eta, reference="PO-1")
    ship = shop.promise.quote({"A": 3}, destination=CUSTOMER).ship
    assert ship is not None
    assert ship.available
    assert ship.uses_future_supply
    # Ready at 12:00 UTC on the ETA day, before milan's 14:00 cut-off.
    assert (ship.ready_at, ship.date) == (eta, eta.date())
    now_only = shop.promise.quote({"A": 1}, destination=CUSTOMER).ship
    assert now_only is not None
    assert not now_only.uses_future_supply
    assert now_only.date == TODAY


def test_supply_in_transit_counts_like_an_order(shop: Oms) -> None:
    shop.inventory.receive("rome", "A", 4)
    shop.inventory.transfer("A", "rome", "milan", 4, eta=NOW + timedelta(days=2))
    assert shop.inventory.available("A") == 0
    assert shop.inventory.available("A", at=NOW + timedelta(days=2)) == 4
    ship = shop.promise.quote({"A": 4}, destination=CUSTOMER).ship
    assert ship is not None
    assert ship.locations == ("milan",)
    assert ship.date == TODAY + timedelta(days=2)
    assert ship.uses_future_supply


def test_nothing_anywhere_is_unavailable_with_a_reason(shop: Oms) -> None:
    quote = shop.promise.quote({"A": 1}, destination=CUSTOMER)
    assert quote.ship is not None
    assert not quote.ship.available
    assert quote.ship.date is None
    assert quote.ship.reason == "no location has stock or open supply of A"
    assert quote.earliest is None
    shop.inventory.receive("milan", "A", 1)
    short = shop.promise.quote({"A": 2}, destination=CUSTOMER).ship
    assert short is not None
    assert not short.available
    assert short.reason == "not enough stock or open supply of A at any location that may ship it"


def test_channel_buffer_reduces_what_a_channel_is_promised(shop: Oms) -> None:
    shop.inventory.receive("milan", "A", 4)
    shop.inventory.receive("rome", "A", 2)
    assert shop.inventory.available("A") == 6
    assert shop.inventory.available("A", channel="marketplace") == 1  # 4-3 and max(0, 2-3)
    assert shop.inventory.available("A", channel="web") == 6
    assert shop.inventory.available("A", location="milan", channel="marketplace") == 1
    web = shop.promise.quote({"A": 2}, destination=CUSTOMER, channel="web").ship
    assert web is not None
    assert web.available
    market = shop.promise.quote({"A": 2}, destination=CUSTOMER, channel="marketplace").ship
    assert market is not None
    assert not market.available
    eta = NOW + timedelta(days=3)
    shop.inventory.register_supply("milan", "A", 1, eta)
    assert shop.inventory.available("A", channel="marketplace", at=eta) == 2
    market = shop.promise.quote({"A": 2}, destination=CUSTOMER, channel="marketplace").ship
    assert market is not None
    assert market.uses_future_supply
    assert market.date == eta.date()


def test_inactive_locations_are_not_promised(shop: Oms) -> None:
    shop.inventory.receive("milan", "A", 4)
    shop.inventory.register_supply("rome", "A", 3, NOW + timedelta(days=1))
    assert shop.inventory.available("A", at=NOW + timedelta(days=1)) == 7
    save(shop, "milan", active=False)
    assert shop.inventory.available("A") == 0
    assert shop.inventory.available("A", location="milan") == 0
    assert shop.inventory.available("A", at=NOW + timedelta(days=1)) == 3
    assert shop.inventory.stock("A").on_hand == 4  # the stock is still there
    ship = shop.promise.quote({"A": 2}, destination=CUSTOMER).ship
    assert ship is not None
    assert ship.locations == ("rome",)
    assert ship.uses_future_supply


def test_split_when_no_single_location_has_everything(shop: Oms) -> None:
    shop.inventory.receive("milan", "A", 2)
    shop.inventory.receive("rome", "B", 2)
    ship = shop.promise.quote({"A": 1, "B": 1}, destination=CUSTOMER).ship
    assert ship is not None
    assert ship.available
    assert ship.split
    assert ship.locations == ("milan", "rome")
    assert [(p.location, dict(p.units), p.date) for p in ship.parts] == [
        ("milan", {"A": 1}, TODAY), ("rome", {"B": 1}, TODAY + timedelta(days=1))]
    assert ship.date == TODAY + timedelta(days=1)  # the latest part
    # Once one location has both, one parcel wins a tie with the split.
    shop.inventory.receive("rome", "A", 1)
    one = shop.promise.quote({"A": 1, "B": 1}, destination=CUSTOMER).ship
    assert one is not None
    assert one.locations == ("rome",)
    assert not one.split


def test_carriers_add_transit_days_of_the_cheapest_lane(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[Carriers()])
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 5)
    ship = oms.promise.quote({"A": 1}, destination=CUSTOMER, country="IT", at=NOW).ship
    assert ship is not None
    assert (ship.carrier, ship.transit_days) == ("cheap", 3)
    assert ship.date == TODAY + timedelta(days=3)
    assert ship.parts[0].carrier == "cheap"


def test_pickup_ready_date_at_the_store(shop: Oms) -> None:
    store = attrs.evolve(location("store-turin", 45.07, 7.69, kind=LocationKind.STORE,
                                  capabilities=(Capability.PICKUP,)),
                         cutoff=time(12, 0), processing_days=0)
    shop.inventory.save_location(store)
    shop.inventory.receive("store-turin", "A", 2)
    shop.inventory.receive("milan", "B", 5)
    eta = NOW + timedelta(days=2)
    shop.inventory.register_supply("store-turin", "B", 1, eta)
    quote = shop.promise.quote({"A": 1}, pickup_locations=["store-turin", "milan"],
                               ship=False)
    assert quote.ship is None
    turin = quote.pickup("store-turin")
    assert turin is not None
    assert turin.available
    assert turin.kind is DeliveryKind.PICKUP
    assert (turin.date, turin.ready_at, turin.carrier) == (TODAY, NOW, None)
    milan = quote.pickup("milan")
    assert milan is not None
    assert not milan.available
    assert milan.reason == "does not offer pickup"
    late = shop.promise.quote({"A": 1}, pickup_locations=["store-turin"],
                              at=NOW.replace(hour=13)).pickup("store-turin")
    assert late is not None
    assert late.date == TODAY + timedelta(days=1)
    # B on hand at milan, at the store only when the supply lands: ship-to-store brings it
    # from milan today, as routing would (decision 40); switched off, the supply dates it.
    b = shop.promise.quote({"B": 1}, pickup_locations=["store-turin"]).pickup("store-turin")
    assert b is not None
    assert not b.uses_future_supply
    assert b.date == TODAY
    more = shop.promise.quote({"B": 5}, pickup_locations=["store-turin"]).pickup("store-turin")
    assert more is not None
    assert more.available
    assert more.date == TODAY
    none = shop.promise.quote({"B": 6}, pickup_locations=["store-turin"]).pickup("store-turin")
    assert none is not None
    assert not none.available
    assert "no location can send it there" in none.reason
    with pytest.raises(LocationNotFound):
        shop.promise.quote({"A": 1}, pickup_locations=["store-nowhere"])


def test_pickup_without_ship_to_store_waits_for_the_stores_supply(
        make_oms: Callable[..., Oms], clock: Clock) -> None:
    oms = make_oms(clock=clock, settings={"pickup": {"ship_to_store": False}})
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("store-turin", 45.07, 7.69, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP,)))
    oms.inventory.receive("milan", "B", 5)
    eta = NOW + timedelta(days=2)
    oms.inventory.register_supply("store-turin", "B", 1, eta)
    b = oms.promise.quote({"B": 1}, pickup_locations=["store-turin"]).pickup("store-turin")
    assert b is not None
    assert b.uses_future_supply
    assert b.date == eta.date()
    none = oms.promise.quote({"B": 2}, pickup_locations=["store-turin"]).pickup("store-turin")
    assert none is not None
    assert not none.available


def test_quote_counts_the_carts_own_hold(shop: Oms) -> None:
    shop.inventory.receive("milan", "A", 2)
    hold = shop.carts.hold("cart-1", {"A": 2}, ttl=timedelta(minutes=20), channel="web",
                           destination=CUSTOMER)
    assert hold.complete
    others = shop.promise.quote({"A": 2}, destination=CUSTOMER).ship
    assert others is not None
    assert not others.available
    mine = shop.promise.quote({"A": 2}, destination=CUSTOMER, cart_id="cart-1").ship
    assert mine is not None
    assert mine.available
    assert mine.date == TODAY


def test_quote_writes_nothing_and_checks_its_arguments(shop: Oms) -> None:
    shop.inventory.receive("milan", "A", 2)
    before = table_contents(shop)
    shop.promise.quote({"A": 1}, destination=CUSTOMER, pickup_locations=["rome"])
    with pytest.raises(InvalidCommand) as caught:
        shop.promise.quote({"A": 0}, destination=(45.0, 9.0),  # type: ignore[arg-type]
                           country="Italy", channel="Web", at=datetime(2026, 1, 1),
                           pickup_locations="rome")
    assert caught.value.problems == (
        "lines[0].quantity: 0 is outside 1..1000000",
        "destination: must be Coordinates or None",
        "country: 'Italy' is not like 'IT'",
        "channel: 'Web' is not a code like 'web' or 'dc-milan'",
        "at: must be timezone-aware, not the naive 2026-01-01T00:00:00",
        "pickup_locations: must be a list of location codes",
    )
    assert table_contents(shop) == before
