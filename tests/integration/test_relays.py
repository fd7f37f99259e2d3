"""Event relays in the core: per-relay delivery records, claims shared by workers, order per
order, unconfirmed messages parked, a broker that is down; and the relay conformance kit run
against an in-memory broker (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import pytest

from omskit import (
    EventRelay,
    InvalidCommand,
    Oms,
    PluginError,
    RelayMessage,
    UnknownRelay,
    bootstrap,
    hookimpl,
)
from omskit.testing import (
    MemoryBroker,
    MemoryRelay,
    ReceivedMessage,
    RelayConformance,
    outbox_events,
    place_some_orders,
    relay_all,
)


class TestMemoryRelayConformance(RelayConformance):
    """The kit's own check: an in-memory broker passes it (so the kit can pass at all)."""

    @pytest.fixture
    def broker(self) -> MemoryBroker:
        return MemoryBroker()

    @pytest.fixture
    def relay_code(self) -> str:
        return "memory"

    @pytest.fixture
    def relay_plugin(self, broker: MemoryBroker, relay_code: str) -> MemoryRelay:
        return MemoryRelay(relay_code, broker)

    @pytest.fixture
    def down_relay_plugin(self, relay_code: str) -> MemoryRelay:
        return MemoryRelay(relay_code, MemoryBroker(down=True))

    @pytest.fixture
    def received(self, broker: MemoryBroker) -> Callable[[], list[ReceivedMessage]]:
        return lambda: list(broker.messages)


def test_each_relay_keeps_its_own_record(make_oms: Callable[..., Oms]) -> None:
    amqp, nats = MemoryRelay("a"), MemoryRelay("b")
    oms = make_oms(plugins=[amqp, nats])
    place_some_orders(oms)
    events = outbox_events(oms)
    relay_all(oms, "a")
    assert oms.outbox.relay_status("a").pending == 0
    assert oms.outbox.relay_status("b").pending == len(events)
    relay_all(oms, "b", limit=100)
    assert [m.message_id for m in nats.broker.messages] == [e[1] for e in events]
    # In-process dispatch is a separate matter: relays never touch dispatched_at.
    assert oms.outbox.relay("a").claimed == 0


def test_two_workers_never_claim_the_same_event(make_oms: Callable[..., Oms]) -> None:
    broker = MemoryBroker()
    second = make_oms(plugins=[MemoryRelay("r", broker)])
    inner: list[list[str]] = []

    class NestedWorker:
        """Publishes, and while its batch is out, lets another worker take a batch."""

        code = "r"

        def publish(self, messages: Sequence[RelayMessage]) -> Collection[str]:
            run = second.outbox.relay("r", limit=100)
            inner.append([m for b in second.event_relay("r").batches  # type: ignore[attr-defined]
                          for m in b])
            assert run.error is None
            return [m.message_id for m in messages if broker.publish(m)]

        @hookimpl
        def omskit_register_event_relays(self, register: Callable[[EventRelay], None]) -> None:
            register(self)

    first = make_oms(plugins=[NestedWorker()])
    place_some_orders(first, count=4)
    events = outbox_events(first)
    run = first.outbox.relay("r", limit=3)
    assert run.delivered == 3
    mine = {e[1] for e in events[:3]}
    assert mine.isdisjoint(inner[0]), "the second worker took leased events"
    # The second worker passed over every later event of the first batch's orders.
    leased_orders = {e[2] for e in events[:3]} - {None}
    taken = {e[1]: e[2] for e in events}
    assert not {taken[i] for i in inner[0]} & leased_orders
    relay_all(first, "r", limit=100)
    assert sorted(m.message_id for m in broker.messages) == sorted(e[1] for e in events)
    assert len(broker.messages) == len(events)  # nobody published an event twice


def test_an_unconfirmed_event_holds_back_its_order_and_is_parked(
        make_oms: Callable[..., Oms]) -> None:
    relay = MemoryRelay("r")
    oms = make_oms(plugins=[relay])
    oms.outbox.max_attempts = 2
    place_some_orders(oms, count=2)
    events = outbox_events(oms)
    poison = next(e for e in events if e[2] is not None)
    relay.broker.refuse.add(poison[1])
    run = oms.outbox.relay("r", limit=100)
    later = [e for e in events if e[2] == poison[2] and e[0] > poison[0]]
    assert run.unconfirmed == 1
    assert run.held_back == len(later)
    assert run.delivered == len(events) - 1 - len(later)
    run = oms.outbox.relay("r", limit=100)
    assert run.parked == 1
    status = oms.outbox.relay_status("r")
    assert status.parked == 1
    assert status.pending == len(later)
    # The order's later events wait behind the parked one; nothing else is left.
    assert oms.outbox.relay("r", limit=100).claimed == 0
    # An operator's fix (here: the broker takes it again) needs the relay's record only.
    assert poison[1] not in {m.message_id for m in relay.broker.messages}


def test_bad_arguments_change_nothing(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[MemoryRelay("r")])
    place_some_orders(oms, count=1)
    with pytest.raises(UnknownRelay):
        oms.outbox.relay("nope")
    with pytest.raises(UnknownRelay):
        oms.outbox.relay_status("nope")
    for limit in (0, -1, True, "5", 10_001):
        with pytest.raises(InvalidCommand):
            oms.outbox.relay("r", limit=limit)  # type: ignore[arg-type]
    for name in (None, "", "R", "a b", "\x00", 5):
        with pytest.raises(InvalidCommand):
            oms.outbox.relay(name)  # type: ignore[arg-type]
        with pytest.raises(InvalidCommand):
            oms.outbox.relay_status(name)  # type: ignore[arg-type]
    assert oms.outbox.relay_status("r").pending == len(outbox_events(oms))


def test_a_relay_must_fit_the_contract() -> None:
    class NoPublish:
        code = "bad"

        @hookimpl
        def omskit_register_event_relays(self, register: Callable[[object], None]) -> None:
            register(self)

    with pytest.raises(PluginError, match="publish"):
        bootstrap("sqlite://", plugins=[NoPublish()], load_entrypoints=False)


def test_cli_names_an_unknown_relay(omskit_database: object, tmp_path: object) -> None:
    from click.testing import CliRunner

    from omskit.cli.main import cli

    url = omskit_database.url  # type: ignore[attr-defined]
    schema = omskit_database.schema  # type: ignore[attr-defined]
    base = ["--db", url, "--no-plugins", *(["--schema", schema] if schema else [])]
    assert CliRunner().invoke(cli, [*base, "db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(cli, [*base, "outbox", "relay", "nope", "--once"])
    # omskit's main() turns it into one line, "error: event relay 'nope' not found".
    assert isinstance(result.exception, UnknownRelay)


def test_concurrent_workers_publish_each_event_once_in_order(
        make_oms: Callable[..., Oms]) -> None:
    """Three workers, each its own Oms and engine, relay one outbox at the same time: no
    event is claimed twice (each reaches the broker exactly once, since none fails) and
    each order's events reach it in write order."""
    import threading

    broker = MemoryBroker()
    lock = threading.Lock()

    class Locked(MemoryRelay):
        def publish(self, messages: Sequence[RelayMessage]) -> Collection[str]:
            with lock:
                return super().publish(messages)

    writer = make_oms()
    place_some_orders(writer, count=6)
    events = outbox_events(writer)
    workers = [make_oms(plugins=[Locked("r", broker)]) for _ in range(3)]
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def work(oms: Oms) -> None:
        try:
            start.wait()
            idle = 0
            while idle < 3:  # a worker may find everything leased: look again
                idle = idle + 1 if oms.outbox.relay("r", limit=2).claimed == 0 else 0
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert workers[0].outbox.relay_status("r").pending == 0
    got = [m.message_id for m in broker.messages]
    assert sorted(got) == sorted(e[1] for e in events)
    assert len(got) == len(events), "an event was claimed and published twice"
    position = {message_id: i for i, message_id in enumerate(got)}
    for order_id in {e[2] for e in events} - {None}:
        written = [e[1] for e in events if e[2] == order_id]
        assert sorted(written, key=position.__getitem__) == written
