"""Returns on SQLite and PostgreSQL: an online order returned at another store with its
refund and credit note, a return received twice, restocking that serves a backorder,
exchanges, and bad input changing nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from omskit_payment_sandbox import SandboxPlugin, SandboxProvider, cards

from omskit import (
    MAX_ID_LENGTH,
    CapabilityNotSupported,
    Disposition,
    DocumentKind,
    ExchangeMode,
    IdempotencyKeyConflict,
    IllegalTransition,
    InvalidCommand,
    LocationKind,
    LocationNotFound,
    ManualCarriers,
    NewLine,
    Oms,
    OrderPayment,
    OrderStatus,
    PaymentAmountExceeded,
    PlaceOrder,
    RefundContext,
    RefundQuote,
    RefusalCode,
    ReturnContext,
    ReturnItem,
    ReturnNotFound,
    ReturnQuantityExceeded,
    ReturnRefusal,
    ReturnStatus,
    ReturnWindowClosed,
    Tender,
    UnitDisposition,
    UnknownReturnsPolicy,
    hookimpl,
)
from omskit.testing import MutableClock, location, order_command, table_contents


class WindowPolicy:
    """A returns policy for these tests: 30 days from delivery, everything refunded."""

    code = "test-window"

    def evaluate(self, context: ReturnContext,
                 settings: Mapping[str, Any]) -> Sequence[ReturnRefusal]:
        start = context.delivered_at or context.shipped_at or context.placed_at
        if context.requested_at > start + timedelta(days=30):
            return [ReturnRefusal(code=RefusalCode.WINDOW_CLOSED, message="30 days passed")]
        return []

    def quote(self, context: RefundContext, settings: Mapping[str, Any]) -> RefundQuote:
        items = sum((x.unit_price * x.received for x in context.lines), Decimal(0))
        return RefundQuote(items=items)


class WindowPolicyPlugin:
    @hookimpl
    def omskit_register_returns_policies(self, register: Callable[[Any], None]) -> None:
        register(WindowPolicy())


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def shop(make_oms: Callable[..., Oms], clock: MutableClock) -> Oms:
    oms = make_oms(plugins=[SandboxPlugin(SandboxProvider(clock=clock)), ManualCarriers("brt"),
                            WindowPolicyPlugin()], clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.save_location(attrs.evolve(location("store-roma", 41.9, 12.5),
                                             kind=LocationKind.STORE))
    for sku in ("SHIRT", "SHOES"):
        oms.inventory.receive("dc-milan", sku, 10)
    return oms


def card_order(external_id: str, lines: dict[str, int], price: str = "20.00") -> PlaceOrder:
    command = order_command(external_id, lines, unit_price=price)
    total = Decimal(price) * sum(lines.values())
    return attrs.evolve(command, payment=OrderPayment(tenders=[
        Tender(provider="sandbox", amount=total, method_token=cards.APPROVED)]))


def shipped_order(oms: Oms, external_id: str, lines: dict[str, int]) -> str:
    order = oms.orders.place(card_order(external_id, lines))
    for fo in oms.fulfillment.release(order.id).fulfillment_orders:
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo.id)
        oms.fulfillment.ship(fo.id, carrier="brt", tracking_number=f"T-{fo.id[:6]}")
    return order.id


def test_an_online_order_is_returned_at_another_store_refunded_and_credited(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-1", {"SHIRT": 2, "SHOES": 1})
    assert shop.inventory.stock_item("store-roma", "SHIRT") is None
    rma = shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=2, reason="size")],
                               channel="store", location="store-roma")
    assert rma.status is ReturnStatus.REQUESTED
    rma = shop.returns.approve(rma.id)
    rma = shop.returns.receive(rma.id, "store-roma", [ReturnItem(line_id="1", quantity=1)],
                               idempotency_key="r1")
    assert rma.status is ReturnStatus.PARTIALLY_RECEIVED
    rma = shop.returns.receive(rma.id, "store-roma", [ReturnItem(line_id="1", quantity=1)],
                               idempotency_key="r2")
    assert rma.status is ReturnStatus.RECEIVED
    rma = shop.returns.inspect(rma.id, [
        UnitDisposition(line_id="1", quantity=1, disposition=Disposition.RESTOCK),
        UnitDisposition(line_id="1", quantity=1, disposition=Disposition.DAMAGED)],
        idempotency_key="i1")
    assert rma.status is ReturnStatus.INSPECTED
    # Restocked at the store that received it, not where it shipped from.
    item = shop.inventory.stock_item("store-roma", "SHIRT")
    assert item is not None
    assert item.on_hand == 1
    rma = shop.returns.refund(rma.id)
    assert rma.refund is not None
    assert rma.refund.amount == Decimal("40.00")
    assert shop.payments.summary(order_id).refunded.amount == Decimal("40.00")
    notes = [d for d in shop.invoices.for_order(order_id)
             if d.kind is DocumentKind.CREDIT_NOTE]
    assert len(notes) == 1
    assert abs(notes[0].gross) == Decimal("40.00")
    assert notes[0].source.endswith(f"return-{rma.id}") or rma.id in notes[0].reason
    # Refunding again pays nothing twice.
    assert shop.returns.refund(rma.id).refund == rma.refund
    assert shop.payments.summary(order_id).refunded.amount == Decimal("40.00")
    assert shop.returns.close(rma.id).status is ReturnStatus.CLOSED
    timeline = [e.event_type for e in shop.orders.timeline(order_id)]
    assert "return.requested" in timeline
    assert "return.refunded" in timeline


def test_a_return_received_twice_changes_nothing_the_second_time(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-2", {"SHIRT": 1})
    rma = shop.returns.approve(shop.returns.request(
        order_id, [ReturnItem(line_id="1", quantity=1)], channel="web").id)
    first = shop.returns.receive(rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=1)],
                                 idempotency_key="box-1")
    before = table_contents(shop)
    again = shop.returns.receive(rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=1)],
                                 idempotency_key="box-1")
    assert again == first
    assert table_contents(shop) == before
    with pytest.raises(IdempotencyKeyConflict):
        shop.returns.receive(rma.id, "store-roma", [ReturnItem(line_id="1", quantity=1)],
                             idempotency_key="box-1")
    inspected = shop.returns.inspect(rma.id, [UnitDisposition(
        line_id="1", quantity=1, disposition=Disposition.RESTOCK)], idempotency_key="i")
    before = table_contents(shop)
    assert shop.returns.inspect(rma.id, [UnitDisposition(
        line_id="1", quantity=1, disposition=Disposition.RESTOCK)],
        idempotency_key="i") == inspected
    assert table_contents(shop) == before


def test_bad_returns_are_typed_errors_and_change_nothing(shop: Oms,
                                                         clock: MutableClock) -> None:
    order_id = shipped_order(shop, "W-3", {"SHIRT": 1})
    before = table_contents(shop)
    with pytest.raises(ReturnQuantityExceeded):
        shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=2)], channel="web")
    with pytest.raises(InvalidCommand):
        shop.returns.request(order_id, [ReturnItem(line_id="9", quantity=1)], channel="web")
    with pytest.raises(InvalidCommand):
        shop.returns.request(order_id, [], channel="web")
    clock.advance(timedelta(days=31))
    with pytest.raises(ReturnWindowClosed):
        shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=1)], channel="web")
    assert table_contents(shop) == before
    clock.advance(timedelta(days=-31))
    # One return takes the unit: a second for it is refused.
    shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=1)], channel="web")
    with pytest.raises(ReturnQuantityExceeded):
        shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=1)], channel="web")


def test_a_return_for_an_unshipped_order_is_refused(shop: Oms) -> None:
    order = shop.orders.place(card_order("W-4", {"SHIRT": 1}))
    with pytest.raises(ReturnQuantityExceeded):
        shop.returns.request(order.id, [ReturnItem(line_id="1", quantity=1)], channel="web")


def test_restocked_units_serve_a_waiting_backorder(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-5", {"SHOES": 10})
    waiting = shop.orders.place(card_order("W-6", {"SHOES": 1}))
    assert shop.orders.get(waiting.id).status is OrderStatus.BACKORDERED
    rma = shop.returns.approve(shop.returns.request(
        order_id, [ReturnItem(line_id="1", quantity=1)], channel="call_center").id)
    shop.returns.receive(rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=1)],
                         idempotency_key="k")
    shop.returns.inspect(rma.id, [UnitDisposition(line_id="1", quantity=1,
                                                  disposition=Disposition.RESTOCK)],
                         idempotency_key="k")
    assert shop.orders.get(waiting.id).status is OrderStatus.ALLOCATED


def test_an_exchange_is_reserved_on_approval_and_released_on_receipt(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-7", {"SHIRT": 1})
    rma = shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=1)],
                               channel="web",
                               exchange=[NewLine(sku="SHOES", quantity=1, unit_price="20")])
    rma = shop.returns.approve(rma.id)
    assert rma.exchange_order_id is not None
    replacement = shop.orders.get(rma.exchange_order_id)
    assert replacement.status is OrderStatus.ON_HOLD
    assert shop.inventory.stock_item("dc-milan", "SHOES").reserved == 1  # type: ignore[union-attr]
    shop.returns.receive(rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=1)],
                         idempotency_key="k")
    assert shop.orders.get(rma.exchange_order_id).status is OrderStatus.ALLOCATED


def test_an_immediate_exchange_is_not_held_and_a_cancelled_one_is_given_up(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-8", {"SHIRT": 2})
    now = shop.returns.approve(shop.returns.request(
        order_id, [ReturnItem(line_id="1", quantity=1)], channel="web",
        exchange=[NewLine(sku="SHOES", quantity=1, unit_price="20")],
        exchange_mode=ExchangeMode.IMMEDIATE).id)
    assert now.exchange_order_id is not None
    assert shop.orders.get(now.exchange_order_id).status is OrderStatus.ALLOCATED
    later = shop.returns.approve(shop.returns.request(
        order_id, [ReturnItem(line_id="1", quantity=1)], channel="web",
        exchange=[NewLine(sku="SHOES", quantity=1, unit_price="20")]).id)
    assert later.exchange_order_id is not None
    shop.returns.cancel(later.id)
    assert shop.orders.get(later.exchange_order_id).status is OrderStatus.CANCELLED


def test_commands_run_returns(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-9", {"SHIRT": 1})
    rma = shop.execute(shop.command("request_return", {
        "order_id": order_id, "channel": "web", "idempotency_key": "req-1",
        "lines": [{"line_id": "1", "quantity": 1, "reason": "size"}]}))
    again = shop.execute(shop.command("request_return", {
        "order_id": order_id, "channel": "web", "idempotency_key": "req-1",
        "lines": [{"line_id": "1", "quantity": 1, "reason": "size"}]}))
    assert again.id == rma.id
    assert len(shop.returns.for_order(order_id)) == 1
    assert shop.execute(shop.command("approve_return", {"return_id": rma.id})).status \
        is ReturnStatus.APPROVED


def test_without_a_policy_returns_are_refused(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    with pytest.raises(UnknownReturnsPolicy):
        oms.returns.policy()


def test_bad_receipts_inspections_refunds_and_labels_change_nothing(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-10", {"SHIRT": 2})
    rma = shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=1)], channel="web")
    before = table_contents(shop)
    with pytest.raises(IllegalTransition):  # not approved yet
        shop.returns.receive(rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=1)],
                             idempotency_key="k")
    assert table_contents(shop) == before
    shop.returns.approve(rma.id)
    before = table_contents(shop)
    with pytest.raises(ReturnQuantityExceeded):  # more than the return asked for
        shop.returns.receive(rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=2)],
                             idempotency_key="k")
    with pytest.raises(LocationNotFound):
        shop.returns.receive(rma.id, "nowhere", [ReturnItem(line_id="1", quantity=1)],
                             idempotency_key="k")
    with pytest.raises(ReturnQuantityExceeded):  # nothing received to inspect
        shop.returns.inspect(rma.id, [UnitDisposition(
            line_id="1", quantity=1, disposition=Disposition.RESTOCK)], idempotency_key="i")
    with pytest.raises(IllegalTransition):  # nothing inspected to refund
        shop.returns.refund(rma.id)
    with pytest.raises(CapabilityNotSupported):  # a carrier omskit does not call
        shop.returns.buy_label(rma.id, "brt")
    with pytest.raises(ReturnNotFound):
        shop.returns.approve("no-such-return")
    assert table_contents(shop) == before


def test_a_refund_beyond_what_was_captured_is_refused_and_changes_nothing(
        shop: Oms) -> None:
    order = shop.orders.place(order_command("W-11", {"SHIRT": 1}, unit_price="20.00"))
    for fo in shop.fulfillment.release(order.id).fulfillment_orders:
        for step in (shop.fulfillment.accept, shop.fulfillment.pick, shop.fulfillment.pack):
            step(fo.id)
        shop.fulfillment.ship(fo.id, carrier="brt", tracking_number="T-11")
    rma = shop.returns.approve(shop.returns.request(
        order.id, [ReturnItem(line_id="1", quantity=1)], channel="web").id)
    shop.returns.receive(rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=1)],
                         idempotency_key="k")
    shop.returns.inspect(rma.id, [UnitDisposition(line_id="1", quantity=1,
                                                  disposition=Disposition.QUARANTINE)],
                         idempotency_key="k")
    before = table_contents(shop)
    with pytest.raises(PaymentAmountExceeded):  # nothing was ever captured
        shop.returns.refund(rma.id)
    assert table_contents(shop) == before
    assert shop.returns.get(rma.id).refund is None


def _race(workers: int, job: Callable[[], object]) -> tuple[list[object], list[BaseException]]:
    """Run ``job`` in ``workers`` threads released together; what each returned or raised."""
    barrier = threading.Barrier(workers)
    done: list[object] = []
    failed: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait(timeout=30)
        try:
            result = job()
        except BaseException as exc:  # collected for the test's assertions
            with lock:
                failed.append(exc)
        else:
            with lock:
                done.append(result)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return done, failed


def test_racing_requests_never_take_more_than_was_shipped(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-12", {"SHIRT": 2})
    done, failed = _race(4, lambda: shop.returns.request(
        order_id, [ReturnItem(line_id="1", quantity=1)], channel="web"))
    assert len(done) == 2
    assert len(failed) == 2
    assert all(isinstance(e, ReturnQuantityExceeded) for e in failed), failed
    assert sum(r.requested["1"] for r in shop.returns.for_order(order_id)) == 2


def test_a_receipt_delivered_four_times_at_once_is_taken_once(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-13", {"SHIRT": 2})
    rma = shop.returns.approve(shop.returns.request(
        order_id, [ReturnItem(line_id="1", quantity=2)], channel="web").id)
    done, failed = _race(4, lambda: shop.returns.receive(
        rma.id, "dc-milan", [ReturnItem(line_id="1", quantity=1)], idempotency_key="box"))
    assert failed == []
    assert len(done) == 4
    found = shop.returns.get(rma.id)
    assert (len(found.receipts), found.received, found.status) == (
        1, {"1": 1}, ReturnStatus.PARTIALLY_RECEIVED)
    received = [e for e in shop.orders.timeline(order_id)
                if e.event_type == "return.received"]
    assert len(received) == 1


def test_the_longest_inspection_key_restocks(shop: Oms) -> None:
    order_id = shipped_order(shop, "W-14", {"SHIRT": 1})
    rma = shop.returns.approve(shop.returns.request(
        order_id, [ReturnItem(line_id="1", quantity=1)], channel="web").id)
    key = "k" * MAX_ID_LENGTH
    shop.returns.receive(rma.id, "store-roma", [ReturnItem(line_id="1", quantity=1)],
                         idempotency_key=key)
    shop.returns.inspect(rma.id, [UnitDisposition(line_id="1", quantity=1,
                                                  disposition=Disposition.RESTOCK)],
                         idempotency_key=key)
    item = shop.inventory.stock_item("store-roma", "SHIRT")
    assert item is not None
    assert item.on_hand == 1
