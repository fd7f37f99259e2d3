"""The payment side of order edits, line cancellations and short closes, on SQLite and
PostgreSQL, with the sandbox provider as the processor: a total that rises is authorised
(incrementally when the provider can, else as a new authorisation on the same tender); one
that falls is refunded (what was captured) or voided down (what was only authorised); each
exactly once per business action."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from omskit_payment_sandbox import Fault, SandboxPlugin, SandboxProvider, cards

from omskit import (
    EditOrder,
    ManualCarriers,
    NewLine,
    Oms,
    OrderPayment,
    OrderStatus,
    PaymentAction,
    PaymentCapability,
    PaymentDeclined,
    PaymentRequest,
    PaymentResult,
    PaymentStepKind,
    PlaceOrder,
    Tender,
)
from omskit.testing import MutableClock, location, order_command
from tests.support import MILAN, ROME


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


def make_shop(make_oms: Callable[..., Oms], provider: SandboxProvider, clock: MutableClock,
              **kwargs: Any) -> Oms:
    oms = make_oms(plugins=[SandboxPlugin(provider), ManualCarriers("brt")], clock=clock,
                   **kwargs)
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("milan", "SKU-1", 2)
    oms.inventory.receive("rome", "SKU-1", 20)
    oms.inventory.receive("milan", "SKU-2", 20)
    return oms


@pytest.fixture
def sandbox(clock: MutableClock) -> SandboxProvider:
    return SandboxProvider(clock=clock)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], sandbox: SandboxProvider, clock: MutableClock) -> Oms:
    return make_shop(make_oms, sandbox, clock)


def paid(oms: Oms, external_id: str, lines: dict[str, int], amount: str) -> str:
    command: PlaceOrder = attrs.evolve(
        order_command(external_id, lines, lat=MILAN[0], lon=MILAN[1]),
        payment=OrderPayment(tenders=[Tender(provider="sandbox", amount=Decimal(amount),
                                             method_token=cards.APPROVED)]))
    return oms.orders.place(command).id


def edit(oms: Oms, order_id: str, key: str, **changes: Any) -> Any:
    return oms.edits.submit(EditOrder(channel="mobile", actor="customer-1",
                                      idempotency_key=key, order_id=order_id, **changes))


def ship_all(oms: Oms, order_id: str) -> None:
    for fo in oms.fulfillment.release(order_id).fulfillment_orders:
        if fo.status.value != "released":
            continue
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo.id)
        oms.fulfillment.ship(fo.id, carrier="brt", tracking_number=f"T-{fo.id[:8]}")


def amounts(oms: Oms, order_id: str) -> list[tuple[str, Decimal, Decimal, Decimal, bool]]:
    """(provider, authorised, captured, refunded, closed) per transaction."""
    return [(x.transaction.provider, x.authorised.amount, x.captured.amount,
             x.refunded.amount, x.closed)
            for x in oms.payments.summary(order_id).transactions]


# -- the total rises ------------------------------------------------------------------------


def test_a_higher_total_raises_the_authorisation_when_the_provider_can(
        shop: Oms, sandbox: SandboxProvider) -> None:
    order_id = paid(shop, "P-1", {"SKU-1": 2}, "20.00")
    done = edit(shop, order_id, "e-1", quantities={"1": 3},
                add_lines=[NewLine(sku="SKU-2", quantity=1, unit_price="5.00")])
    assert done.summary.payment_difference == Decimal("15.00")
    assert [s.kind for s in done.summary.payment] == \
        [PaymentStepKind.INCREMENTAL_AUTHORISATION]
    assert amounts(shop, order_id) == [("sandbox", Decimal("35.00"), 0, 0, False)]
    order = shop.orders.get(order_id)
    assert not order.active_holds  # authorised: the added goods may be released
    assert shop.payments.summary(order_id).authorise_status.value == "full"
    # Shipping captures all of it, in the parts that ship.
    ship_all(shop, order_id)
    assert shop.payments.summary(order_id).captured.amount == Decimal("35.00")
    calls = list(sandbox.calls)
    shop.payments.settle(order_id, f"edit-{done.id}")  # the handler again: nothing more
    assert sandbox.calls == calls


def test_a_higher_total_is_a_new_authorisation_on_the_same_tender_otherwise(
        make_oms: Callable[..., Oms], clock: MutableClock) -> None:
    provider = SandboxProvider(clock=clock, capabilities=frozenset(PaymentCapability) - {
        PaymentCapability.INCREMENTAL_AUTHORISATION})
    oms = make_shop(make_oms, provider, clock)
    order_id = paid(oms, "P-1", {"SKU-1": 2}, "20.00")
    done = edit(oms, order_id, "e-1", quantities={"1": 4})
    assert [s.kind for s in done.summary.payment] == [PaymentStepKind.NEW_AUTHORISATION]
    ledgers = oms.payments.summary(order_id).transactions
    assert [(x.transaction.provider, x.transaction.method_token, x.authorised.amount)
            for x in ledgers] == [("sandbox", cards.APPROVED, Decimal("20.00")),
                                  ("sandbox", cards.APPROVED, Decimal("20.00"))]
    assert not oms.orders.get(order_id).active_holds
    oms.payments.settle(order_id, f"edit-{done.id}")  # again: no third transaction
    assert len(oms.payments.summary(order_id).transactions) == 2


class DecliningIncrements(SandboxProvider):
    """A processor that refuses to raise an authorisation."""

    def authorise(self, request: PaymentRequest) -> PaymentResult:
        if request.provider_reference is not None:
            raise PaymentDeclined("increment_refused", "the issuer refused the increment")
        return super().authorise(request)


def test_a_declined_increment_keeps_the_order_held_with_the_reason(
        make_oms: Callable[..., Oms], clock: MutableClock) -> None:
    oms = make_shop(make_oms, DecliningIncrements(clock=clock), clock)
    order_id = paid(oms, "P-1", {"SKU-1": 1}, "10.00")
    edit(oms, order_id, "e-1", quantities={"1": 2})
    order = oms.orders.get(order_id)
    (hold,) = order.active_holds
    assert hold.code == "payment_pending"
    assert "increment_refused" in hold.reason
    assert order.status is OrderStatus.ON_HOLD
    assert amounts(oms, order_id) == [("sandbox", Decimal("10.00"), 0, 0, False)]


def test_a_deferred_edit_waits_for_its_difference_on_hold(
        make_oms: Callable[..., Oms], sandbox: SandboxProvider, clock: MutableClock) -> None:
    oms = make_shop(make_oms, sandbox, clock, dispatch="deferred")
    order_id = paid(oms, "P-1", {"SKU-1": 1}, "10.00")
    oms.outbox.dispatch_pending()
    edit(oms, order_id, "e-1", quantities={"1": 3})
    held = oms.orders.get(order_id)
    assert [h.code for h in held.active_holds] == ["payment_pending"]
    assert sum(fo.units for fo in held.fulfillment_orders) == 3  # reserved, not released
    oms.outbox.dispatch_pending()
    assert not oms.orders.get(order_id).active_holds
    assert amounts(oms, order_id) == [("sandbox", Decimal("30.00"), 0, 0, False)]


# -- the total falls ------------------------------------------------------------------------


def test_a_lower_total_after_capture_refunds_exactly_the_difference(
        shop: Oms, sandbox: SandboxProvider) -> None:
    order_id = paid(shop, "P-1", {"SKU-1": 3}, "30.00")
    shop.payments.capture(order_id, reference="checkout")  # paid in full up front
    reference = shop.payments.summary(order_id).transactions[0].transaction.provider_reference
    assert reference is not None
    done = edit(shop, order_id, "e-1", quantities={"1": 1})
    assert done.summary.payment_difference == Decimal("-20.00")
    assert [(s.kind, s.amount) for s in done.summary.payment] == \
        [(PaymentStepKind.REFUND, Decimal("20.00"))]
    summary = shop.payments.summary(order_id)
    assert (summary.captured.amount, summary.refunded.amount) == (Decimal("30.00"),
                                                                 Decimal("20.00"))
    assert summary.balance.amount == 0
    assert sandbox.captured(reference) == Decimal("10.00")
    shop.payments.settle(order_id, f"edit-{done.id}")  # the handler again: refunded once
    assert shop.payments.summary(order_id).refunded.amount == Decimal("20.00")


def test_a_lower_total_before_capture_voids_down_the_authorisation(shop: Oms) -> None:
    order_id = paid(shop, "P-1", {"SKU-1": 2, "SKU-2": 1}, "30.00")
    done = edit(shop, order_id, "e-1", remove_lines=["2"])
    assert [(s.kind, s.amount) for s in done.summary.payment] == \
        [(PaymentStepKind.VOID_DOWN, Decimal("10.00"))]
    (ledger,) = shop.payments.summary(order_id).transactions
    assert (ledger.authorised.amount, ledger.voided.amount, ledger.uncaptured.amount,
            ledger.closed) == (Decimal("30.00"), Decimal("10.00"), Decimal("20.00"), False)
    ship_all(shop, order_id)
    assert amounts(shop, order_id) == [("sandbox", Decimal("30.00"), Decimal("20.00"), 0,
                                        True)]


def test_without_partial_void_the_final_capture_releases_the_rest(
        make_oms: Callable[..., Oms], clock: MutableClock) -> None:
    provider = SandboxProvider(clock=clock, capabilities=frozenset(PaymentCapability) - {
        PaymentCapability.PARTIAL_VOID})
    oms = make_shop(make_oms, provider, clock)
    order_id = paid(oms, "P-1", {"SKU-1": 2, "SKU-2": 1}, "30.00")
    done = edit(oms, order_id, "e-1", remove_lines=["2"])
    assert [s.kind for s in done.summary.payment] == [PaymentStepKind.LEFT_TO_FINAL_CAPTURE]
    assert not [c for c in provider.calls if c[0] == PaymentAction.VOID.value]
    ship_all(oms, order_id)
    (ledger,) = oms.payments.summary(order_id).transactions
    assert (ledger.captured.amount, ledger.closed) == (Decimal("20.00"), True)


# -- line cancellations and short closes ----------------------------------------------------


def test_cancelled_lines_void_down_their_share_once(shop: Oms,
                                                   sandbox: SandboxProvider) -> None:
    order_id = paid(shop, "P-1", {"SKU-1": 3}, "30.00")
    shop.orders.cancel_lines(order_id, {"1": 1}, idempotency_key="c-1")
    (ledger,) = shop.payments.summary(order_id).transactions
    assert (ledger.voided.amount, ledger.uncaptured.amount) == (Decimal("10.00"),
                                                               Decimal("20.00"))
    calls = list(sandbox.calls)
    shop.orders.cancel_lines(order_id, {"1": 1}, idempotency_key="c-1")  # a repeat
    event = next(e.event for e in shop.orders.timeline(order_id)
                 if e.event_type == "order.lines_cancelled")
    shop.payments.settle(order_id, f"lines-{event.event_id}", increase=False)
    assert sandbox.calls == calls


def test_cancelled_lines_after_capture_are_refunded(shop: Oms) -> None:
    order_id = paid(shop, "P-1", {"SKU-1": 3}, "30.00")
    shop.payments.capture(order_id, reference="checkout")
    shop.orders.cancel_lines(order_id, {"1": 2})
    summary = shop.payments.summary(order_id)
    assert (summary.refunded.amount, summary.balance.amount) == (Decimal("20.00"), 0)


def test_a_short_close_releases_what_will_never_be_captured(shop: Oms) -> None:
    # 2 of 3 in stock, 1 backordered: the 2 ship, then the order closes short.
    shop.inventory.receive("milan", "SKU-3", 2)
    order_id = paid(shop, "P-1", {"SKU-3": 3}, "30.00")
    (milan,) = shop.orders.get(order_id).fulfillment_orders
    shop.fulfillment.release(order_id)
    for step in (shop.fulfillment.accept, shop.fulfillment.pick, shop.fulfillment.pack):
        step(milan.id)
    shop.fulfillment.ship(milan.id, carrier="brt", tracking_number="T-1")
    assert amounts(shop, order_id) == [("sandbox", Decimal("30.00"), Decimal("20.00"), 0,
                                        False)]  # not the last shipment: not final
    closed = shop.orders.short_close(order_id, reason="the rest is lost")
    assert closed.status is OrderStatus.SHIPPED
    (ledger,) = shop.payments.summary(order_id).transactions
    assert (ledger.captured.amount, ledger.voided.amount, ledger.closed) == \
        (Decimal("20.00"), Decimal("10.00"), True)
    assert shop.payments.summary(order_id).balance.amount == 0


def test_orders_without_payments_settle_nothing(shop: Oms) -> None:
    order_id = shop.orders.place(order_command("N-1", {"SKU-1": 2})).id
    shop.orders.cancel_lines(order_id, {"1": 1})
    assert shop.payments.summary(order_id).transactions == ()


def test_a_settlement_cut_short_is_finished_by_the_next_delivery(
        shop: Oms, sandbox: SandboxProvider, clock: MutableClock) -> None:
    order_id = paid(shop, "P-1", {"SKU-2": 3}, "30.00")
    shop.payments.capture(order_id, Decimal("20.00"), reference="deposit")
    for _ in range(3):  # the void fails until the retries run out
        sandbox.fail_next(PaymentAction.VOID, Fault.RETRYABLE)
    done = edit(shop, order_id, "e-1", quantities={"1": 1})
    assert [s.kind for s in done.summary.payment] == [PaymentStepKind.REFUND,
                                                      PaymentStepKind.VOID]
    (ledger,) = shop.payments.summary(order_id).transactions
    assert (ledger.refunded.amount, ledger.closed) == (Decimal("10.00"), False)
    assert shop.outbox.pending_count() >= 1  # the event failed: it stays to be delivered
    clock.advance(timedelta(minutes=10))  # past the failed delivery's lease
    shop.outbox.dispatch_pending()
    (ledger,) = shop.payments.summary(order_id).transactions
    assert (ledger.refunded.amount, ledger.voided.amount, ledger.closed) == (
        Decimal("10.00"), Decimal("10.00"), True)
    assert [c[0] for c in sandbox.calls].count("refund") == 1
