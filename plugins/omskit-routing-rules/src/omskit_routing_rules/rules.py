"""The rules themselves: pure functions of a request, its candidates and a :class:`RulesConfig`.

Each rule reads nothing but its arguments, returns at once when its settings are absent, and
otherwise makes one pass over the candidates with set look-ups only, so a decision over 2,000
locations stays cheap. The hooks in :mod:`omskit_routing_rules` chain them.

The core already excludes inactive locations, locations that cannot deliver the way the order
asks, and locations that rejected the order before (builtin rule ``rejected``); these rules
do not repeat that.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from omskit import (
    Candidate,
    Capability,
    Carrier,
    CostTerm,
    DeliveryKind,
    Exclusion,
    Holdback,
    LocationKind,
    RoutingRequest,
)

from omskit_routing_rules.settings import RulesConfig

#: Rule names, as they appear in explanations (``"<rule>: <reason>"``) and excluded counts.
SHIP_FROM_STORE = "ship_from_store"
CHANNEL_GROUPS = "channel_groups"
ZONES = "zones"
STORE_SEGMENTS = "store_segments"
SEGMENT_PRIORITY = "segment_priority"
#: Name of the distance-priced cost term: the same as the core's carrier term, which it
#: stands in for when no carrier is installed.
SHIPPING_TERM = "shipping"


def _ships(request: RoutingRequest) -> bool:
    return request.delivery.kind is DeliveryKind.SHIP


def ship_from_store(request: RoutingRequest, candidates: Sequence[Candidate],
                    config: RulesConfig) -> Iterator[Exclusion]:
    """A store ships parcels only if it has the ``ship_from_store`` capability.

    A store with plain ``ship`` passes the core's delivery check; this rule is stricter
    because store staff pack parcels only where the retailer has set that up.
    """
    if not config.ship_from_store or not _ships(request):
        return
    for c in candidates:
        location = c.location
        if (location.kind is LocationKind.STORE
                and Capability.SHIP_FROM_STORE not in location.capabilities):
            yield Exclusion(location=c.code, rule=SHIP_FROM_STORE,
                            reason="store without ship-from-store")


def channel_groups(request: RoutingRequest, candidates: Sequence[Candidate],
                   config: RulesConfig) -> Iterator[Exclusion]:
    """A listed channel is served only by locations in one of its groups (any delivery)."""
    allowed = config.channel_groups.get(request.channel)
    if allowed is None:
        return
    label = ", ".join(sorted(allowed))
    for c in candidates:
        if allowed.isdisjoint(c.location.groups):
            yield Exclusion(location=c.code, rule=CHANNEL_GROUPS,
                            reason=f"not in a group allowed for channel {request.channel} "
                                   f"({label})")


def zones(request: RoutingRequest, candidates: Sequence[Candidate],
          config: RulesConfig) -> Iterator[Exclusion]:
    """A location restricted by ``ship_to`` ships only to its countries and zones.

    With no destination country known, a restricted location cannot show that it may ship
    there, so it is left out: a backorder is recoverable, a parcel sent where it may not
    go is not. Pickups are not shipments and are never restricted.
    """
    if not (config.ship_to_locations or config.ship_to_groups) or not _ships(request):
        return
    country = request.destination_country
    for c in candidates:
        allowed = config.countries_for(c.location)
        if allowed is None:
            continue
        if country is None:
            yield Exclusion(location=c.code, rule=ZONES, reason="destination country unknown")
        elif country not in allowed:
            yield Exclusion(location=c.code, rule=ZONES, reason=f"does not ship to {country}")


def store_segments(request: RoutingRequest, candidates: Sequence[Candidate],
                   config: RulesConfig) -> Iterator[Exclusion]:
    """Only the listed segments get parcels shipped from stores (pickups are not limited)."""
    allowed = config.store_segments
    if allowed is None or request.segment in allowed or not _ships(request):
        return
    only = ", ".join(sorted(allowed)) or "none"
    for c in candidates:
        if c.location.kind is LocationKind.STORE:
            yield Exclusion(location=c.code, rule=STORE_SEGMENTS,
                            reason=f"segment {request.segment} is not served from stores "
                                   f"(only {only})")


def segment_priority(request: RoutingRequest, config: RulesConfig) -> Iterator[Holdback]:
    """Keep the last N units of every SKU at every location from the request's segment."""
    units = config.protected_for(request.segment)
    if units:
        last = "the last unit" if units == 1 else f"the last {units} units"
        verb = "is" if units == 1 else "are"
        yield Holdback(rule=SEGMENT_PRIORITY, quantity=units,
                       reason=f"{last} of each SKU at each location {verb} kept from segment "
                              f"{request.segment}")


def evaluate(request: RoutingRequest, candidates: Sequence[Candidate],
             config: RulesConfig) -> Iterator[Exclusion | Holdback]:
    """Every rule's verdicts, in the order the rules are documented."""
    yield from ship_from_store(request, candidates, config)
    yield from channel_groups(request, candidates, config)
    yield from zones(request, candidates, config)
    yield from store_segments(request, candidates, config)
    yield from segment_priority(request, config)


def max_shipments(request: RoutingRequest, config: RulesConfig) -> int | None:
    """The smallest limit that applies to the request's segment or channel, else ``None``."""
    limits = [limit for limit in (config.max_shipments_by_segment.get(request.segment),
                                  config.max_shipments_by_channel.get(request.channel))
              if limit is not None]
    return min(limits) if limits else None


def distance_shipping(request: RoutingRequest, candidates: Sequence[Candidate],
                      carriers: Sequence[Carrier], config: RulesConfig) -> Iterator[CostTerm]:
    """Price shipping by distance when no carrier is installed (carriers price it otherwise).

    A candidate whose distance is unknown (no coordinates on either side) pays the base
    price only, as a rate-table carrier charges it.
    """
    prices = config.distance_shipping
    if prices is None or carriers or not _ships(request):
        return
    card = prices.rate_card
    for c in candidates:
        rate = card.rate(c.location, request.destination, c.distance_km,
                         request.destination_country)
        if rate is None:  # a rate card without countries serves every lane
            continue
        note = (f"{c.distance_km:.0f} km" if c.distance_km is not None
                else "distance unknown, base price")
        yield CostTerm(location=c.code, term=SHIPPING_TERM, fixed=rate.fixed,
                       per_unit=rate.per_unit, note=note, transit_days=rate.transit_days)
