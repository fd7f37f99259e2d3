"""Dates a location can meet: when a parcel leaves it and when it arrives.

Days are calendar days in the location's time zone; an order released after the location's
cut-off leaves a day later, and processing takes ``processing_days`` more. Working calendars
(weekends, holidays) are not modelled.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from omskit.domain.inventory import Location


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def ship_date(location: Location, ready_at: datetime) -> date:
    """The day a parcel whose goods are ready at ``ready_at`` leaves ``location``."""
    local = ready_at.astimezone(_zone(location.timezone))
    day = local.date()
    if location.cutoff is not None and local.time() >= location.cutoff:
        day += timedelta(days=1)
    return day + timedelta(days=location.processing_days)


def delivery_date(location: Location, ready_at: datetime, transit_days: int) -> date:
    """The day a parcel ready at ``ready_at`` reaches the customer after ``transit_days``."""
    return ship_date(location, ready_at) + timedelta(days=transit_days)
