"""The installed distribution: its entry point builds a provider from each ``Oms``'s
settings, ``omskit_validate_settings`` names every problem, and an order is paid, captured
at shipment and refunded end to end (against the in-memory Stripe).

The entry-point tests need the distribution installed (``pip install -e
plugins/omskit-payment-stripe``): entry points are read from installed metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from importlib.metadata import version
from typing import Any

import attrs
import pytest
from omskit import (
    ENV_DISABLE_AUTOLOAD,
    ENV_DISABLED_PLUGINS,
    InvalidSettings,
    ManualCarriers,
    Oms,
    OrderPayment,
    OrderStatus,
    PaymentCapability,
    Tender,
    UnknownPaymentProvider,
    bootstrap,
)
from omskit.testing import location, order_command

from fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from omskit_payment_stripe import (
    TESTED_API_VERSION,
    StripePlugin,
    StripeProvider,
    StripeSettings,
    parse,
)

DISTRIBUTION = "omskit-payment-stripe"
SETTINGS: dict[str, Any] = {"payment_stripe": {"secret_key": "sk_test_abc",
                                               "webhook_secret": "whsec_abc"}}


@pytest.fixture(autouse=True)
def _autoload_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator's (or tox's) switches would hide the very entry point under test.
    monkeypatch.delenv(ENV_DISABLE_AUTOLOAD, raising=False)
    monkeypatch.delenv(ENV_DISABLED_PLUGINS, raising=False)


def test_entry_point_builds_the_provider_from_settings() -> None:
    with bootstrap("sqlite://", load_entrypoints=True, settings=SETTINGS) as oms:
        provider = oms.payment_provider("stripe")
        assert isinstance(provider, StripeProvider)
        assert provider.settings == StripeSettings(secret_key="sk_test_abc",
                                                   webhook_secret="whsec_abc")
        assert provider.settings.api_version == TESTED_API_VERSION
        mine = [p for p in oms.plugins() if p.distribution == DISTRIBUTION]
    assert len(mine) == 1, "is the plugin pip-installed?"
    assert mine[0].name == "payment-stripe"
    assert mine[0].version == version(DISTRIBUTION) == "0.1.0"
    assert mine[0].hooks == ("omskit_register_payment_providers", "omskit_validate_settings")
    assert mine[0].contributions == {"payment provider": ("stripe",)}


def test_each_oms_gets_a_provider_for_its_own_account() -> None:
    other = {"payment_stripe": {**SETTINGS["payment_stripe"], "secret_key": "rk_live_xyz",
                                "multicapture": True}}
    with bootstrap("sqlite://", load_entrypoints=True, settings=SETTINGS) as one, \
            bootstrap("sqlite://", load_entrypoints=True, settings=other) as two:
        first, second = one.payment_provider("stripe"), two.payment_provider("stripe")
        assert isinstance(first, StripeProvider)
        assert isinstance(second, StripeProvider)
        assert (first.settings.live, second.settings.live) == (False, True)
        assert PaymentCapability.MULTI_CAPTURE not in first.capabilities
        assert PaymentCapability.MULTI_CAPTURE in second.capabilities


def test_without_settings_it_contributes_nothing() -> None:
    with bootstrap("sqlite://", load_entrypoints=True) as oms, \
            pytest.raises(UnknownPaymentProvider):
        oms.payment_provider("stripe")


def test_operators_can_disable_it_by_name() -> None:
    with bootstrap("sqlite://", load_entrypoints=True, settings=SETTINGS,
                   disabled_plugins=["payment-stripe"]) as oms, \
            pytest.raises(UnknownPaymentProvider):
        oms.payment_provider("stripe")


def test_bootstrap_names_every_missing_or_wrong_setting() -> None:
    with pytest.raises(InvalidSettings) as caught:
        bootstrap("sqlite://", load_entrypoints=True, settings={"payment_stripe": {
            "webhook_tolerance": 0, "multicapture": "yes", "colour": "blue"}})
    assert sorted(caught.value.problems) == [
        "payment_stripe.colour: unknown field",
        "payment_stripe.multicapture: true or false, not 'yes'",
        "payment_stripe.secret_key: missing (the account's sk_... or rk_... API key)",
        "payment_stripe.webhook_secret: missing (the webhook endpoint's whsec_... signing "
        "secret)",
        "payment_stripe.webhook_tolerance: whole seconds ≥ 1, not 0",
    ]


@pytest.mark.parametrize(("raw", "problem"), [
    ("sk_test_abc", "payment_stripe: must be an object with secret_key and webhook_secret"),
    ({"secret_key": "pk_test_abc", "webhook_secret": "whsec_a"},
     "payment_stripe.secret_key: not a Stripe secret or restricted key (sk_test_..., "
     "sk_live_..., rk_...)"),
    ({"secret_key": "sk_test_a", "webhook_secret": "secret"},
     "payment_stripe.webhook_secret: not a webhook signing secret (whsec_...)"),
    ({"secret_key": "sk_test_a", "webhook_secret": "whsec_a", "api_version": "latest"},
     f"payment_stripe.api_version: a Stripe API version like {TESTED_API_VERSION!r}"),
    ({"secret_key": "sk_test_a", "webhook_secret": "whsec_a", "timeout": -1},
     "payment_stripe.timeout: seconds > 0, not -1"),
])
def test_each_setting_is_checked(raw: object, problem: str) -> None:
    assert parse(raw) == (None, [problem])


def test_keys_stay_out_of_reprs() -> None:
    settings = parse({"secret_key": "sk_live_secret", "webhook_secret": "whsec_secret",
                      "timeout": 10})[0]
    assert settings is not None
    assert settings.timeout == 10.0
    assert "secret" not in repr(settings)


def test_an_order_is_paid_captured_at_shipment_and_refunded(
        make_oms: Callable[..., Oms], fake_stripe: FakeStripe) -> None:
    settings = StripeSettings(secret_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
    provider = StripeProvider(settings, http_client=fake_stripe.http_client())
    oms = make_oms(plugins=[StripePlugin(provider), ManualCarriers("brt")])
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 10)
    command = attrs.evolve(order_command("WEB-1", {"SKU-1": 2}), payment=OrderPayment(
        tenders=[Tender(provider="stripe", amount=Decimal("20.00"),
                        method_token="pm_card_mastercard")]))
    order = oms.orders.place(command)
    assert oms.orders.get(order.id).status is OrderStatus.ALLOCATED
    fo = oms.fulfillment.release(order.id).fulfillment_orders[0].id
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo)
    oms.fulfillment.ship(fo, carrier="brt", tracking_number="BRT-1")
    paid = oms.payments.summary(order.id)
    assert (paid.captured.amount, paid.charge_status.value) == (Decimal("20.00"), "full")
    (reference,) = fake_stripe.intents
    assert fake_stripe.intents[reference]["status"] == "succeeded"
    refunded = oms.payments.refund(order.id, Decimal("5.00"), refund_key="rma-1")
    assert refunded.balance.amount == Decimal("5.00")
    assert fake_stripe.captured(reference) == 1500
