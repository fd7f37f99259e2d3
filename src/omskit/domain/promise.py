"""Value types of the promise API and of soft reservations (carts).

A *quote* answers "when can the customer have these goods?" per delivery option, without
writing anything. A *cart hold* keeps stock for a cart for a limited time (a soft
reservation), so that checkout finds it still there.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

import attrs

from omskit.domain.checks import (
    MAX_LINES,
    check_identifier,
    check_location_code,
    check_quantity,
)
from omskit.domain.values import Coordinates, DeliveryKind, DeliveryMethod

_COUNTRY = re.compile(r"^[A-Z]{2}$")


@attrs.frozen(kw_only=True)
class CartLine:
    """A quantity of one SKU in a cart or a quote."""

    sku: str
    quantity: int


def as_cart_lines(lines: object, problems: list[str]) -> tuple[CartLine, ...]:
    """``{sku: quantity}`` or ``CartLine`` objects as a tuple of lines (order kept),
    appending a ``"lines[i].field: message"`` problem for each malformed one."""
    found: tuple[object, ...]
    if isinstance(lines, Mapping):
        found = tuple(CartLine(sku=sku, quantity=quantity) for sku, quantity in lines.items())
    elif isinstance(lines, str | bytes) or not isinstance(lines, Iterable):
        problems.append("lines: must be {sku: quantity} or CartLine objects")
        return ()
    else:
        try:
            found = tuple(lines)
        except TypeError:
            problems.append("lines: must be {sku: quantity} or CartLine objects")
            return ()
    if not found:
        problems.append("lines: at least one line is needed")
    if len(found) > MAX_LINES:
        problems.append(f"lines: more than {MAX_LINES} lines")
    good: list[CartLine] = []
    for i, line in enumerate(found[:MAX_LINES]):
        if not isinstance(line, CartLine):
            problems.append(f"lines[{i}]: must be a CartLine, not {type(line).__name__}")
            continue
        check_identifier(line.sku, f"lines[{i}].sku", problems)
        check_quantity(line.quantity, f"lines[{i}].quantity", problems)
        good.append(line)
    return tuple(good)


def check_destination(destination: object, country: object, problems: list[str]) -> None:
    """Append problems unless ``destination`` is ``Coordinates`` or None and ``country`` an
    ISO 3166-1 alpha-2 code or None."""
    if destination is not None and not isinstance(destination, Coordinates):
        problems.append("destination: must be Coordinates or None")
    if country is not None and (not isinstance(country, str) or not _COUNTRY.match(country)):
        problems.append(f"country: {country!r} is not like 'IT'")


def check_delivery(delivery: object, problems: list[str]) -> DeliveryMethod:
    """``delivery`` (None: ship) as a method, appending a problem if it is not one."""
    if delivery is None:
        return DeliveryMethod()
    if not isinstance(delivery, DeliveryMethod):
        problems.append("delivery: must be a DeliveryMethod")
        return DeliveryMethod()
    if delivery.pickup_location is not None:
        check_location_code(delivery.pickup_location, "delivery.pickup_location", problems)
    return delivery


def check_ttl(ttl: object, minimum: timedelta, maximum: timedelta,
              problems: list[str]) -> None:
    """Append a problem unless ``ttl`` is a ``timedelta`` within ``minimum..maximum``."""
    if not isinstance(ttl, timedelta):
        problems.append(f"ttl: must be a timedelta, not {type(ttl).__name__}")
    elif not minimum <= ttl <= maximum:
        problems.append(f"ttl: {ttl} is outside {minimum}..{maximum}")


def units_of(lines: Iterable[CartLine]) -> dict[str, int]:
    """Units per SKU (lines of one SKU added up), in first-seen order."""
    need: dict[str, int] = {}
    for line in lines:
        need[line.sku] = need.get(line.sku, 0) + line.quantity
    return need


class SoftReservationStatus(enum.StrEnum):
    """What became of a soft reservation (a cart's hold on stock)."""

    ACTIVE = "active"
    RELEASED = "released"  # the cart let go, or was held again (replaced)
    EXPIRED = "expired"  # its time-to-live ran out and a sweeper released it
    CONVERTED = "converted"  # an order placed with the cart took the stock over


@attrs.frozen(kw_only=True)
class SoftReservation:
    """Units of a SKU at a location held for a cart until ``expires_at``."""

    id: str
    cart_id: str
    location: str
    sku: str
    quantity: int
    status: SoftReservationStatus
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


@attrs.frozen(kw_only=True)
class CartHold:
    """A cart's active soft reservations: what is held where, until when, what is missing.

    ``short`` lists the units no location could hold (per SKU); an empty ``held`` with a
    non-empty ``short`` means nothing could be held at all.
    """

    cart_id: str
    expires_at: datetime | None
    held: tuple[SoftReservation, ...]
    short: Mapping[str, int] = attrs.field(factory=dict)

    def units(self) -> dict[str, int]:
        """Held units per SKU."""
        total: dict[str, int] = {}
        for r in self.held:
            total[r.sku] = total.get(r.sku, 0) + r.quantity
        return total

    @property
    def complete(self) -> bool:
        """Whether every unit asked for is held."""
        return not self.short

    def locations(self) -> list[str]:
        """Locations holding stock for the cart, by code."""
        return sorted({r.location for r in self.held})


@attrs.frozen(kw_only=True)
class PromisePart:
    """One location's share of a promise: the units it sends and when they arrive."""

    location: str
    units: Mapping[str, int]
    ready_at: datetime
    date: date
    carrier: str | None = None
    transit_days: int | None = None
    uses_future_supply: bool = False


@attrs.frozen(kw_only=True)
class PromiseOption:
    """The earliest date for one way of delivering a quote's lines.

    - ``kind``: ship (to the destination) or pickup (at ``locations[0]``);
    - ``available``: False when no date can be promised; ``reason`` then says why;
    - ``locations``: where the goods leave from (several for a split shipment);
    - ``date``: the delivery date (ship) or the day the goods are ready to collect (pickup);
    - ``ready_at``: when the goods are at hand at the location (now, or the ETA of supply);
    - ``carrier``, ``transit_days``: the cheapest carrier serving the lane (ship only;
      ``None`` when no carrier plugin is installed, counted as zero days);
    - ``uses_future_supply``: the date relies on stock not yet received;
    - ``parts``: per location, its units, ready time, date and carrier (one part unless the
      goods come from several locations, ``split``); the option's date, ready time and
      transit are those of its latest part.
    """

    kind: DeliveryKind
    available: bool
    locations: tuple[str, ...] = ()
    date: date | None = None
    ready_at: datetime | None = None
    carrier: str | None = None
    transit_days: int | None = None
    uses_future_supply: bool = False
    parts: tuple[PromisePart, ...] = ()
    reason: str = ""

    @property
    def split(self) -> bool:
        """Whether the goods leave from more than one location."""
        return len(self.parts) > 1

    @classmethod
    def of(cls, kind: DeliveryKind, parts: Iterable[PromisePart]) -> PromiseOption:
        """An available option made of ``parts`` (at least one)."""
        ordered = tuple(sorted(parts, key=lambda p: p.location))
        last = max(ordered, key=lambda p: (p.date, p.ready_at, p.location))
        carriers = {p.carrier for p in ordered}
        return cls(kind=kind, available=True, locations=tuple(p.location for p in ordered),
                   date=last.date, ready_at=max(p.ready_at for p in ordered),
                   carrier=last.carrier if len(carriers) == 1 else None,
                   transit_days=last.transit_days,
                   uses_future_supply=any(p.uses_future_supply for p in ordered),
                   parts=ordered)

    @classmethod
    def unavailable(cls, kind: DeliveryKind, reason: str,
                    locations: tuple[str, ...] = ()) -> PromiseOption:
        """An option no date can be promised for, and why."""
        return cls(kind=kind, available=False, locations=locations, reason=reason)


@attrs.frozen(kw_only=True)
class PromiseQuote:
    """A promise for a set of lines at ``quoted_at``: one option per delivery way asked."""

    quoted_at: datetime
    lines: tuple[CartLine, ...]
    channel: str
    options: tuple[PromiseOption, ...]

    @property
    def ship(self) -> PromiseOption | None:
        """The shipping option, if shipping was quoted."""
        return next((o for o in self.options if o.kind is DeliveryKind.SHIP), None)

    def pickup(self, location: str) -> PromiseOption | None:
        """The pickup option at ``location``, if it was quoted."""
        return next((o for o in self.options
                     if o.kind is DeliveryKind.PICKUP and o.locations == (location,)), None)

    @property
    def earliest(self) -> PromiseOption | None:
        """The available option with the earliest date (ties: shipping first), or None."""
        found = [(o.date, o.kind is not DeliveryKind.SHIP, i, o)
                 for i, o in enumerate(self.options) if o.available and o.date is not None]
        return min(found)[-1] if found else None
