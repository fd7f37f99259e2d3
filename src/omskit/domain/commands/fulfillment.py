"""Fulfilment commands: release, accept/reject, pick, pack, ship, deliver
(``oms.fulfillment``). Every step is naturally idempotent: asking for the status a
fulfilment order already has changes nothing, so none takes an idempotency key."""

from __future__ import annotations

import attrs

from omskit.domain.commands.base import Command, identifier, text


@attrs.frozen(kw_only=True)
class ReleaseOrder(Command):
    """Send every new fulfilment order of the order to its location. Naturally
    idempotent."""

    name = "release_order"
    subject = "release"

    order_id: str = identifier()


@attrs.frozen(kw_only=True)
class _Step(Command):
    fulfillment_order_id: str = identifier()


@attrs.frozen(kw_only=True)
class AcceptFulfillmentOrder(_Step):
    """The location agrees to fulfil it. Naturally idempotent."""

    name = "accept_fulfillment_order"
    subject = "acceptance"


@attrs.frozen(kw_only=True)
class RejectFulfillmentOrder(_Step):
    """The location refuses: its lines are routed elsewhere. Naturally idempotent:
    rejecting a rejected fulfilment order changes nothing."""

    name = "reject_fulfillment_order"
    subject = "rejection"

    reason: str = text(default=attrs.NOTHING)


@attrs.frozen(kw_only=True)
class PickFulfillmentOrder(_Step):
    """The goods were picked from the shelves. Naturally idempotent."""

    name = "pick_fulfillment_order"
    subject = "pick"


@attrs.frozen(kw_only=True)
class PackFulfillmentOrder(_Step):
    """The goods were packed. Naturally idempotent."""

    name = "pack_fulfillment_order"
    subject = "pack"


@attrs.frozen(kw_only=True)
class ShipFulfillmentOrder(_Step):
    """Every unit of the fulfilment order not yet shipped left with ``carrier`` (an
    installed shipping carrier, else ``UnknownShippingCarrier``) under ``tracking_number``
    (a label bought outside omskit): reserved stock is consumed. Naturally idempotent:
    shipping a shipped fulfilment order changes nothing (the first shipment is kept)."""

    name = "ship_fulfillment_order"
    subject = "shipment"

    carrier: str = identifier()
    tracking_number: str = text(default=attrs.NOTHING)

    def check(self, problems: list[str]) -> None:
        if isinstance(self.tracking_number, str) and not self.tracking_number.strip():
            problems.append("tracking_number: must not be blank")


@attrs.frozen(kw_only=True)
class DeliverFulfillmentOrder(_Step):
    """The shipment reached the customer. Naturally idempotent."""

    name = "deliver_fulfillment_order"
    subject = "delivery"


__all__ = ["AcceptFulfillmentOrder", "DeliverFulfillmentOrder", "PackFulfillmentOrder",
           "PickFulfillmentOrder", "RejectFulfillmentOrder", "ReleaseOrder",
           "ShipFulfillmentOrder"]
