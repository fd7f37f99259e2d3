"""Value objects shared by orders and inventory: money, places, people, holds."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

import attrs
import iso4217

from omskit.domain.errors import InvalidCommand

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


#: Minor units (digits after the decimal point) of every ISO 4217 currency that has them,
#: from the ``iso4217`` package's copy of the ISO table (decision 16). Codes without minor
#: units (``XXX``, ``XAU``, ``XDR``...) are not money an order can be priced in.
MINOR_UNITS: dict[str, int] = {
    c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}

#: Highest unit price accepted on an order line.
MAX_UNIT_PRICE = Decimal("1000000000000")
#: Significant digits of money arithmetic. Amounts are bounded (``MAX_UNIT_PRICE`` here,
#: ``MAX_LINE_QUANTITY`` and ``MAX_LINES`` in :mod:`omskit.domain.checks`, at most four
#: decimals) so that no order total needs more than 25: nothing is ever rounded.
MONEY_DIGITS = 28
#: The context every money sum and product runs in: a result that would need rounding
#: raises instead of being silently rounded (``Inexact`` is trapped).
MONEY_CONTEXT = Context(prec=MONEY_DIGITS, rounding=ROUND_HALF_EVEN,
                        traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])


def check_currency(code: object, field: str = "currency") -> str:
    """Return ``code`` if it is an ISO 4217 currency with minor units, else raise
    :class:`InvalidCommand`."""
    if not isinstance(code, str) or code not in MINOR_UNITS:
        raise InvalidCommand([f"{field}: {code!r} is not an ISO 4217 currency code "
                              "such as 'EUR'"])
    return code


def minor_units(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (JPY 0, EUR 2, BHD 3, CLF 4)."""
    return MINOR_UNITS[check_currency(currency)]


def decimal_places(amount: Decimal) -> int:
    """Digits after the decimal point that matter: ``19.90`` has 1, ``1E+3`` has 0.

    Computed from the digits, not with ``normalize()``, which rounds to the context.
    """
    _sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite amounts only
    if exponent >= 0:
        return 0
    # Trailing zeros counted on the digit tuple: this runs for every amount of every order.
    for trailing, digit in enumerate(reversed(digits)):
        if digit:
            return max(0, -(exponent + trailing))
    return 0  # all zeros


def check_amount(amount: Decimal, currency: str, field: str, problems: list[str], *,
                 maximum: Decimal) -> None:
    """Append a problem unless ``amount`` is within ``0 .. maximum`` and has no more
    decimals than ``currency``'s minor units (no ``100.5`` JPY, no ``1.005`` EUR)."""
    if amount < 0 or amount > maximum:
        problems.append(f"{field}: {amount} is outside 0..{maximum}")
        return
    units = MINOR_UNITS.get(currency)
    if units is not None and decimal_places(amount) > units:
        problems.append(f"{field}: {amount} has more decimals than {currency} allows "
                        f"({units})")


def check_decimal(value: object, field: str, problems: list[str], *, maximum: Decimal,
                  places: int) -> None:
    """Append a problem unless ``value`` is a finite ``Decimal`` in ``0 .. maximum`` with at
    most ``places`` significant decimals (a cost, a rate)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        problems.append(f"{field}: must be a finite Decimal, not {value!r}")
    elif not 0 <= value <= maximum:
        problems.append(f"{field}: {value} is outside 0..{maximum}")
    elif decimal_places(value) > places:
        problems.append(f"{field}: {value} has more than {places} decimals")


def trimmed(value: Decimal) -> Decimal:
    """``value`` without trailing zeros after the point, exactly (``1.500`` → ``1.5``,
    ``1E+3`` → ``1000``): the short text a ``DecimalText`` column stores."""
    with localcontext(MONEY_CONTEXT):
        exact = value.quantize(Decimal(1).scaleb(-decimal_places(value)))
    return abs(exact) if exact.is_zero() else exact


def to_minor_units(amount: Decimal, currency: str) -> Decimal:
    """``amount`` written with exactly ``currency``'s decimals (``19.9`` EUR → ``19.90``).

    Raises :class:`InvalidCommand` if that would change its value or need more than
    ``MONEY_DIGITS`` digits.
    """
    try:
        with localcontext(MONEY_CONTEXT):
            exact = amount.quantize(Decimal(1).scaleb(-minor_units(currency)))
    except DecimalException:
        raise InvalidCommand([f"amount: {amount} cannot be written exactly in "
                              f"{currency}"]) from None
    # Zero is zero: no "-0.00" in a stored price.
    return abs(exact) if exact.is_zero() else exact


def exactly(operation: str, compute: Callable[[], Decimal]) -> Decimal:
    """Run ``compute()`` in :data:`MONEY_CONTEXT`; a result that would be rounded is
    :class:`InvalidCommand` naming ``operation`` rather than a wrong amount."""
    try:
        with localcontext(MONEY_CONTEXT):
            result = compute()
    except DecimalException:
        raise InvalidCommand([f"{operation}: the result cannot be computed exactly"]) from None
    return result


@attrs.frozen
class Money:
    """An exact amount in one ISO 4217 currency, written with that currency's decimals.

    ``Money("19.9", "EUR").amount == Decimal("19.90")``; ``Money("100.5", "JPY")`` is
    :class:`InvalidCommand`. Sums and products never round: one that would raises.
    """

    amount: Decimal = attrs.field(converter=to_decimal)
    currency: str = attrs.field(converter=check_currency)

    def __attrs_post_init__(self) -> None:
        if decimal_places(self.amount) > MINOR_UNITS[self.currency]:
            raise InvalidCommand([f"amount: {self.amount} has more decimals than "
                                  f"{self.currency} allows ({MINOR_UNITS[self.currency]})"])
        # Frozen: the canonical form is set once, here (attrs' documented way).
        object.__setattr__(self, "amount", to_minor_units(self.amount, self.currency))

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise InvalidCommand([f"cannot add {other.currency} to {self.currency}"])
        return Money(exactly("sum", lambda: self.amount + other.amount), self.currency)

    def times(self, quantity: int) -> Money:
        """This amount multiplied by a whole quantity."""
        return Money(exactly("product", lambda: self.amount * quantity), self.currency)

    @classmethod
    def total(cls, currency: str, prices: Iterable[tuple[Decimal, int]]) -> Money:
        """The exact sum of ``unit_price × quantity`` over ``(unit_price, quantity)`` pairs."""
        return cls(exactly("total", lambda: sum(
            (price * quantity for price, quantity in prices), Decimal(0))), currency)

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
