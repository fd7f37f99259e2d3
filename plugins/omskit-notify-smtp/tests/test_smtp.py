"""The SMTP notifier against a real SMTP server (aiosmtpd) started by the tests, on SQLite and
PostgreSQL: messages arrive with their subject, recipient and both bodies; an unreachable
server is a recorded retryable failure; the conformance kit."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from omskit import InvalidSettings, NotificationStatus, NotifierRefused, Oms
from omskit.testing import NotifierConformance, location, order_command, sample_message

import omskit_notify_smtp
from omskit_notify_smtp import SmtpNotifier, SmtpPlugin, SmtpSettings


class Inbox:
    """An aiosmtpd handler keeping every message it accepts; refuses ``nobody@`` with 550."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 (aiosmtpd calls it by this name)
            self, server: SMTP, session: Session, envelope: Envelope,
            address: str, rcpt_options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd calls it by this name)
            self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self._lock:
            self.messages.append(email.message_from_bytes(raw))
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def server(inbox: Inbox) -> Iterator[Controller]:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def notifier(server: Controller) -> SmtpNotifier:
    return SmtpNotifier(SmtpSettings(host="127.0.0.1", port=server.port, timeout=5))


@pytest.fixture
def unreachable_notifier() -> SmtpNotifier:
    # A port nobody listens on: the connection is refused at once.
    return SmtpNotifier(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))


@pytest.fixture
def delivered(inbox: Inbox) -> Callable[[], Sequence[str]]:
    return lambda: [str(m["X-Omskit-Notification-Id"]) for m in inbox.messages]


class TestConformance(NotifierConformance):
    """The kit, against the aiosmtpd server."""


def bodies(message: Message) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_subtype()] = payload.decode(
                part.get_content_charset() or "utf-8")
    return found


def test_a_message_arrives_with_text_and_html_alternatives(notifier: SmtpNotifier,
                                                           inbox: Inbox) -> None:
    message_id = notifier.send(sample_message(notifier, "anna@example.com"))
    (mail,) = inbox.messages
    assert mail["Subject"] == "Order W-1 confirmed"
    assert mail["To"] == "anna@example.com"
    assert mail["From"] == "Conformance <shop@example.com>"
    assert mail["Message-ID"] == message_id == "<conformance-1@omskit.invalid>"
    assert mail.get_content_type() == "multipart/alternative"
    found = bodies(mail)
    assert found["plain"].strip() == "Thank you for your order W-1."
    assert "<b>W-1</b>" in found["html"]
    assert inbox.envelopes == [("shop@example.com", ["anna@example.com"])]


def test_a_refused_recipient_is_permanent(notifier: SmtpNotifier, inbox: Inbox) -> None:
    with pytest.raises(NotifierRefused, match="550"):
        notifier.send(sample_message(notifier, "nobody@example.com"))
    assert inbox.messages == []


def shop(make_oms: Callable[..., Oms], settings: dict[str, Any]) -> Oms:
    oms = make_oms(plugins=[SmtpPlugin()], settings=settings)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    return oms


def test_orders_send_branded_italian_e_mails_through_the_server(
        make_oms: Callable[..., Oms], server: Controller, inbox: Inbox) -> None:
    oms = shop(make_oms, {
        "notify_smtp": {"host": "127.0.0.1", "port": server.port, "domain": "bottega.example"},
        "notifications": {"channels": {"web": {"brand": "Bottega Rossi", "language": "it",
                                               "from": "ordini@bottega.example"}}}})
    assert oms.notifications.notifiers() == ["smtp"]
    order = oms.orders.place(order_command("S-1", {"SKU-1": 1}))
    oms.orders.cancel(order.id, "changed my mind")
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == ["Ordine S-1 confermato", "Ordine S-1 annullato"]
    first = inbox.messages[0]
    assert first["To"] == "test@example.com"
    assert first["From"] == "Bottega Rossi <ordini@bottega.example>"
    assert "Il team Bottega Rossi" in bodies(first)["plain"]
    records = oms.notifications.list(order_id=order.id)
    assert {r.status for r in records} == {NotificationStatus.SENT}
    assert {r.provider_message_id for r in records} == {
        f"<{r.id}@bottega.example>" for r in records}


def test_an_unreachable_server_is_recorded_and_changes_nothing_else(
        make_oms: Callable[..., Oms]) -> None:
    oms = shop(make_oms, {"notify_smtp": {"host": "127.0.0.1", "port": free_port(),
                                          "timeout": 2}})
    order = oms.orders.place(order_command("S-2", {"SKU-1": 1}))
    assert oms.orders.get(order.id).status.value == "allocated"
    (record,) = oms.notifications.list(order_id=order.id)
    assert record.status is NotificationStatus.RETRYING
    assert "unreachable" in record.last_error
    assert oms.outbox.parked() == []


def test_wrong_settings_are_refused_at_bootstrap(make_oms: Callable[..., Oms]) -> None:
    with pytest.raises(InvalidSettings) as raised:
        make_oms(plugins=[omskit_notify_smtp],
                 settings={"notify_smtp": {"port": "25", "security": "tls", "user": "x"}})
    text = str(raised.value)
    for problem in ("notify_smtp.host", "notify_smtp.port", "notify_smtp.security",
                    "notify_smtp.user"):
        assert problem in text


def test_the_entry_point_registers_nothing_without_settings(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[omskit_notify_smtp])
    assert oms.notifications.notifiers() == []
