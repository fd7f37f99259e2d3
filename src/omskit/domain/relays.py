"""What an event relay publishes, and what a relay run did (pure values)."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen(kw_only=True)
class RelayMessage:
    """One outbox event as a relay publishes it to its broker.

    ``message_id`` is the event's id: the same on every publish of the event, so a broker
    (NATS JetStream's ``Nats-Msg-Id``) or a consumer (AMQP's ``message_id``) drops a
    re-published duplicate. ``body`` is the event as JSON (UTF-8), exactly as stored.
    """

    message_id: str
    #: The event's position in the outbox (write order).
    seq: int
    #: The stable event type string (``order.placed``): relays route by it.
    event_type: str
    #: The order (aggregate) the event belongs to; its events are published in ``seq``
    #: order. ``None`` for events of no order (stock, locations).
    order_id: str | None
    occurred_at: datetime
    body: bytes

    def headers(self) -> dict[str, str]:
        """Headers a relay attaches besides its broker's message id."""
        found = {"omskit-event-type": self.event_type, "omskit-seq": str(self.seq),
                 "omskit-occurred-at": self.occurred_at.isoformat()}
        if self.order_id is not None:
            found["omskit-order-id"] = self.order_id
        return found


@attrs.frozen(kw_only=True)
class RelayRun:
    """What one ``oms.outbox.relay(name)`` batch did."""

    relay: str
    #: Events claimed for this batch (0: nothing was waiting for this relay).
    claimed: int
    #: Events the broker confirmed, now recorded as delivered to this relay.
    delivered: int
    #: Events published but not confirmed (counted as failed attempts, re-published later).
    unconfirmed: int = 0
    #: Events the batch did not publish because an earlier event of their order was not
    #: confirmed (given back, re-published after it).
    held_back: int = 0
    #: Events parked in this batch after too many unconfirmed publishes.
    parked: int = 0
    #: Why the whole batch failed (broker down): nothing was marked delivered.
    error: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the broker refused or missed anything in this batch."""
        return self.error is not None or self.unconfirmed > 0


@attrs.frozen(kw_only=True)
class RelayStatus:
    """Where one relay stands."""

    relay: str
    #: Outbox events not yet confirmed by this relay's broker (parked ones not counted).
    pending: int
    #: Events parked for this relay after too many unconfirmed publishes.
    parked: int
    #: Batches in a row that failed whole, and the last such error.
    failures: int = 0
    last_error: str | None = None
    last_failure_at: datetime | None = None
    last_delivery_at: datetime | None = None
