"""The returns policy conformance kit: what every ``ReturnsPolicy`` plugin must pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from omskit import (
    Disposition,
    ManualCarriers,
    Oms,
    RefundContext,
    RefundContextLine,
    RefundQuote,
    RefusalCode,
    ReturnContext,
    ReturnContextLine,
    ReturnItem,
    ReturnRefusal,
    ReturnsPolicy,
    ReturnStatus,
    ReturnWindowClosed,
    UnitDisposition,
    bootstrap,
    minor_units,
)
from omskit.testing.builders import location, order_command, table_contents
from omskit.testing.payments import MutableClock

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def return_context(*, days_after_delivery: float = 1, sku: str = "SKU-1", quantity: int = 1,
                   reason: str = "", channel: str = "web", location: str | None = None,
                   location_is_store: bool = False) -> ReturnContext:
    """A request to return ``quantity`` units of one delivered line, ``days_after_delivery``
    days after it was delivered."""
    delivered = T0
    return ReturnContext(
        order_id="order-1", order_channel="web", currency="EUR", placed_at=T0 - timedelta(3),
        delivered_at=delivered, shipped_at=delivered - timedelta(days=1),
        shipped_from=("dc-1",), channel=channel, location=location,
        location_is_store=location_is_store,
        requested_at=delivered + timedelta(days=days_after_delivery),
        lines=(ReturnContextLine(line_id="1", sku=sku, quantity=quantity,
                                 unit_price=Decimal("25.00"), reason=reason,
                                 shipped=quantity),))


def refund_context(*, received: int = 2, reason: str = "",
                   dispositions: Mapping[str, int] | None = None,
                   whole: bool = True, shipping_paid: str = "5.00") -> RefundContext:
    """A received return of one line at 25.00 EUR a unit."""
    return RefundContext(
        return_id="rma-1", order_id="order-1", currency="EUR", channel="web",
        location="dc-1", whole_order_returned=whole, shipping_paid=Decimal(shipping_paid),
        label_used=False,
        lines=(RefundContextLine(
            line_id="1", sku="SKU-1", unit_price=Decimal("25.00"), reason=reason,
            requested=received, received=received,
            dispositions=dict(dispositions if dispositions is not None
                              else {Disposition.RESTOCK.value: received})),))


class ReturnsPolicyConformance:
    """Tests every returns policy must pass. Provide the fixtures ``returns_plugin`` (the
    plugin object) and ``returns_policy_code``; optionally ``returns_settings`` (the
    ``bootstrap`` settings, default none), ``returnable_reason`` (a reason the policy takes,
    default ``""``) and ``days_past_window`` (days after delivery by which every return is
    refused with ``window_closed``; default 366).
    """

    @pytest.fixture
    def returns_settings(self) -> Mapping[str, Any]:
        return {}

    @pytest.fixture
    def returnable_reason(self) -> str:
        return ""

    @pytest.fixture
    def days_past_window(self) -> int:
        return 366

    @pytest.fixture
    def returns_policy(self, returns_plugin: object, returns_policy_code: str,
                       returns_settings: Mapping[str, Any]) -> Iterator[ReturnsPolicy]:
        with bootstrap("sqlite://", plugins=[returns_plugin], load_entrypoints=False,
                       settings=returns_settings) as oms:
            yield oms.returns.policy()

    def test_policy_is_registered_under_its_code(self, returns_policy: ReturnsPolicy,
                                                 returns_policy_code: str) -> None:
        assert returns_policy.code == returns_policy_code

    def test_a_prompt_return_is_not_refused(self, returns_policy: ReturnsPolicy,
                                            returns_settings: Mapping[str, Any],
                                            returnable_reason: str) -> None:
        found = list(returns_policy.evaluate(return_context(reason=returnable_reason),
                                             returns_settings))
        assert found == [], f"a return a day after delivery was refused: {found}"

    def test_a_late_return_is_refused_with_window_closed(
            self, returns_policy: ReturnsPolicy, returns_settings: Mapping[str, Any],
            returnable_reason: str, days_past_window: int) -> None:
        context = return_context(days_after_delivery=days_past_window,
                                 reason=returnable_reason)
        found = list(returns_policy.evaluate(context, returns_settings))
        assert all(isinstance(r, ReturnRefusal) for r in found)
        assert RefusalCode.WINDOW_CLOSED in {r.code for r in found}
        assert list(returns_policy.evaluate(context, returns_settings)) == found, \
            "evaluate() is not deterministic"

    def test_the_refund_is_never_more_than_what_came_back_and_was_paid(
            self, returns_policy: ReturnsPolicy, returns_settings: Mapping[str, Any],
            returnable_reason: str) -> None:
        for context in (refund_context(reason=returnable_reason),
                        refund_context(reason=returnable_reason, whole=False),
                        refund_context(reason=returnable_reason, dispositions={
                            Disposition.DAMAGED.value: 1, Disposition.RESTOCK.value: 1})):
            quote = returns_policy.quote(context, returns_settings)
            assert isinstance(quote, RefundQuote)
            paid = sum((x.unit_price * x.received for x in context.lines), Decimal(0))
            assert Decimal(0) <= quote.items <= paid
            assert Decimal(0) <= quote.shipping <= context.shipping_paid
            assert quote.fees >= 0
            assert Decimal(0) <= quote.total <= paid + quote.shipping
            cent = Decimal(1).scaleb(-minor_units("EUR"))
            for amount in (quote.items, quote.shipping, quote.fees):
                assert amount == amount.quantize(cent), f"{amount} is not in whole cents"
            assert returns_policy.quote(context, returns_settings) == quote

    def test_nothing_is_refunded_for_nothing_received(
            self, returns_policy: ReturnsPolicy, returns_settings: Mapping[str, Any]) -> None:
        quote = returns_policy.quote(refund_context(received=0, dispositions={}, whole=False),
                                     returns_settings)
        assert quote.items == 0
        assert quote.total == 0

    def test_a_return_end_to_end_and_a_late_one_changing_nothing(
            self, make_oms: Callable[..., Oms], returns_plugin: object,
            returns_settings: Mapping[str, Any], returnable_reason: str,
            days_past_window: int) -> None:
        clock = MutableClock(T0)
        oms = make_oms(plugins=[returns_plugin, ManualCarriers("manual")],
                       settings=returns_settings, clock=clock)
        oms.inventory.save_location(location("dc-1", 45.47, 9.19))
        oms.inventory.receive("dc-1", "SKU-1", 5)
        order = oms.orders.place(order_command("RET-1", {"SKU-1": 2}))
        for fo in oms.fulfillment.release(order.id).fulfillment_orders:
            for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
                step(fo.id)
            oms.fulfillment.ship(fo.id, carrier="manual", tracking_number="T-1")
        rma = oms.returns.request(order.id, [ReturnItem(line_id="1", quantity=1,
                                                        reason=returnable_reason)],
                                  channel="web")
        rma = oms.returns.approve(rma.id)
        rma = oms.returns.receive(rma.id, "dc-1", [ReturnItem(line_id="1", quantity=1)],
                                  idempotency_key="box")
        rma = oms.returns.inspect(rma.id, [UnitDisposition(
            line_id="1", quantity=1, disposition=Disposition.RESTOCK)], idempotency_key="i")
        assert rma.status is ReturnStatus.INSPECTED
        quote = oms.returns.quote(rma.id)
        assert Decimal(0) <= quote.total <= Decimal("10.00")
        clock.advance(timedelta(days=days_past_window))
        before = table_contents(oms)
        with pytest.raises(ReturnWindowClosed):
            oms.returns.request(order.id, [ReturnItem(line_id="1", quantity=1,
                                                      reason=returnable_reason)],
                                channel="web")
        assert table_contents(oms) == before
