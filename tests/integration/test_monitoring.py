"""Order monitoring and the periodic sweep (issue 12, item 3), on SQLite and PostgreSQL: each
kind of exception is seen; a sweep raises each breach once and clears it when it ends; two
sweeps at once raise each breach once; the sweep lock lets one process sweep at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from omskit_payment_sandbox import SandboxPlugin, SandboxProvider, cards

from omskit import (
    Capability,
    ExceptionKind,
    InvalidCommand,
    InvalidSettings,
    LocationKind,
    ManualCarriers,
    Oms,
    OrderPayment,
    OrderStatus,
    PaymentAction,
    RunSweeps,
    Tender,
)
from omskit.testing import MutableClock, location, order_command, table_contents

K = ExceptionKind


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def sandbox(clock: MutableClock) -> SandboxProvider:
    return SandboxProvider(clock=clock)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], sandbox: SandboxProvider, clock: MutableClock) -> Oms:
    oms = make_oms(plugins=[SandboxPlugin(sandbox), ManualCarriers("brt")], clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    return oms


def kinds_of(oms: Oms, order_id: str) -> list[str]:
    return sorted(x.kind.value for x in oms.monitor.exceptions(order_id=order_id))


def monitor_events(oms: Oms) -> list[tuple[str, str]]:
    """(event type, breach key) of every monitoring event stored, in order."""
    found = []
    with oms.engine.connect() as conn:
        ob = oms.tables.outbox
        for row in conn.execute(ob.select().where(ob.c.event_type.like("monitor.%"))
                                .order_by(ob.c.seq)):
            found.append((row.event_type, row.payload["key"]))
    return found


def test_a_late_order_is_an_exception_until_it_is_delivered(shop: Oms,
                                                            clock: MutableClock) -> None:
    promised = clock().date() + timedelta(days=2)
    order = shop.orders.place(attrs.evolve(order_command("L-1", {"SKU-1": 1}),
                                           promised_date=promised))
    shop.fulfillment.release(order.id)
    assert K.LATE.value not in kinds_of(shop, order.id)
    clock.advance(timedelta(days=3))
    (late,) = shop.monitor.exceptions(kinds=[K.LATE])
    assert late.order_id == order.id
    assert f"promised {promised}" in late.detail
    first = shop.monitor.sweep()
    assert late.key in [x.key for x in first.raised]
    assert shop.monitor.sweep().raised == ()  # seen before: not raised again
    (fo,) = shop.orders.get(order.id).fulfillment_orders
    for step in (shop.fulfillment.accept, shop.fulfillment.pick, shop.fulfillment.pack):
        step(fo.id)
    shop.fulfillment.ship(fo.id, carrier="brt", tracking_number="T-1")
    shop.fulfillment.deliver(fo.id)
    assert shop.monitor.exceptions(kinds=[K.LATE]) == []
    cleared = shop.monitor.sweep()
    assert late.key in cleared.cleared
    assert [e for e in monitor_events(shop) if e[1] == late.key] == [
        ("monitor.exception_raised", late.key), ("monitor.exception_cleared", late.key)]
    timeline = [e.event_type for e in shop.orders.timeline(order.id)]
    assert "monitor.exception_raised" in timeline


def test_a_grace_period_delays_lateness(make_oms: Callable[..., Oms],
                                        clock: MutableClock) -> None:
    oms = make_oms(clock=clock, settings={"monitor": {"late_after_days": 2}})
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    promised = clock().date()
    oms.orders.place(attrs.evolve(order_command("L-1", {"SKU-1": 1}), promised_date=promised))
    clock.advance(timedelta(days=2))
    assert oms.monitor.exceptions(kinds=["late"]) == []
    clock.advance(timedelta(days=1))
    assert len(oms.monitor.exceptions(kinds=["late"])) == 1


def test_an_order_stuck_in_a_status_past_its_threshold(make_oms: Callable[..., Oms],
                                                      clock: MutableClock) -> None:
    oms = make_oms(clock=clock, settings={"monitor": {"stuck_after_hours": {"allocated": 2}}})
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    order = oms.orders.place(order_command("S-1", {"SKU-1": 1}))
    assert oms.orders.get(order.id).status is OrderStatus.ALLOCATED
    clock.advance(timedelta(hours=1, minutes=59))
    assert oms.monitor.exceptions(kinds=["stuck"]) == []
    clock.advance(timedelta(minutes=2))
    (stuck,) = oms.monitor.exceptions(kinds=["stuck"])
    assert stuck.order_id == order.id
    assert stuck.detail.startswith("allocated since")
    assert oms.monitor.sweep().raised == (stuck,)
    # Moving on clears it; the new status has its own clock (released: 48 hours).
    oms.fulfillment.release(order.id)
    report = oms.monitor.sweep()
    assert report.cleared == (stuck.key,)
    assert oms.monitor.exceptions(kinds=["stuck"]) == []


def test_a_long_backorder_and_a_held_order(make_oms: Callable[..., Oms],
                                           clock: MutableClock) -> None:
    oms = make_oms(clock=clock, settings={"monitor": {"backorder_after_hours": 24,
                                                      "hold_after_hours": 1}})
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-9", 1)
    oms.inventory.receive("dc-milan", "SKU-1", 5)
    oms.orders.place(order_command("B-0", {"SKU-9": 1}))
    waiting = oms.orders.place(order_command("B-1", {"SKU-9": 1}))
    assert oms.orders.get(waiting.id).status is OrderStatus.BACKORDERED
    held = oms.orders.place(order_command("H-1", {"SKU-1": 1}))
    oms.orders.place_hold(held.id, "fraud_review", "score 91 from the fraud check")
    assert oms.monitor.exceptions() == []
    clock.advance(timedelta(hours=2))
    assert kinds_of(oms, held.id) == ["held"]
    (hold,) = oms.monitor.exceptions(kinds=["held"])
    assert hold.detail == "fraud_review: score 91 from the fraud check"
    assert hold.reference == "fraud_review"
    clock.advance(timedelta(hours=23))
    assert "backorder_aged" in kinds_of(oms, waiting.id)
    report = oms.monitor.sweep()
    assert {K.HELD, K.BACKORDER_AGED} <= {x.kind for x in report.raised}
    oms.orders.release_hold(held.id, "fraud_review")
    assert [x.kind for x in oms.monitor.exceptions(kinds=["held"])] == []
    assert oms.monitor.sweep().cleared == (hold.key,)


def test_an_authorisation_about_to_expire(shop: Oms, clock: MutableClock) -> None:
    order = shop.orders.place(attrs.evolve(
        order_command("A-1", {"SKU-1": 1}),
        payment=OrderPayment(tenders=(Tender(provider="sandbox", amount=Decimal("10.00"),
                                             method_token=cards.APPROVED),))))
    assert shop.payments.summary(order.id).authorised.amount == Decimal("10.00")
    clock.advance(timedelta(days=5, hours=23))
    assert shop.monitor.exceptions(kinds=["authorisation_expiring"]) == []
    clock.advance(timedelta(hours=2))  # within a day of the 7-day expiry
    (expiring,) = shop.monitor.exceptions(kinds=["authorisation_expiring"])
    assert expiring.order_id == order.id
    assert "not captured" in expiring.detail
    # The sweep renews it once it expired, which clears the warning.
    clock.advance(timedelta(days=1))
    report = shop.sweeps.run()
    assert report.ran
    assert report.authorisations_renewed == 1
    assert shop.monitor.exceptions(kinds=["authorisation_expiring"]) == []
    assert shop.sweeps.run().authorisations_renewed == 0


def test_a_parked_event_is_an_exception(make_oms: Callable[..., Oms],
                                        clock: MutableClock) -> None:
    from omskit import hookimpl

    class Broken:
        @hookimpl
        def omskit_handle_event(self, event: Any, oms: Any) -> None:
            if event.event_type == "stock.received":
                raise RuntimeError("the warehouse system is down")

    oms = make_oms(plugins=[Broken()], clock=clock, dispatch="deferred")
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    for _ in range(10):
        oms.outbox.dispatch_pending()
    assert oms.outbox.parked_count() == 1
    (parked,) = oms.monitor.exceptions(kinds=["outbox_parked"])
    assert parked.detail.endswith("the warehouse system is down")
    assert parked.order_id is None
    oms.monitor.sweep()
    (seq,) = [r.seq for r in oms.outbox.parked()]
    assert parked.reference == str(seq)
    oms.outbox.skip(seq, reason="handled by hand")
    assert oms.monitor.sweep().cleared == (parked.key,)


def test_two_sweeps_at_once_raise_each_breach_once(make_oms: Callable[..., Oms],
                                                   clock: MutableClock) -> None:
    oms = make_oms(clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 50)
    for n in range(6):
        order = oms.orders.place(order_command(f"R-{n}", {"SKU-1": 1}))
        oms.orders.place_hold(order.id, "check", "address check")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            oms.monitor.sweep()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    raised = [key for kind, key in monitor_events(oms) if kind == "monitor.exception_raised"]
    assert len(raised) == 6
    assert len(set(raised)) == 6


def test_one_process_sweeps_at_a_time(shop: Oms) -> None:
    """While one sweep holds the lock, a second one (another worker) skips its round."""
    inside = threading.Event()
    done = threading.Event()
    outcome: list[bool] = []
    original = shop.sweeps._monitor.sweep  # type: ignore[attr-defined]

    def slow_sweep(now: Any = None) -> Any:
        inside.set()
        assert done.wait(30)
        return original(now)

    shop.sweeps._monitor.sweep = slow_sweep  # type: ignore[attr-defined]
    worker = threading.Thread(target=lambda: outcome.append(shop.sweeps.run().ran))
    worker.start()
    assert inside.wait(30)
    try:
        skipped = shop.sweeps.run(jobs=["carts"])
        assert not skipped.ran
    finally:
        done.set()
        worker.join()
    assert outcome == [True]
    assert shop.sweeps.run(jobs=["carts"]).ran  # the lock was given back


def test_bad_settings_and_bad_commands_are_typed_errors(make_oms: Callable[..., Oms],
                                                        shop: Oms) -> None:
    with pytest.raises(InvalidSettings) as bad:
        make_oms(settings={"monitor": {"stuck_after_hours": {"shipping": 2, "released": -1},
                                       "late_after_days": 1.5, "grace": 1}})
    text = str(bad.value)
    assert "stuck_after_hours.shipping: not an order status" in text
    assert "stuck_after_hours.released: must be a number of hours" in text
    assert "late_after_days: must be a whole number" in text
    assert "monitor.grace: unknown setting" in text
    before = table_contents(shop)
    with pytest.raises(InvalidCommand, match="unknown job 'laundry'"):
        shop.sweeps.run(jobs=["laundry"])
    with pytest.raises(InvalidCommand, match="unknown exception kind"):
        shop.monitor.exceptions(kinds=["on_fire"])
    with pytest.raises(InvalidCommand, match="jobs: name at least one job"):
        shop.execute(RunSweeps(jobs=()))
    assert table_contents(shop) == before


def test_the_sweep_command_from_json(shop: Oms, clock: MutableClock) -> None:
    order = shop.orders.place(order_command("J-1", {"SKU-1": 1}))
    shop.orders.place_hold(order.id, "check", "call the customer")
    report = shop.execute(shop.command("run_sweeps", {"jobs": ["monitor"]}))
    assert report.ran
    assert report.jobs == ("monitor",)
    assert report.monitor is not None
    assert [x.kind for x in report.monitor.raised] == [K.HELD]
    again = shop.execute(shop.command("sweep_exceptions", {}))
    assert again.raised == ()
    assert again.open == 1


def test_a_pickup_not_collected_is_flagged_then_cancelled_by_the_sweep(
        make_oms: Callable[..., Oms], clock: MutableClock) -> None:
    oms = make_oms(clock=clock, settings={"pickup": {"collect_days": 3}})
    oms.inventory.save_location(location("store-roma", 41.9, 12.5, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP,)))
    oms.inventory.receive("store-roma", "SKU-1", 2)
    order = oms.orders.place(order_command("P-1", {"SKU-1": 1}, pickup_at="store-roma"))
    (fo,) = oms.fulfillment.release(order.id).fulfillment_orders
    oms.pickups.ready(fo.id)
    clock.advance(timedelta(hours=47))
    assert oms.monitor.exceptions(kinds=["pickup_uncollected"]) == []
    clock.advance(timedelta(hours=2))
    (waiting,) = oms.monitor.exceptions(kinds=["pickup_uncollected"])
    assert (waiting.order_id, waiting.reference) == (order.id, fo.id)
    assert "ready at store-roma" in waiting.detail
    assert waiting.key in [x.key for x in oms.sweeps.run().monitor.raised]  # type: ignore[union-attr]
    clock.advance(timedelta(days=2))  # past the 3-day deadline
    report = oms.sweeps.run()
    assert report.pickups_expired == 1
    assert report.monitor is not None
    assert waiting.key in report.monitor.cleared
    assert oms.inventory.stock_item("store-roma", "SKU-1").reserved == 0
    assert oms.sweeps.run().pickups_expired == 0


class FlakyProvider(SandboxProvider):
    """The sandbox, whose next ``authorise`` calls fail with an error no provider contract
    names (a client library's bug, a connection reset it does not translate)."""

    def __init__(self, clock: MutableClock) -> None:
        super().__init__(clock=clock)
        self.crashes = 0

    def authorise(self, request: Any) -> Any:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("connection reset by peer")
        return super().authorise(request)


def paid_order(oms: Oms, external_id: str) -> str:
    return oms.orders.place(attrs.evolve(
        order_command(external_id, {"SKU-1": 1}),
        payment=OrderPayment(tenders=(Tender(provider="sandbox", amount=Decimal("10.00"),
                                             method_token=cards.APPROVED),)))).id


def test_a_failing_job_does_not_stop_the_others(make_oms: Callable[..., Oms],
                                                clock: MutableClock) -> None:
    """Renewing one order's authorisation crashes: the other order is still renewed, the
    monitor still sweeps, the report names the failed job, and the next round renews what
    was left."""
    provider = FlakyProvider(clock)
    oms = make_oms(plugins=[SandboxPlugin(provider), ManualCarriers("brt")], clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    first, second = paid_order(oms, "A-1"), paid_order(oms, "A-2")
    clock.advance(timedelta(days=8))  # both authorisations expired
    provider.crashes = 1

    report = oms.sweeps.run()
    assert report.ran
    assert not report.ok
    (failure,) = report.failed
    assert (failure.job, failure.error) == ("authorisations", "RuntimeError")
    assert "connection reset" in failure.message
    assert report.jobs == ("carts", "edits", "authorisations", "pickups", "monitor",
                           "notifications")
    # The monitor ran after the failed job: both orders are late (promised a week ago).
    assert report.monitor is not None
    assert {x.order_id for x in report.monitor.raised
            if x.kind is ExceptionKind.LATE} == {first, second}
    # The other order's renewal went on; the crashed one is unanswered, its order held.
    pending = {o for o in (first, second)
               if any(x.pending(PaymentAction.AUTHORISE) for x in oms.payments.transactions(o))}
    assert len(pending) == 1
    (crashed,) = pending
    assert oms.orders.get(crashed).status is OrderStatus.ON_HOLD
    assert oms.payments.summary(({first, second} - pending).pop()).uncaptured.amount == 10

    # The next round asks the provider how the unanswered renewal ended (it never got
    # there), sends it again under the same key, and the hold is released: one renewal.
    again = oms.sweeps.run()
    assert again.ok
    assert again.authorisations_renewed == 1
    summary = oms.payments.summary(crashed)
    assert summary.uncaptured.amount == 10
    assert summary.pending.amount == 0
    assert oms.orders.get(crashed).status is not OrderStatus.ON_HOLD
    assert oms.sweeps.run().authorisations_renewed == 0


def test_the_sweep_command_reports_a_failed_job(make_oms: Callable[..., Oms],
                                                clock: MutableClock) -> None:
    from click.testing import CliRunner

    from omskit.cli.context import CliState
    from omskit.cli.monitoring import sweep

    provider = FlakyProvider(clock)
    oms = make_oms(plugins=[SandboxPlugin(provider), ManualCarriers("brt")], clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    paid_order(oms, "A-1")
    clock.advance(timedelta(days=8))
    provider.crashes = 1
    state = CliState(database_url=None, load_plugins=False, oms=oms)
    result = CliRunner().invoke(sweep, [], obj=state)
    assert result.exit_code == 1
    assert "job authorisations failed: RuntimeError: connection reset by peer" in result.output
    result = CliRunner().invoke(sweep, ["--json"], obj=state)
    assert result.exit_code == 0, result.output
    assert '"failed": []' in result.output
    assert '"authorisations_renewed": 1' in result.output
