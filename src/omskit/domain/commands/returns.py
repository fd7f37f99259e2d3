"""Return commands (``oms.returns``): request, approve, label, receive, inspect, refund."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from omskit.domain.checks import MAX_LINES, check_identifier, check_quantity, check_text
from omskit.domain.commands.base import (
    Command,
    code,
    idempotency_key,
    identifier,
    location_code,
    text,
)
from omskit.domain.commands.lines import NewLine
from omskit.domain.returns import Disposition, ExchangeMode, UnitDisposition

#: Heaviest return parcel a label is bought for: 1,000 kg.
MAX_RETURN_PARCEL_GRAMS = 1_000_000


@attrs.frozen(kw_only=True)
class ReturnItem:
    """Units of one order line: asked back (with a reason) or received."""

    line_id: str
    quantity: int
    reason: str = ""


def _as_tuple(value: object) -> object:
    # Converters run before checks: a malformed value is kept for check() to report.
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return tuple(value)
    return value


def check_items(value: object, field: str, problems: list[str]) -> None:
    """A non-empty list of :class:`ReturnItem`, each line once."""
    if not isinstance(value, tuple) or not value:
        problems.append(f"{field}: give at least one line")
        return
    if len(value) > MAX_LINES:
        problems.append(f"{field}: more than {MAX_LINES} lines")
    seen: set[str] = set()
    for i, item in enumerate(value[:MAX_LINES]):
        if not isinstance(item, ReturnItem):
            problems.append(f"{field}[{i}]: must be a ReturnItem")
            continue
        check_identifier(item.line_id, f"{field}[{i}].line_id", problems)
        check_quantity(item.quantity, f"{field}[{i}].quantity", problems)
        check_text(item.reason, f"{field}[{i}].reason", problems)
        if item.line_id in seen:
            problems.append(f"{field}[{i}].line_id: {item.line_id!r} is listed twice")
        seen.add(item.line_id)


def check_units(value: object, field: str, problems: list[str]) -> None:
    """A non-empty list of :class:`UnitDisposition`."""
    if not isinstance(value, tuple) or not value:
        problems.append(f"{field}: give at least one line")
        return
    for i, unit in enumerate(value[:MAX_LINES]):
        if not isinstance(unit, UnitDisposition):
            problems.append(f"{field}[{i}]: must be a UnitDisposition")
            continue
        check_identifier(unit.line_id, f"{field}[{i}].line_id", problems)
        check_quantity(unit.quantity, f"{field}[{i}].quantity", problems)
        given: object = unit.disposition
        if not isinstance(given, Disposition):
            problems.append(f"{field}[{i}].disposition: must be one of "
                            f"{', '.join(d.value for d in Disposition)}")


def _check_exchange(value: object, field: str, problems: list[str]) -> None:
    if not isinstance(value, tuple):
        problems.append(f"{field}: must be a list of NewLine")
        return
    for i, line in enumerate(value[:MAX_LINES]):
        if not isinstance(line, NewLine):
            problems.append(f"{field}[{i}]: must be a NewLine")
            continue
        check_identifier(line.sku, f"{field}[{i}].sku", problems)
        check_quantity(line.quantity, f"{field}[{i}].quantity", problems)


@attrs.frozen(kw_only=True)
class RequestReturn(Command):
    """Ask to return units of an order's shipped lines, from ``channel`` (``web``,
    ``call_center``, ``store``), to ``location`` when known (the store the customer walks
    into, which need not be the one that sold or shipped the order).

    ``exchange``: replacement lines for an exchange, placed as a new order when the return
    is approved (``exchange_mode``: shipped on receipt, or at once). Idempotent on
    ``idempotency_key``: the same key again returns the return created first."""

    name = "request_return"
    subject = "return"

    order_id: str = identifier()
    lines: tuple[ReturnItem, ...] = attrs.field(converter=_as_tuple)
    channel: str = code()
    location: str | None = location_code(optional=True, default=None)
    note: str = text()
    exchange: tuple[NewLine, ...] = attrs.field(converter=_as_tuple, default=())
    exchange_mode: ExchangeMode = ExchangeMode.ON_RECEIPT
    idempotency_key: str | None = idempotency_key()

    def check(self, problems: list[str]) -> None:
        check_items(self.lines, "lines", problems)
        _check_exchange(self.exchange, "exchange", problems)
        mode: object = self.exchange_mode
        if not isinstance(mode, ExchangeMode):
            problems.append("exchange_mode: must be one of "
                            f"{', '.join(m.value for m in ExchangeMode)}")


@attrs.frozen(kw_only=True)
class ApproveReturn(Command):
    """Approve a requested return (and place its exchange order, if any)."""

    name = "approve_return"
    subject = "return"

    return_id: str = identifier()


@attrs.frozen(kw_only=True)
class DeclineReturn(Command):
    """Decline a requested return."""

    name = "decline_return"
    subject = "return"

    return_id: str = identifier()
    reason: str = text()


@attrs.frozen(kw_only=True)
class CancelReturn(Command):
    """Cancel a return no goods arrived for (its exchange order is cancelled too)."""

    name = "cancel_return"
    subject = "return"

    return_id: str = identifier()
    reason: str = text()


@attrs.frozen(kw_only=True)
class ExpireReturn(Command):
    """End a return whose goods never came (its exchange order is cancelled too)."""

    name = "expire_return"
    subject = "return"

    return_id: str = identifier()


@attrs.frozen(kw_only=True)
class BuyReturnLabel(Command):
    """Buy a return label from ``carrier`` (which declares ``return_labels``), from the
    order's shipping address back to the return's location. Bought once per return."""

    name = "buy_return_label"
    subject = "return label"

    return_id: str = identifier()
    carrier: str = code()
    weight_grams: int = 1000

    def check(self, problems: list[str]) -> None:
        check_quantity(self.weight_grams, "weight_grams", problems)


@attrs.frozen(kw_only=True)
class ReceiveReturn(Command):
    """Units of a return arrived at ``location``. Idempotent on ``idempotency_key``: the
    same receipt again changes nothing."""

    name = "receive_return"
    subject = "return receipt"

    return_id: str = identifier()
    location: str = location_code()
    lines: tuple[ReturnItem, ...] = attrs.field(converter=_as_tuple)
    idempotency_key: str = identifier()

    def check(self, problems: list[str]) -> None:
        check_items(self.lines, "lines", problems)


@attrs.frozen(kw_only=True)
class InspectReturn(Command):
    """Give received units a disposition each (restock at the receiving location,
    quarantine, damaged, return to vendor). Idempotent on ``idempotency_key``."""

    name = "inspect_return"
    subject = "return inspection"

    return_id: str = identifier()
    units: tuple[UnitDisposition, ...] = attrs.field(converter=_as_tuple)
    idempotency_key: str = identifier()

    def check(self, problems: list[str]) -> None:
        check_units(self.units, "units", problems)


@attrs.frozen(kw_only=True)
class RefundReturn(Command):
    """Pay the refund the returns policy computes for an inspected return, through the
    payment ledger (a credit note follows). Once per return."""

    name = "refund_return"
    subject = "return refund"

    return_id: str = identifier()


@attrs.frozen(kw_only=True)
class CloseReturn(Command):
    """Close an inspected return."""

    name = "close_return"
    subject = "return"

    return_id: str = identifier()


#: Every return command.
RETURN_COMMANDS: tuple[type[Command], ...] = (
    RequestReturn, ApproveReturn, DeclineReturn, CancelReturn, ExpireReturn, BuyReturnLabel,
    ReceiveReturn, InspectReturn, RefundReturn, CloseReturn)

__all__ = ["RETURN_COMMANDS", "ApproveReturn", "BuyReturnLabel", "CancelReturn",
           "CloseReturn", "DeclineReturn", "ExpireReturn", "InspectReturn", "ReceiveReturn",
           "RefundReturn", "RequestReturn", "ReturnItem", "check_items", "check_units"]
