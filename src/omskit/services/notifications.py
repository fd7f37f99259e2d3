"""``oms.notifications``: customer messages for the events of their orders, sent once per
event and recipient through notifier plugins.

The core's handler of each customer-facing event calls :meth:`NotificationService.notify`:
it renders the message for every notifier that should receive it, stores it under its key
(event, kind, notifier, recipient) in a transaction of its own, and only the caller that
stored it sends it, after the commit and outside any transaction. A second delivery of
the event, or a worker racing this one, finds the key taken and sends nothing. The outcome
is recorded; a retryable failure is sent again by the sweep's ``notifications`` job with
doubling backoff. A template error or a failed send is recorded on the message and changes
nothing else: the event's delivery still succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from omskit.domain.commands.notifications import RetryNotification, SetNotificationPreference
from omskit.domain.errors import (
    InvalidSettings,
    NotificationNotFound,
    NotificationTemplateError,
    NotifierError,
    OrderNotFound,
)
from omskit.domain.events import (
    Event,
    OrderCancelled,
    OrderExpectedDateChanged,
    OrderPlaced,
    OrderStatusChanged,
    ParcelTracked,
    ShipmentDelivered,
    ShipmentShipped,
    new_id,
)
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.notifications import (
    LANGUAGES,
    NO_MESSAGES,
    SEND_LEASE,
    Notification,
    NotificationKind,
    NotificationMessage,
    NotificationSettings,
    NotificationStatus,
    backoff,
    notification_key,
    parse_notification_settings,
)
from omskit.domain.order import Order
from omskit.domain.payments import PaymentAction, PaymentOutcome, PaymentRecorded
from omskit.domain.shipping import TrackingStatus
from omskit.notifications import MessageRenderer
from omskit.ports import Notifier
from omskit.registries import Registry
from omskit.services.database import Database
from omskit.services.orders import OrderService
from omskit.store.notifications import NotificationRepository, message_json, message_of

#: Event types of other parts (pickup in store, returns) notified by name, so that they
#: are notified once those parts emit them.
PICKUP_READY = "pickup.ready"
PICKUP_REMINDER = "pickup.reminder"
RETURN_RECEIVED = "return.received"

#: Every event type a customer may hear about.
NOTIFIED_EVENT_TYPES: tuple[str, ...] = (
    OrderPlaced.event_type, OrderStatusChanged.event_type,
    OrderExpectedDateChanged.event_type, ShipmentShipped.event_type,
    ParcelTracked.event_type, ShipmentDelivered.event_type, OrderCancelled.event_type,
    PaymentRecorded.event_type, PICKUP_READY, PICKUP_REMINDER, RETURN_RECEIVED)

#: Most messages one sweep sends again.
RETRY_BATCH = 500


def _day(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return "" if value is None else str(value)


def message_kind(event: Event, order: Order) -> tuple[NotificationKind, dict[str, Any]] | None:
    """What the customer is told about ``event`` (and the facts of that message), or None
    when the event is nothing a customer hears about."""
    if isinstance(event, OrderPlaced):
        return NotificationKind.ORDER_CONFIRMED, {}
    if isinstance(event, OrderStatusChanged):
        if event.to_status == OrderStatus.BACKORDERED.value:
            return NotificationKind.ORDER_BACKORDERED, {}
        return None
    if isinstance(event, OrderExpectedDateChanged):
        promised = order.promised_date
        if event.expected_date is None or promised is None or event.expected_date <= promised:
            return None
        return NotificationKind.ORDER_DELAYED, {"expected_date": _day(event.expected_date)}
    if isinstance(event, ShipmentShipped):
        return NotificationKind.ORDER_SHIPPED, {
            "carrier": event.carrier, "tracking_number": event.tracking_number,
            "shipment_id": event.shipment_id}
    if isinstance(event, ParcelTracked):
        if event.status != TrackingStatus.OUT_FOR_DELIVERY.value:
            return None
        return NotificationKind.OUT_FOR_DELIVERY, {
            "carrier": event.carrier, "tracking_number": event.tracking_number,
            "shipment_id": event.shipment_id}
    if isinstance(event, ShipmentDelivered):
        return NotificationKind.ORDER_DELIVERED, {"shipment_id": event.shipment_id}
    if isinstance(event, OrderCancelled):
        return NotificationKind.ORDER_CANCELLED, {"reason": event.reason}
    if isinstance(event, PaymentRecorded):
        if (event.action != PaymentAction.REFUND.value
                or event.outcome != PaymentOutcome.SUCCESS.value):
            return None
        return NotificationKind.REFUND_ISSUED, {"amount": str(event.amount),
                                                "currency": event.currency}
    if event.event_type in (PICKUP_READY, PICKUP_REMINDER):
        kind = (NotificationKind.READY_FOR_PICKUP if event.event_type == PICKUP_READY
                else NotificationKind.PICKUP_REMINDER)
        return kind, {"location": str(getattr(event, "location", "")),
                      "collect_by": _day(getattr(event, "collect_by", None))}
    if event.event_type == RETURN_RECEIVED:
        return NotificationKind.RETURN_RECEIVED, {
            "return_id": str(getattr(event, "return_id", ""))}
    return None


def worth_reading(event: Event) -> bool:
    """Whether ``event`` may be something a customer hears about, judged from the event
    alone: most status changes, payment entries and tracking scans are not, and are passed
    over without reading their order."""
    if isinstance(event, OrderStatusChanged):
        return event.to_status == OrderStatus.BACKORDERED.value
    if isinstance(event, PaymentRecorded):
        return (event.action == PaymentAction.REFUND.value
                and event.outcome == PaymentOutcome.SUCCESS.value)
    if isinstance(event, ParcelTracked):
        return event.status == TrackingStatus.OUT_FOR_DELIVERY.value
    return True


def _order_facts(order: Order) -> dict[str, Any]:
    total = order.total
    return {"id": order.id, "external_id": order.external_id, "channel": order.channel,
            "customer_id": order.customer.id, "customer_name": order.customer.contact.name,
            "email": order.customer.contact.email, "total": str(total),
            "status": order.status.value, "promised_date": _day(order.promised_date),
            "expected_date": _day(order.expected_date)}


class NotificationService:
    """Customer messages: sent once per event and recipient (:meth:`notify`, called by the
    core's event handler), listed, sent again (:meth:`retry`, :meth:`retry_due`), and
    customers' choices per sales channel (:meth:`set_preference`)."""

    def __init__(self, *, db: Database, clock: Callable[[], datetime],
                 settings: Mapping[str, Any], notifiers: Registry[Notifier],
                 orders: OrderService) -> None:
        self._db = db
        self._clock = clock
        self._notifiers = notifiers
        self._orders = orders
        problems: list[str] = []
        self._settings = parse_notification_settings(settings, problems)
        if problems:
            raise InvalidSettings(problems)
        self._renderer = MessageRenderer(self._settings.templates)

    @property
    def settings(self) -> NotificationSettings:
        """``settings["notifications"]`` as read at bootstrap."""
        return self._settings

    @property
    def renderer(self) -> MessageRenderer:
        """The template renderer (its jinja2 environment may be extended)."""
        return self._renderer

    def notifiers(self) -> list[str]:
        """Codes of the installed notifiers."""
        return list(self._notifiers)

    # -- sending ----------------------------------------------------------------------------

    def notify(self, event: Event) -> list[Notification]:
        """Send the customer's message about ``event`` through every notifier that should
        receive it; the messages this call stored (none when the event was notified before,
        is being notified by another worker, or is nothing a customer hears about).

        Never raises for a message that cannot be rendered or sent: the failure is recorded
        on it (``failed``, or ``retrying`` for the sweep)."""
        order_id = getattr(event, "order", None)
        if not self._notifiers or not isinstance(order_id, str) or not worth_reading(event):
            return []
        try:
            order = self._orders.get(order_id)
        except OrderNotFound:
            return []
        found = message_kind(event, order)
        if found is None:
            return []
        kind, facts = found
        brand = self._settings.branding(order.channel)
        language = self._language(order)
        data: dict[str, Any] = {"order": _order_facts(order), **facts,
                                "event_type": event.event_type, "event_id": event.event_id,
                                "kind": kind.value}
        if "tracking_number" in facts and brand.tracking_url:
            data["tracking_url"] = brand.tracking_url.format(
                tracking_number=facts["tracking_number"], carrier=facts.get("carrier", ""))
        data.setdefault("tracking_url", "")
        email_wanted = self._wants_email(order)
        stored: list[Notification] = []
        for code in self._notifiers:
            notifier = self._notifiers.get(code)
            if notifier.media == "email":
                recipient = order.customer.contact.email
                if not email_wanted or not recipient:
                    continue
            else:
                recipient = code
            done = self._send_new(notifier, event, kind, order, language, recipient, data)
            if done is not None:
                stored.append(done)
        return stored

    def _language(self, order: Order) -> str:
        wanted = order.metadata.get("language")
        if isinstance(wanted, str) and wanted.lower()[:2] in LANGUAGES:
            return wanted.lower()[:2]
        return self._settings.branding(order.channel).language or self._settings.default_language

    def _wants_email(self, order: Order) -> bool:
        with self._db.engine.connect() as conn:
            chosen = NotificationRepository(conn, self._db.tables).preference(
                order.customer.id, order.channel)
        return chosen != NO_MESSAGES

    def _send_new(self, notifier: Notifier, event: Event, kind: NotificationKind,
                  order: Order, language: str, recipient: str,
                  data: Mapping[str, Any]) -> Notification | None:
        brand = self._settings.branding(order.channel)
        notification_id = new_id()
        at = self._clock()
        error = ""
        try:
            subject, text, html = self._renderer.render(kind, language, brand, data)
        except NotificationTemplateError as exc:
            subject, text, html, error = kind.value, "", "", str(exc)
        message = NotificationMessage(
            notification_id=notification_id, kind=kind, event_type=event.event_type,
            event_id=event.event_id, order_id=order.id, channel=order.channel,
            recipient=recipient, language=language, subject=subject, text=text, html=html,
            brand=brand.brand, sender=brand.sender, data=data)
        row = {
            "id": notification_id, "kind": kind.value, "event_type": event.event_type,
            "event_id": event.event_id, "order_id": order.id, "channel": order.channel,
            "notifier": notifier.code, "media": notifier.media, "recipient": recipient,
            "language": language, "subject": subject[:500], "message": message_json(message),
            "created_at": at, "sent_at": None, "provider_message_id": None,
            "key": notification_key(event.event_id, kind, notifier.code, recipient),
            # A template error is recorded as failed at once: nothing to send.
            "status": (NotificationStatus.FAILED if error else NotificationStatus.SENDING).value,
            "attempts": 0 if error else 1, "last_error": error[:500],
            "next_attempt_at": None if error else at + SEND_LEASE,
        }
        with self._db.uow() as uow:
            claimed = NotificationRepository(uow.connection, self._db.tables).claim_new(row)
            uow.commit()
        if not claimed:
            return None
        if not error:
            self._attempt(notifier, message, attempts=1)
        return self.get(notification_id)

    def _attempt(self, notifier: Notifier, message: NotificationMessage,
                 attempts: int) -> None:
        """Send once (outside any transaction) and record the outcome."""
        values: dict[str, Any]
        try:
            provider_id = notifier.send(message)
        except NotifierError as exc:
            values = self._failure(str(exc), exc.retryable, attempts)
        except Exception as exc:  # an unexpected error: assume a later attempt may succeed
            values = self._failure(f"{type(exc).__name__}: {exc}", True, attempts)
        else:
            values = {"status": NotificationStatus.SENT.value, "sent_at": self._clock(),
                      "provider_message_id": str(provider_id)[:500],
                      "next_attempt_at": None, "last_error": ""}
        with self._db.uow() as uow:
            NotificationRepository(uow.connection, self._db.tables).record(
                message.notification_id, attempts, **values)
            uow.commit()

    def _failure(self, error: str, retryable: bool, attempts: int) -> dict[str, Any]:
        if retryable and attempts < self._settings.max_attempts:
            return {"status": NotificationStatus.RETRYING.value, "last_error": error[:500],
                    "next_attempt_at": self._clock() + backoff(attempts)}
        return {"status": NotificationStatus.FAILED.value, "last_error": error[:500],
                "next_attempt_at": None}

    def retry_due(self, at: datetime | None = None) -> int:
        """Send again every message whose retry is due (and those a dead sender left
        "sending" past their lease); how many were sent again. Each is claimed by a
        conditional update first, so two sweepers never send one twice."""
        at = at or self._clock()
        with self._db.engine.connect() as conn:
            rows = NotificationRepository(conn, self._db.tables).due(at, RETRY_BATCH)
        return sum(1 for row in rows if self._resend(row, at))

    def _resend(self, row: Any, at: datetime) -> bool:
        if row.notifier not in self._notifiers:
            return False  # its plugin is not installed here: left for a process that has it
        with self._db.uow() as uow:
            claimed = NotificationRepository(uow.connection, self._db.tables).claim_retry(
                row.id, row.attempts, at + SEND_LEASE)
            uow.commit()
        if claimed:
            self._attempt(self._notifiers.get(row.notifier), message_of(row),
                          attempts=row.attempts + 1)
        return claimed

    def retry(self, notification_id: str) -> Notification:
        """Send a failed or waiting message again now (``omskit notifications retry``); a
        sent message is returned unchanged."""
        return self._retry(RetryNotification(notification_id=notification_id))

    def _retry(self, c: RetryNotification) -> Notification:
        found = self.get(c.notification_id)
        if found.status in (NotificationStatus.FAILED, NotificationStatus.RETRYING):
            at = self._clock()
            with self._db.uow() as uow:
                repo = NotificationRepository(uow.connection, self._db.tables)
                # Made due now, then sent like any due message.
                repo.record(found.id, found.attempts,
                            status=NotificationStatus.RETRYING.value, next_attempt_at=at)
                row = repo.row(found.id)
                uow.commit()
            if found.attempts == 0:
                # Never sent (a template error): render again, the template may be fixed.
                return self._rerender(found) or self.get(found.id)
            self._resend(row, at)
        return self.get(found.id)

    def _rerender(self, found: Notification) -> Notification | None:
        order = self._orders.get(found.order_id) if found.order_id else None
        if order is None:
            return None
        with self._db.engine.connect() as conn:
            row = NotificationRepository(conn, self._db.tables).row(found.id)
        stored = message_of(row)
        brand = self._settings.branding(found.channel)
        try:
            subject, text, html = self._renderer.render(found.kind, found.language, brand,
                                                        stored.data)
        except NotificationTemplateError as exc:
            with self._db.uow() as uow:
                NotificationRepository(uow.connection, self._db.tables).record(
                    found.id, found.attempts, status=NotificationStatus.FAILED.value,
                    last_error=str(exc)[:500], next_attempt_at=None)
                uow.commit()
            return self.get(found.id)
        message = NotificationMessage(**{**{a: getattr(stored, a) for a in (
            "notification_id", "kind", "event_type", "event_id", "order_id", "channel",
            "recipient", "language", "brand", "sender", "data")},
            "subject": subject, "text": text, "html": html})
        with self._db.uow() as uow:
            repo = NotificationRepository(uow.connection, self._db.tables)
            repo.record(found.id, found.attempts, subject=subject[:500],
                        message=message_json(message), last_error="")
            uow.commit()
        if found.notifier in self._notifiers:
            with self._db.uow() as uow:
                claimed = NotificationRepository(uow.connection, self._db.tables).claim_retry(
                    found.id, found.attempts, self._clock() + SEND_LEASE)
                uow.commit()
            if claimed:
                self._attempt(self._notifiers.get(found.notifier), message,
                              attempts=found.attempts + 1)
        return self.get(found.id)

    # -- reading ----------------------------------------------------------------------------

    def get(self, notification_id: str) -> Notification:
        """One message's record, or :class:`NotificationNotFound`."""
        with self._db.engine.connect() as conn:
            found = NotificationRepository(conn, self._db.tables).get(notification_id)
        if found is None:
            raise NotificationNotFound(notification_id)
        return found

    def list(self, *, order_id: str | None = None, status: NotificationStatus | None = None,
             limit: int = 100) -> list[Notification]:
        """Messages, newest first; ``order_id`` and ``status`` narrow them."""
        with self._db.engine.connect() as conn:
            return NotificationRepository(conn, self._db.tables).list(
                order_id=order_id, status=status, limit=limit)

    def message(self, notification_id: str) -> NotificationMessage:
        """The rendered message as stored (what was, or will be, sent)."""
        with self._db.engine.connect() as conn:
            row = NotificationRepository(conn, self._db.tables).row(notification_id)
        if row is None:
            raise NotificationNotFound(notification_id)
        return message_of(row)

    # -- preferences ------------------------------------------------------------------------

    def preferences(self, customer_id: str) -> dict[str, str]:
        """The customer's choice per sales channel (``{"web": "none"}``); a channel not
        listed sends e-mail."""
        with self._db.engine.connect() as conn:
            return NotificationRepository(conn, self._db.tables).preferences(customer_id)

    def set_preference(self, customer_id: str, channel: str, media: str) -> dict[str, str]:
        """Choose ``email`` or ``none`` for the customer's orders from ``channel``; every
        choice of the customer after it. ``InvalidCommand`` for another medium."""
        return self._set_preference(SetNotificationPreference(
            customer_id=customer_id, channel=channel, media=media))

    def _set_preference(self, c: SetNotificationPreference) -> dict[str, str]:
        def attempt() -> None:
            with self._db.uow() as uow:
                NotificationRepository(uow.connection, self._db.tables).set_preference(
                    c.customer_id, c.channel, c.media, self._clock())
                uow.commit()
        self._db.retrying(attempt)
        return self.preferences(c.customer_id)
