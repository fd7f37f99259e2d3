"""The promise API (``oms.promise``): the earliest delivery date per way of delivering.

A quote reads stock, open supply and locations in one read-only transaction and writes
nothing. It follows the same rules as routing (``omskit_routing_rules``: inactive locations,
delivery capabilities, channel buffers and any plugin rule) and the same carrier choice (the
cheapest lane, :func:`omskit.builtin.rules.cheapest_rate`); dates come from
:mod:`omskit.domain.delivery_dates` (cut-off, processing days, the location's time zone).

- **ready time** at a location: now if its available-to-promise (less holdbacks) covers the
  quantity, else the ETA of the open supply that makes it cover it (in ETA order), else never;
- **ship**: per location that can ship every SKU, ``delivery_date(location, ready, transit)``;
  the best (earliest date, then not relying on supply, then nearest) wins. Also a split plan
  (each SKU from the location that delivers it first, as a whole), whose date is that of its
  latest part; it is chosen only when strictly earlier than every single location, or when
  no single location can fill the lines;
- **pickup** at a store: ``ship_date(store, ready)`` from the store's own stock and supply
  (transfers from other locations are not considered).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import attrs

from omskit.builtin.rules import cheapest_rate
from omskit.domain.checks import (
    check_code,
    check_identifier,
    check_location_code,
    check_moment,
)
from omskit.domain.delivery_dates import delivery_date, ship_date
from omskit.domain.errors import InvalidCommand, LocationNotFound
from omskit.domain.inventory import Location, StockPosition
from omskit.domain.pickup import pickup_settings
from omskit.domain.promise import (
    CartLine,
    PromiseOption,
    PromisePart,
    PromiseQuote,
    as_cart_lines,
    check_destination,
    units_of,
)
from omskit.domain.routing import Candidate, Exclusion, Holdback, RoutingRequest
from omskit.domain.values import (
    Coordinates,
    DeliveryKind,
    DeliveryMethod,
    LineQuantity,
)
from omskit.ports import Carrier
from omskit.routing.engine import RoutingEngine, holdback_of
from omskit.services.database import Database
from omskit.services.ship_to_store import eta_of
from omskit.store.uow import UnitOfWork

#: Most pickup locations one quote may ask about.
MAX_PICKUP_LOCATIONS = 50


def ready_at(position: StockPosition | None, need: int, *, at: datetime, holdback: int = 0,
             held: int = 0) -> tuple[datetime | None, bool]:
    """When ``need`` units are at hand at the position's location: ``(time, from_supply)``.

    ``at`` if available-to-promise (plus ``held`` units the asker holds itself, less
    ``holdback``) covers it; else the ETA of the open supply that makes it cover it (never
    before ``at``: overdue supply counts as arriving now); else ``(None, False)``.
    """
    if position is None:
        return None, False
    running = (position.on_hand - position.reserved - position.safety_stock + held
               - holdback)
    if running >= need:
        return at, False
    for supply in sorted(position.incoming, key=lambda s: s.eta):
        running += supply.quantity
        if running >= need:
            return max(supply.eta, at), True
    return None, False


class PromiseService:
    """Quotes delivery dates for lines not yet ordered (a product page, a cart, checkout)."""

    def __init__(self, *, db: Database, clock: Callable[[], datetime],
                 router: RoutingEngine) -> None:
        self._db = db
        self._clock = clock
        self._router = router

    def quote(self, lines: Mapping[str, int] | Iterable[CartLine], *,
              destination: Coordinates | None = None, country: str | None = None,
              channel: str = "web", at: datetime | None = None,
              pickup_locations: Iterable[str] | None = None, ship: bool = True,
              cart_id: str | None = None, segment: str | None = None) -> PromiseQuote:
        """The earliest date per option for ``lines`` (``{sku: quantity}`` or ``CartLine``).

        - ``destination``, ``country``: where a parcel goes (for distance and carriers);
        - ``channel``: whose buffers and rules apply;
        - ``at``: when the question is asked (default: the clock);
        - ``pickup_locations``: stores to quote collection at, one option each;
        - ``ship``: quote shipping too (default yes);
        - ``cart_id``: count the units this cart holds (``oms.carts.hold``) as available
          to it;
        - ``segment``: the customer's segment, so rules that keep stock for a segment
          quote what an order of that customer would get (default ``standard``).

        Writes nothing. ``InvalidCommand`` lists every bad argument; an unknown pickup
        location is :class:`LocationNotFound`.
        """
        problems: list[str] = []
        wanted = as_cart_lines(lines, problems)
        check_destination(destination, country, problems)
        check_code(channel, "channel", problems)
        if at is not None:
            check_moment(at, "at", problems)
        stores: list[str] = []
        if pickup_locations is not None:
            given: object = pickup_locations
            if isinstance(given, str) or not isinstance(given, list | tuple | set | frozenset):
                problems.append("pickup_locations: must be a list of location codes")
            elif len(given) > MAX_PICKUP_LOCATIONS:
                problems.append(f"pickup_locations: more than {MAX_PICKUP_LOCATIONS}")
            else:
                for i, code in enumerate(given):
                    check_location_code(code, f"pickup_locations[{i}]", problems)
                if not problems:
                    stores = list(dict.fromkeys(pickup_locations))
        if cart_id is not None:
            check_identifier(cart_id, "cart_id", problems)
        if segment is not None:
            check_code(segment, "segment", problems)
        wanted_ship: object = ship
        if not isinstance(wanted_ship, bool):
            problems.append(f"ship: must be True or False, not {wanted_ship!r}")
        if problems:
            raise InvalidCommand(problems, subject="promise quote")
        now = at or self._clock()
        need = units_of(wanted)

        with self._db.uow() as uow:
            options: list[PromiseOption] = []
            context = _Context(self._router, uow, need, channel=channel, at=now,
                               destination=destination, country=country, cart_id=cart_id,
                               segment=segment or "standard")
            if ship:
                options.append(context.ship())
            for code in stores:
                options.append(context.pickup(code))
        return PromiseQuote(quoted_at=now, lines=wanted, channel=channel,
                            options=tuple(options))


class _Context:
    """The state one quote reads once: locations, positions, held units."""

    def __init__(self, router: RoutingEngine, uow: UnitOfWork, need: Mapping[str, int], *,
                 channel: str, at: datetime, destination: Coordinates | None,
                 country: str | None, cart_id: str | None, segment: str) -> None:
        self._router = router
        self._segment = segment
        self._need = need
        self._channel = channel
        self._at = at
        self._destination = destination
        self._country = country
        self._uow = uow
        self._locations = {loc.code: loc for loc in uow.inventory.locations()}
        positions = uow.inventory.positions_of(need)
        self._positions = {(p.location, sku): p for sku, found in positions.items()
                           for p in found}
        self._held = uow.inventory.soft_held(cart_id) if cart_id is not None else {}
        self._carriers: tuple[Carrier, ...] = router.carriers
        # Locations whose daily capacity today (a UTC day, as routing counts it) is spent
        # take no fulfilment order before tomorrow.
        today = at.astimezone(UTC).date()
        capped = {code: loc.daily_capacity for code, loc in self._locations.items()
                  if loc.daily_capacity is not None}
        load = uow.routing.load(capped, today) if capped else {}
        self._full = {code for code, capacity in capped.items()
                      if load.get(code, 0) >= capacity}
        self._tomorrow = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)

    def _request(self, delivery: DeliveryMethod,
                 destination: Coordinates | None) -> RoutingRequest:
        demand = tuple(LineQuantity(line_id=str(i), sku=sku, quantity=quantity)
                       for i, (sku, quantity) in enumerate(self._need.items(), start=1))
        return RoutingRequest(order_id="promise", channel=self._channel, segment=self._segment,
                              demand=demand, delivery=delivery, destination=destination,
                              destination_country=self._country, at=self._at)

    def _candidate(self, location: Location, destination: Coordinates | None) -> Candidate:
        distance = None
        if destination is not None and location.coordinates is not None:
            distance = location.coordinates.distance_km(destination)
        available = {}
        for sku in self._need:
            position = self._positions.get((location.code, sku))
            available[sku] = position.available if position is not None else 0
        return Candidate(location=location, available=available, distance_km=distance)

    def _rules(self, request: RoutingRequest, candidates: Sequence[Candidate]
               ) -> tuple[Mapping[str, list[Exclusion]], Sequence[Holdback]]:
        # The same screening routing applies (capacity is counted in _ready instead: a
        # full location is late, not excluded, for a quote).
        screening = self._router.screen(request, candidates)
        return screening.excluded, screening.holdbacks

    def _ready(self, code: str, sku: str, quantity: int,
               holdbacks: Sequence[Holdback]) -> tuple[datetime | None, bool]:
        when, future = ready_at(self._positions.get((code, sku)), quantity, at=self._at,
                                holdback=holdback_of(holdbacks, code, sku),
                                held=self._held.get((code, sku), 0))
        if when is not None and code in self._full and when < self._tomorrow:
            when = self._tomorrow
        return when, future

    # -- ship ----------------------------------------------------------------------------------

    def ship(self) -> PromiseOption:
        kind = DeliveryKind.SHIP
        request = self._request(DeliveryMethod(), self._destination)
        stocked = {code for code, _ in self._positions}
        candidates = [self._candidate(loc, self._destination)
                      for code, loc in sorted(self._locations.items())
                      if code in stocked and loc.active]
        if not candidates:
            return PromiseOption.unavailable(
                kind, "no location has stock or open supply of " + ", ".join(self._need))
        excluded, holdbacks = self._rules(request, candidates)
        eligible = [c for c in candidates if c.code not in excluded]
        if not eligible:
            return PromiseOption.unavailable(kind, "no location may ship this order: " + "; ".join(
                f"{code}: {v[0].reason}" for code, v in sorted(excluded.items())))
        # Per location and SKU: the part that location would send of that SKU alone.
        by_sku: dict[str, list[tuple[PromisePart, float]]] = {sku: [] for sku in self._need}
        singles: list[tuple[PromisePart, float]] = []
        no_lane: list[str] = []
        for c in eligible:
            lane = self._lane(c, request)
            if lane is None:
                no_lane.append(c.code)
                continue
            carrier, transit = lane
            distance = c.distance_km if c.distance_km is not None else float("inf")
            ready_all: list[tuple[datetime, bool]] = []
            for sku, quantity in self._need.items():
                when, future = self._ready(c.code, sku, quantity, holdbacks)
                if when is None:
                    continue
                ready_all.append((when, future))
                by_sku[sku].append((self._part(c.location, {sku: quantity}, when, future,
                                               carrier, transit), distance))
            if len(ready_all) == len(self._need):
                when = max(r for r, _ in ready_all)
                future = any(f for _, f in ready_all)
                singles.append((self._part(c.location, dict(self._need), when, future,
                                           carrier, transit), distance))
        best_single = min(singles, key=_rank, default=None)
        split = None
        if all(by_sku.values()):
            parts = [min(found, key=_rank) for found in by_sku.values()]
            split = _merge_parts([p for p, _ in parts])
        if best_single is not None and (
                split is None or len(split) == 1
                or best_single[0].date <= max(p.date for p in split)):
            return PromiseOption.of(kind, [best_single[0]])
        if split is not None:
            return PromiseOption.of(kind, split)
        missing = [sku for sku, found in by_sku.items() if not found]
        reason = ("not enough stock or open supply of " + ", ".join(missing)
                  + " at any location that may ship it")
        if no_lane:
            reason += f" (no carrier serves the lane from {', '.join(no_lane)})"
        return PromiseOption.unavailable(kind, reason)

    def _lane(self, candidate: Candidate, request: RoutingRequest
              ) -> tuple[str | None, int] | None:
        """(carrier, transit days) of the cheapest lane; (None, 0) with no carrier
        installed; None when carriers are installed but none serves the lane."""
        if not self._carriers:
            return None, 0
        rate = cheapest_rate(self._carriers, candidate, request)
        return None if rate is None else (rate.carrier, rate.transit_days)

    def _part(self, location: Location, units: dict[str, int], when: datetime, future: bool,
              carrier: str | None, transit: int) -> PromisePart:
        return PromisePart(location=location.code, units=units, ready_at=when,
                           date=delivery_date(location, when, transit), carrier=carrier,
                           transit_days=transit, uses_future_supply=future)

    # -- pickup --------------------------------------------------------------------------------

    def pickup(self, code: str) -> PromiseOption:
        kind = DeliveryKind.PICKUP
        store = self._locations.get(code)
        if store is None:
            raise LocationNotFound(code)
        request = self._request(DeliveryMethod(kind=kind, pickup_location=code),
                                store.coordinates)
        excluded, holdbacks = self._rules(request, [self._candidate(store, store.coordinates)])
        if not store.active:
            return PromiseOption.unavailable(kind, "location inactive", (code,))
        if code in excluded:
            return PromiseOption.unavailable(kind, "; ".join(v.reason for v in excluded[code]),
                                             (code,))
        ready: list[tuple[datetime, bool]] = []
        missing = []
        ship_to_store = pickup_settings(self._router.settings).ship_to_store
        for sku, quantity in self._need.items():
            when, future = self._ready(code, sku, quantity, holdbacks)
            if ship_to_store and (when is None or future):
                # Ship-to-store, as routing plans it (decision 42): what the store does not
                # have on hand comes by transfer from a location that has; the goods are
                # ready the store's processing after they arrive.
                found = self._transfer(store, sku, holdbacks)
                if found is not None and (when is None or found.ready_at < when):
                    when, future = found.ready_at, False
            if when is None:
                missing.append(sku)
            else:
                ready.append((when, future))
        if missing:
            return PromiseOption.unavailable(
                kind, f"not enough stock or open supply of {', '.join(missing)} at {code}, "
                      "and no location can send it there", (code,))
        when = max(r for r, _ in ready)
        part = PromisePart(location=code, units=dict(self._need), ready_at=when,
                           date=ship_date(store, when),
                           uses_future_supply=any(f for _, f in ready))
        return PromiseOption.of(kind, [part])

    def _transfer(self, store: Location, sku: str,
                  store_holdbacks: Sequence[Holdback]) -> PromisePart | None:
        """The earliest transfer of what ``store`` lacks of ``sku`` from one location with
        it on hand (routing's rules for a shipment to the store apply), as a part whose
        ``ready_at`` is its arrival at the store; None when no location can send it."""
        quantity = self._need[sku]
        position = self._positions.get((store.code, sku))
        own = max(0, (position.available if position is not None else 0)
                  - holdback_of(store_holdbacks, store.code, sku)
                  + self._held.get((store.code, sku), 0))
        short = quantity - min(own, quantity)
        request = attrs.evolve(self._request(DeliveryMethod(), store.coordinates),
                               exclude_locations=frozenset({store.code}))
        candidates = [self._candidate(loc, store.coordinates)
                      for code, loc in sorted(self._locations.items())
                      if code != store.code and loc.active
                      and (code, sku) in self._positions]
        if not candidates:
            return None
        excluded, holdbacks = self._rules(request, candidates)
        best: PromisePart | None = None
        for c in candidates:
            if c.code in excluded:
                continue
            lane = self._lane(c, request)
            if lane is None:
                continue
            when, future = self._ready(c.code, sku, short, holdbacks)
            if when is None or future:
                continue  # routing transfers only what is on hand
            arrives = eta_of(c.location, when, lane[1])
            if best is None or (arrives, c.code) < (best.ready_at, best.location):
                best = PromisePart(location=c.code, units={sku: short}, ready_at=arrives,
                                   date=arrives.date(), carrier=lane[0],
                                   transit_days=lane[1])
        return best


def _rank(entry: tuple[PromisePart, float]) -> tuple[date, bool, float, str]:
    part, distance = entry
    return (part.date, part.uses_future_supply, distance, part.location)


def _merge_parts(parts: Sequence[PromisePart]) -> list[PromisePart]:
    """One part per location: SKUs the same location sends travel together."""
    merged: dict[str, PromisePart] = {}
    for p in parts:
        before = merged.get(p.location)
        if before is None:
            merged[p.location] = p
            continue
        when = max(before.ready_at, p.ready_at)
        later = before if before.date >= p.date else p
        merged[p.location] = PromisePart(
            location=p.location, units={**before.units, **p.units}, ready_at=when,
            date=later.date, carrier=later.carrier, transit_days=later.transit_days,
            uses_future_supply=before.uses_future_supply or p.uses_future_supply)
    return list(merged.values())
