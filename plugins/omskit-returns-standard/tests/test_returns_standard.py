"""The standard returns policy: the conformance kit, each rule from settings, and an online
order returned at another store with its label, refund and credit note, on SQLite and
PostgreSQL (``make_oms`` runs each test on both)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import Any

import attrs
import omskit_carrier_tablerate
import pytest
from omskit import (
    Disposition,
    DocumentKind,
    InvalidSettings,
    LocationKind,
    Oms,
    OrderPayment,
    PlaceOrder,
    RefusalCode,
    ReturnItem,
    ReturnRefused,
    ReturnStatus,
    ReturnWindowClosed,
    Tender,
    UnitDisposition,
    bootstrap,
)
from omskit.testing import (
    MutableClock,
    ReturnsPolicyConformance,
    location,
    order_command,
    refund_context,
    return_context,
    table_contents,
)
from omskit_payment_sandbox import SandboxPlugin, SandboxProvider, cards

import omskit_returns_standard
from omskit_returns_standard import StandardReturnsPolicy

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
POLICY: dict[str, Any] = {
    "window_days": 30,
    "reasons": ["size", "damaged", "changed_mind"],
    "categories": {"GIFT-*": "gift_card", "FOOD-*": "food"},
    "non_returnable_categories": ["gift_card", "food"],
    "restocking_fee_percent": "10",
    "restocking_fee_reasons": ["changed_mind"],
    "label_fee": "4.90",
    "free_label_reasons": ["damaged"],
    "shipping_refund": "whole_order",
    "unrefunded_dispositions": ["damaged"],
    "stores": {"accept": True, "other_stores": True, "order_channels": ["web", "store"]},
}
TABLERATE: dict[str, Any] = {
    "currency": "EUR", "webhook_secret": "a-secret-of-at-least-16-chars",
    "zones": [{"name": "italy", "countries": ["IT"], "transit_days": 2,
               "bands": [{"up_to_grams": 10000, "price": "5.90"}]}],
}


class TestConformance(ReturnsPolicyConformance):
    @pytest.fixture
    def returns_plugin(self) -> object:
        return omskit_returns_standard

    @pytest.fixture
    def returns_policy_code(self) -> str:
        return "standard"

    @pytest.fixture
    def returns_settings(self) -> Mapping[str, Any]:
        return {"returns_standard": POLICY}

    @pytest.fixture
    def returnable_reason(self) -> str:
        return "size"

    @pytest.fixture
    def days_past_window(self) -> int:
        return 31


SETTINGS = {"returns_standard": POLICY}
policy = StandardReturnsPolicy()


def codes(found: object) -> list[tuple[str, str | None]]:
    return [(r.code.value, r.line_id) for r in found]  # type: ignore[attr-defined]


def test_the_window_counts_from_delivery() -> None:
    assert policy.evaluate(return_context(days_after_delivery=30, reason="size"),
                           SETTINGS) == []
    assert codes(policy.evaluate(return_context(days_after_delivery=30.5, reason="size"),
                                 SETTINGS)) == [("window_closed", None)]


def test_reasons_and_non_returnable_categories() -> None:
    assert codes(policy.evaluate(return_context(reason="bored"), SETTINGS)) == [
        ("reason", "1")]
    assert codes(policy.evaluate(return_context(sku="GIFT-50", reason="size"), SETTINGS)) == [
        ("non_returnable", "1")]
    required = {"returns_standard": {**POLICY, "require_reason": True}}
    assert codes(policy.evaluate(return_context(), required)) == [("reason", "1")]


def test_store_rules() -> None:
    elsewhere = return_context(reason="size", channel="store", location="store-roma",
                               location_is_store=True)
    assert policy.evaluate(elsewhere, SETTINGS) == []
    own_only = {"returns_standard": {**POLICY, "stores": {"other_stores": False}}}
    assert codes(policy.evaluate(elsewhere, own_only)) == [("location", None)]
    closed = {"returns_standard": {**POLICY, "stores": {"accept": False}}}
    assert codes(policy.evaluate(elsewhere, closed)) == [("location", None)]
    marketplace = attrs.evolve(elsewhere, order_channel="marketplace")
    assert codes(policy.evaluate(marketplace, SETTINGS)) == [("location", None)]


def test_the_refund_counts_items_shipping_and_fees() -> None:
    size = policy.quote(refund_context(reason="size"), SETTINGS)
    assert (size.items, size.shipping, size.fees, size.total) == (
        Decimal("50.00"), Decimal("5.00"), Decimal("0.00"), Decimal("55.00"))
    fee = policy.quote(refund_context(reason="changed_mind", whole=False), SETTINGS)
    assert (fee.items, fee.shipping, fee.fees, fee.total) == (
        Decimal("50.00"), Decimal("0.00"), Decimal("5.00"), Decimal("45.00"))
    broken = policy.quote(refund_context(reason="size", dispositions={
        "damaged": 1, "restock": 1}, whole=False), SETTINGS)
    assert broken.items == Decimal("25.00")
    label = policy.quote(attrs.evolve(refund_context(reason="size", whole=False),
                                      label_used=True), SETTINGS)
    assert label.fees == Decimal("4.90")
    free = policy.quote(attrs.evolve(refund_context(reason="damaged", whole=False),
                                     label_used=True), SETTINGS)
    assert free.fees == Decimal("0.00")


@pytest.mark.parametrize(("bad", "problem"), [
    ({"window_days": -1}, "returns_standard.window_days"),
    ({"restocking_fee_percent": "150"}, "returns_standard.restocking_fee_percent"),
    ({"shipping_refund": "sometimes"}, "returns_standard.shipping_refund"),
    ({"unrefunded_dispositions": ["lost"]}, "returns_standard.unrefunded_dispositions"),
    ({"stores": {"accept": "yes"}}, "returns_standard.stores.accept"),
    ({"windw_days": 3}, "returns_standard.windw_days"),
])
def test_bad_settings_fail_at_bootstrap(bad: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidSettings) as caught:
        bootstrap("sqlite://", plugins=[omskit_returns_standard], load_entrypoints=False,
                  settings={"returns_standard": {**POLICY, **bad}})
    assert any(p.startswith(problem) for p in caught.value.problems)


# -- end to end ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def shop(make_oms: Callable[..., Oms], clock: MutableClock) -> Oms:
    oms = make_oms(plugins=[omskit_returns_standard, omskit_carrier_tablerate,
                            SandboxPlugin(SandboxProvider(clock=clock))],
                   settings={"returns_standard": POLICY, "carrier_tablerate": TABLERATE},
                   clock=clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19, country="IT"))
    oms.inventory.save_location(location("store-roma", 41.9, 12.5, country="IT",
                                         kind=LocationKind.STORE))
    for sku in ("SHIRT", "GIFT-50"):
        oms.inventory.receive("dc-milan", sku, 10)
    return oms


def web_order(oms: Oms, external_id: str, lines: dict[str, int]) -> str:
    command: PlaceOrder = order_command(external_id, lines, unit_price="30.00")
    total = Decimal("30.00") * sum(lines.values())
    order = oms.orders.place(attrs.evolve(command, payment=OrderPayment(tenders=[
        Tender(provider="sandbox", amount=total, method_token=cards.APPROVED)])))
    for fo in oms.fulfillment.release(order.id).fulfillment_orders:
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo.id)
        oms.fulfillment.ship(fo.id, carrier="tablerate", tracking_number=f"T-{fo.id[:6]}")
    return order.id


def test_an_online_order_returned_at_the_roma_store(shop: Oms) -> None:
    order_id = web_order(shop, "W-1", {"SHIRT": 2})
    rma = shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=2,
                                                     reason="changed_mind")],
                               channel="store", location="store-roma")
    rma = shop.returns.approve(rma.id)
    rma = shop.returns.buy_label(rma.id, "tablerate")
    assert rma.label is not None
    assert rma.label.tracking_number
    assert rma.status is ReturnStatus.IN_TRANSIT
    assert shop.returns.buy_label(rma.id, "tablerate").label == rma.label  # bought once
    for key in ("box-1", "box-1"):  # the same receipt twice: taken once
        rma = shop.returns.receive(rma.id, "store-roma", [ReturnItem(line_id="1", quantity=2)],
                                   idempotency_key=key)
    assert rma.status is ReturnStatus.RECEIVED
    assert len(rma.receipts) == 1
    rma = shop.returns.inspect(rma.id, [UnitDisposition(line_id="1", quantity=2,
                                                        disposition=Disposition.RESTOCK)],
                               idempotency_key="bench-1")
    roma = shop.inventory.stock_item("store-roma", "SHIRT")
    assert roma is not None
    assert roma.on_hand == 2
    rma = shop.returns.refund(rma.id)
    # 60.00 of shirts, 10 % restocking (changed mind), the 4.90 label: 49.10 back.
    assert rma.refund is not None
    assert (rma.refund.quote.items, rma.refund.quote.fees, rma.refund.amount) == (
        Decimal("60.00"), Decimal("10.90"), Decimal("49.10"))
    assert shop.payments.summary(order_id).refunded.amount == Decimal("49.10")
    (note,) = [d for d in shop.invoices.for_order(order_id)
               if d.kind is DocumentKind.CREDIT_NOTE]
    assert abs(note.gross) == Decimal("49.10")
    assert shop.returns.close(rma.id).status is ReturnStatus.CLOSED


def test_refused_returns_change_nothing(shop: Oms, clock: MutableClock) -> None:
    order_id = web_order(shop, "W-2", {"SHIRT": 1, "GIFT-50": 1})
    before = table_contents(shop)
    with pytest.raises(ReturnRefused) as caught:
        shop.returns.request(order_id, [ReturnItem(line_id="2", quantity=1, reason="size")],
                             channel="web")
    assert [r.code for r in caught.value.refusals] == [  # type: ignore[attr-defined]
        RefusalCode.NON_RETURNABLE]
    clock.advance(timedelta(days=31))
    with pytest.raises(ReturnWindowClosed):
        shop.returns.request(order_id, [ReturnItem(line_id="1", quantity=1, reason="size")],
                             channel="web")
    assert table_contents(shop) == before


def test_the_entry_point_names_this_package() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    targets = list(project["entry-points"]["omskit"].values())
    assert project["name"].replace("-", "_") == omskit_returns_standard.__name__
    assert targets == [omskit_returns_standard.__name__]
    assert import_module(targets[0]) is omskit_returns_standard
