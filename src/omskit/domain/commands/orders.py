"""Order commands after placement: holds, cancellations, closing (``oms.orders``)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from omskit.domain.checks import check_identifier, check_quantity
from omskit.domain.commands.base import Command, idempotency_key, identifier, text


@attrs.frozen(kw_only=True)
class PlaceHold(Command):
    """Put a hold on the order (fraud review, payment check...). Naturally idempotent per
    code: holding again with the same code changes nothing."""

    name = "place_hold"
    subject = "hold"

    order_id: str = identifier()
    code: str = identifier()
    reason: str = text()


@attrs.frozen(kw_only=True)
class ReleaseHold(Command):
    """Release a hold; when none is left, whatever the order still lacks is routed now.
    Naturally idempotent: releasing a hold the order no longer has changes nothing."""

    name = "release_hold"
    subject = "hold"

    order_id: str = identifier()
    code: str = identifier()


@attrs.frozen(kw_only=True)
class CancelOrder(Command):
    """Cancel the order and release every reservation. Naturally idempotent: cancelling
    twice changes nothing."""

    name = "cancel_order"
    subject = "cancellation"

    order_id: str = identifier()
    reason: str = text()


def _wanted(quantities: object, problems: list[str] | None = None) -> dict[str, int]:
    """The well-formed ``{line_id: units}`` of ``quantities``; problems for the others."""
    found: list[str] = [] if problems is None else problems
    wanted: dict[str, int] = {}
    if not isinstance(quantities, Mapping) or not quantities:
        found.append("quantities: give {line_id: units} for at least one line")
        return wanted
    for line_id, units in quantities.items():
        before = len(found)
        check_identifier(line_id, "quantities: line id", found)
        check_quantity(units, f"quantities[{line_id!r}]", found)
        if len(found) == before:
            wanted[line_id] = units
    return wanted


@attrs.frozen(kw_only=True)
class CancelLines(Command):
    """Cancel ``quantities`` (``{line_id: units}``) of the order's lines. Not naturally
    idempotent (cancelling 1 unit twice cancels 2): retry with an ``idempotency_key``."""

    name = "cancel_lines"
    subject = "line cancellation"

    order_id: str = identifier()
    quantities: Mapping[str, int]
    reason: str = text()
    idempotency_key: str | None = idempotency_key()

    def check(self, problems: list[str]) -> None:
        _wanted(self.quantities, problems)

    @property
    def wanted(self) -> dict[str, int]:
        """``quantities`` as a plain dict."""
        return _wanted(self.quantities)


@attrs.frozen(kw_only=True)
class ShortClose(Command):
    """Close the order short: cancel every unit not yet shipped, picked or packed.
    Naturally idempotent: closing again changes nothing."""

    name = "short_close"
    subject = "short close"

    order_id: str = identifier()
    reason: str = text()


@attrs.frozen(kw_only=True)
class CompleteOrder(Command):
    """Close a delivered order. Naturally idempotent: completing twice changes nothing."""

    name = "complete_order"
    subject = "completion"

    order_id: str = identifier()


@attrs.frozen(kw_only=True)
class AllocateBackorders(Command):
    """Try again to source the order's backordered quantities. Naturally idempotent:
    what is already sourced is not sourced again."""

    name = "allocate_backorders"
    subject = "allocation"

    order_id: str = identifier()


__all__ = ["AllocateBackorders", "CancelLines", "CancelOrder", "CompleteOrder", "PlaceHold",
           "ReleaseHold", "ShortClose"]
