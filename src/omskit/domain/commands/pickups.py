"""Pick up in store commands: ready, collect, expire the uncollected (``oms.pickups``)."""

from __future__ import annotations

from datetime import datetime

import attrs

from omskit.domain.commands.base import Command, identifier, moment
from omskit.domain.commands.shipping import _as_tuple, check_lines
from omskit.domain.values import LineQuantity


@attrs.frozen(kw_only=True)
class MarkReadyForPickup(Command):
    """The store set a pickup fulfilment order's goods aside: the customer may collect them
    until the deadline (``settings["pickup"]["collect_days"]`` after now). Naturally
    idempotent: marking a ready fulfilment order ready changes nothing (the deadline
    stays)."""

    name = "mark_ready_for_pickup"
    subject = "pickup"

    fulfillment_order_id: str = identifier()


@attrs.frozen(kw_only=True)
class CollectPickup(Command):
    """The customer collected ``lines`` (empty: everything left) of a ready pickup.
    Idempotent on ``collection_id`` when given: the same id again collects nothing more and
    returns the fulfilment order."""

    name = "collect_pickup"
    subject = "collection"

    fulfillment_order_id: str = identifier()
    lines: tuple[LineQuantity, ...] = attrs.field(default=(), converter=_as_tuple)
    collection_id: str | None = identifier(optional=True, default=None)

    def check(self, problems: list[str]) -> None:
        check_lines(self.lines, "lines", problems)


@attrs.frozen(kw_only=True)
class ExpireUncollectedPickups(Command):
    """Cancel what was not collected of every pickup whose deadline is at or before ``now``
    (default: the clock) and release its stock. Naturally idempotent: an expired pickup is
    not expired again."""

    name = "expire_uncollected_pickups"
    subject = "expiry"

    now: datetime | None = moment(optional=True, default=None)  # noqa: RUF009


__all__ = ["CollectPickup", "ExpireUncollectedPickups", "MarkReadyForPickup"]
