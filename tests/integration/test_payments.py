"""Payment flows through the core, on SQLite and PostgreSQL: placement with tenders and the
``payment_pending`` hold, capture on shipment, void and refund on cancellation, funds a
channel captured, commands, and bad input changing nothing. The sandbox provider
(plugins/omskit-payment-sandbox) plays the processor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from omskit_payment_sandbox import Fault, SandboxPlugin, SandboxProvider, cards

from omskit import (
    CapturePayment,
    IdempotencyConflict,
    InvalidCommand,
    InvalidWebhook,
    ManualCarriers,
    Oms,
    OrderOnHold,
    OrderPayment,
    OrderStatus,
    ParcelSpec,
    PaymentAction,
    PaymentAmountExceeded,
    PaymentCapability,
    PaymentRetryable,
    PaymentTransactionKind,
    PlaceOrder,
    PluginError,
    Tender,
    UnknownPaymentProvider,
    UnsupportedConnection,
    UnsupportedPaymentOperation,
    hookimpl,
)
from omskit.testing import MutableClock, location, order_command, table_contents
from tests.integration.test_shipping import MemoryCarrierPlugin


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
    oms.inventory.save_location(location("dc-rome", 41.9, 12.5))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    oms.inventory.receive("dc-rome", "SKU-2", 10)
    return oms


def paid(external_id: str, lines: dict[str, int], *tenders: Tender, **kwargs: Any
         ) -> PlaceOrder:
    return attrs.evolve(order_command(external_id, lines, **kwargs),
                        payment=OrderPayment(tenders=tenders))


def card(amount: str, token: str = cards.APPROVED) -> Tender:
    return Tender(provider="sandbox", amount=Decimal(amount), method_token=token)


def ship_all(oms: Oms, order_id: str) -> None:
    for fo in oms.fulfillment.release(order_id).fulfillment_orders:
        ship(oms, fo.id)


def ship(oms: Oms, fo_id: str) -> None:
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo_id)
    oms.fulfillment.ship(fo_id, carrier="brt", tracking_number=f"T-{fo_id[:6]}")


# -- placement ------------------------------------------------------------------------------


def test_an_order_waits_on_hold_for_its_authorisation(make_oms: Callable[..., Oms],
                                                     sandbox: SandboxProvider) -> None:
    oms = make_oms(plugins=[SandboxPlugin(sandbox), ManualCarriers("brt")],
                   dispatch="deferred")
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    order = oms.orders.place(paid("P-1", {"SKU-1": 2}, card("20.00")))
    assert order.status is OrderStatus.ON_HOLD
    assert [h.code for h in order.active_holds] == ["payment_pending"]
    assert oms.inventory.available("SKU-1") == 8  # the goods wait for the payment
    with pytest.raises(OrderOnHold):
        oms.fulfillment.release(order.id)
    assert sandbox.calls == []  # no provider call inside the placing transaction
    oms.outbox.dispatch_pending()
    after = oms.orders.get(order.id)
    assert after.status is OrderStatus.ALLOCATED
    assert not after.active_holds
    assert oms.payments.summary(order.id).authorised.amount == Decimal("20.00")


def test_a_decline_keeps_the_hold_and_says_why(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10", cards.DECLINED)))
    (hold,) = shop.orders.get(order.id).active_holds
    assert hold.reason == "payment declined: card_declined: the issuer declined the authorisation"
    (entry,) = [e for e in shop.orders.timeline(order.id) if e.event_type == "payment.recorded"]
    assert entry.event.outcome == "failure"  # type: ignore[attr-defined]


def test_split_tender_is_released_when_every_tender_is_authorised(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 3}, card("20"), card("10")))
    summary = shop.payments.summary(order.id)
    assert [x.authorised.amount for x in summary.transactions] == [20, 10]
    assert not shop.orders.get(order.id).active_holds
    declined = shop.orders.place(paid("P-2", {"SKU-1": 3}, card("20"),
                                      card("10", cards.INSUFFICIENT_FUNDS)))
    assert [h.code for h in shop.orders.get(declined.id).active_holds] == ["payment_pending"]


def test_an_unknown_provider_is_refused_and_nothing_is_written(shop: Oms) -> None:
    before = table_contents(shop)
    bad = Tender(provider="paypal", amount=Decimal("10"), method_token="x")
    with pytest.raises(UnknownPaymentProvider):
        shop.orders.place(paid("P-1", {"SKU-1": 1}, bad))
    with pytest.raises(UnknownPaymentProvider):
        shop.orders.place_many([order_command("P-2", {"SKU-1": 1}),
                                paid("P-3", {"SKU-1": 1}, bad)])
    assert table_contents(shop) == before


@pytest.mark.parametrize(("tender", "problem"), [
    (Tender(provider="sandbox", amount=Decimal("10.001")), "more decimals than EUR"),
    (Tender(amount=Decimal("10")), "provider: required"),
    (Tender(provider="sandbox", amount=Decimal("0")), "outside 0 (excluded)"),
    (Tender(provider="Not A Code", amount=Decimal("1")), "provider"),
])
def test_malformed_tenders_are_invalid_commands(tender: Tender, problem: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        paid("P-1", {"SKU-1": 1}, tender)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_redelivered_order_is_paid_once(shop: Oms, sandbox: SandboxProvider) -> None:
    command = paid("P-1", {"SKU-1": 1}, card("10"))
    first = shop.orders.place(command)
    assert shop.orders.place(command).id == first.id
    assert len(shop.payments.summary(first.id).transactions) == 1
    assert [a for a, _ in sandbox.calls] == ["authorise"]
    with pytest.raises(IdempotencyConflict):
        shop.orders.place(paid("P-1", {"SKU-1": 1}, card("9")))


def test_orders_without_payment_keep_their_fingerprint() -> None:
    plain = order_command("P-1", {"SKU-1": 1})
    assert attrs.evolve(plain, payment=None).fingerprint() == plain.fingerprint()
    assert paid("P-1", {"SKU-1": 1}, card("10")).fingerprint() != plain.fingerprint()


def test_funds_the_channel_captured_need_no_authorisation(shop: Oms) -> None:
    till = Tender(amount=Decimal("10"), captured=True, reference="till-42")
    order = shop.orders.place(paid("POS-1", {"SKU-1": 1}, till, channel="pos"))
    assert order.status is OrderStatus.ALLOCATED
    summary = shop.payments.summary(order.id)
    assert (summary.charge_status.value, summary.balance.amount) == ("full", 0)
    (ledger,) = summary.transactions
    assert ledger.transaction.kind is PaymentTransactionKind.CHANNEL
    assert ledger.transaction.provider == "pos"


def test_recording_a_channel_capture_is_idempotent(shop: Oms) -> None:
    order = shop.orders.place(order_command("MP-1", {"SKU-1": 2}, channel="marketplace"))
    for _ in range(2):
        summary = shop.payments.record_channel_capture(order.id, Decimal("20"),
                                                       reference="payout-7")
    assert summary.captured.amount == 20
    assert len(summary.transactions) == 1
    with pytest.raises(Exception, match="payout-7"):
        shop.payments.record_channel_capture(order.id, Decimal("19"), reference="payout-7")


# -- capture on shipment, cancellation ----------------------------------------------------------


def test_each_shipment_captures_its_share_and_the_last_is_final(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 2, "SKU-2": 3}, card("50")))
    released = shop.fulfillment.release(order.id)
    by_location = {fo.location: fo.id for fo in released.fulfillment_orders}
    ship(shop, by_location["dc-milan"])
    first = shop.payments.summary(order.id)
    assert (first.captured.amount, first.uncaptured.amount) == (20, 30)
    assert not first.transactions[0].closed
    ship(shop, by_location["dc-rome"])
    last = shop.payments.summary(order.id)
    assert (last.captured.amount, last.charge_status.value) == (50, "full")
    assert last.transactions[0].closed
    captures = [e for e in last.transactions[0].entries
                if e.action is PaymentAction.CAPTURE and e.is_result]
    assert [(e.amount.amount, e.final) for e in captures] == [(20, False), (30, True)]


def test_a_fulfilment_order_shipped_in_parts_captures_part_by_part(
        make_oms: Callable[..., Oms], sandbox: SandboxProvider, clock: MutableClock) -> None:
    # 4 units at 10.00 from one location, shipped as 1 then 3 (labels from a carrier that
    # sells them): the first shipment captures what it carries (10), not the fulfilment
    # order's whole share (40).
    oms = make_oms(plugins=[SandboxPlugin(sandbox), MemoryCarrierPlugin()], clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.46, 9.19, country="IT"))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    order = oms.orders.place(paid("P-1", {"SKU-1": 4}, card("40")))
    (fo,) = oms.fulfillment.release(order.id).fulfillment_orders
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo.id)
    first = oms.shipping.create_shipment(
        fo.id, carrier="memory", lines=[attrs.evolve(fo.lines[0], quantity=1)],
        parcels=[ParcelSpec(weight_grams=500)])
    oms.shipping.buy_labels(first.id)
    oms.shipping.ship(first.id)
    part = oms.payments.summary(order.id)
    assert (part.captured.amount, part.uncaptured.amount) == (10, 30)
    assert not part.transactions[0].closed
    rest = oms.shipping.create_shipment(fo.id, carrier="memory",
                                        parcels=[ParcelSpec(weight_grams=1500)])
    oms.shipping.buy_labels(rest.id)
    oms.shipping.ship(rest.id)
    whole = oms.payments.summary(order.id)
    assert (whole.captured.amount, whole.charge_status.value) == (40, "full")
    captures = [e for e in whole.transactions[0].entries
                if e.action is PaymentAction.CAPTURE and e.is_result]
    assert [(e.amount.amount, e.final) for e in captures] == [(10, False), (30, True)]


def test_cancelling_voids_what_is_authorised(shop: Oms, sandbox: SandboxProvider) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10")))
    shop.orders.cancel(order.id, "customer changed their mind")
    summary = shop.payments.summary(order.id)
    assert summary.uncaptured.amount == 0
    assert summary.transactions[0].voided.amount == 10
    assert summary.due.amount == 0
    shop.orders.cancel(order.id)  # again: nothing more
    assert [a for a, _ in sandbox.calls] == ["authorise", "void"]


def test_cancelling_refunds_what_was_captured(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 2}, card("20")))
    shop.payments.capture(order.id, Decimal("20"), reference="prepaid", final=True)
    shop.orders.cancel(order.id)
    summary = shop.payments.summary(order.id)
    assert (summary.refunded.amount, summary.balance.amount) == (20, 0)


def test_a_declined_order_cancels_without_provider_calls(shop: Oms,
                                                         sandbox: SandboxProvider) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10", cards.DECLINED)))
    shop.orders.cancel(order.id)
    assert [a for a, _ in sandbox.calls] == ["authorise"]


# -- retries, capabilities, commands -----------------------------------------------------------


def test_an_unreachable_provider_leaves_the_event_to_retry(shop: Oms,
                                                           sandbox: SandboxProvider) -> None:
    for _ in range(3):
        sandbox.fail_next(PaymentAction.AUTHORISE, Fault.RETRYABLE)
    order = shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10")))
    assert [h.code for h in shop.orders.get(order.id).active_holds] == ["payment_pending"]
    assert shop.outbox.pending_count() >= 1
    (ledger,) = shop.payments.summary(order.id).transactions
    assert ledger.entries[-1].error_class is not None
    assert ledger.entries[-1].error_class.value == "retryable"
    shop.outbox.dispatch_pending()
    assert not shop.orders.get(order.id).active_holds
    (ledger,) = shop.payments.summary(order.id).transactions
    assert [e.idempotency_key for e in ledger.entries][-1].endswith("#2")


def test_a_retryable_error_from_a_direct_call_is_raised_after_retries(
        shop: Oms, sandbox: SandboxProvider) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10")))
    for _ in range(3):
        sandbox.fail_next(PaymentAction.CAPTURE, Fault.RETRYABLE)
    with pytest.raises(PaymentRetryable):
        shop.payments.capture(order.id, reference="ship-1")
    assert shop.payments.capture(order.id, reference="ship-1").captured.amount == 10


def test_a_missing_capability_is_refused_and_writes_nothing(
        make_oms: Callable[..., Oms], clock: MutableClock) -> None:
    single = SandboxProvider(clock=clock, capabilities=frozenset(PaymentCapability)
                             - {PaymentCapability.MULTI_CAPTURE})
    oms = make_oms(plugins=[SandboxPlugin(single), ManualCarriers("brt")], clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    order = oms.orders.place(paid("P-1", {"SKU-1": 2}, card("20")))
    oms.payments.capture(order.id, Decimal("5"), reference="first")
    before = table_contents(oms)
    with pytest.raises(UnsupportedPaymentOperation):
        oms.payments.capture(order.id, Decimal("5"), reference="second")
    assert table_contents(oms) == before


def test_payments_run_as_commands_from_python_and_json(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 2}, card("20")))
    shop.execute(CapturePayment(order_id=order.id, amount=Decimal("5"), reference="a"))
    command = shop.command("capture_payment", {"order_id": order.id, "amount": "5.00",
                                               "reference": "b"})
    assert shop.execute(command).captured.amount == 10
    refund = shop.command("refund_payment", {"order_id": order.id, "amount": "3",
                                             "refund_key": "rma-1", "reason": "damaged"})
    assert shop.execute(refund).refunded.amount == 3
    with pytest.raises(InvalidCommand):
        shop.command("capture_payment", {"order_id": order.id, "amount": 5.5,
                                         "reference": "c"})


def test_a_refund_key_with_another_amount_is_a_conflict(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 2}, card("20")))
    shop.payments.capture(order.id, reference="all", final=True)
    shop.payments.refund(order.id, Decimal("5"), refund_key="rma-1")
    assert shop.payments.refund(order.id, Decimal("5"), refund_key="rma-1").refunded.amount == 5
    before = table_contents(shop)
    with pytest.raises(Exception, match="rma-1"):
        shop.payments.refund(order.id, Decimal("6"), refund_key="rma-1")
    with pytest.raises(PaymentAmountExceeded):
        shop.payments.refund(order.id, Decimal("15.01"), refund_key="rma-2")
    assert table_contents(shop) == before


def test_a_webhook_from_an_unknown_provider_or_badly_signed_changes_nothing(
        shop: Oms, sandbox: SandboxProvider) -> None:
    shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10")))
    (headers, body), = sandbox.webhooks()
    before = table_contents(shop)
    with pytest.raises(UnknownPaymentProvider):
        shop.payments.handle_webhook("stripe", headers, body)
    with pytest.raises(InvalidWebhook):
        shop.payments.handle_webhook("sandbox", {**headers, "Sandbox-Signature": "t=1,v1=00"},
                                     body)
    assert shop.payments.handle_webhook("sandbox", headers, body) == []  # known already
    assert table_contents(shop) == before


def test_a_bound_oms_refuses_to_call_providers(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10")))
    with shop.engine.connect() as conn, conn.begin(), pytest.raises(UnsupportedConnection):
        shop.bind(conn).payments.capture(order.id, reference="x")


def test_a_provider_with_malformed_capabilities_fails_bootstrap(
        make_oms: Callable[..., Oms]) -> None:
    class Sloppy(SandboxProvider):
        @property
        def capabilities(self) -> frozenset[PaymentCapability]:
            return {"capture"}  # type: ignore[return-value]

    class Plugin:
        @hookimpl
        def omskit_register_payment_providers(self, register: Callable[[Any], None]) -> None:
            register(Sloppy())

    with pytest.raises(PluginError, match="capabilities"):
        make_oms(plugins=[Plugin()])


def test_a_provider_is_built_from_each_oms_settings(make_oms: Callable[..., Oms]) -> None:
    seen: list[Mapping[str, Any]] = []

    class FromSettings:
        """Like an entry point: no constructor arguments, configured by settings."""

        @hookimpl
        def omskit_register_payment_providers(self, register: Callable[[Any], None],
                                              settings: Mapping[str, Any]) -> None:
            seen.append(settings)
            if "sandbox_code" in settings:
                register(SandboxProvider(code=settings["sandbox_code"]))

    plugin = FromSettings()
    one = make_oms(plugins=[plugin], settings={"sandbox_code": "cards-one"})
    two = make_oms(plugins=[plugin], settings={"sandbox_code": "cards-two"})
    none = make_oms(plugins=[plugin])
    assert (one.payments.providers(), two.payments.providers(),
            none.payments.providers()) == (["cards-one"], ["cards-two"], [])
    assert seen == [{"sandbox_code": "cards-one"}, {"sandbox_code": "cards-two"}, {}]
    assert seen[0] is one.settings  # the very mapping bootstrap keeps


def test_the_ledger_is_append_only_rows(shop: Oms) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 2}, card("20")))
    ship_all(shop, order.id)
    entries = shop.tables.payment_entries
    with shop.engine.connect() as conn:
        rows = conn.execute(sa.select(entries.c.action, entries.c.outcome)
                            .order_by(entries.c.seq)).all()
    assert [tuple(r) for r in rows] == [("authorise", "request"), ("authorise", "success"),
                                        ("capture", "request"), ("capture", "success")]


def test_shipping_on_a_lapsed_authorisation_fails_loudly(shop: Oms, clock: MutableClock) -> None:
    order = shop.orders.place(paid("P-1", {"SKU-1": 1}, card("10")))
    fo = shop.fulfillment.release(order.id).fulfillment_orders[0].id
    clock.advance(timedelta(days=8))
    ship(shop, fo)  # the goods left; the capture cannot happen
    assert shop.orders.get(order.id).status is OrderStatus.SHIPPED
    assert shop.payments.summary(order.id).captured.amount == 0
    assert shop.outbox.pending_count() >= 1  # retried, then parked for an operator
