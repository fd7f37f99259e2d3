"""Cart commands: soft holds of stock for a time-to-live (``oms.carts``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs

from omskit.domain.commands.base import Command, code, identifier, moment
from omskit.domain.promise import (
    CartLine,
    as_cart_lines,
    check_delivery,
    check_destination,
    check_ttl,
)
from omskit.domain.values import Coordinates, DeliveryMethod

#: Shortest and longest time-to-live of a cart's hold.
MIN_TTL = timedelta(minutes=1)
MAX_TTL = timedelta(days=7)


def _as_lines(lines: object) -> object:
    # {sku: quantity} is the short form; anything malformed is kept for check() to report.
    if isinstance(lines, Mapping):
        return tuple(CartLine(sku=sku, quantity=quantity) for sku, quantity in lines.items())
    if isinstance(lines, Iterable) and not isinstance(lines, str | bytes):
        return tuple(lines)
    return lines


@attrs.frozen(kw_only=True)
class HoldCart(Command):
    """Hold ``lines`` for the cart for ``ttl``, at the locations routing would choose.
    Naturally idempotent: holding the cart again replaces its hold (same lines, new
    expiry)."""

    name = "hold_cart"
    subject = "cart hold"

    cart_id: str = identifier()
    channel: str = code()
    lines: tuple[CartLine, ...] = attrs.field(converter=_as_lines)
    ttl: timedelta
    destination: Coordinates | None = None
    country: str | None = None
    delivery: DeliveryMethod | None = None
    segment: str | None = code(optional=True, default=None)

    def check(self, problems: list[str]) -> None:
        as_cart_lines(self.lines, problems)
        check_ttl(self.ttl, MIN_TTL, MAX_TTL, problems)
        check_destination(self.destination, self.country, problems)
        check_delivery(self.delivery, problems)

    @property
    def method(self) -> DeliveryMethod:
        """How the cart's order would be delivered (ship unless said otherwise)."""
        return self.delivery or DeliveryMethod()


@attrs.frozen(kw_only=True)
class ReleaseCart(Command):
    """Give the cart's held units back. Naturally idempotent: again, nothing is held."""

    name = "release_cart"
    subject = "cart"

    cart_id: str = identifier()


@attrs.frozen(kw_only=True)
class ExpireCarts(Command):
    """Release every hold whose expiry is at or before ``now`` (default: the clock).
    Naturally idempotent: an expired hold is not expired again."""

    name = "expire_carts"
    subject = "expiry"

    now: datetime | None = moment(optional=True, default=None)  # noqa: RUF009


__all__ = ["MAX_TTL", "MIN_TTL", "ExpireCarts", "HoldCart", "ReleaseCart"]
