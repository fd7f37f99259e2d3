"""What the provider sends Stripe and how it reads the answers, called directly (no database):
manual capture, multicapture flags, the idempotency header, amounts in minor units, expiry,
and reconciliation by key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from omskit import (
    Money,
    PaymentAction,
    PaymentCapability,
    PaymentDeclined,
    PaymentRequest,
    PaymentResult,
)
from omskit.testing import MutableClock

from fake_stripe import API_KEY, FakeStripe
from omskit_payment_stripe import StripeProvider, StripeSettings, currencies, metadata
from omskit_payment_stripe.provider import authorisation_expiry


def request(action: PaymentAction, key: str, amount: str = "100.00", currency: str = "EUR", *,
            reference: str | None = None, method: str | None = "pm_card_visa",
            final: bool = False) -> PaymentRequest:
    return PaymentRequest(action=action, idempotency_key=key, amount=Money(amount, currency),
                          order_id="o-1", transaction_id="o-1.1", provider_reference=reference,
                          method_token=method, final=final)


def authorise(provider: StripeProvider, amount: str = "100.00", currency: str = "EUR",
              key: str = "o-1.1:authorise:placement") -> PaymentResult:
    return provider.authorise(request(PaymentAction.AUTHORISE, key, amount, currency))


def sent(fake: FakeStripe, method: str = "POST", path: str = "") -> list[dict[str, Any]]:
    """The params of the requests of ``method`` whose path ends with ``path``."""
    return [p for m, pth, p, _ in fake.requests if m == method and pth.endswith(path)]


def headers_of(fake: FakeStripe, index: int = -1) -> dict[str, str]:
    return fake.requests[index][3]


def test_authorise_creates_and_confirms_a_manual_capture_intent(
        payment_provider: StripeProvider, fake_stripe: FakeStripe,
        payment_clock: MutableClock) -> None:
    result = authorise(payment_provider, "25.90")
    (params,) = sent(fake_stripe, path="/v1/payment_intents")
    assert params == {
        "amount": "2590", "currency": "eur", "capture_method": "manual", "confirm": "true",
        "payment_method": "pm_card_visa", "payment_method_types": ["card"],
        "description": "omskit order o-1",
        "metadata": {"omskit_order_id": "o-1",
                     "omskit_idempotency_key": "o-1.1:authorise:placement"},
        "payment_method_options": {"card": {"request_multicapture": "if_available"}},
        "expand": ["latest_charge"]}
    headers = headers_of(fake_stripe)
    assert headers["Idempotency-Key"] == "o-1.1:authorise:placement"
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Stripe-Version"] == payment_provider.settings.api_version
    assert result.provider_reference in fake_stripe.intents
    assert result.amount == Money("25.90", "EUR")
    # The charge's capture_before (7 days on the fake Stripe's clock) says when it lapses.
    assert result.expires_at == payment_clock() + timedelta(days=7)
    assert result.operation_reference.startswith("ch_")


def test_without_multicapture_nothing_asks_for_it(fake_stripe: FakeStripe) -> None:
    settings = StripeSettings(secret_key=API_KEY, webhook_secret="whsec_x")
    provider = StripeProvider(settings, http_client=fake_stripe.http_client())
    assert PaymentCapability.MULTI_CAPTURE not in provider.capabilities
    reference = authorise(provider).provider_reference
    assert "payment_method_options" not in sent(fake_stripe)[0]
    provider.capture(request(PaymentAction.CAPTURE, "cap-1", "30", reference=reference))
    (capture,) = sent(fake_stripe, path="/capture")
    assert "final_capture" not in capture  # Stripe's capture is final by itself
    assert fake_stripe.intents[reference]["status"] == "succeeded"


@pytest.mark.parametrize(("amount", "currency", "minor"), [
    ("10.50", "EUR", "1050"), ("1500", "JPY", "1500"), ("990", "KRW", "990"),
    ("5.120", "KWD", "5120"), ("5", "ISK", "500"), ("0.01", "USD", "1")])
def test_amounts_are_sent_in_stripes_minor_units(
        payment_provider: StripeProvider, fake_stripe: FakeStripe, amount: str, currency: str,
        minor: str) -> None:
    result = authorise(payment_provider, amount, currency)
    (params,) = sent(fake_stripe, path="/v1/payment_intents")
    assert (params["amount"], params["currency"]) == (minor, currency.lower())
    assert result.amount == Money(amount, currency)
    payment_provider.capture(request(PaymentAction.CAPTURE, "cap", amount, currency,
                                     reference=result.provider_reference, final=True))
    assert sent(fake_stripe, path="/capture")[0]["amount_to_capture"] == minor
    refund = request(PaymentAction.REFUND, "re", amount, currency,
                     reference=result.provider_reference)
    payment_provider.refund(refund)
    assert sent(fake_stripe, path="/v1/refunds")[0]["amount"] == minor


@pytest.mark.parametrize(("amount", "currency"), [("5.125", "KWD"), ("10.50", "MGA")])
def test_an_amount_stripe_cannot_take_is_declined_before_sending(
        payment_provider: StripeProvider, fake_stripe: FakeStripe, amount: str,
        currency: str) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        authorise(payment_provider, amount, currency)
    assert caught.value.reason == "invalid_amount"
    assert fake_stripe.requests == []


def test_currencies_round_trip_by_stripes_exponents() -> None:
    assert currencies.exponent("jpy") == 0
    assert currencies.exponent("KWD") == 3
    assert currencies.exponent("EUR") == 2
    assert currencies.from_minor(1500, "jpy") == Money("1500", "JPY")
    assert currencies.from_minor(5120, "kwd") == Money("5.12", "KWD")
    assert currencies.to_minor(Money("19.99", "EUR")) == 1999


def test_captures_in_parts_send_final_capture_and_a_marker(
        payment_provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    reference = authorise(payment_provider).provider_reference
    first = payment_provider.capture(request(PaymentAction.CAPTURE, "o-1.1:capture:fo-1", "30",
                                             reference=reference))
    payment_provider.capture(request(PaymentAction.CAPTURE, "o-1.1:capture:fo-2", "20",
                                     reference=reference, final=True))
    one, two = sent(fake_stripe, path="/capture")
    assert one == {"amount_to_capture": "3000", "final_capture": "false", "metadata": {
        metadata.capture_marker("o-1.1:capture:fo-1"): "3000"}}
    assert two["final_capture"] == "true"
    assert two["amount_to_capture"] == "2000"
    assert [h["Idempotency-Key"] for m, p, _, h in fake_stripe.requests
            if p.endswith("/capture")] == ["o-1.1:capture:fo-1", "o-1.1:capture:fo-2"]
    # Each capture read the intent first, to learn whether multicapture is available.
    assert len(sent(fake_stripe, "GET", reference)) == 2
    assert first.provider_reference == reference
    intent = fake_stripe.intents[reference]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 5000)
    assert fake_stripe.captured(reference) == 5000
    assert len(metadata.capture_marker("k")) <= 40  # Stripe's limit for metadata keys


def test_the_same_key_twice_moves_money_once(payment_provider: StripeProvider,
                                            fake_stripe: FakeStripe) -> None:
    first = authorise(payment_provider)
    again = authorise(payment_provider)
    assert again == first
    assert len(fake_stripe.intents) == 1
    capture = request(PaymentAction.CAPTURE, "cap", "40", reference=first.provider_reference)
    assert payment_provider.capture(capture) == payment_provider.capture(capture)
    assert fake_stripe.captured(first.provider_reference) == 4000


def test_void_cancels_the_intent(payment_provider: StripeProvider,
                                 fake_stripe: FakeStripe) -> None:
    reference = authorise(payment_provider).provider_reference
    result = payment_provider.void(request(PaymentAction.VOID, "o-1.1:void:cancel",
                                           reference=reference))
    assert result.provider_reference == reference
    assert fake_stripe.intents[reference]["status"] == "canceled"
    assert headers_of(fake_stripe)["Idempotency-Key"] == "o-1.1:void:cancel"


def test_a_void_after_stripe_closed_the_authorisation_succeeds(
        fake_stripe: FakeStripe) -> None:
    # No multicapture: a partial capture releases the rest, so nothing is left to void.
    fake_stripe.multicapture = False
    provider = StripeProvider(StripeSettings(secret_key=API_KEY, webhook_secret="whsec_x",
                                             multicapture=True),
                              http_client=fake_stripe.http_client())
    reference = authorise(provider).provider_reference
    provider.capture(request(PaymentAction.CAPTURE, "cap", "30", reference=reference))
    assert "final_capture" not in sent(fake_stripe, path="/capture")[0]
    voided = provider.void(request(PaymentAction.VOID, "void", "70", reference=reference))
    assert voided.amount == Money("70", "EUR")
    # A second capture is refused by Stripe, and the provider says why.
    with pytest.raises(PaymentDeclined) as caught:
        provider.capture(request(PaymentAction.CAPTURE, "cap-2", "10", reference=reference))
    assert caught.value.reason == "payment_intent_unexpected_state"


def test_refunds_carry_their_key_and_can_be_several(payment_provider: StripeProvider,
                                                    fake_stripe: FakeStripe) -> None:
    reference = authorise(payment_provider).provider_reference
    payment_provider.capture(request(PaymentAction.CAPTURE, "cap", "100", reference=reference,
                                     final=True))
    one = payment_provider.refund(request(PaymentAction.REFUND, "o-1.1:refund:rma-1", "30",
                                          reference=reference))
    two = payment_provider.refund(request(PaymentAction.REFUND, "o-1.1:refund:rma-2", "20",
                                          reference=reference))
    first, _ = sent(fake_stripe, path="/v1/refunds")
    assert first == {"payment_intent": reference, "amount": "3000", "metadata": {
        "omskit_idempotency_key": "o-1.1:refund:rma-1", "omskit_order_id": "o-1"}}
    assert one.operation_reference != two.operation_reference
    assert one.operation_reference in fake_stripe.refunds
    assert fake_stripe.captured(reference) == 5000


def test_no_incremental_authorisation_and_no_method_are_declined_unsent(
        payment_provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    assert PaymentCapability.INCREMENTAL_AUTHORISATION not in payment_provider.capabilities
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.authorise(request(PaymentAction.AUTHORISE, "k", reference="pi_1"))
    assert caught.value.reason == "incremental_authorisation_unsupported"
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.authorise(request(PaymentAction.AUTHORISE, "k", method=None))
    assert caught.value.reason == "payment_method_missing"
    assert fake_stripe.requests == []


def test_a_card_asking_for_3ds_is_declined(payment_provider: StripeProvider) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.authorise(request(PaymentAction.AUTHORISE, "k",
                                           method="pm_card_authenticationRequired"))
    assert caught.value.reason == "authentication_required"


def test_expiry_falls_back_to_seven_days_after_the_charge() -> None:
    created = 1_800_000_000
    with_before = {"created": created, "latest_charge": {
        "created": created, "payment_method_details": {"card": {"capture_before": created + 60}}}}
    without = {"created": created, "latest_charge": {"created": created + 5,
                                                     "payment_method_details": {"card": {}}}}
    unexpanded = {"created": created, "latest_charge": "ch_1"}
    assert authorisation_expiry(with_before).timestamp() == created + 60
    assert authorisation_expiry(without).timestamp() == created + 5 + 7 * 86400
    assert authorisation_expiry(unexpanded).timestamp() == created + 7 * 86400


# -- retrieve: how a call whose answer was lost ended --------------------------------------------


def test_retrieve_finds_an_authorisation_by_its_key(payment_provider: StripeProvider,
                                                   fake_stripe: FakeStripe) -> None:
    made = authorise(payment_provider, key="o-1.1:authorise:it's")
    found = payment_provider.retrieve(request(PaymentAction.AUTHORISE, "o-1.1:authorise:it's"))
    assert found == made
    (query,) = sent(fake_stripe, "GET", "/search")
    assert query["query"] == "metadata['omskit_idempotency_key']:'o-1.1:authorise:it\\'s'"
    assert payment_provider.retrieve(request(PaymentAction.AUTHORISE, "never-sent")) is None


def test_retrieve_of_a_declined_authorisation_raises_the_decline(
        payment_provider: StripeProvider) -> None:
    declined = request(PaymentAction.AUTHORISE, "k", method="pm_card_chargeDeclined")
    with pytest.raises(PaymentDeclined):
        payment_provider.authorise(declined)
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.retrieve(declined)
    assert caught.value.reason == "generic_decline"


def test_retrieve_finds_captures_voids_and_refunds_by_key(
        payment_provider: StripeProvider) -> None:
    reference = authorise(payment_provider).provider_reference
    capture = request(PaymentAction.CAPTURE, "cap-1", "60", reference=reference)
    refund = request(PaymentAction.REFUND, "re-1", "10", reference=reference)
    void = request(PaymentAction.VOID, "void", "40", reference=reference)
    for asked in (capture, refund, void):
        assert payment_provider.retrieve(asked) is None
    made = payment_provider.capture(capture)
    assert payment_provider.retrieve(capture) == made
    assert payment_provider.retrieve(request(PaymentAction.CAPTURE, "cap-2", "10",
                                             reference=reference)) is None
    refunded = payment_provider.refund(refund)
    assert payment_provider.retrieve(refund) == refunded
    payment_provider.void(void)
    found = payment_provider.retrieve(void)
    assert found is not None
    assert found.amount == Money("40", "EUR")
