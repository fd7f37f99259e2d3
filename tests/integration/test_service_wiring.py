"""The collaborators ``app.py`` wires services from (decision 28), on every backend: a
service built by hand from them works, the dispatcher's settle-on-write rule, and a bound
``Oms`` leaving its parent's wiring alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from omskit import Oms
from omskit.domain.events import LocationSaved, StockReceived
from omskit.services.dispatch import EventDispatcher
from omskit.services.promise import PromiseService
from omskit.testing import location
from tests.support import ROME, RecordingHandler

THEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_a_service_built_from_its_collaborators_alone(oms: Oms) -> None:
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("rome", "A", 3)
    # Its own clock, the instance's database and router: nothing else is needed.
    promise = PromiseService(db=oms._db, clock=lambda: THEN, router=oms.router)
    quote = promise.quote({"A": 2}, country="IT")
    assert quote.quoted_at == THEN
    assert quote.options[0].available
    assert oms.promise.quote({"A": 2}, country="IT").quoted_at != THEN


def test_events_nobody_receives_are_settled_on_write_only_inline(oms: Oms) -> None:
    handled = frozenset({StockReceived.event_type})
    inline = EventDispatcher(hooks=oms.hooks, handled_types=handled)
    rule = inline.settled_on_write()
    assert rule is not None
    saved = LocationSaved(location="rome", created=True)
    received = StockReceived(location="rome", sku="A", quantity=1, reference="grn-1")
    assert rule(saved)
    assert not rule(received)
    assert EventDispatcher(hooks=oms.hooks, mode="deferred").settled_on_write() is None
    joined = EventDispatcher(hooks=oms.hooks, in_host_transaction=True)
    assert joined.settled_on_write() is None
    assert not joined.drains_inline()


def test_an_observing_plugin_turns_settling_off(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[RecordingHandler()])
    assert EventDispatcher(hooks=oms.hooks).settled_on_write() is None


def test_binding_leaves_the_parents_inline_dispatch_alone(make_oms: Callable[..., Oms]) -> None:
    handler = RecordingHandler()
    oms = make_oms(plugins=[handler])
    with oms.engine.connect() as conn, conn.begin():
        joined = oms.bind(conn)
        joined.inventory.save_location(location("milan", 45.46, 9.19))
    assert handler.events == []  # joined work waits for dispatch_pending
    # The parent still drains through its own outbox, right after its commit: the pending
    # event of the joined work first, in write order.
    oms.inventory.save_location(location("rome", *ROME))
    assert [e.location for e in handler.events
            if isinstance(e, LocationSaved)] == ["milan", "rome"]
    assert oms.outbox.pending_count() == 0
