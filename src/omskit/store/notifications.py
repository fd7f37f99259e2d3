"""The notifications table (each message under its key, with its outcome) and customers'
preferences per sales channel."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omskit.domain.notifications import (
    Notification,
    NotificationKind,
    NotificationMessage,
    NotificationStatus,
)
from omskit.store.tables import Tables


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id, key=row.key, kind=NotificationKind(row.kind), event_type=row.event_type,
        event_id=row.event_id, order_id=row.order_id, channel=row.channel,
        notifier=row.notifier, media=row.media, recipient=row.recipient,
        language=row.language, status=NotificationStatus(row.status), attempts=row.attempts,
        subject=row.subject, created_at=row.created_at, next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at, provider_message_id=row.provider_message_id,
        last_error=row.last_error)


def message_json(message: NotificationMessage) -> str:
    """The rendered message as stored, so that a retry sends exactly it."""
    return json.dumps({"text": message.text, "html": message.html, "brand": message.brand,
                       "sender": message.sender, "data": dict(message.data)},
                      sort_keys=True, default=str)


def message_of(row: Any) -> NotificationMessage:
    """The stored message of a notifications row, ready to send again."""
    body = json.loads(row.message)
    return NotificationMessage(
        notification_id=row.id, kind=NotificationKind(row.kind), event_type=row.event_type,
        event_id=row.event_id, order_id=row.order_id, channel=row.channel,
        recipient=row.recipient, language=row.language, subject=row.subject,
        text=body["text"], html=body["html"], brand=body["brand"], sender=body["sender"],
        data=body["data"])


class NotificationRepository:
    """Stores each message once under its key, claims due retries, records outcomes."""

    def __init__(self, conn: sa.Connection, tables: Tables) -> None:
        self._conn = conn
        self._t = tables

    def claim_new(self, values: Mapping[str, Any]) -> bool:
        """Store a new message row; False (and nothing written) when its key is taken: the
        event was delivered before, or another worker is sending the same message."""
        n = self._t.notifications
        # A savepoint keeps the transaction usable on PostgreSQL when the key is taken.
        try:
            with self._conn.begin_nested():
                self._conn.execute(sa.insert(n).values(**values))
        except sa.exc.IntegrityError:
            return False
        return True

    def claim_retry(self, notification_id: str, attempts: int, lease_until: datetime) -> bool:
        """Take a due message for one more attempt: a conditional update on its attempt
        count, so of two sweepers only one sends it."""
        n = self._t.notifications
        done = self._conn.execute(
            sa.update(n).where(n.c.id == notification_id, n.c.attempts == attempts,
                               n.c.status.in_([NotificationStatus.RETRYING.value,
                                               NotificationStatus.SENDING.value]))
            .values(status=NotificationStatus.SENDING.value, attempts=attempts + 1,
                    next_attempt_at=lease_until))
        return done.rowcount == 1

    def due(self, at: datetime, limit: int) -> list[Any]:
        """Messages waiting for a retry whose time came, and messages left "sending" past
        their lease (a sender that died after claiming them)."""
        n = self._t.notifications
        return list(self._conn.execute(
            sa.select(n).where(n.c.status.in_([NotificationStatus.RETRYING.value,
                                               NotificationStatus.SENDING.value]),
                               n.c.next_attempt_at <= at)
            .order_by(n.c.next_attempt_at, n.c.id).limit(limit)))

    def record(self, notification_id: str, attempts: int, **values: Any) -> bool:
        """Record an attempt's outcome, if the attempt still holds the message."""
        n = self._t.notifications
        done = self._conn.execute(
            sa.update(n).where(n.c.id == notification_id, n.c.attempts == attempts)
            .values(**values))
        return done.rowcount == 1

    def row(self, notification_id: str) -> Any:
        """The raw row of a message (None when absent)."""
        n = self._t.notifications
        return self._conn.execute(sa.select(n).where(n.c.id == notification_id)).first()

    def get(self, notification_id: str) -> Notification | None:
        """One message's record."""
        row = self.row(notification_id)
        return None if row is None else _notification(row)

    def list(self, *, order_id: str | None = None, status: NotificationStatus | None = None,
             limit: int = 100) -> list[Notification]:
        """Messages, newest first, narrowed by order and status."""
        n = self._t.notifications
        query = sa.select(n)
        if order_id is not None:
            query = query.where(n.c.order_id == order_id)
        if status is not None:
            query = query.where(n.c.status == status.value)
        rows = self._conn.execute(query.order_by(n.c.created_at.desc(), n.c.id).limit(limit))
        return [_notification(r) for r in rows]

    # -- preferences ------------------------------------------------------------------------

    def preference(self, customer_id: str, channel: str) -> str | None:
        """The medium the customer chose for the channel (None: never chose)."""
        p = self._t.notification_preferences
        return self._conn.execute(sa.select(p.c.media).where(
            p.c.customer_id == customer_id, p.c.channel == channel)).scalar_one_or_none()

    def preferences(self, customer_id: str) -> dict[str, str]:
        """Every channel's choice of the customer."""
        p = self._t.notification_preferences
        rows = self._conn.execute(sa.select(p.c.channel, p.c.media).where(
            p.c.customer_id == customer_id).order_by(p.c.channel))
        return {row.channel: row.media for row in rows}

    def set_preference(self, customer_id: str, channel: str, media: str,
                       at: datetime) -> None:
        """Store the customer's choice for the channel (replacing the previous one)."""
        p = self._t.notification_preferences
        done = self._conn.execute(sa.update(p).where(
            p.c.customer_id == customer_id, p.c.channel == channel)
            .values(media=media, updated_at=at))
        if done.rowcount == 0:
            try:
                with self._conn.begin_nested():
                    self._conn.execute(sa.insert(p).values(
                        customer_id=customer_id, channel=channel, media=media,
                        updated_at=at))
            except sa.exc.IntegrityError:  # a concurrent first choice: last write wins
                self._conn.execute(sa.update(p).where(
                    p.c.customer_id == customer_id, p.c.channel == channel)
                    .values(media=media, updated_at=at))
