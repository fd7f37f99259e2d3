"""Which message an event becomes (no database): refunds only when they succeeded, delays
only past the promise, tracking only when out for delivery; backoff and settings."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs

from omskit.domain.events import OrderExpectedDateChanged, OrderStatusChanged, ParcelTracked
from omskit.domain.notifications import (
    NotificationKind,
    backoff,
    notification_key,
    parse_notification_settings,
)
from omskit.domain.payments import PaymentRecorded
from omskit.services.notifications import message_kind
from omskit.testing import order

K = NotificationKind


def refund(outcome: str, action: str = "refund") -> PaymentRecorded:
    return PaymentRecorded(order="o-1", transaction_id="t", provider="sandbox", action=action,
                           outcome=outcome, amount=Decimal("12.50"), currency="EUR",
                           idempotency_key="k", source="call")


def test_a_successful_refund_is_a_refund_message_and_nothing_else_is() -> None:
    placed = order("W-1", {"SKU-1": 1})
    assert message_kind(refund("success"), placed) == (
        K.REFUND_ISSUED, {"amount": "12.50", "currency": "EUR"})
    assert message_kind(refund("declined"), placed) is None
    assert message_kind(refund("success", action="capture"), placed) is None


def test_a_delay_is_told_only_past_the_promised_date() -> None:
    promised = attrs.evolve(order("W-1", {"SKU-1": 1}), promised_date=date(2026, 12, 10))

    def changed(to: date | None) -> OrderExpectedDateChanged:
        return OrderExpectedDateChanged(order="o-1", previous=None, expected_date=to,
                                        shipment_id="s")

    assert message_kind(changed(date(2026, 12, 9)), promised) is None
    assert message_kind(changed(date(2026, 12, 10)), promised) is None
    assert message_kind(changed(date(2026, 12, 12)), promised) == (
        K.ORDER_DELAYED, {"expected_date": "2026-12-12"})
    assert message_kind(changed(None), promised) is None


def test_status_and_tracking_events_only_for_the_statuses_customers_hear_about() -> None:
    placed = order("W-1", {"SKU-1": 1})
    assert message_kind(OrderStatusChanged(order="o", from_status="validated",
                                           to_status="backordered"), placed) == (
        K.ORDER_BACKORDERED, {})
    assert message_kind(OrderStatusChanged(order="o", from_status="validated",
                                           to_status="allocated"), placed) is None

    def tracked(status: str) -> ParcelTracked:
        return ParcelTracked(order="o", shipment_id="s", parcel_id="p", carrier="brt",
                             tracking_number="T", status=status)

    assert message_kind(tracked("in_transit"), placed) is None
    found = message_kind(tracked("out_for_delivery"), placed)
    assert found is not None
    assert found[0] is K.OUT_FOR_DELIVERY


def test_backoff_doubles_up_to_six_hours_and_keys_name_the_recipient() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert backoff(30) == timedelta(hours=6)
    assert notification_key("e", K.ORDER_SHIPPED, "smtp", "a@b.c") == "e:order_shipped:smtp:a@b.c"


def test_settings_problems_are_each_named() -> None:
    problems: list[str] = []
    parse_notification_settings({"notifications": {
        "channels": {"web": {"tracking_url": "https://t/{nope}", "language": "de"}},
        "max_attempts": 0}}, problems)
    assert any("tracking_url" in p for p in problems)
    assert any("language" in p for p in problems)
    assert any("max_attempts" in p for p in problems)
