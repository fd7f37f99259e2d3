"""Order monitoring: the exceptions an operator must see, their thresholds, and the events a
sweep emits once per breach.

An exception is computed from what the store holds (an order past its promised date, an
order in one status longer than that status's threshold...); it has a ``key`` that names the
breach, so that a sweep raises it once however often it runs, and clears it when the order
no longer breaches. See ``docs/monitoring.md``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

import attrs

from omskit.domain.events import Event
from omskit.domain.lifecycle import OrderStatus


class ExceptionKind(enum.StrEnum):
    """What is wrong."""

    #: Not delivered, and today is past its promised date.
    LATE = "late"
    #: In one status for longer than that status's threshold.
    STUCK = "stuck"
    #: Backordered for longer than the backorder limit.
    BACKORDER_AGED = "backorder_aged"
    #: A hold is on the order (each open hold is its own exception).
    HELD = "held"
    #: An authorisation with something left to capture expires within the warning window.
    AUTHORISATION_EXPIRING = "authorisation_expiring"
    #: An outbox event a handler failed on too often: parked for an operator.
    OUTBOX_PARKED = "outbox_parked"
    #: Ready for pickup longer than the reminder threshold and not yet collected.
    PICKUP_UNCOLLECTED = "pickup_uncollected"


@attrs.frozen(kw_only=True)
class OrderException:
    """One breach an operator must see.

    ``key`` names the breach (kind, subject, and what started it): a sweep raises each key
    once and clears it when the breach ends. ``since`` is when the breach began (the
    promised date passed, the status was entered, the hold placed, the event parked).
    ``reference`` is what an action on it needs: the hold's code, the parked event's
    sequence number, the payment transaction's id (empty for the others).
    """

    key: str
    kind: ExceptionKind
    order_id: str | None
    subject: str
    since: datetime
    detail: str
    reference: str = ""


#: Default time an order may stay in each open status before it is stuck. Statuses with
#: their own exception (held, backordered) and those waiting on a carrier are not listed.
DEFAULT_STUCK_AFTER: Mapping[OrderStatus, timedelta] = {
    OrderStatus.RECEIVED: timedelta(minutes=30),
    OrderStatus.VALIDATED: timedelta(hours=1),
    OrderStatus.ALLOCATED: timedelta(hours=24),
    OrderStatus.RELEASED: timedelta(hours=48),
    OrderStatus.PARTIALLY_SHIPPED: timedelta(days=5),
    OrderStatus.SHIPPED: timedelta(days=10),
}


@attrs.frozen(kw_only=True)
class MonitorSettings:
    """``settings["monitor"]`` of ``bootstrap`` (every key optional):

    - ``stuck_after_hours``: a mapping of order status to hours (replaces the default for
      the statuses it names; ``null`` stops watching that status);
    - ``backorder_after_hours`` (default 168: a week);
    - ``hold_after_hours``: how long a hold may stay before it is an exception (default 0:
      at once);
    - ``late_after_days``: days of grace past the promised date (default 0);
    - ``authorisation_warning_hours``: how long before its expiry an open authorisation is
      flagged (default 24);
    - ``pickup_after_hours``: how long a pickup may wait ready before it is an exception
      (default 48; it is cancelled at its collection deadline).
    """

    stuck_after: Mapping[OrderStatus, timedelta] = attrs.field(
        factory=lambda: dict(DEFAULT_STUCK_AFTER))
    backorder_after: timedelta = timedelta(days=7)
    hold_after: timedelta = timedelta(0)
    late_after_days: int = 0
    authorisation_warning: timedelta = timedelta(hours=24)
    pickup_after: timedelta = timedelta(hours=48)

    def late_since(self, promised: date) -> date:
        """The last day an order promised for ``promised`` is not yet late."""
        return promised + timedelta(days=self.late_after_days)


def _hours(value: Any, path: str, problems: list[str]) -> timedelta | None:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0):
        problems.append(f"{path}: must be a number of hours ≥ 0, got {value!r}")
        return None
    return timedelta(hours=value)


def parse_monitor_settings(settings: Mapping[str, Any], problems: list[str]) -> MonitorSettings:
    """Read ``settings["monitor"]``, appending a message per problem to ``problems``."""
    section = settings.get("monitor", {})
    if not isinstance(section, Mapping):
        problems.append("monitor: must be a mapping")
        return MonitorSettings()
    known = {"stuck_after_hours", "backorder_after_hours", "hold_after_hours",
             "late_after_days", "authorisation_warning_hours", "pickup_after_hours"}
    for key in sorted(set(section) - known):
        problems.append(f"monitor.{key}: unknown setting (known: {', '.join(sorted(known))})")
    stuck = dict(DEFAULT_STUCK_AFTER)
    raw_stuck = section.get("stuck_after_hours", {})
    if not isinstance(raw_stuck, Mapping):
        problems.append("monitor.stuck_after_hours: must be a mapping of status to hours")
    else:
        for name, hours in raw_stuck.items():
            try:
                status = OrderStatus(name)
            except ValueError:
                problems.append(f"monitor.stuck_after_hours.{name}: not an order status")
                continue
            if hours is None:
                stuck.pop(status, None)
                continue
            found = _hours(hours, f"monitor.stuck_after_hours.{name}", problems)
            if found is not None:
                stuck[status] = found
    values: dict[str, Any] = {"stuck_after": stuck}
    for key, field in (("backorder_after_hours", "backorder_after"),
                       ("hold_after_hours", "hold_after"),
                       ("authorisation_warning_hours", "authorisation_warning"),
                       ("pickup_after_hours", "pickup_after")):
        if key in section:
            found = _hours(section[key], f"monitor.{key}", problems)
            if found is not None:
                values[field] = found
    if "late_after_days" in section:
        days = section["late_after_days"]
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            problems.append(f"monitor.late_after_days: must be a whole number ≥ 0, got {days!r}")
        else:
            values["late_after_days"] = days
    return MonitorSettings(**values)


@attrs.frozen(kw_only=True)
class ExceptionRaised(Event):
    """A sweep found a new breach (emitted once per breach key)."""

    event_type: ClassVar[str] = "monitor.exception_raised"
    key: str
    kind: str
    order: str | None
    subject: str
    since: datetime
    detail: str

    @property
    def order_id(self) -> str | None:
        return self.order


@attrs.frozen(kw_only=True)
class ExceptionCleared(Event):
    """A breach a sweep raised no longer holds (the order was delivered, the hold
    released, the parked event retried...)."""

    event_type: ClassVar[str] = "monitor.exception_cleared"
    key: str
    kind: str
    order: str | None
    subject: str

    @property
    def order_id(self) -> str | None:
        return self.order


#: The monitoring events the core registers.
MONITOR_EVENTS: tuple[type[Event], ...] = (ExceptionRaised, ExceptionCleared)


@attrs.frozen(kw_only=True)
class MonitorSweep:
    """What one monitoring sweep did: the breaches it raised and cleared, and how many
    exceptions are open after it."""

    raised: tuple[OrderException, ...]
    cleared: tuple[str, ...]
    open: int


__all__ = ["DEFAULT_STUCK_AFTER", "MONITOR_EVENTS", "ExceptionCleared", "ExceptionKind",
           "ExceptionRaised", "MonitorSettings", "MonitorSweep", "OrderException",
           "parse_monitor_settings"]
