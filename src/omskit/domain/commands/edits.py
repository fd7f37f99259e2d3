"""Order edit commands: begin, stage, commit, abandon, or submit a whole edit at once
(``oms.edits``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from omskit.domain.checks import (
    check_address,
    check_identifier,
    check_location_code,
    check_quantity,
    typed,
)
from omskit.domain.commands.base import (
    Command,
    code,
    idempotency_key,
    identifier,
    moment,
    text,
)
from omskit.domain.commands.lines import NewLine
from omskit.domain.values import MAX_UNIT_PRICE, Address, DeliveryKind, DeliveryMethod


def _kept(value: object) -> object:
    # A list becomes a tuple; anything else is kept for check() to report in its words.
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return tuple(value)
    return value


@attrs.frozen(kw_only=True)
class _Changes(Command):
    """The changes an edit stages (shared by :class:`StageOrderEdit` and
    :class:`EditOrder`)."""

    #: ``{line_id: units}``: the line's new quantity (its units not cancelled); 0 removes it.
    quantities: Mapping[str, int] = attrs.field(factory=dict)
    #: New lines (a missing ``line_id`` is given the next free number).
    add_lines: tuple[NewLine, ...] = attrs.field(default=(), converter=_kept)
    #: Lines to remove (the same as quantity 0).
    remove_lines: tuple[str, ...] = attrs.field(default=(), converter=_kept)
    #: The new shipping address.
    shipping_address: Address | None = None
    #: The new delivery method: ship, or pick up at a location.
    delivery: DeliveryMethod | None = None

    def check(self, problems: list[str]) -> None:
        quantities: object = self.quantities
        if not isinstance(quantities, Mapping):
            problems.append("quantities: give {line_id: units}")
        else:
            for line_id, units in quantities.items():
                check_identifier(line_id, "quantities: line id", problems)
                check_quantity(units, f"quantities[{line_id!r}]", problems, minimum=0)
        lines: object = self.add_lines
        if not isinstance(lines, tuple):
            problems.append(f"add_lines: must be a list, not {type(lines).__name__}")
        else:
            seen: set[str] = set()
            for i, line in enumerate(lines):
                if not typed(line, NewLine, f"add_lines[{i}]", problems):
                    continue
                check_identifier(line.sku, f"add_lines[{i}].sku", problems)
                check_quantity(line.quantity, f"add_lines[{i}].quantity", problems)
                if not 0 <= line.unit_price <= MAX_UNIT_PRICE:
                    problems.append(f"add_lines[{i}].unit_price: {line.unit_price} is "
                                    f"outside 0..{MAX_UNIT_PRICE}")
                if line.line_id is not None:
                    check_identifier(line.line_id, f"add_lines[{i}].line_id", problems)
                    if line.line_id in seen:
                        problems.append(f"add_lines[{i}].line_id: {line.line_id!r} is "
                                        "used twice")
                    seen.add(line.line_id)
        removed: object = self.remove_lines
        if not isinstance(removed, tuple):
            problems.append(f"remove_lines: must be a list, not {type(removed).__name__}")
        else:
            for i, line_id in enumerate(removed):
                check_identifier(line_id, f"remove_lines[{i}]", problems)
                if isinstance(quantities, Mapping) and line_id in quantities:
                    problems.append(f"remove_lines[{i}]: line {line_id!r} also has a "
                                    "quantity")
        if self.shipping_address is not None and typed(
                self.shipping_address, Address, "shipping_address", problems):
            check_address(self.shipping_address, "shipping_address", problems)
        if self.delivery is not None and typed(self.delivery, DeliveryMethod, "delivery",
                                               problems):
            if self.delivery.kind is DeliveryKind.PICKUP:
                if self.delivery.pickup_location is None:
                    problems.append("delivery.pickup_location: required to pick up")
                else:
                    check_location_code(self.delivery.pickup_location,
                                        "delivery.pickup_location", problems)
            elif self.delivery.pickup_location is not None:
                problems.append("delivery.pickup_location: only for pickup")
        if not problems and not (self.quantities or self.add_lines or self.remove_lines
                                 or self.shipping_address or self.delivery):
            problems.append("changes: stage at least one change (quantities, add_lines, "
                            "remove_lines, shipping_address or delivery)")

    @property
    def staged_quantities(self) -> dict[str, int]:
        """``quantities`` with the removed lines at 0."""
        return {**dict(self.quantities), **dict.fromkeys(self.remove_lines, 0)}


@attrs.frozen(kw_only=True)
class BeginOrderEdit(Command):
    """Begin an edit of the order at its current version, from ``channel`` by ``actor``.
    Not naturally idempotent (each call begins a new edit): retry with an
    ``idempotency_key``, which names the same edit again."""

    name = "begin_order_edit"
    subject = "order edit"

    order_id: str = identifier()
    #: The channel the edit comes from (it may differ from the order's).
    channel: str = code()
    #: Who asks for it: a customer id, an agent's name.
    actor: str = text()
    idempotency_key: str | None = idempotency_key()


@attrs.frozen(kw_only=True)
class StageOrderEdit(_Changes):
    """Stage changes on an open edit; later changes of a line replace earlier ones. Not
    naturally idempotent for added lines: retry with an ``idempotency_key``."""

    name = "stage_order_edit"
    subject = "order edit"

    edit_id: str = identifier()
    idempotency_key: str | None = idempotency_key()


@attrs.frozen(kw_only=True)
class CommitOrderEdit(Command):
    """Apply the edit's staged changes in one transaction, if the order has not moved since
    the edit was begun. Naturally idempotent: committing a committed edit returns it."""

    name = "commit_order_edit"
    subject = "order edit"

    edit_id: str = identifier()


@attrs.frozen(kw_only=True)
class AbandonOrderEdit(Command):
    """Give up an open edit; it changes nothing. Naturally idempotent."""

    name = "abandon_order_edit"
    subject = "order edit"

    edit_id: str = identifier()


@attrs.frozen(kw_only=True)
class ExpireOrderEdits(Command):
    """Mark the open edits begun more than ``EDIT_TTL`` ago expired (a sweeper's job).
    Naturally idempotent."""

    name = "expire_order_edits"
    subject = "order edit expiry"

    #: The time to expire at (None: the clock).
    now: datetime | None = moment(optional=True, default=None)  # noqa: RUF009


@attrs.frozen(kw_only=True)
class EditOrder(_Changes):
    """A whole edit in one request (what a channel connector submits): begin, stage and
    commit at once. The order is named by its id, or by the channel it was placed on and
    that channel's id of it. Idempotent on ``idempotency_key`` per order: submitted again,
    it commits once; the key with other changes is ``IdempotencyKeyConflict``."""

    name = "edit_order"
    subject = "order edit"

    #: The channel the edit comes from (``mobile`` editing a ``web`` order).
    channel: str = code()
    idempotency_key: str = identifier()
    order_id: str | None = identifier(optional=True, default=None)
    #: The channel the order was placed on, with :attr:`order_external_id`.
    order_channel: str | None = code(optional=True, default=None)
    order_external_id: str | None = identifier(optional=True, default=None)
    actor: str = text()
    #: The order version the caller saw (None: whatever it is now); another is a conflict.
    expected_version: int | None = None

    def check(self, problems: list[str]) -> None:
        super().check(problems)
        by_channel = self.order_channel is not None or self.order_external_id is not None
        if self.order_id is None and not by_channel:
            problems.append("order_id: name the order by its id, or by order_channel and "
                            "order_external_id")
        elif self.order_id is not None and by_channel:
            problems.append("order_id: give the id or order_channel and order_external_id, "
                            "not both")
        elif by_channel and (self.order_channel is None or self.order_external_id is None):
            problems.append("order_channel: order_channel and order_external_id go together")
        version: object = self.expected_version
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                    or version < 0):
            problems.append(f"expected_version: must be a whole number, not {version!r}")


__all__ = ["AbandonOrderEdit", "BeginOrderEdit", "CommitOrderEdit", "EditOrder",
           "ExpireOrderEdits", "StageOrderEdit"]
