"""The webhooks notifier against a real HTTP server in a thread that verifies each signature
with ``standardwebhooks``, on SQLite and PostgreSQL: signed posts, filters, retries with
backoff and jitter, endpoints disabled after 410 Gone or repeated failures, redelivery; the
conformance kit."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from omskit import InvalidSettings, NotificationStatus, NotifierUnavailable, Oms
from omskit.testing import NotifierConformance, location, order_command, sample_message
from standardwebhooks.webhooks import Webhook

import omskit_notify_webhooks
from omskit_notify_webhooks import Endpoint, WebhookNotifier, WebhooksPlugin

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """What the server received (verified payloads per path) and what it answers next."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.answers: dict[str, list[int]] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                queued = receiver.answers.get(self.path, [])
                status = queued.pop(0) if queued else 200
                if status == 200:
                    try:
                        payload = Webhook(SECRET).verify(body, headers)
                    except Exception:
                        receiver.bad_signatures += 1
                        status = 400
                    else:
                        receiver.received.append((self.path, payload, headers))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def server(receiver: Receiver) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(receiver))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def notifier_to(*endpoints: Endpoint, **options: Any) -> WebhookNotifier:
    options.setdefault("sleep", Sleeps())
    options.setdefault("jitter", lambda: 0.5)
    return WebhookNotifier(endpoints, timeout=5, **options)


@pytest.fixture
def notifier(server: str) -> WebhookNotifier:
    return notifier_to(Endpoint(id="erp", url=f"{server}/erp", secret=SECRET))


@pytest.fixture
def unreachable_notifier() -> WebhookNotifier:
    return notifier_to(Endpoint(id="gone", url=f"http://127.0.0.1:{free_port()}/x",
                                secret=SECRET), attempts=2)


@pytest.fixture
def delivered(receiver: Receiver) -> Callable[[], Sequence[str]]:
    return lambda: [h["webhook-id"] for _, _, h in receiver.received]


class TestConformance(NotifierConformance):
    """The kit, against the local HTTP server."""


def test_posts_are_signed_per_standard_webhooks(notifier: WebhookNotifier,
                                               receiver: Receiver) -> None:
    assert notifier.send(sample_message(notifier)) == "conformance-1"
    ((path, payload, headers),) = receiver.received
    assert path == "/erp"
    assert headers["webhook-id"] == "conformance-1"
    assert headers["webhook-signature"].startswith("v1,")
    assert payload["type"] == "notification.order_confirmed"
    assert payload["data"]["order"] == {"external_id": "W-1"}
    assert receiver.bad_signatures == 0


def test_a_wrong_secret_is_refused_by_the_receiver(server: str, receiver: Receiver) -> None:
    other = "whsec_" + "A" * 32
    notifier = notifier_to(Endpoint(id="erp", url=f"{server}/erp", secret=other), attempts=1)
    with pytest.raises(NotifierUnavailable):
        notifier.send(sample_message(notifier))
    assert receiver.bad_signatures == 1
    assert receiver.received == []


def test_filters_choose_the_endpoints(server: str, receiver: Receiver) -> None:
    notifier = notifier_to(
        Endpoint(id="all", url=f"{server}/all", secret=SECRET),
        Endpoint(id="ships", url=f"{server}/ships", secret=SECRET,
                 events=frozenset({"order_shipped"})),
        Endpoint(id="placed", url=f"{server}/placed", secret=SECRET,
                 events=frozenset({"order.placed"})))
    notifier.send(sample_message(notifier))
    assert sorted(p for p, _, _ in receiver.received) == ["/all", "/placed"]


def test_failures_are_retried_with_backoff_and_jitter(server: str,
                                                      receiver: Receiver) -> None:
    sleeps = Sleeps()
    notifier = notifier_to(Endpoint(id="erp", url=f"{server}/erp", secret=SECRET),
                           attempts=4, backoff=1.0, sleep=sleeps, jitter=lambda: 0.25)
    receiver.answers["/erp"] = [503, 500, 429]
    notifier.send(sample_message(notifier))
    assert sleeps.calls == [0.25, 0.5, 1.0]  # 1, 2, 4 seconds times the jitter
    assert len(receiver.received) == 1
    assert notifier.state["erp"].consecutive_failures == 0


def test_410_gone_disables_the_endpoint_at_once(server: str, receiver: Receiver) -> None:
    notifier = notifier_to(Endpoint(id="old", url=f"{server}/old", secret=SECRET),
                           Endpoint(id="erp", url=f"{server}/erp", secret=SECRET))
    receiver.answers["/old"] = [410]
    notifier.send(sample_message(notifier))  # the other endpoint took it: no error
    assert notifier.state["old"].disabled
    assert notifier.state["old"].disabled_reason == "410 Gone"
    notifier.send(sample_message(notifier, notification_id="second"))
    assert [p for p, _, _ in receiver.received] == ["/erp", "/erp"]


def test_repeated_failures_disable_an_endpoint_and_enable_restores_it(
        server: str, receiver: Receiver) -> None:
    notifier = notifier_to(Endpoint(id="erp", url=f"{server}/erp", secret=SECRET),
                           attempts=1, disable_after=2)
    receiver.answers["/erp"] = [500, 500]
    with pytest.raises(NotifierUnavailable):
        notifier.send(sample_message(notifier, notification_id="m-0"))
    assert not notifier.state["erp"].disabled
    # The second failure in a row disables it: nothing is left to retry the message on.
    assert notifier.send(sample_message(notifier, notification_id="m-1")) == "m-1"
    assert notifier.state["erp"].disabled
    assert notifier.send(sample_message(notifier, notification_id="m-3")) == "m-3"
    assert receiver.received == []  # disabled: nothing posted
    notifier.enable("erp")
    assert notifier.redeliver("m-0") == {"erp": "delivered"}
    ((_, payload, headers),) = receiver.received
    assert headers["webhook-id"] == "m-0"
    assert payload["data"]["notification_id"] == "m-0"


def test_a_retried_message_skips_the_endpoints_that_took_it(server: str,
                                                            receiver: Receiver) -> None:
    notifier = notifier_to(Endpoint(id="a", url=f"{server}/a", secret=SECRET),
                           Endpoint(id="b", url=f"{server}/b", secret=SECRET), attempts=1)
    receiver.answers["/b"] = [503]
    with pytest.raises(NotifierUnavailable, match="b: HTTP 503"):
        notifier.send(sample_message(notifier))
    notifier.send(sample_message(notifier))
    assert [p for p, _, _ in receiver.received] == ["/a", "/b"]


def test_orders_post_webhooks_through_omskit(make_oms: Callable[..., Oms], server: str,
                                             receiver: Receiver) -> None:
    oms = make_oms(plugins=[omskit_notify_webhooks], settings={"notify_webhooks": {
        "endpoints": [{"id": "erp", "url": f"{server}/erp", "secret": SECRET}]}})
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    oms.notifications.set_preference("customer-1", "web", "none")  # e-mail only
    order = oms.orders.place(order_command("H-1", {"SKU-1": 1}))
    ((_, payload, headers),) = receiver.received
    (record,) = oms.notifications.list(order_id=order.id)
    assert record.status is NotificationStatus.SENT
    assert headers["webhook-id"] == record.id
    assert payload["data"]["order"]["external_id"] == "H-1"


def test_wrong_settings_are_refused_at_bootstrap(make_oms: Callable[..., Oms]) -> None:
    with pytest.raises(InvalidSettings) as raised:
        make_oms(plugins=[omskit_notify_webhooks], settings={"notify_webhooks": {
            "endpoints": [{"id": "x", "url": "ftp://x", "secret": "nope"}], "attempts": 0}})
    text = str(raised.value)
    for problem in ("endpoints[0].url", "endpoints[0].secret", "notify_webhooks.attempts"):
        assert problem in text


def test_a_host_may_register_its_own_notifier(make_oms: Callable[..., Oms],
                                             notifier: WebhookNotifier) -> None:
    oms = make_oms(plugins=[WebhooksPlugin(notifier)])
    assert oms.notifications.notifiers() == ["webhooks"]
