"""Inventory commands: locations, stock movements and supply (``oms.inventory``)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from omskit.domain.checks import (
    MAX_GROUPS,
    check_address,
    check_code,
    check_location_code,
    check_quantity,
    check_text,
    encodes,
    typed,
)
from omskit.domain.commands.base import (
    Command,
    checked,
    idempotency_key,
    identifier,
    location_code,
    moment,
    quantity,
    text,
)
from omskit.domain.inventory import Capability, Location, LocationKind, SupplyKind
from omskit.domain.values import Address, Coordinates, check_decimal

#: Highest handling cost per unit of a location (a routing cost, at most 6 decimals).
MAX_HANDLING_COST = Decimal(1_000_000)
#: Longest IANA time-zone name (the column's width; the longest real one has 32).
MAX_TIMEZONE_LENGTH = 64


def check_delta(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a non-zero whole number of bounded size."""
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        problems.append(f"{field}: must be a non-zero whole number, not {value!r}")
    else:
        check_quantity(abs(value), field, problems)


def check_supply_kind(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a :class:`SupplyKind`."""
    if not isinstance(value, SupplyKind):
        problems.append(f"{field}: must be one of {', '.join(k.value for k in SupplyKind)}")


def check_location(location: object, problems: list[str]) -> None:
    """Append a problem for each bad setting of ``location`` (named without a prefix:
    ``code``, ``timezone``...): every field is checked, typed or not, since a host may
    build a :class:`Location` from untrusted data."""
    if not isinstance(location, Location):
        problems.append(f"location: must be a Location, not {type(location).__name__}")
        return
    check_location_code(location.code, "code", problems)
    check_text(location.name, "name", problems)
    if location.daily_capacity is not None:
        check_quantity(location.daily_capacity, "daily_capacity", problems, minimum=0)
    check_decimal(location.handling_cost, "handling_cost", problems,
                  maximum=MAX_HANDLING_COST, places=6)
    coordinates: object = location.coordinates
    if coordinates is not None:
        typed(coordinates, Coordinates, "coordinates", problems)
    if location.address is not None and typed(location.address, Address, "address", problems):
        check_address(location.address, "address", problems)
    kind: object = location.kind
    if not isinstance(kind, LocationKind):
        problems.append(f"kind: {kind!r} is not a location kind")
    capabilities: object = location.capabilities
    if not isinstance(capabilities, frozenset | set) or not all(
            isinstance(c, Capability) for c in capabilities):
        problems.append("capabilities: must be a set of Capability values")
    groups: object = location.groups
    if not isinstance(groups, frozenset | set):
        problems.append("groups: must be a set of group codes")
    elif len(groups) > MAX_GROUPS:
        problems.append(f"groups: more than {MAX_GROUPS} groups")
    else:
        for group in sorted(groups, key=repr):
            check_code(group, "groups[]", problems)
    active: object = location.active
    if not isinstance(active, bool):
        problems.append(f"active: must be true or false, not {active!r}")
    if (isinstance(location.processing_days, bool)
            or not isinstance(location.processing_days, int)
            or not 0 <= location.processing_days <= 60):
        problems.append("processing_days: must be a whole number of days from 0 to 60")
    if location.cutoff is not None and (not isinstance(location.cutoff, time)
                                        or location.cutoff.second or location.cutoff.tzinfo):
        problems.append("cutoff: must be a local time in whole minutes, without a zone")
    timezone: object = location.timezone
    if not isinstance(timezone, str):
        problems.append(f"timezone: must be a string, not {timezone!r}")
    elif len(timezone) > MAX_TIMEZONE_LENGTH or not encodes(timezone):
        problems.append(f"timezone: {timezone!r} is not an IANA time zone")
    else:
        try:
            ZoneInfo(timezone)
        except (ValueError, ZoneInfoNotFoundError):
            problems.append(f"timezone: {timezone!r} is not an IANA time zone")


@attrs.frozen(kw_only=True)
class SaveLocation(Command):
    """Create a location or replace its settings (stock rows are kept). Naturally
    idempotent: saving the same settings again leaves the same location."""

    name = "save_location"
    subject = "location"

    location: Location

    def check(self, problems: list[str]) -> None:
        check_location(self.location, problems)


@attrs.frozen(kw_only=True)
class ReceiveStock(Command):
    """Add received goods to on-hand stock (creates the stock row for a new SKU)."""

    name = "receive_stock"
    subject = "receipt"

    location: str = location_code()
    sku: str = identifier()
    quantity: int = quantity()
    reference: str = text()
    idempotency_key: str | None = idempotency_key()


@attrs.frozen(kw_only=True)
class AdjustStock(Command):
    """Correct on-hand stock by ``delta`` (a count, damage, shrinkage)."""

    name = "adjust_stock"
    subject = "adjustment"

    location: str = location_code()
    sku: str = identifier()
    delta: int = checked(check_delta)
    reason: str = text()
    idempotency_key: str | None = idempotency_key()


@attrs.frozen(kw_only=True)
class SetSafetyStock(Command):
    """Keep ``quantity`` units of ``sku`` at ``location`` back from promising. Naturally
    idempotent: it sets a value."""

    name = "set_safety_stock"
    subject = "safety stock"

    location: str = location_code()
    sku: str = identifier()
    quantity: int = quantity(minimum=0)


@attrs.frozen(kw_only=True)
class TransferStock(Command):
    """Move unreserved stock between locations: at once, or in transit until ``eta``."""

    name = "transfer_stock"
    subject = "transfer"

    sku: str = identifier()
    from_location: str = location_code()
    to_location: str = location_code()
    quantity: int = quantity()
    eta: datetime | None = moment(optional=True, default=None)  # noqa: RUF009
    reference: str = text()
    idempotency_key: str | None = idempotency_key()

    def check(self, problems: list[str]) -> None:
        if not problems and self.from_location == self.to_location:
            problems.append("to_location: must differ from from_location")


@attrs.frozen(kw_only=True)
class RegisterSupply(Command):
    """Record stock expected at ``location`` by ``eta`` (a purchase order, production).

    With an ``idempotency_key``, a repeat at the same location and SKU registers nothing and
    returns the first supply (its id follows from the key)."""

    name = "register_supply"
    subject = "supply"

    location: str = location_code()
    sku: str = identifier()
    quantity: int = quantity()
    eta: datetime = moment()  # noqa: RUF009
    kind: SupplyKind = checked(check_supply_kind, default=SupplyKind.PURCHASE_ORDER)  # noqa: RUF009
    reference: str = text()
    idempotency_key: str | None = idempotency_key()


@attrs.frozen(kw_only=True)
class ReceiveSupply(Command):
    """Expected stock arrived: it becomes on-hand. Naturally idempotent: receiving it
    again changes nothing."""

    name = "receive_supply"
    subject = "supply receipt"

    supply_id: str = identifier()


__all__ = ["MAX_HANDLING_COST", "MAX_TIMEZONE_LENGTH", "AdjustStock", "ReceiveStock",
           "ReceiveSupply", "RegisterSupply", "SaveLocation", "SetSafetyStock",
           "TransferStock", "check_delta", "check_location", "check_supply_kind"]
