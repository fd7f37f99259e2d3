"""The installed distribution is found through its entry point and pays real orders.

These tests need the distribution installed (``pip install -e plugins/omskit-payment-sandbox``),
since entry points are read from installed metadata, not from the source tree.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from importlib.metadata import version

import attrs
import pytest
from omskit import (
    ENV_DISABLE_AUTOLOAD,
    ENV_DISABLED_PLUGINS,
    ManualCarriers,
    Oms,
    OrderPayment,
    OrderStatus,
    Tender,
    UnknownPaymentProvider,
    bootstrap,
)
from omskit.testing import location, order_command

from omskit_payment_sandbox import SandboxProvider, cards

DISTRIBUTION = "omskit-payment-sandbox"


@pytest.fixture(autouse=True)
def _autoload_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator's (or tox's) switches would hide the very entry point under test.
    monkeypatch.delenv(ENV_DISABLE_AUTOLOAD, raising=False)
    monkeypatch.delenv(ENV_DISABLED_PLUGINS, raising=False)


def test_entry_point_contributes_the_provider() -> None:
    with bootstrap("sqlite://", load_entrypoints=True) as oms:
        assert isinstance(oms.payment_provider("sandbox"), SandboxProvider)
        mine = [p for p in oms.plugins() if p.distribution == DISTRIBUTION]
    assert len(mine) == 1, "is the plugin pip-installed?"
    assert mine[0].name == "sandbox"
    assert mine[0].version == version(DISTRIBUTION) == "0.1.0"
    assert mine[0].hooks == ("omskit_register_payment_providers",)
    assert mine[0].contributions == {"payment provider": ("sandbox",)}


def test_each_oms_gets_its_own_sandbox() -> None:
    with bootstrap("sqlite://", load_entrypoints=True) as one, \
            bootstrap("sqlite://", load_entrypoints=True) as two:
        assert one.payment_provider("sandbox") is not two.payment_provider("sandbox")


def test_operators_can_disable_it_by_name() -> None:
    with bootstrap("sqlite://", load_entrypoints=True, disabled_plugins=["sandbox"]) as oms:
        with pytest.raises(UnknownPaymentProvider):
            oms.payment_provider("sandbox")
        assert oms.payments.providers() == []


def test_an_order_is_paid_captured_at_shipment_and_refunded(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(load_entrypoints=True, plugins=[ManualCarriers("brt")])
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    command = attrs.evolve(order_command("WEB-1", {"SKU-1": 2}), payment=OrderPayment(
        tenders=[Tender(provider="sandbox", amount=Decimal("20.00"),
                        method_token=cards.APPROVED)]))
    order = oms.orders.place(command)
    assert oms.orders.get(order.id).status is OrderStatus.ALLOCATED
    fo = oms.fulfillment.release(order.id).fulfillment_orders[0].id
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo)
    oms.fulfillment.ship(fo, carrier="brt", tracking_number="BRT-1")
    paid = oms.payments.summary(order.id)
    assert (paid.captured.amount, paid.charge_status.value) == (Decimal("20.00"), "full")
    refunded = oms.payments.refund(order.id, Decimal("5.00"), refund_key="rma-1")
    assert refunded.balance.amount == Decimal("5.00")
