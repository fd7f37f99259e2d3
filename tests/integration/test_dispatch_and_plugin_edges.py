"""Edges of dispatch and plugin loading: write-order delivery after failures, leases, names,
refusals that must be typed errors and write nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import attrs
import pytest
import sqlalchemy as sa

from omskit import Oms, bootstrap, hookimpl
from omskit.domain.errors import (
    PluginError,
    UnknownEventType,
    UnknownRoutingStrategy,
    UnsupportedConnection,
)
from omskit.domain.events import Event
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.testing import TestDatabase, location, order_command, table_contents
from tests.support import MILAN, ROME, FailingHandler, RecordingHandler


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("rome", "A", 10)
    return oms


# -- dispatch -------------------------------------------------------------------------------


def test_events_left_pending_go_out_before_newer_ones(make_oms: Callable[..., Oms]) -> None:
    handler = FailingHandler(fail_on="order.routed")
    oms = stocked(make_oms(plugins=[handler]))
    first = oms.orders.place(order_command("E-1", {"A": 1}))
    assert "order.routed" not in handler.types()
    assert oms.outbox.pending_count() > 0
    handler.failing = False
    oms.orders.cancel(first.id, "changed mind")
    # The first order's routed event, and what followed it, come before the cancellation's.
    first_events = [e.event_type for e in handler.events if e.order_id == first.id]
    assert first_events.index("order.routed") < first_events.index("order.cancelled")
    assert first_events.count("order.routed") == 1
    assert oms.outbox.pending_count() == 0


@attrs.define
class Clock:
    now: datetime = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_lease_hides_claimed_events_until_it_expires(make_oms: Callable[..., Oms]) -> None:
    clock = Clock()
    handler = RecordingHandler()
    oms = stocked(make_oms(plugins=[handler], dispatch="deferred", clock=clock))
    pending = oms.outbox.pending_count()
    assert pending == 2
    # A dispatcher claims the batch, then dies before recording anything.
    with oms.unit_of_work() as uow:
        claimed = uow.outbox.claim_pending(10, clock.now, clock.now + oms.outbox.lease)
        uow.commit()
    assert len(claimed) == pending
    assert oms.outbox.dispatch_pending() == 0  # still leased: nobody else takes them
    clock.now += oms.outbox.lease + timedelta(seconds=1)
    assert oms.outbox.dispatch_pending() == pending
    assert handler.types() == ["location.saved", "stock.received"]
    assert oms.outbox.pending_count() == 0


def test_handlers_may_call_back_into_oms(make_oms: Callable[..., Oms]) -> None:
    seen: list[OrderStatus] = []

    class Reader:
        @hookimpl
        def omskit_handle_event(self, event: Event, oms: Oms) -> None:
            if event.event_type == "order.routed" and event.order_id:
                seen.append(oms.orders.get(event.order_id).status)
                oms.inventory.receive("rome", "B", 1)  # and even write

    oms = stocked(make_oms(plugins=[Reader()]))
    oms.orders.place(order_command("E-1", {"A": 1}))
    assert seen == [OrderStatus.ALLOCATED]
    assert oms.inventory.available("B") == 1


@attrs.frozen(kw_only=True)
class UnregisteredEvent(Event):
    event_type: ClassVar[str] = "test.unregistered"


def test_an_unregistered_event_type_is_refused_at_write(oms: Oms) -> None:
    before = table_contents(oms)
    with oms.unit_of_work() as uow:
        uow.emit(UnregisteredEvent())
        with pytest.raises(UnknownEventType):
            uow.commit()
    assert table_contents(oms) == before


# -- plugin loading -------------------------------------------------------------------------


class Segmenter:
    @hookimpl
    def omskit_customer_segment(self, order: Any) -> str:
        return "gold"


def test_plugin_objects_get_readable_unique_names(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[Segmenter(), Segmenter()])
    names = [p.name for p in oms.plugins() if not p.builtin]
    qualified = f"{Segmenter.__module__}.Segmenter"
    assert names == [qualified, f"{qualified}#2"]
    # A disabled name stays disabled: it is never renamed to get round the block.
    none = make_oms(plugins=[Segmenter(), Segmenter()], disabled_plugins=[qualified])
    assert [p.name for p in none.plugins() if not p.builtin] == []
    second = make_oms(plugins=[Segmenter(), Segmenter()], disabled_plugins=[f"{qualified}#2"])
    assert [p.name for p in second.plugins() if not p.builtin] == [qualified]


def test_wrong_argument_names_are_a_plugin_error() -> None:
    class Misspelt:
        @hookimpl
        def omskit_validate_order(self, order: Any, stock: Any) -> None:
            return None

    with pytest.raises(PluginError, match="stock"):
        bootstrap("sqlite://", load_entrypoints=False, plugins=[Misspelt()])


def test_contribution_hooks_may_omit_register() -> None:
    calls: list[str] = []

    class Quiet:
        @hookimpl
        def omskit_register_channels(self) -> None:
            calls.append("called")

    bootstrap("sqlite://", load_entrypoints=False, plugins=[Quiet()])
    assert calls == ["called"]


def test_the_core_defaults_cannot_be_disabled() -> None:
    with pytest.raises(PluginError, match=r"omskit\.builtin\.defaults"):
        bootstrap("sqlite://", load_entrypoints=False,
                  disabled_plugins=["omskit.builtin.defaults"])


def test_an_unknown_default_strategy_fails_at_bootstrap() -> None:
    with pytest.raises(UnknownRoutingStrategy):
        bootstrap("sqlite://", load_entrypoints=False, routing_strategy="fastest")


def test_plugin_tables_follow_the_schema(make_oms: Callable[..., Oms],
                                         omskit_database: TestDatabase) -> None:
    class Loyalty:
        @hookimpl
        def omskit_configure_metadata(self, metadata: sa.MetaData, table_prefix: str,
                                      schema: str | None) -> None:
            sa.Table(f"{table_prefix}loyalty_points", metadata,
                     sa.Column("customer_id", sa.String(64), primary_key=True),
                     schema=schema)

    oms = make_oms(plugins=[Loyalty()])
    names = sa.inspect(oms.engine).get_table_names(schema=omskit_database.schema)
    assert "omskit_loyalty_points" in names


# -- host transactions on SQLite ------------------------------------------------------------


def test_bind_refuses_a_pysqlite_connection_whose_savepoints_commit(tmp_path: Any) -> None:
    host = sa.create_engine(f"sqlite:///{tmp_path / 'host.db'}")  # pysqlite's defaults
    oms = bootstrap(host, load_entrypoints=False)
    try:
        with host.connect() as conn, pytest.raises(UnsupportedConnection):
            oms.bind(conn)
    finally:
        host.dispose()


# -- holds and rejections -------------------------------------------------------------------


def test_a_rejection_on_a_held_order_waits_for_the_hold(oms: Oms) -> None:
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("rome", "A", 5)
    oms.inventory.receive("milan", "A", 5)
    oms.inventory.receive("milan", "B", 1)
    oms.inventory.set_safety_stock("milan", "B", 1)  # known, but nothing to promise
    order = oms.orders.place(order_command("E-1", {"A": 2, "B": 1}, lat=ROME[0], lon=ROME[1]))
    order = oms.fulfillment.release(order.id)
    (fo,) = order.fulfillment_orders
    assert fo.location == "rome"
    assert order.status is OrderStatus.BACKORDERED
    # Part of the order is in the warehouse's hands; a hold stops further routing.
    order = oms.orders.place_hold(order.id, "fraud_review", "address mismatch")
    order = oms.fulfillment.reject(fo.id, "damaged")
    assert [f.status for f in order.fulfillment_orders] == [FulfillmentStatus.REJECTED]
    assert oms.inventory.stock_item("milan", "A").reserved == 0  # type: ignore[union-attr]
    order = oms.orders.release_hold(order.id, "fraud_review")
    (new,) = [f for f in order.fulfillment_orders if f.status is FulfillmentStatus.CREATED]
    assert new.location == "milan"
    assert new.lines[0].sku == "A"
    assert order.status is OrderStatus.BACKORDERED  # B still waits for stock


def test_cancelling_ends_the_orders_holds(oms: Oms) -> None:
    stocked(oms)
    order = oms.orders.place(order_command("E-1", {"A": 1}))
    oms.orders.place_hold(order.id, "payment_check", "card declined")
    cancelled = oms.orders.cancel(order.id, "unpaid")
    assert cancelled.active_holds == ()
    assert [h.released_at for h in cancelled.holds] != [None]


def test_schema_calls_touch_only_omskits_tables(omskit_database: TestDatabase) -> None:
    host_metadata = sa.MetaData()
    invoices = sa.Table("host_invoices", host_metadata,
                        sa.Column("id", sa.Integer, primary_key=True),
                        schema=omskit_database.schema)
    engine = omskit_database.engine()
    try:
        invoices.create(engine)
        with engine.begin() as conn:
            conn.execute(invoices.insert(), [{"id": 1}])
        oms = bootstrap(engine, metadata=host_metadata, schema=omskit_database.schema,
                        load_entrypoints=False)
        oms.create_schema()
        oms.drop_schema()
        names = sa.inspect(engine).get_table_names(schema=omskit_database.schema)
        assert names == ["host_invoices"]
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(invoices)).scalar() == 1
    finally:
        engine.dispose()


def test_a_failing_dispatch_never_fails_the_committed_operation(
        make_oms: Callable[..., Oms]) -> None:
    class Broken:
        @hookimpl
        def omskit_handle_event(self, event: Event, oms: Oms) -> None:
            raise RuntimeError("relay down")

    oms = stocked(make_oms(plugins=[Broken()]))
    order = oms.orders.place(order_command("E-1", {"A": 1}))  # does not raise
    assert oms.orders.get(order.id).status is OrderStatus.ALLOCATED
    assert oms.outbox.pending_count() > 0


def test_reentrant_handlers_see_events_in_write_order(make_oms: Callable[..., Oms]) -> None:
    seen: list[str] = []

    class Releaser:
        @hookimpl
        def omskit_handle_event(self, event: Event, oms: Oms) -> None:
            seen.append(f"{event.event_type}:{getattr(event, 'to_status', '')}")
            if event.event_type == "order.routed" and event.order_id:
                oms.fulfillment.release(event.order_id)

    oms = stocked(make_oms(plugins=[Releaser()]))
    oms.orders.place(order_command("E-1", {"A": 1}))
    statuses = [s.split(":")[1] for s in seen if s.startswith("order.status_changed")]
    assert statuses == ["validated", "allocated", "released"]


def test_allocating_nothing_new_writes_nothing(oms: Oms) -> None:
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("rome", "A", 1)
    order = oms.orders.place(order_command("E-1", {"A": 3}))
    before = table_contents(oms)
    again = oms.orders.allocate_backorders(order.id)
    assert again.version == order.version
    assert table_contents(oms) == before


def test_supply_does_not_bypass_safety_stock(oms: Oms) -> None:
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.set_safety_stock("rome", "S", 10)
    eta = datetime(2030, 1, 1, tzinfo=UTC)
    oms.inventory.register_supply("rome", "S", 5, eta)
    assert oms.inventory.available("S", at=eta) == 0
    oms.inventory.register_supply("rome", "S", 8, eta)
    assert oms.inventory.available("S", at=eta) == 3


def test_search_accepts_status_strings(oms: Oms) -> None:
    stocked(oms)
    oms.orders.place(order_command("E-1", {"A": 1}))
    assert [s.external_id for s in oms.orders.search(statuses=("allocated",))] == ["E-1"]
