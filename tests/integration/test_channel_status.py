"""Status pushed back to the channel an order came from, through the outbox's handlers and
``oms.channels.push``, retried after a failure; webhook deliveries seen once (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest

from omskit import (
    ChannelConnector,
    ChannelStatus,
    ChannelStatusUpdate,
    InvalidCommand,
    ManualCarriers,
    Oms,
    PlaceOrder,
    PluginError,
    hookimpl,
)
from omskit.testing import location, order_command, table_contents


class Market:
    """Places ``{"id": ...}`` on ``market:shop``; pushes statuses unless told to fail."""

    code = "market"

    def __init__(self) -> None:
        self.pushed: list[ChannelStatusUpdate] = []
        self.down = False

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        return order_command(str(payload["id"]), {"A": 1}, channel="market:shop")

    def push_status(self, update: ChannelStatusUpdate) -> None:
        if self.down:
            raise ConnectionError("marketplace unreachable")
        self.pushed.append(update)


class Quiet:
    """A connector that pushes nothing."""

    code = "quiet"

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        return order_command(str(payload["id"]), {"A": 1}, channel="quiet")


class Channels:
    def __init__(self, *connectors: object) -> None:
        self.connectors = connectors

    @hookimpl
    def omskit_register_channels(self, register: Callable[[ChannelConnector], None]) -> None:
        for connector in self.connectors:
            register(connector)  # type: ignore[arg-type]


@pytest.fixture
def market() -> Market:
    return Market()


@pytest.fixture
def oms(make_oms: Callable[..., Oms], market: Market) -> Oms:
    oms = make_oms(plugins=[Channels(market, Quiet()), ManualCarriers("brt")])
    oms.inventory.save_location(location("dc", 45.0, 9.0))
    oms.inventory.receive("dc", "A", 10)
    return oms


def statuses(oms: Oms, order_id: str) -> list[tuple[str, bool]]:
    return [(u.status.value, u.sent_at is not None) for u in oms.channels.status_updates(order_id)]


def test_accepted_shipped_and_cancelled_are_pushed_once(oms: Oms, market: Market) -> None:
    order = oms.channels.receive("market", {"id": "1001"})
    oms.channels.receive("market", {"id": "1001"})  # re-delivered: accepted once
    assert statuses(oms, order.id) == [("accepted", False)]
    fo = oms.fulfillment.release(order.id).fulfillment_orders[0]
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo.id)
    oms.fulfillment.ship(fo.id, carrier="brt", tracking_number="BRT-77")
    oms.outbox.dispatch_pending()
    assert oms.channels.push() == 2
    assert oms.channels.push() == 0  # sent: never again
    assert [(u.status, dict(u.details).get("tracking_number")) for u in market.pushed] == [
        (ChannelStatus.ACCEPTED, None), (ChannelStatus.SHIPPED, "BRT-77")]
    assert {u.channel for u in market.pushed} == {"market:shop"}
    assert {u.external_id for u in market.pushed} == {"1001"}

    other = oms.channels.receive("market", {"id": "1002"})
    oms.orders.cancel(other.id, "customer changed mind")
    oms.outbox.dispatch_pending()
    oms.channels.push()
    assert market.pushed[-1].status is ChannelStatus.CANCELLED
    assert market.pushed[-1].details["reason"] == "customer changed mind"


def test_a_failed_push_is_kept_and_retried_after_a_back_off(oms: Oms, market: Market) -> None:
    order = oms.channels.receive("market", {"id": "1001"})
    market.down = True
    assert oms.channels.push() == 0
    (update,) = oms.channels.status_updates(order.id)
    assert (update.attempts, update.sent_at) == (1, None)
    assert "marketplace unreachable" in update.last_error
    market.down = False
    assert oms.channels.push() == 0  # not due yet
    assert oms.channels.push(update.next_attempt_at + timedelta(seconds=1)) == 1
    assert [u.id for u in market.pushed] == [update.id]


def test_orders_of_connectors_that_push_nothing_keep_no_updates(oms: Oms) -> None:
    order = oms.channels.receive("quiet", {"id": "1"})
    host = oms.orders.place(order_command("H-1", {"A": 1}, channel="web"))
    assert oms.channels.status_updates(order.id) == []
    assert oms.channels.record_status(host.id, "accepted", key="k") is None
    assert oms.channels.status_updates(host.id) == []


def test_a_delivery_seen_before_returns_its_order_and_writes_nothing(oms: Oms) -> None:
    first = oms.channels.receive("market", {"id": "1001"}, delivery_id="d-1")
    before = table_contents(oms)
    # The same delivery, even with a body the connector could not read: its order.
    assert oms.channels.receive("market", {}, delivery_id="d-1").id == first.id
    # Another delivery of the same order: the order's own idempotency.
    assert oms.channels.receive("market", {"id": "1001"}, delivery_id="d-2").id == first.id
    oms.channels.receive("market", {"id": "1001"}, delivery_id="d-2")
    after = table_contents(oms)
    assert {k: v for k, v in after.items() if "deliveries" not in k} == \
        {k: v for k, v in before.items() if "deliveries" not in k}
    with pytest.raises(InvalidCommand):
        oms.channels.receive("market", {"id": "1003"}, delivery_id="")


def test_bad_status_commands_are_refused(oms: Oms) -> None:
    order = oms.channels.receive("market", {"id": "1001"})
    before = table_contents(oms)
    with pytest.raises(InvalidCommand):
        oms.channels.record_status(order.id, "lost", key="k-1")
    with pytest.raises(InvalidCommand):
        oms.channels.push(limit=0)
    assert table_contents(oms) == before


def test_a_push_status_that_cannot_be_called_is_refused_at_registration(
        make_oms: Callable[..., Oms]) -> None:
    class Broken(Quiet):
        code = "broken"
        push_status = "not a method"

    with pytest.raises(PluginError):
        make_oms(plugins=[Channels(Broken())])
