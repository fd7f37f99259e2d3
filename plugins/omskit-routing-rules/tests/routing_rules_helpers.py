"""Builders for the routing-rules tests: locations with groups and countries, orders to any
country, and read-backs of where stock was reserved and what the stored explanation says.

A plain module (not conftest) so tests import it by name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from omskit import (
    Address,
    CandidateExplanation,
    Capability,
    Coordinates,
    Location,
    LocationKind,
    Oms,
    Order,
    PlaceOrder,
    RoutingDecision,
)
from omskit.testing import location, order_command

#: Where the test customers live.
MILAN = (45.4642, 9.19)
ROME = (41.9028, 12.4964)
ZURICH = (47.3769, 8.5417)
LUGANO = (46.0037, 8.9511)
NEW_YORK = (40.7128, -74.0060)

#: Prices of the ``distance_shipping`` used by most tests: the nearest location is cheapest,
#: so the ``optimal`` strategy has one best answer.
DISTANCE = {"base": 4.0, "per_km": 0.01, "per_unit": 0.2, "km_per_day": 600}

#: The full example of docs/routing-rules.md and the README: every rule configured.
FULL_EXAMPLE: dict[str, Any] = {
    "ship_from_store": {"enabled": True},
    "channel_groups": {"marketplace": ["eu-dcs"]},
    "zones": {"EU": ["IT", "FR", "DE", "ES"]},
    "ship_to": {"group:eu-dcs": ["EU"], "dc-zurich": ["CH", "EU"]},
    "store_segments": ["gold"],
    "protected_units": {"gold": 0, "*": 1},
    "max_shipments": {"segment": {"gold": 1}, "channel": {"marketplace": 2}},
    "distance_shipping": {"base": 4.0, "per_km": 0.01, "per_unit": 0.2, "km_per_day": 600},
}


def site(code: str, at: tuple[float, float] | None, *,
         kind: LocationKind = LocationKind.WAREHOUSE,
         capabilities: Iterable[Capability] = (Capability.SHIP,),
         groups: Iterable[str] = (), country: str = "IT") -> Location:
    """A location at ``at`` (``None``: no coordinates) in ``groups``, addressed in
    ``country``."""
    base = location(code, *(at or MILAN), kind=kind, capabilities=tuple(capabilities))
    return attrs.evolve(base, coordinates=base.coordinates if at else None,
                        groups=frozenset(groups),
                        address=Address(line1="Via Magazzino 1", city=code, country=country))


def ship_order(external_id: str, lines: Mapping[str, int], *, to: tuple[float, float] = MILAN,
               country: str = "IT", channel: str = "web",
               segment: str | None = None) -> PlaceOrder:
    """An order shipped to ``to`` in ``country``."""
    command = order_command(external_id, lines, channel=channel, segment=segment,
                            lat=to[0], lon=to[1])
    assert command.shipping_address is not None
    address = attrs.evolve(command.shipping_address, country=country)
    return attrs.evolve(command, shipping_address=address)


def stock(oms: Oms, locations: Iterable[Location], skus: Mapping[str, int]) -> None:
    """Save ``locations`` and receive ``skus`` (SKU → units) at each."""
    for loc in locations:
        oms.inventory.save_location(loc)
        for sku, units in skus.items():
            oms.inventory.receive(loc.code, sku, units)


def reserved(order: Order) -> dict[str, dict[str, int]]:
    """Units per location and SKU the order's live fulfilment orders hold."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fo in order.fulfillment_orders:
        if fo.active:
            for line in fo.lines:
                found[fo.location][line.sku] += line.quantity
    return {loc: dict(skus) for loc, skus in found.items()}


def backordered(order: Order) -> dict[str, int]:
    """Units per SKU still waiting for stock."""
    found: dict[str, int] = defaultdict(int)
    for line in order.backordered():
        found[line.sku] += line.quantity
    return dict(found)


def decision(oms: Oms, order: Order) -> RoutingDecision:
    """The order's one stored routing decision."""
    decisions = oms.orders.explain(order.id)
    assert len(decisions) == 1, decisions
    return decisions[0]


def row(found: RoutingDecision, code: str) -> CandidateExplanation:
    """The explanation's row for location ``code``."""
    rows = [c for c in found.candidates if c.location == code]
    assert len(rows) == 1, f"{code} appears {len(rows)} times in {found.candidates}"
    return rows[0]


def coordinates(at: tuple[float, float]) -> Coordinates:
    """``Coordinates`` of a (lat, lon) pair."""
    return Coordinates(lat=at[0], lon=at[1])
