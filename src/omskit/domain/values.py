"""Value objects shared by orders and inventory: money, places, people, holds."""

from __future__ import annotations

import enum
import math
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from omskit.domain.errors import InvalidCommand

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_EARTH_RADIUS_KM = 6371.0088


def to_decimal(value: Any, *, field: str = "amount") -> Decimal:
    """Turn an int, str or Decimal into a finite Decimal; floats are refused.

    Floats are refused because a binary float cannot hold most prices exactly.
    """
    if isinstance(value, bool | float):
        raise InvalidCommand([f"{field}: must be a decimal string or integer, not {value!r}"])
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidCommand([f"{field}: {value!r} is not a decimal number"]) from None
    if not result.is_finite():
        raise InvalidCommand([f"{field}: {value!r} is not a finite number"])
    return result


def check_currency(code: str) -> str:
    """Return an ISO 4217 currency code or raise :class:`InvalidCommand`."""
    if not isinstance(code, str) or not _CURRENCY.match(code):
        raise InvalidCommand([f"currency: {code!r} is not an ISO 4217 code such as 'EUR'"])
    return code


@attrs.frozen
class Money:
    """An exact amount in one currency."""

    amount: Decimal = attrs.field(converter=to_decimal)
    currency: str = attrs.field(converter=check_currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise InvalidCommand([f"cannot add {other.currency} to {self.currency}"])
        return Money(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        """This amount multiplied by a whole quantity."""
        return Money(self.amount * quantity, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@attrs.frozen(kw_only=True)
class Coordinates:
    """A point on Earth in decimal degrees (WGS 84)."""

    lat: float
    lon: float

    def __attrs_post_init__(self) -> None:
        # bool is an int subclass; a True/False latitude is a caller's mistake, not a place.
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                 for v in (self.lat, self.lon))
        if not ok or not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise InvalidCommand([f"coordinates: ({self.lat!r}, {self.lon!r}) out of range"])

    def distance_km(self, other: Coordinates) -> float:
        """Great-circle distance in kilometres (haversine)."""
        lat1, lat2 = math.radians(self.lat), math.radians(other.lat)
        half_dlon = math.radians(other.lon - self.lon) / 2
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin(half_dlon) ** 2
        )
        return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@attrs.frozen(kw_only=True)
class Address:
    """A postal address; ``country`` is an ISO 3166-1 alpha-2 code."""

    line1: str
    city: str
    country: str
    postal_code: str = ""
    line2: str = ""
    region: str = ""
    name: str = ""
    coordinates: Coordinates | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.country, str) or not _COUNTRY.match(self.country):
            raise InvalidCommand([f"address.country: {self.country!r} is not like 'IT'"])


@attrs.frozen(kw_only=True)
class Contact:
    """How to reach a person; a snapshot taken when the order was placed."""

    name: str = ""
    email: str = ""
    phone: str = ""


@attrs.frozen(kw_only=True)
class Customer:
    """Who placed the order: the host's customer id, segment and contact snapshot."""

    id: str
    segment: str | None = None
    contact: Contact = attrs.field(factory=Contact)


class DeliveryKind(enum.StrEnum):
    """How the customer receives the goods."""

    SHIP = "ship"
    PICKUP = "pickup"


@attrs.frozen(kw_only=True)
class DeliveryMethod:
    """Ship to the shipping address, or pick up at a location."""

    kind: DeliveryKind = DeliveryKind.SHIP
    pickup_location: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind is DeliveryKind.PICKUP and not self.pickup_location:
            raise InvalidCommand(["delivery.pickup_location: required for pickup"])
        if self.kind is DeliveryKind.SHIP and self.pickup_location:
            raise InvalidCommand(["delivery.pickup_location: only allowed for pickup"])


@attrs.frozen(kw_only=True)
class Problem:
    """One reason, found by a validator, why something cannot proceed as asked."""

    code: str
    message: str


@attrs.frozen(kw_only=True)
class Hold:
    """A hold on an order: while any hold is active the order is not routed or released."""

    code: str
    reason: str
    placed_at: datetime
    released_at: datetime | None = None

    @property
    def active(self) -> bool:
        """True until the hold is released."""
        return self.released_at is None


@attrs.frozen(kw_only=True)
class LineQuantity:
    """A quantity of one order line's SKU: demand to route, or quantity left backordered."""

    line_id: str
    sku: str
    quantity: int
