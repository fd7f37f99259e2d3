"""karrio's tracking, in omskit's vocabulary.

Each karrio extension already normalises its carrier's event codes to karrio's
``TrackingStatus`` names (``picked_up``, ``in_transit``, ``delivery_failed``...), per event;
this module maps those names to :class:`omskit.TrackingStatus`, gives every event a stable id
(karrio has none: the id is a digest of what the carrier said, so the same event polled twice
is recorded once) and reads its time.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from omskit import TrackingStatus, TrackingUpdate

#: karrio's ``TrackingStatus`` names (``karrio.core.units.TrackingStatus``) → omskit's. Left
#: out: ``cancelled`` (the label was voided: omskit's own business, not a movement). An event
#: karrio could not classify (no status, or ``unknown``) is a scan in the carrier's network:
#: ``in_transit``.
STATUSES: Mapping[str, TrackingStatus] = {
    "pending": TrackingStatus.LABEL_CREATED,
    "picked_up": TrackingStatus.PICKED_UP,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "unknown": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    # Waiting at a service point for the customer: the last step before delivery.
    "ready_for_pickup": TrackingStatus.OUT_FOR_DELIVERY,
    "delivery_failed": TrackingStatus.FAILED_ATTEMPT,
    # Held (customs, a depot) or late: not moving as planned.
    "on_hold": TrackingStatus.EXCEPTION,
    "delivery_delayed": TrackingStatus.EXCEPTION,
    "delivered": TrackingStatus.DELIVERED,
    "return_to_sender": TrackingStatus.RETURNED_TO_SENDER,
}
#: karrio statuses that are not parcel movements.
IGNORED = frozenset({"cancelled"})
#: Where an extension's own table is wrong, by the carrier's event code. DHL Express uses the
#: same event codes in XML-PI and in the MyDHL API; karrio's ``dhl_express`` maps them right,
#: its ``mydhl`` puts "PU" (shipment picked up) under ``pending`` and "WC" (with the delivery
#: courier) under ``in_transit``.
CODE_OVERRIDES: Mapping[str, Mapping[str, TrackingStatus]] = {
    "mydhl": {"PU": TrackingStatus.PICKED_UP, "WC": TrackingStatus.OUT_FOR_DELIVERY},
}


def occurred_at(event: Any, zone: str | None) -> datetime | None:
    """The event's time. karrio writes ``timestamp`` as ISO 8601; DHL Express and UPS report
    the local time of the scan and karrio labels it UTC (``Z``): with a ``zone`` configured,
    the wall-clock time is read in that zone instead."""
    raw = getattr(event, "timestamp", None)
    if raw:
        try:
            found = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            found = None
    else:
        found = None
    if found is None:
        try:
            day = date.fromisoformat(str(getattr(event, "date", "")))
        except ValueError:
            return None
        clock = str(getattr(event, "time", "") or "00:00")
        try:
            hours = datetime.strptime(clock, "%H:%M").time()
        except ValueError:
            try:
                hours = datetime.strptime(clock, "%I:%M %p").time()
            except ValueError:
                hours = datetime.min.time()
        found = datetime.combine(day, hours)
    if zone is not None:
        return found.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def event_id(tracking_number: str, event: Any, at: datetime) -> str:
    """A stable id for a karrio event: the carrier's code (or karrio's status) and a digest of
    everything the carrier said about it."""
    code = str(getattr(event, "code", None) or getattr(event, "status", None) or "event")
    said = "|".join(str(getattr(event, k, None) or "") for k in ("code", "description",
                                                                  "location", "status"))
    digest = hashlib.sha256(f"{tracking_number}|{at.isoformat()}|{said}".encode()).hexdigest()
    return f"{tracking_number}:{code}:{digest[:16]}"


def expected_date(details: Any) -> date | None:
    """The carrier's estimated delivery day, if it gave one."""
    raw = getattr(details, "estimated_delivery", None)
    if not raw:
        return None
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def updates(details: Any, zone: str | None, carrier: str = "") -> list[TrackingUpdate]:
    """Every event of karrio's ``TrackingDetails`` as omskit tracking updates, oldest first.
    The carrier's estimate goes with the newest event (the estimate as of now; a changed
    estimate without a new event waits for the next one). ``carrier`` is the karrio
    extension, for :data:`CODE_OVERRIDES`."""
    number = str(details.tracking_number)
    overrides = CODE_OVERRIDES.get(carrier, {})
    found: list[TrackingUpdate] = []
    for event in details.events or ():
        name = str(getattr(event, "status", None) or "unknown")
        if name in IGNORED:
            continue
        at = occurred_at(event, zone)
        if at is None:
            continue
        status = overrides.get(str(getattr(event, "code", None) or ""),
                               STATUSES.get(name, TrackingStatus.IN_TRANSIT))
        found.append(TrackingUpdate(
            tracking_number=number, status=status, occurred_at=at,
            event_id=event_id(number, event, at),
            description=" ".join(str(getattr(event, "description", None) or "").split())[:500],
            location=" ".join(str(getattr(event, "location", None) or "").split())[:200]))
    found.sort(key=lambda u: u.occurred_at)
    estimate = expected_date(details)
    if found and estimate is not None:
        newest = found[-1]
        found[-1] = TrackingUpdate(
            tracking_number=newest.tracking_number, status=newest.status,
            occurred_at=newest.occurred_at, event_id=newest.event_id,
            description=newest.description, location=newest.location,
            expected_date=estimate)
    return found


def of_number(found: Sequence[Any], tracking_number: str) -> Any | None:
    """The details karrio returned for ``tracking_number``, if any."""
    return next((d for d in found if str(d.tracking_number) == tracking_number), None)


__all__ = ["CODE_OVERRIDES", "IGNORED", "STATUSES", "event_id", "expected_date",
           "occurred_at", "of_number", "updates"]
