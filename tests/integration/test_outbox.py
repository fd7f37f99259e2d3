"""The transactional outbox on every backend: delivery after commit, once, in order; retries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omskit import Oms, hookimpl
from omskit.domain.events import Event
from omskit.testing import location, order_command
from tests.support import ROME, FailingHandler, RecordingHandler, outbox_rows

PLACEMENT_EVENTS = [
    "order.placed", "order.status_changed", "fulfillment_order.created", "order.routed",
    "order.status_changed", "stock.reserved",
]


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("rome", "A", 10)
    return oms


def test_events_are_delivered_once_after_commit_in_order(
        make_oms: Callable[..., Oms]) -> None:
    seen_in_database: list[bool] = []

    class Handler(RecordingHandler):
        @hookimpl
        def omskit_handle_event(self, event: Event, oms: Oms) -> None:
            super().omskit_handle_event(event, oms)
            if event.event_type == "order.placed":
                # Delivery happens after commit: another connection can read the order.
                found = oms.orders.find_by_external("web", "E-1")
                seen_in_database.append(found is not None)

    handler = Handler()
    oms = stocked(make_oms(plugins=[handler]))
    assert handler.types() == ["location.saved", "stock.received"]
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    assert handler.types()[2:] == PLACEMENT_EVENTS
    assert seen_in_database == [True]
    # The ids handed to the handler are the ids stored in the outbox (stable, de-duplicable).
    stored = outbox_rows(oms)
    assert handler.ids() == [r["event_id"] for r in stored]
    assert [e.event.event_id for e in oms.orders.timeline(order.id)] == handler.ids()[2:]
    assert all(r["dispatched_at"] is not None and r["attempts"] == 0 for r in stored)
    assert oms.outbox.pending_count() == 0
    # Nothing is delivered twice.
    assert oms.outbox.dispatch_pending() == 0
    assert len(handler.events) == len(set(handler.ids())) == 8


def test_a_failing_handler_leaves_the_event_pending(make_oms: Callable[..., Oms]) -> None:
    handler = FailingHandler(fail_on="order.routed")
    oms = stocked(make_oms(plugins=[handler]))
    order = oms.orders.place(order_command("E-1", {"A": 2}))  # the placement itself stands
    assert oms.orders.get(order.id).status.value == "allocated"
    # Delivery stopped at order.routed: it and the events after it wait.
    assert handler.types()[2:] == PLACEMENT_EVENTS[:3]
    rows = {r["event_type"]: r for r in outbox_rows(oms)[-6:]}
    routed = rows["order.routed"]
    assert routed["dispatched_at"] is None
    assert routed["attempts"] == 1
    assert routed["last_error"] == "RuntimeError: broker down while sending order.routed"
    assert oms.outbox.pending_count() == 3
    failed_id = handler.attempted[-1].event_id

    # Still failing: the attempt is counted again and nothing is delivered.
    assert oms.outbox.dispatch_pending() == 0
    assert {r["event_id"]: r["attempts"] for r in outbox_rows(oms)}[failed_id] == 2

    handler.failing = False
    assert oms.outbox.dispatch_pending() == 3
    assert handler.types()[2:] == PLACEMENT_EVENTS
    assert handler.events[5].event_id == failed_id  # redelivered under the same id
    assert oms.outbox.pending_count() == 0
    after = {r["event_id"]: r for r in outbox_rows(oms)}[failed_id]
    assert (after["dispatched_at"] is not None, after["last_error"]) == (True, None)
    assert oms.outbox.dispatch_pending() == 0
    assert len(handler.ids()) == len(set(handler.ids()))


def test_deferred_dispatch_waits_for_dispatch_pending(make_oms: Callable[..., Oms]) -> None:
    handler = RecordingHandler()
    oms = stocked(make_oms(plugins=[handler], dispatch="deferred"))
    oms.orders.place(order_command("E-1", {"A": 2}))
    assert handler.events == []
    assert oms.outbox.pending_count() == 8
    assert oms.outbox.dispatch_pending(limit=3) == 3
    assert handler.types() == ["location.saved", "stock.received", "order.placed"]
    assert oms.outbox.dispatch_pending() == 5
    assert handler.types()[2:] == PLACEMENT_EVENTS
    assert handler.ids() == [r["event_id"] for r in outbox_rows(oms)]
    assert oms.outbox.pending_count() == 0


def test_deferred_events_are_kept_even_without_handlers(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(dispatch="deferred"))
    assert oms.outbox.pending_count() == 2
    assert oms.outbox.dispatch_pending() == 2
    assert oms.outbox.pending_count() == 0


def test_without_handlers_events_are_stored_as_history(oms: Oms) -> None:
    stocked(oms)
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    rows = outbox_rows(oms)
    assert [r["event_type"] for r in rows] == [
        "location.saved", "stock.received", *PLACEMENT_EVENTS]
    assert all(r["dispatched_at"] is not None for r in rows)
    assert oms.outbox.pending_count() == 0
    assert [r["order_id"] for r in rows[2:]] == [order.id] * 6


@pytest.mark.parametrize("mode", ["inline", "deferred"])
def test_stored_events_decode_to_what_was_emitted(make_oms: Callable[..., Oms],
                                                  mode: str) -> None:
    handler = RecordingHandler()
    oms = stocked(make_oms(plugins=[handler], dispatch=mode))
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    oms.outbox.dispatch_pending()
    timeline = [e.event for e in oms.orders.timeline(order.id)]
    assert timeline == handler.events[2:]
