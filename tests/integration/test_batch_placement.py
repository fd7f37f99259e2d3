"""``oms.orders.place_many``: one transaction that behaves like ``place`` one by one."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

import pytest

from omskit import Oms
from omskit.domain.commands import PlaceOrder
from omskit.domain.errors import IdempotencyConflict, InvalidCommand
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.order import Order
from omskit.domain.values import Problem
from omskit.hookspecs import hookimpl
from omskit.ports import InventoryReader
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN, NAPLES, ROME, RecordingHandler, stock_rows

O = OrderStatus  # noqa: E741


class HoldSkuX:
    """Validation: an order with SKU ``X`` goes on hold."""

    @hookimpl
    def omskit_validate_order(self, order: Order, inventory: InventoryReader) -> list[Problem]:
        if any(line.sku == "X" for line in order.lines):
            return [Problem(code="sku-x", message="SKU X needs a manual check")]
        return []


class ExplodeOn:
    """Validation that fails (an unreachable service) for one external id."""

    def __init__(self, external_id: str) -> None:
        self.external_id = external_id

    @hookimpl
    def omskit_validate_order(self, order: Order, inventory: InventoryReader) -> list[Problem]:
        if order.external_id == self.external_id:
            raise ConnectionError("fraud service unreachable")
        return []


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.save_location(location("naples", *NAPLES))
    oms.inventory.receive("milan", "A", 5)
    oms.inventory.receive("rome", "A", 4)
    oms.inventory.receive("rome", "B", 3)
    oms.inventory.receive("naples", "C", 6)
    oms.inventory.receive("naples", "X", 6)
    return oms


def commands() -> list[PlaceOrder]:
    """Orders that compete for stock: later ones split, backorder or are held."""
    return [
        order_command("E-1", {"A": 3}),
        order_command("E-2", {"A": 4, "B": 1}, lat=ROME[0], lon=ROME[1]),
        order_command("E-3", {"A": 3, "C": 2}),  # only 2 A left: partly backordered
        order_command("E-4", {"X": 1, "C": 1}),  # held by the validator
        order_command("E-5", {"B": 2, "C": 3}, lat=NAPLES[0], lon=NAPLES[1]),
        order_command("E-6", {"B": 1}),  # nothing left: backordered
    ]


def shape(order: Order) -> tuple[Any, ...]:
    """What placement decided for an order, without ids and times."""
    fos = sorted((fo.location, tuple(sorted((x.sku, x.quantity) for x in fo.lines)))
                 for fo in order.fulfillment_orders)
    return (order.external_id, order.status, tuple(fos),
            tuple(sorted((x.sku, x.quantity) for x in order.backordered())),
            tuple(h.code for h in order.active_holds))


def event_types(oms: Oms, order: Order) -> list[str]:
    return sorted(e.event_type for e in oms.orders.timeline(order.id))


def test_a_batch_places_what_place_would_one_by_one(make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[HoldSkuX()]))
    one_by_one = [oms.orders.place(c) for c in commands()]
    expected = [shape(o) for o in one_by_one]
    expected_stock = stock_rows(oms)
    expected_events = [event_types(oms, o) for o in one_by_one]
    assert {o.status for o in one_by_one} >= {O.ALLOCATED, O.BACKORDERED, O.ON_HOLD}

    oms.drop_schema()
    oms.create_schema()
    stocked(oms)
    batch = oms.orders.place_many(commands())
    assert [shape(o) for o in batch] == expected
    assert [shape(oms.orders.get(o.id)) for o in batch] == expected  # as stored
    assert stock_rows(oms) == expected_stock
    assert [event_types(oms, o) for o in batch] == expected_events
    assert oms.inventory.ledger_mismatches() == []


def test_re_running_a_batch_writes_nothing_and_returns_the_same_orders(oms: Oms) -> None:
    stocked(oms)
    first = oms.orders.place_many(commands())
    before = table_contents(oms)
    again = oms.orders.place_many(commands())
    assert [o.id for o in again] == [o.id for o in first]
    assert [o.status for o in again] == [o.status for o in first]
    assert table_contents(oms) == before
    # Orders placed one by one before are returned unchanged inside a new batch.
    oms.inventory.receive("milan", "Z", 5)
    placed = oms.orders.place(order_command("E-7", {"Z": 1}))
    before = table_contents(oms)
    mixed = oms.orders.place_many([order_command("E-7", {"Z": 1}), order_command("E-8", {"Z": 1})])
    assert mixed[0].id == placed.id
    assert [x.quantity for x in mixed[0].lines] == [1]
    assert mixed[1].status is O.ALLOCATED
    after = table_contents(oms)
    orders_table = oms.tables.orders.name
    assert len(after[orders_table]) == len(before[orders_table]) + 1


def test_a_re_delivery_with_other_content_refuses_the_whole_batch(oms: Oms) -> None:
    # Regression (issue 9, item 10): the first order was returned and the new content lost.
    stocked(oms)
    placed = oms.orders.place(order_command("E-7", {"A": 1}))
    before = table_contents(oms)
    with pytest.raises(IdempotencyConflict) as caught:
        oms.orders.place_many([order_command("E-8", {"A": 1}),
                               order_command("E-7", {"A": 9})])
    assert (caught.value.channel, caught.value.external_id, caught.value.order_id) == (
        "web", "E-7", placed.id)
    assert table_contents(oms) == before


def test_duplicates_within_a_batch_return_the_first_commands_order(oms: Oms) -> None:
    stocked(oms)
    orders = oms.orders.place_many([
        order_command("D-1", {"A": 2}),
        order_command("D-2", {"A": 1}),
        order_command("D-1", {"A": 2}),  # an identical re-delivery
        order_command("D-1", {"A": 2}, channel="shop"),  # another channel: another order
    ])
    assert orders[0] is orders[2]
    assert [x.quantity for x in orders[2].lines] == [2]
    assert len({o.id for o in orders}) == 3
    assert oms.inventory.available("A") == 9 - 2 - 1 - 2
    assert oms.orders.find_by_external("web", "D-1").id == orders[0].id  # type: ignore[union-attr]


def test_duplicates_within_a_batch_with_other_content_are_refused(oms: Oms) -> None:
    # Regression (issue 9, item 10): the second command was silently dropped.
    stocked(oms)
    before = table_contents(oms)
    with pytest.raises(IdempotencyConflict) as caught:
        oms.orders.place_many([order_command("D-1", {"A": 2}), order_command("D-2", {"A": 1}),
                               order_command("D-1", {"A": 5})])
    assert (caught.value.external_id, caught.value.order_id) == ("D-1", None)
    assert table_contents(oms) == before


def test_a_failing_plugin_mid_batch_rolls_the_whole_batch_back(
        make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[ExplodeOn("E-4")]))
    oms.orders.place(order_command("P-1", {"A": 1}))
    before = table_contents(oms)
    with pytest.raises(ConnectionError, match="fraud service unreachable"):
        oms.orders.place_many(commands())
    assert table_contents(oms) == before
    assert oms.orders.find_by_external("web", "E-1") is None


def test_bad_input_is_refused_before_anything_is_written(oms: Oms) -> None:
    stocked(oms)
    before = table_contents(oms)
    with pytest.raises(InvalidCommand) as raised:
        oms.orders.place_many([order_command("E-1", {"A": 1}), {"external_id": "E-2"},
                               None])  # type: ignore[list-item]
    assert raised.value.problems == ("[1]: expected a PlaceOrder, got dict",
                                     "[2]: expected a PlaceOrder, got NoneType")
    assert table_contents(oms) == before
    assert oms.orders.place_many([]) == []
    assert oms.orders.place_many(iter([])) == []
    assert table_contents(oms) == before


def test_events_are_dispatched_after_the_commit(make_oms: Callable[..., Oms]) -> None:
    handler = RecordingHandler()
    seen_committed: list[bool] = []

    class CheckCommitted:
        @hookimpl
        def omskit_handle_event(self, event: Any, oms: Oms) -> None:
            # Every order of the batch is visible from another connection by now.
            if event.event_type == "order.placed":
                seen_committed.append(all(
                    oms.orders.find_by_external("web", x) is not None
                    for x in ("E-1", "E-2", "E-3", "E-4", "E-5", "E-6")))

    oms = stocked(make_oms(plugins=[handler, CheckCommitted()]))
    handler.events.clear()
    orders = oms.orders.place_many(commands())
    assert seen_committed == [True] * 6
    assert oms.outbox.pending_count() == 0
    placed = [e for e in handler.events if e.event_type == "order.placed"]
    assert [e.order for e in placed] == [o.id for o in orders]  # type: ignore[attr-defined]
    stored = {e.event_id for o in orders for e in (t.event for t in oms.orders.timeline(o.id))}
    assert set(handler.ids()) == stored
    assert len(handler.ids()) == len(stored)  # each event once


def test_deferred_dispatch_leaves_the_batch_events_pending(make_oms: Callable[..., Oms]) -> None:
    handler = RecordingHandler()
    oms = stocked(make_oms(plugins=[handler], dispatch="deferred"))
    handler.events.clear()
    oms.orders.place_many(commands()[:2])
    assert handler.events == []
    assert oms.outbox.pending_count() > 0
    oms.outbox.dispatch_pending()
    assert oms.outbox.pending_count() == 0
    assert handler.types().count("order.placed") == 2


def test_concurrent_overlapping_batches_make_one_order_per_key(oms: Oms) -> None:
    stocked(oms)
    batches = [[order_command(f"C-{i}", {"A": 1}) for i in keys]
               for keys in ([0, 1, 2], [2, 1, 0], [1, 2, 3], [3, 0])]
    barrier = threading.Barrier(len(batches))
    placed: dict[int, list[Order]] = {}
    errors: list[BaseException] = []

    def deliver(k: int) -> None:
        barrier.wait()
        try:
            placed[k] = oms.orders.place_many(batches[k])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(k,)) for k in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    ids: dict[str, set[str]] = {}
    for orders in placed.values():
        for order in orders:
            ids.setdefault(order.external_id, set()).add(order.id)
    assert {k: len(v) for k, v in ids.items()} == {"C-0": 1, "C-1": 1, "C-2": 1, "C-3": 1}
    assert len(oms.orders.search()) == 4
    assert oms.inventory.available("A") == 9 - 4
    assert oms.inventory.ledger_mismatches() == []


class SeesCollector:
    """Validation that records whether Python's cyclic garbage collector is running."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    @hookimpl
    def omskit_validate_order(self, order: Order, inventory: InventoryReader) -> list[Problem]:
        self.seen.append(gc.isenabled())
        return []


@pytest.mark.parametrize("enabled", [True, False])
def test_a_batch_pauses_the_garbage_collector_and_restores_it(
        make_oms: Callable[..., Oms], enabled: bool) -> None:
    sees = SeesCollector()
    oms = stocked(make_oms(plugins=[sees]))
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        oms.orders.place_many(commands()[:2])
        assert gc.isenabled() is enabled
        assert sees.seen == [False, False]
        # Restored on error too (a failing plugin rolls the batch back).
        sees.seen.clear()
        failing = make_oms(plugins=[ExplodeOn("F-2")])
        with pytest.raises(ConnectionError):
            failing.orders.place_many([order_command("F-1", {"A": 1}),
                                       order_command("F-2", {"A": 1})])
        assert gc.isenabled() is enabled
        oms.orders.place(order_command("P-9", {"A": 1}))
        assert sees.seen == [enabled]  # a single placement leaves the collector alone
    finally:
        (gc.enable if was else gc.disable)()


def test_overlapping_batches_in_threads_leave_the_collector_running(oms: Oms) -> None:
    stocked(oms)
    for sku in ("A", "B", "C"):
        oms.inventory.receive("milan", sku, 500)
    assert gc.isenabled()
    errors: list[BaseException] = []

    def run(prefix: str) -> None:
        try:
            for n in range(5):
                oms.orders.place_many([order_command(f"{prefix}-{n}-{i}", {"A": 1})
                                       for i in range(3)])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"T{t}",)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert gc.isenabled()
    assert oms.orders.count_by_status()[O.ALLOCATED] == 45
