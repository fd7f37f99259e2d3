"""A deployment per test on SQLite and PostgreSQL (omskit's test database fixture), with
a network of two stores and a DC, and clients holding keys of each scope."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import omskit
import omskit_payment_sandbox
import omskit_returns_standard
import pytest
from litestar.serialization import encode_json
from litestar.testing import TestClient
from omskit.testing import TestDatabase, location, order_command

from omskit_reference import Deployment, Scope, create_app

pytest_plugins = ["omskit.testing"]

Client = TestClient[Any]


class Clock:
    """The deployment's time, which a test moves on (``advance``)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deployment(omskit_database: TestDatabase, clock: Clock) -> Iterator[Deployment]:
    made = Deployment.open(omskit_database.url, create=True, load_entrypoints=False,
                           schema=omskit_database.schema, clock=clock,
                           plugins=[omskit.ManualCarriers("brt"), omskit_returns_standard,
                                    omskit_payment_sandbox])
    oms = made.oms
    oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
    oms.inventory.save_location(location("store-roma", 41.90, 12.49))
    oms.inventory.save_location(location("store-torino", 45.07, 7.69))
    oms.inventory.receive("store-roma", "SKU-R", 10)
    oms.inventory.receive("store-torino", "SKU-T", 10)
    oms.inventory.receive("dc-milano", "SKU-D", 50)
    yield made
    made.close()


@pytest.fixture
def client_for(deployment: Deployment) -> Iterator[Callable[..., Client]]:
    """``client_for(scope, location=..., channel=...)``: a client holding a new key."""
    clients: list[Client] = []

    def make(scope: Scope, **bound: str) -> Client:
        issued = deployment.keys.issue(f"{scope} key", scope, **bound)
        client = TestClient(create_app(deployment), raise_server_exceptions=True)
        client.__enter__()
        client.headers["Authorization"] = f"Bearer {issued.token}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def admin(client_for: Callable[..., Client]) -> Client:
    return client_for(Scope.ADMIN)


def post(client: Client, url: str, body: object = None, *, key: str | None = None,
         **headers: str) -> Any:
    """POST with a fresh Idempotency-Key (or ``key``)."""
    sent = {"Idempotency-Key": key or uuid.uuid4().hex,
            **{k.replace("_", "-"): v for k, v in headers.items()}}
    return client.post(url, json=body, headers=sent)


def place_body(external_id: str, lines: dict[str, int], **kwargs: Any) -> dict[str, Any]:
    """A PlaceOrder as JSON, as a channel would send it."""
    body: dict[str, Any] = json.loads(encode_json(order_command(external_id, lines, **kwargs)))
    return body
