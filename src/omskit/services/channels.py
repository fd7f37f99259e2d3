"""Orders arriving from sales channels through connector plugins (``oms.channels``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omskit.domain.channels import (
    ChannelStatus,
    ChannelStatusUpdate,
    channel_claims,
    next_attempt,
    owns_channel,
)
from omskit.domain.checks import MAX_TEXT_LENGTH, check_code, check_identifier, refuse
from omskit.domain.commands import EditOrder, PlaceOrder
from omskit.domain.commands.channels import PushChannelStatus, RecordChannelStatus
from omskit.domain.edits import OrderEdit
from omskit.domain.errors import ChannelNotOwned, EditsNotSupported, InvalidCommand, PayloadError
from omskit.domain.events import new_id
from omskit.domain.order import Order
from omskit.ports import ChannelConnector
from omskit.registries import Registry
from omskit.services.database import Database
from omskit.services.edits import OrderEditService
from omskit.services.orders import OrderService


class ChannelService:
    """Parses channel payloads with the contributed connectors and places the orders; keeps
    and pushes back the status of orders to the channels they came from."""

    def __init__(self, *, channels: Registry[ChannelConnector], orders: OrderService,
                 edits: OrderEditService, db: Database,
                 clock: Callable[[], datetime]) -> None:
        self._channels = channels
        self._orders = orders
        self._edits = edits
        self._db = db
        self._clock = clock

    def codes(self) -> list[str]:
        """Codes of the installed channel connectors."""
        return list(self._channels)

    def namespace(self, channel: str) -> frozenset[str]:
        """The names whose order channels (each name and its ``name:…`` sub-channels) the
        connector ``channel`` owns: its code and the ``channels`` it declares."""
        problems: list[str] = []
        check_identifier(channel, "channel", problems)
        refuse(problems, "channel")
        return channel_claims(self._channels.get(channel))

    def owner(self, order_channel: str) -> str | None:
        """The code of the connector whose namespace holds the order channel
        ``order_channel``, or ``None`` (an order placed by the host itself)."""
        problems: list[str] = []
        check_code(order_channel, "order_channel", problems)
        refuse(problems, "channel")
        for code in self._channels:
            if owns_channel(self._channels.get(code), order_channel):
                return code
        return None

    def parse(self, channel: str, payload: Mapping[str, Any]) -> PlaceOrder:
        """The command a connector makes of ``payload``; :class:`PayloadError` if malformed,
        :class:`ChannelNotOwned` if the connector placed it outside its namespace."""
        problems: list[str] = []
        check_identifier(channel, "channel", problems)
        refuse(problems, "channel payload")
        connector = self._channels.get(channel)
        if not isinstance(payload, Mapping):
            raise PayloadError([f"payload: expected a JSON object, got {type(payload).__name__}"],
                               channel=channel)
        try:
            command = connector.parse(payload)
        except PayloadError:
            raise
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=channel) from exc
        # The order channel is the idempotency space of external ids: a connector keeps to
        # its own, so two connectors never answer each other's re-deliveries.
        if not owns_channel(connector, command.channel):
            raise ChannelNotOwned(channel, command.channel)
        return command

    def receive(self, channel: str, payload: Mapping[str, Any], *,
                delivery_id: str | None = None) -> Order:
        """Parse and place an order; a re-delivered payload returns the existing order.

        ``delivery_id``: the channel's id of this webhook delivery. One seen before returns
        its order without parsing anything (a marketplace retrying a delivery it thinks
        failed); a new one is remembered with the order. A connector that pushes statuses
        gets an ``accepted`` update for the order (once).
        """
        if delivery_id is not None:
            problems: list[str] = []
            check_identifier(delivery_id, "delivery_id", problems)
            refuse(problems, "channel delivery")
            seen = self._delivered(channel, delivery_id)
            if seen is not None:
                return self._orders.get(seen)
        order = self._orders.place(self.parse(channel, payload))
        if delivery_id is not None:
            self._remember_delivery(channel, delivery_id, order.id)
        # After the placement's commit: a crash in between is healed by the channel's
        # re-delivery, which finds the order and records this again (once per key).
        if self._pusher(order.channel) is not None:
            self._record_status(RecordChannelStatus(order_id=order.id,
                                                    status=ChannelStatus.ACCEPTED,
                                                    key=f"{order.id}:accepted"))
        return order

    def _delivered(self, channel: str, delivery_id: str) -> str | None:
        t = self._db.tables.channel_deliveries
        with self._db.uow() as uow:
            found = uow.connection.execute(sa.select(t.c.order_id).where(
                t.c.connector == channel, t.c.delivery_id == delivery_id)).scalar()
        return None if found is None else str(found)

    def _remember_delivery(self, channel: str, delivery_id: str, order_id: str) -> None:
        t = self._db.tables.channel_deliveries

        def attempt() -> None:
            with self._db.uow() as uow:
                uow.backend.insert_missing(
                    uow.connection, t, {"connector": channel, "delivery_id": delivery_id,
                                        "order_id": order_id, "received_at": self._clock()},
                    [t.c.connector, t.c.delivery_id])
                uow.commit()

        self._db.retrying(attempt)

    # -- status pushed back ----------------------------------------------------------------------

    def record_status(self, order_id: str, status: ChannelStatus | str, *, key: str,
                      details: Mapping[str, str] | None = None) -> ChannelStatusUpdate | None:
        """Keep ``status`` of the order to push back to its channel, once per ``key``; the
        update (the one kept before, for a key seen), or ``None`` when the order's channel
        belongs to no connector that pushes statuses. ``OrderNotFound`` for an unknown id."""
        return self._record_status(RecordChannelStatus(order_id=order_id, status=status,
                                                       key=key,
                                                       details={} if details is None
                                                       else details))

    def _pusher(self, order_channel: str) -> str | None:
        owner = self.owner(order_channel)
        if owner is None or not callable(getattr(self._channels.get(owner), "push_status",
                                                 None)):
            return None
        return owner

    def _record_status(self, c: RecordChannelStatus) -> ChannelStatusUpdate | None:
        t = self._db.tables.channel_status_updates

        def attempt() -> ChannelStatusUpdate | None:
            with self._db.uow() as uow:
                order = uow.orders.get(c.order_id)
                connector = self._pusher(order.channel)
                if connector is None:
                    return None
                at = self._clock()
                uow.backend.insert_missing(uow.connection, t, {
                    "id": new_id(), "connector": connector, "order_id": order.id,
                    "channel": order.channel, "external_id": order.external_id,
                    "status": ChannelStatus(c.status).value, "details": dict(c.details),
                    "key": c.key, "created_at": at, "attempts": 0, "next_attempt_at": at,
                    "sent_at": None, "last_error": ""}, [t.c.key])
                row = uow.connection.execute(sa.select(t).where(t.c.key == c.key)).one()
                uow.commit()
                return _update(row._mapping)

        return self._db.retrying(attempt)

    def status_updates(self, order_id: str) -> list[ChannelStatusUpdate]:
        """The order's status updates for its channel, oldest first (sent or not)."""
        problems: list[str] = []
        check_identifier(order_id, "order_id", problems)
        refuse(problems, "order")
        t = self._db.tables.channel_status_updates
        with self._db.uow() as uow:
            uow.orders.get(order_id)  # OrderNotFound for an unknown id
            rows = uow.connection.execute(sa.select(t).where(t.c.order_id == order_id)
                                          .order_by(t.c.created_at, t.c.id)).all()
        return [_update(r._mapping) for r in rows]

    def push(self, now: datetime | None = None, *, limit: int = 100) -> int:
        """Send the status updates due at ``now`` (default: the clock), at most ``limit``,
        each through its connector's ``push_status`` outside any transaction. A failure
        is recorded on the update (its error, one more attempt) and retried after a
        back-off (``PUSH_BACKOFF``). Returns how many were sent. Run it periodically."""
        return self._push(PushChannelStatus(now=now, limit=limit))

    def _push(self, c: PushChannelStatus) -> int:
        t = self._db.tables.channel_status_updates
        due_at = c.now or self._clock()
        with self._db.uow() as uow:
            rows = uow.connection.execute(
                sa.select(t).where(t.c.sent_at.is_(None), t.c.next_attempt_at <= due_at)
                .order_by(t.c.next_attempt_at, t.c.created_at, t.c.id).limit(c.limit)).all()
        sent = 0
        for row in rows:
            update = _update(row._mapping)
            connector = self._channels.get(update.connector) \
                if update.connector in self._channels else None
            push = getattr(connector, "push_status", None)
            error = ""
            if push is None:
                error = f"connector {update.connector!r} is not installed or pushes nothing"
            else:
                try:
                    push(update)
                except Exception as exc:  # any failure of the channel: kept, retried later
                    error = f"{type(exc).__name__}: {exc}"[:MAX_TEXT_LENGTH]
            sent += self._settle_push(update, error)
        return sent

    def _settle_push(self, update: ChannelStatusUpdate, error: str) -> int:
        """Mark the update sent, or record the failed attempt; 1 if this call sent it."""
        t = self._db.tables.channel_status_updates

        def attempt() -> int:
            with self._db.uow() as uow:
                at = self._clock()
                # Only while unsent: a concurrent pusher that got there first wins.
                values: dict[str, Any] = (
                    {"sent_at": at, "attempts": t.c.attempts + 1, "last_error": ""}
                    if not error else
                    {"attempts": t.c.attempts + 1, "last_error": error,
                     "next_attempt_at": next_attempt(update.attempts + 1, at)})
                done = uow.connection.execute(
                    sa.update(t).where(t.c.id == update.id, t.c.sent_at.is_(None))
                    .values(**values)).rowcount
                uow.commit()
                return 1 if done and not error else 0

        return self._db.retrying(attempt)

    def parse_edit(self, channel: str, payload: Mapping[str, Any]) -> EditOrder:
        """The order edit a connector makes of ``payload`` (its optional ``parse_edit``):
        :class:`EditsNotSupported` if it has none, :class:`PayloadError` if malformed."""
        problems: list[str] = []
        check_identifier(channel, "channel", problems)
        refuse(problems, "channel payload")
        connector = self._channels.get(channel)
        parse_edit = getattr(connector, "parse_edit", None)
        if parse_edit is None:
            raise EditsNotSupported(channel)
        if not isinstance(payload, Mapping):
            raise PayloadError([f"payload: expected a JSON object, got {type(payload).__name__}"],
                               channel=channel)
        try:
            command = parse_edit(payload)
        except PayloadError:
            raise
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=channel) from exc
        if not isinstance(command, EditOrder):
            raise PayloadError([f"payload: the connector made a {type(command).__name__}, "
                                "not an EditOrder"], channel=channel)
        # The edit's idempotency keys live in the channel it comes from: keep it in ours.
        if not owns_channel(connector, command.channel):
            raise ChannelNotOwned(channel, command.channel)
        return command

    def receive_edit(self, channel: str, payload: Mapping[str, Any]) -> OrderEdit:
        """Parse and apply an order edit (begun, staged and committed at once); a
        re-delivered payload (the same idempotency key) commits once and returns the edit."""
        return self._edits.submit(self.parse_edit(channel, payload))


def _update(row: Mapping[Any, Any]) -> ChannelStatusUpdate:
    return ChannelStatusUpdate(
        id=row["id"], connector=row["connector"], order_id=row["order_id"],
        channel=row["channel"], external_id=row["external_id"],
        status=ChannelStatus(row["status"]), details=dict(row["details"] or {}),
        key=row["key"], created_at=row["created_at"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], sent_at=row["sent_at"],
        last_error=row["last_error"])
