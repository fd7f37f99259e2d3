"""Notifications over HTTP: an order's messages (and on its page), a customer's
preferences through an operations key and through the order's tracking link."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import omskit
import omskit_returns_standard
import pytest
from litestar.testing import TestClient
from omskit import hookimpl
from omskit.testing import RecordingNotifier, TestDatabase, location, table_contents

from omskit_reference import Deployment, Scope, create_app

from .conftest import Client, Clock, place_body, post
from .test_pages import signed_in


class Mail:
    """An e-mail notifier that records what it sends (omskit's testing notifier)."""

    def __init__(self) -> None:
        self.notifier = RecordingNotifier("mail", "email")

    @hookimpl
    def omskit_register_notifiers(self, register: Callable[[Any], None]) -> None:
        register(self.notifier)


@pytest.fixture
def mailed(omskit_database: TestDatabase, clock: Clock) -> Iterator[Deployment]:
    made = Deployment.open(omskit_database.url, create=True, load_entrypoints=False,
                           schema=omskit_database.schema, clock=clock,
                           plugins=[Mail(), omskit.ManualCarriers("brt"),
                                    omskit_returns_standard])
    made.oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
    made.oms.inventory.receive("dc-milano", "SKU-D", 50)
    yield made
    made.close()


@pytest.fixture
def key_for(mailed: Deployment) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(scope: Scope, **bound: str) -> Client:
        client: Client = TestClient(create_app(mailed))
        client.__enter__()
        client.headers["Authorization"] = f"Bearer {mailed.keys.issue('k', scope, **bound).token}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_an_orders_notifications_are_listed_on_the_api_and_its_page(
        key_for: Callable[..., Client], mailed: Deployment) -> None:
    admin = key_for(Scope.ADMIN)
    order = post(admin, "/orders", place_body("N-1", {"SKU-D": 1})).json()
    mailed.oms.outbox.dispatch_pending()
    sent = admin.get(f"/orders/{order['id']}/notifications")
    assert sent.status_code == 200, sent.text
    kinds = [(n["kind"], n["recipient"], n["status"]) for n in sent.json()]
    assert ("order_confirmed", "test@example.com", "sent") in kinds
    page = signed_in(mailed, Scope.OPERATIONS).get(f"/ui/orders/{order['id']}").text
    assert "order_confirmed" in page
    assert key_for(Scope.READ).get(f"/orders/{order['id']}/notifications").status_code == 200
    other = key_for(Scope.CHANNEL, channel="pos")
    assert other.get(f"/orders/{order['id']}/notifications").status_code == 404
    store = key_for(Scope.STORE, location="dc-milano")
    assert store.get(f"/orders/{order['id']}/notifications").status_code == 403


def test_preferences_through_an_operations_key(key_for: Callable[..., Client],
                                               mailed: Deployment) -> None:
    ops = key_for(Scope.OPERATIONS)
    url = "/customers/customer-1/notification-preferences"
    assert ops.get(url).json() == {"customer_id": "customer-1", "channels": {}}
    chosen = ops.put(f"{url}/web", json={"media": "none"})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["channels"] == {"web": "none"}
    assert mailed.oms.notifications.preferences("customer-1") == {"web": "none"}
    before = table_contents(mailed.oms)
    bad = ops.put(f"{url}/web", json={"media": "pigeon"})
    assert bad.status_code == 422
    reader = key_for(Scope.READ)
    assert reader.get(url).status_code == 200
    assert reader.put(f"{url}/web", json={"media": "email"}).status_code == 403
    assert key_for(Scope.CHANNEL, channel="web").get(url).status_code == 403
    assert table_contents(mailed.oms) == before


def test_a_customer_chooses_through_the_tracking_link_and_no_message_follows(
        key_for: Callable[..., Client], mailed: Deployment) -> None:
    admin = key_for(Scope.ADMIN)
    order = post(admin, "/orders", place_body("N-2", {"SKU-D": 1})).json()
    token = post(admin, f"/orders/{order['id']}/tracking-links").json()["token"]
    with TestClient(create_app(mailed)) as customer:
        url = f"/track/{token}/notification-preferences"
        assert customer.get(url).json() == {"channel": "web", "media": "email"}
        chosen = customer.put(url, json={"media": "none"})
        assert chosen.status_code == 200, chosen.text
        assert chosen.json() == {"channel": "web", "media": "none"}
        assert customer.get(url).json()["media"] == "none"
        before = table_contents(mailed.oms)
        wrong = customer.put("/track/not-a-token/notification-preferences",
                             json={"media": "email"})
        assert wrong.status_code == 404
        assert customer.put(url, json={"media": "fax"}).status_code == 422
        assert table_contents(mailed.oms) == before
    assert mailed.oms.notifications.preferences("customer-1") == {"web": "none"}

    # The next order of that customer from that channel sends nothing.
    later = post(admin, "/orders", place_body("N-3", {"SKU-D": 1})).json()
    mailed.oms.outbox.dispatch_pending()
    statuses = [n["status"] for n in admin.get(f"/orders/{later['id']}/notifications").json()]
    assert "sent" not in statuses
