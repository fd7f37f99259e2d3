"""Pick up in store: the events of a pickup order's last steps, and the pickup settings.

A pickup order's fulfilment order at its store is marked ready when the goods are set aside
(``ready_for_pickup``), collected in one or more visits (each a handover recorded as a
shipment with carrier :data:`PICKUP_CARRIER`, shipped and delivered at once), and, when not
collected by its ``collect_by`` deadline, expired: what was not collected is cancelled and
its stock released. When the store lacks stock, the goods come by transfer from another
location (ship-to-store), reserved for the order. Decision 40.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from omskit.domain.events import Event, OrderEvent
from omskit.domain.values import LineQuantity

#: The carrier code of a handover at the store's counter (no shipping carrier is called).
PICKUP_CARRIER = "pickup"
#: Default days a customer has to collect once the goods are ready.
DEFAULT_COLLECT_DAYS = 7
#: Most days a deployment may give customers to collect.
MAX_COLLECT_DAYS = 365


@attrs.frozen(kw_only=True)
class PickupReady(OrderEvent):
    """The store set the goods aside: the customer may collect them until ``collect_by``
    (what a notifier tells the customer)."""

    event_type: ClassVar[str] = "pickup.ready"
    fulfillment_order_id: str
    location: str
    lines: tuple[LineQuantity, ...]
    collect_by: datetime


@attrs.frozen(kw_only=True)
class PickupCollected(OrderEvent):
    """The customer collected ``lines`` at the store (all that was left when
    ``complete``)."""

    event_type: ClassVar[str] = "pickup.collected"
    fulfillment_order_id: str
    location: str
    collection_id: str
    lines: tuple[LineQuantity, ...]
    complete: bool


@attrs.frozen(kw_only=True)
class PickupExpired(OrderEvent):
    """Not collected by ``collect_by``: ``lines`` were cancelled and their stock
    released at the store."""

    event_type: ClassVar[str] = "pickup.expired"
    fulfillment_order_id: str
    location: str
    lines: tuple[LineQuantity, ...]
    collect_by: datetime


@attrs.frozen(kw_only=True)
class PickupTransferPlanned(OrderEvent):
    """Ship-to-store: ``quantity`` of ``sku`` left ``from_location`` for the pickup store,
    reserved for the order's fulfilment order there; due at ``eta``."""

    event_type: ClassVar[str] = "pickup.transfer_planned"
    fulfillment_order_id: str
    supply_id: str
    from_location: str
    location: str
    sku: str
    quantity: int
    eta: datetime


#: The pickup events, registered by the core like any plugin's.
PICKUP_EVENTS: tuple[type[Event], ...] = (PickupReady, PickupCollected, PickupExpired,
                                          PickupTransferPlanned)


@attrs.frozen(kw_only=True)
class PickupSettings:
    """``settings["pickup"]``: ``collect_days`` a customer has to collect after the goods are
    ready (default 7); ``ship_to_store``: whether a pickup store lacking stock is supplied
    by transfer from other locations (default true)."""

    collect_days: int = DEFAULT_COLLECT_DAYS
    ship_to_store: bool = True


def parse_pickup(settings: Mapping[str, Any], problems: list[str]) -> PickupSettings:
    """Read ``settings["pickup"]``, appending a message per problem to ``problems``."""
    section = settings.get("pickup", {})
    if not isinstance(section, Mapping):
        problems.append("pickup: must be a mapping")
        return PickupSettings()
    problems.extend(f"pickup.{k}: unknown setting"
                    for k in sorted(set(section) - {"collect_days", "ship_to_store"}))
    days = section.get("collect_days", DEFAULT_COLLECT_DAYS)
    if (isinstance(days, bool) or not isinstance(days, int)
            or not 1 <= days <= MAX_COLLECT_DAYS):
        problems.append(f"pickup.collect_days: must be a whole number from 1 to "
                        f"{MAX_COLLECT_DAYS}, got {days!r}")
        days = DEFAULT_COLLECT_DAYS
    ship = section.get("ship_to_store", True)
    if not isinstance(ship, bool):
        problems.append(f"pickup.ship_to_store: must be true or false, got {ship!r}")
        ship = True
    return PickupSettings(collect_days=days, ship_to_store=ship)


def pickup_settings(settings: Mapping[str, Any]) -> PickupSettings:
    """The pickup settings (already validated at bootstrap)."""
    return parse_pickup(settings, [])
