"""Poison events: an event a handler keeps rejecting is parked after a bounded number of
attempts, later events flow (each order's in write order), every failure is logged, and an
operator lists, retries and skips parked events through ``oms.outbox`` and the CLI."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from omskit import Oms, hookimpl
from omskit.cli import cli
from omskit.domain.errors import InvalidCommand, OutboxEventNotFound
from omskit.domain.events import Event
from omskit.testing import TestDatabase, location, order_command
from tests.support import ROME, RecordingHandler, outbox_rows


class RejectsOneOrder(RecordingHandler):
    """Rejects every event of the order placed as ``external_id`` while ``failing``."""

    def __init__(self, external_id: str) -> None:
        super().__init__()
        self.external_id = external_id
        self.poisoned: str | None = None
        self.failing = True

    @hookimpl
    def omskit_handle_event(self, event: Event, oms: Oms) -> None:
        if event.event_type == "order.placed" and self.poisoned is None:
            found = oms.orders.get(event.order_id or "")
            if found.external_id == self.external_id:
                self.poisoned = found.id
        if self.failing and event.order_id is not None and event.order_id == self.poisoned:
            raise RuntimeError(f"cannot publish {event.event_type}")
        self.events.append(event)


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("rome", "A", 1000)
    return oms


def test_a_poison_event_is_parked_and_later_events_flow(
        make_oms: Callable[..., Oms], caplog: pytest.LogCaptureFixture) -> None:
    handler = RejectsOneOrder("E-3")
    oms = stocked(make_oms(plugins=[handler]))
    with caplog.at_level(logging.ERROR, logger="omskit.outbox"):
        orders = [oms.orders.place(order_command(f"E-{i}", {"A": 1})) for i in range(20)]
    poisoned = orders[3].id
    assert handler.poisoned == poisoned
    # Every other order's events were delivered, though one order's events kept failing.
    delivered = {e.order_id for e in handler.events}
    assert delivered >= {o.id for o in orders} - {poisoned}
    assert oms.outbox.pending_count() == 5  # E-3's six events but the first: it waits
    rows = [r for r in outbox_rows(oms) if r["order_id"] == poisoned]
    assert rows[0]["event_type"] == "order.placed"
    # One attempt per later operation's dispatch, then parked at the fifth.
    assert rows[0]["attempts"] == oms.outbox.max_attempts == 5
    assert rows[0]["parked_at"] is not None
    assert rows[0]["last_error"] == "RuntimeError: cannot publish order.placed"
    assert all(r["attempts"] == 0 and r["parked_at"] is None for r in rows[1:])
    # Every failure was logged, with its traceback, in inline mode too.
    failures = [r for r in caplog.records if "failed, attempt" in r.getMessage()]
    assert len(failures) == 5
    assert all(r.exc_info is not None for r in failures)
    assert "parked" in failures[-1].getMessage()
    # A parked event is no longer tried: dispatching more changes nothing for it.
    assert oms.outbox.dispatch_pending() == 0
    assert outbox_rows(oms)[rows[0]["seq"] - 1]["attempts"] == 5

    parked = oms.outbox.parked()
    assert [(p.seq, p.event.event_type, p.attempts) for p in parked] == [
        (rows[0]["seq"], "order.placed", 5)]
    assert oms.outbox.parked_count() == 1

    # Fixed: the operator retries; it and the order's later events go out, in write order.
    handler.failing = False
    retried = oms.outbox.retry(rows[0]["seq"])
    assert retried.dispatched_at is not None
    assert not retried.parked
    mine = [e.event_id for e in handler.events if e.order_id == poisoned]
    assert mine == [r["event_id"] for r in rows]
    assert oms.outbox.pending_count() == 0
    assert oms.outbox.parked() == []


def test_skipping_a_parked_event_lets_its_order_flow(make_oms: Callable[..., Oms]) -> None:
    handler = RejectsOneOrder("E-0")
    oms = stocked(make_oms(plugins=[handler]))
    oms.outbox.max_attempts = 1
    order = oms.orders.place(order_command("E-0", {"A": 1}))
    [parked] = oms.outbox.parked()
    handler.failing = False
    skipped = oms.outbox.skip(parked.seq, reason="the broker has it already")
    assert skipped.dispatched_at is not None
    assert skipped.parked_at is not None
    assert skipped.last_error is not None
    assert skipped.last_error.endswith(
        "skipped: the broker has it already")
    # The skipped event itself was never delivered; the rest of the order's were.
    mine = [e.event_type for e in handler.events if e.order_id == order.id]
    assert "order.placed" not in mine
    assert mine[0] == "order.status_changed"
    assert oms.outbox.pending_count() == 0
    assert oms.outbox.parked_count() == 0
    with pytest.raises(OutboxEventNotFound):
        oms.outbox.retry(parked.seq)  # no longer parked


def test_operator_calls_refuse_bad_arguments(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[RecordingHandler()]))
    before = outbox_rows(oms)
    for bad in (0, -1, True, "1", None, 1.5, 2**63):
        with pytest.raises(InvalidCommand):
            oms.outbox.retry(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidCommand):
            oms.outbox.skip(bad, reason="too big for the column")  # type: ignore[arg-type]
    with pytest.raises(OutboxEventNotFound):
        oms.outbox.retry(10**12)
    with pytest.raises(OutboxEventNotFound):
        oms.outbox.skip(before[0]["seq"], reason="delivered already")
    with pytest.raises(InvalidCommand):
        oms.outbox.skip(1, reason="")
    with pytest.raises(InvalidCommand):
        oms.outbox.skip(1, reason="x\x00")
    for bad_limit in (0, 10_001, "5"):
        with pytest.raises(InvalidCommand):
            oms.outbox.parked(limit=bad_limit)  # type: ignore[arg-type]
        with pytest.raises(InvalidCommand):
            oms.outbox.dispatch_pending(bad_limit)  # type: ignore[arg-type]
    assert outbox_rows(oms) == before


def test_deferred_mode_allocates_backorders_when_the_worker_dispatches(
        make_oms: Callable[..., Oms]) -> None:
    writer = make_oms(dispatch="deferred")
    writer.inventory.save_location(location("rome", *ROME))
    writer.inventory.receive("rome", "A", 1)
    writer.outbox.dispatch_pending()
    waiting = writer.orders.place(order_command("E-1", {"A": 3}))
    assert [b.quantity for b in waiting.backordered()] == [2]
    writer.inventory.receive("rome", "A", 5)
    # The receipt is committed; the reaction waits for the outbox, like any handler's.
    assert [b.quantity for b in writer.orders.get(waiting.id).backordered()] == [2]
    assert writer.outbox.dispatch_pending() > 0
    assert writer.orders.get(waiting.id).backordered() == ()


def test_a_failing_core_reaction_is_retried_not_lost(make_oms: Callable[..., Oms],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from omskit.services.orders import OrderService

    oms = make_oms()
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("rome", "A", 1)
    waiting = oms.orders.place(order_command("E-1", {"A": 3}))
    real = OrderService.allocate_waiting

    def down(self: OrderService, skus: object = None) -> list[object]:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(OrderService, "allocate_waiting", down)
    oms.inventory.receive("rome", "A", 5)  # committed; its reaction failed
    assert oms.outbox.pending_count() == 1
    monkeypatch.setattr(OrderService, "allocate_waiting", real)
    assert oms.outbox.dispatch_pending() == 1
    assert oms.orders.get(waiting.id).backordered() == ()


def _cli(db: TestDatabase, *args: str) -> str:
    base = ["--db", db.url, "--no-plugins", *(["--schema", db.schema] if db.schema else [])]
    result = CliRunner().invoke(cli, [*base, "outbox", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_outbox_commands(make_oms: Callable[..., Oms], omskit_database: TestDatabase) -> None:
    handler = RejectsOneOrder("E-0")
    oms = stocked(make_oms(plugins=[handler]))
    oms.outbox.max_attempts = 1
    oms.orders.place(order_command("E-0", {"A": 1}))
    [parked] = oms.outbox.parked()
    status = json.loads(_cli(omskit_database, "status", "--json"))
    assert status == {"pending": 5, "parked": 1}
    listed = json.loads(_cli(omskit_database, "parked", "--json"))
    assert [(p["seq"], p["event_type"], p["attempts"]) for p in listed] == [
        (parked.seq, "order.placed", 1)]
    assert listed[0]["last_error"] == "RuntimeError: cannot publish order.placed"
    assert "order.placed" in _cli(omskit_database, "parked")
    # The CLI's Oms has no relay plugin: a retry there re-offers the event to the outbox.
    out = _cli(omskit_database, "retry", str(parked.seq))
    assert f"event {parked.seq}" in out
    assert oms.outbox.parked() == []
    handler.failing = False
    assert oms.outbox.dispatch_pending() == 6
    oms.orders.place(order_command("E-0", {"A": 1}))  # idempotent: nothing new
    # skip and errors
    handler.failing, handler.poisoned = True, None
    handler.external_id = "E-1"
    oms.orders.place(order_command("E-1", {"A": 1}))
    [parked] = oms.outbox.parked()
    _cli(omskit_database, "skip", str(parked.seq), "--reason", "sent by hand")
    assert oms.outbox.parked() == []
    base = ["--db", omskit_database.url, "--no-plugins",
            *(["--schema", omskit_database.schema] if omskit_database.schema else [])]
    missing = CliRunner().invoke(cli, [*base, "outbox", "retry", "999999"])
    assert missing.exit_code != 0
