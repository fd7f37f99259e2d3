"""The notifier conformance kit (what every ``Notifier`` plugin must pass) and a recording
notifier for hosts' tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from omskit import (
    NotificationKind,
    NotificationMessage,
    NotificationStatus,
    Notifier,
    NotifierError,
    Oms,
    hookimpl,
)
from omskit.testing.builders import location, order_command, table_contents


class RecordingNotifier:
    """A notifier that keeps what it is sent (``sent``), for tests. ``fail_next(error)``
    makes the next sends raise ``error`` (a ``NotifierError``) instead."""

    def __init__(self, code: str = "recording", media: str = "email") -> None:
        self.code = code
        self.media = media
        self.sent: list[NotificationMessage] = []
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()

    def fail_next(self, error: BaseException, times: int = 1) -> None:
        """Make the next ``times`` sends raise ``error``."""
        self.failures.extend([error] * times)

    def send(self, message: NotificationMessage) -> str:
        """Record ``message`` (or raise the queued failure); its position as the id."""
        with self._lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append(message)
            return f"{self.code}-{len(self.sent)}"


class _Register:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    @hookimpl
    def omskit_register_notifiers(self, register: Callable[[Notifier], None]) -> None:
        register(self.notifier)


def sample_message(notifier: Notifier, recipient: str = "customer@example.com",
                   notification_id: str = "conformance-1") -> NotificationMessage:
    """A small rendered message, as the core hands notifiers."""
    return NotificationMessage(
        notification_id=notification_id, kind=NotificationKind.ORDER_CONFIRMED,
        event_type="order.placed", event_id=f"event-{notification_id}", order_id="order-1",
        channel="web", recipient=recipient if notifier.media == "email" else notifier.code,
        language="en", subject="Order W-1 confirmed", text="Thank you for your order W-1.\n",
        html="<p>Thank you for your order <b>W-1</b>.</p>", brand="Conformance",
        sender="shop@example.com", data={"order": {"external_id": "W-1"}})


class NotifierConformance:
    """Tests every notifier plugin must pass, on SQLite and PostgreSQL.

    Subclass it in the plugin's tests and provide the fixtures:

    - ``notifier``: a notifier delivering to a real (test) server;
    - ``delivered``: a callable returning the ``notification_id`` of every message the
      server received so far, in arrival order (read from the delivered message: an SMTP
      header, a webhook body);
    - ``unreachable_notifier``: the same notifier pointed at a server that does not answer.

    The kit checks the contract (code, media, ``send`` returning an id), that a message
    reaches the server once per event however often the event is delivered, and that an
    unreachable server is a retryable ``NotifierError`` recorded on the message, with
    nothing else changed.
    """

    @pytest.fixture
    def notifier_settings(self) -> Mapping[str, Any]:
        return {}

    @staticmethod
    def notifier_oms(make_oms: Callable[..., Oms], notifier: Notifier,
                     settings: Mapping[str, Any]) -> Oms:
        """An ``Oms`` with ``notifier`` installed and stock of SKU-1 at one warehouse."""
        oms = make_oms(plugins=[_Register(notifier)], settings=settings)
        oms.inventory.save_location(location("conformance-dc", 45.46, 9.19))
        oms.inventory.receive("conformance-dc", "SKU-1", 100)
        return oms

    def test_fits_the_notifier_contract(self, notifier: Notifier) -> None:
        from omskit.kinds import NOTIFIER  # the kit may read the kinds table
        assert NOTIFIER.misfits(notifier) == []
        assert isinstance(notifier.media, str)
        assert notifier.media

    def test_send_delivers_and_returns_an_id(self, notifier: Notifier,
                                             delivered: Callable[[], Sequence[str]]) -> None:
        message_id = notifier.send(sample_message(notifier))
        assert isinstance(message_id, str)
        assert message_id
        assert list(delivered()) == ["conformance-1"]

    def test_an_event_delivered_twice_reaches_the_server_once(
            self, make_oms: Callable[..., Oms], notifier: Notifier,
            delivered: Callable[[], Sequence[str]],
            notifier_settings: Mapping[str, Any]) -> None:
        oms = self.notifier_oms(make_oms, notifier, notifier_settings)
        order = oms.orders.place(order_command("C-1", {"SKU-1": 1}))
        (placed,) = [e.event for e in oms.orders.timeline(order.id)
                     if e.event_type == "order.placed"]
        (first,) = oms.notifications.list(order_id=order.id)
        assert first.status is NotificationStatus.SENT
        assert first.provider_message_id
        assert oms.notifications.notify(placed) == []  # delivered again: nothing sent
        assert list(delivered()) == [first.id]

    def test_an_unreachable_server_is_a_recorded_retryable_failure(
            self, make_oms: Callable[..., Oms], unreachable_notifier: Notifier,
            notifier_settings: Mapping[str, Any]) -> None:
        with pytest.raises(NotifierError) as raised:
            unreachable_notifier.send(sample_message(unreachable_notifier))
        assert raised.value.retryable
        oms = self.notifier_oms(make_oms, unreachable_notifier, notifier_settings)
        order = oms.orders.place(order_command("C-2", {"SKU-1": 1}))
        (found,) = oms.notifications.list(order_id=order.id)
        assert found.status is NotificationStatus.RETRYING
        assert found.last_error
        assert oms.orders.get(order.id).status.value == "allocated"  # the order went on
        before = _other_tables(oms)
        assert found.next_attempt_at is not None
        report = oms.sweeps.run(found.next_attempt_at, jobs=["notifications"])
        assert report.notifications_retried == 1  # due: tried again, and failed again
        again = oms.notifications.get(found.id)
        assert again.attempts == 2
        assert again.status is NotificationStatus.RETRYING
        assert _other_tables(oms) == before


def _other_tables(oms: Oms) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the notifications and the sweep's lease."""
    return {name: rows for name, rows in table_contents(oms).items()
            if not name.endswith(("notifications", "sweep_leases"))}


__all__ = ["NotifierConformance", "RecordingNotifier", "sample_message"]
