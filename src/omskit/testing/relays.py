"""The event relay conformance kit, and an in-memory broker for tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta

import attrs
import pytest
import sqlalchemy as sa

from omskit import (
    EventRelay,
    Oms,
    RelayMessage,
    RelayRun,
    RelayUnavailable,
    hookimpl,
)
from omskit.testing.builders import location, order_command
from omskit.testing.payments import MutableClock, SimulatedCrash


@attrs.frozen(kw_only=True)
class ReceivedMessage:
    """One message as a broker's consumer received it."""

    message_id: str
    event_type: str
    body: bytes


@attrs.define
class MemoryBroker:
    """A broker in memory: what it holds, in arrival order. ``down`` refuses every publish;
    ``refuse`` lists message ids it will not confirm (nacks); ``deduplicate`` drops a message
    whose id it already holds (as NATS JetStream does), else it keeps every copy (as an AMQP
    queue does, leaving de-duplication to the consumer)."""

    down: bool = False
    deduplicate: bool = False
    refuse: set[str] = attrs.field(factory=set)
    messages: list[ReceivedMessage] = attrs.field(factory=list)

    def publish(self, message: RelayMessage) -> bool:
        """Take ``message``; whether it is confirmed."""
        if message.message_id in self.refuse:
            return False
        if self.deduplicate and any(m.message_id == message.message_id
                                    for m in self.messages):
            return True
        self.messages.append(ReceivedMessage(message_id=message.message_id,
                                             event_type=message.event_type,
                                             body=message.body))
        return True


@attrs.define
class MemoryRelay:
    """An :class:`omskit.EventRelay` publishing to a :class:`MemoryBroker`; also a plugin
    that registers itself (``make_oms(plugins=[MemoryRelay("memory", broker)])``)."""

    code: str
    broker: MemoryBroker = attrs.field(factory=MemoryBroker)
    #: Every batch ``publish`` was given, as message ids.
    batches: list[list[str]] = attrs.field(factory=list)

    def publish(self, messages: Sequence[RelayMessage]) -> Collection[str]:
        """Publish to the broker in order; the ids it confirmed."""
        self.batches.append([m.message_id for m in messages])
        if self.broker.down:
            raise RelayUnavailable(f"memory broker of relay {self.code!r} is down")
        return [m.message_id for m in messages if self.broker.publish(m)]

    @hookimpl
    def omskit_register_event_relays(self, register: Callable[[EventRelay], None]) -> None:
        register(self)


@attrs.define
class CrashingRelay:
    """Wraps a relay: publishes through it, then dies (:class:`SimulatedCrash`) before the
    core records anything, like a worker killed between publish and mark."""

    inner: EventRelay
    published: list[str] = attrs.field(factory=list)
    #: The wrapped relay's code.
    code: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.code = self.inner.code

    def publish(self, messages: Sequence[RelayMessage]) -> Collection[str]:
        """Publish through the wrapped relay, then crash."""
        confirmed = self.inner.publish(messages)
        self.published = list(confirmed)
        raise SimulatedCrash("worker died after the broker confirmed")

    @hookimpl
    def omskit_register_event_relays(self, register: Callable[[EventRelay], None]) -> None:
        register(self)


def place_some_orders(oms: Oms, count: int = 3) -> None:
    """Stock one location and place ``count`` orders (each writes several events), one of
    them cancelled: events of several orders, interleaved in the outbox."""
    oms.inventory.save_location(location("relay-dc", 45.46, 9.19))
    oms.inventory.receive("relay-dc", "SKU-R", 100)
    placed = [oms.orders.place(order_command(f"RELAY-{n}", {"SKU-R": 1 + n % 2}))
              for n in range(count)]
    oms.orders.cancel(placed[0].id, "customer asked")


def outbox_events(oms: Oms) -> list[tuple[int, str, str | None, str]]:
    """Every outbox event as ``(seq, event id, order id, event type)``, in write order."""
    o = oms.tables.outbox
    with oms.engine.connect() as conn:
        return [(int(r.seq), r.event_id, r.order_id, r.event_type) for r in conn.execute(
            sa.select(o.c.seq, o.c.event_id, o.c.order_id, o.c.event_type)
            .order_by(o.c.seq))]


def relay_all(oms: Oms, code: str, *, limit: int = 4, most: int = 200) -> list[RelayRun]:
    """Run ``oms.outbox.relay(code)`` until a batch claims nothing (or fails whole)."""
    runs: list[RelayRun] = []
    for _ in range(most):
        run = oms.outbox.relay(code, limit=limit)
        runs.append(run)
        if run.claimed == 0 or run.error is not None:
            return runs
    raise AssertionError(f"relay {code!r} still had events after {most} batches")


class RelayConformance:
    """Tests every event relay must pass, against its real broker. Provide the fixtures:

    - ``relay_plugin``: the plugin object registering the relay under ``relay_code``,
      publishing to a destination of its own for this test (a unique exchange or stream);
    - ``relay_code``;
    - ``received``: a callable returning what the broker's consumer of that destination got
      so far, as :class:`ReceivedMessage` in arrival order (it may wait briefly for
      messages in flight);
    - ``down_relay_plugin``: a plugin registering a relay with the same code whose broker is
      down (a closed port).

    Uses ``make_oms``, so every test runs on SQLite and PostgreSQL.
    """

    @pytest.fixture
    def relay_clock(self) -> MutableClock:
        return MutableClock()

    def _received_ids(self, received: Callable[[], list[ReceivedMessage]],
                      expected: int) -> list[ReceivedMessage]:
        got = received()
        assert len({m.message_id for m in got}) >= expected, (
            f"the broker holds {len(got)} messages, {expected} events were relayed")
        return got

    def test_relay_is_registered_under_its_code(self, make_oms: Callable[..., Oms],
                                                relay_plugin: object,
                                                relay_code: str) -> None:
        oms = make_oms(plugins=[relay_plugin])
        assert relay_code in oms.outbox.relays()
        assert oms.event_relay(relay_code).code == relay_code

    def test_every_event_is_delivered_at_least_once_in_order_per_order(
            self, make_oms: Callable[..., Oms], relay_plugin: object, relay_code: str,
            received: Callable[[], list[ReceivedMessage]]) -> None:
        oms = make_oms(plugins=[relay_plugin])
        place_some_orders(oms)
        events = outbox_events(oms)
        runs = relay_all(oms, relay_code)
        assert all(r.error is None for r in runs), [r.error for r in runs]
        assert sum(r.delivered for r in runs) == len(events)
        status = oms.outbox.relay_status(relay_code)
        assert (status.pending, status.parked, status.failures) == (0, 0, 0)
        got = self._received_ids(received, len(events))
        ids = {event_id for _, event_id, _, _ in events}
        assert {m.message_id for m in got} == ids
        first_seen: dict[str, int] = {}
        for position, message in enumerate(got):
            first_seen.setdefault(message.message_id, position)
        by_order: dict[str | None, list[tuple[int, str]]] = {}
        for seq, event_id, order_id, _ in events:
            by_order.setdefault(order_id, []).append((seq, event_id))
        for order_id, written in by_order.items():
            if order_id is None:
                continue
            arrival = sorted(written, key=lambda e: first_seen[e[1]])
            assert arrival == written, f"order {order_id}: events arrived out of order"
        types = {event_id: event_type for _, event_id, _, event_type in events}
        for message in got:
            assert message.event_type == types[message.message_id]
            assert json.loads(message.body)["event_type"] == message.event_type

    def test_a_crash_between_publish_and_mark_republishes_with_the_same_id(
            self, make_oms: Callable[..., Oms], relay_plugin: object, relay_code: str,
            received: Callable[[], list[ReceivedMessage]], relay_clock: MutableClock) -> None:
        oms = make_oms(plugins=[relay_plugin], clock=relay_clock)
        place_some_orders(oms, count=2)
        events = outbox_events(oms)
        crashing = CrashingRelay(oms.event_relay(relay_code))
        worker = make_oms(plugins=[crashing], clock=relay_clock)
        with pytest.raises(SimulatedCrash):
            worker.outbox.relay(relay_code, limit=3)
        assert len(crashing.published) == 3
        # Nothing was recorded: the events are leased, then the lease expires.
        assert oms.outbox.relay_status(relay_code).pending == len(events)
        relay_clock.advance(oms.outbox.lease + timedelta(seconds=1))
        runs = relay_all(oms, relay_code, limit=100)
        assert sum(r.delivered for r in runs) == len(events)
        got = self._received_ids(received, len(events))
        assert {m.message_id for m in got} == {e[1] for e in events}
        bodies: dict[str, bytes] = {}
        for message in got:  # a duplicate is the same message, so consumers can drop it
            assert bodies.setdefault(message.message_id, message.body) == message.body

    def test_a_broker_that_is_down_is_a_recorded_retryable_failure(
            self, make_oms: Callable[..., Oms], relay_plugin: object,
            down_relay_plugin: object, relay_code: str,
            received: Callable[[], list[ReceivedMessage]]) -> None:
        down = make_oms(plugins=[down_relay_plugin])
        place_some_orders(down, count=2)
        events = outbox_events(down)
        run = down.outbox.relay(relay_code, limit=100)
        assert run.error is not None
        assert run.delivered == 0
        assert run.claimed == len(events)
        status = down.outbox.relay_status(relay_code)
        assert status.failures == 1
        assert status.last_error == run.error
        assert status.pending == len(events)
        assert status.parked == 0
        # Nothing is leased either: a worker whose broker is back takes them at once.
        up = make_oms(plugins=[relay_plugin])
        runs = relay_all(up, relay_code, limit=100)
        assert sum(r.delivered for r in runs) == len(events)
        status = up.outbox.relay_status(relay_code)
        assert (status.pending, status.failures) == (0, 0)
        assert {m.message_id for m in self._received_ids(received, len(events))} == {
            e[1] for e in events}


__all__ = ["CrashingRelay", "MemoryBroker", "MemoryRelay", "ReceivedMessage",
           "RelayConformance", "outbox_events", "place_some_orders", "relay_all"]

