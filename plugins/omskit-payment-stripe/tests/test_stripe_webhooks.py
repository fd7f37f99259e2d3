"""Webhooks: ``Stripe-Signature`` verified over the raw body with the SDK (a real signature
computed by the SDK's scheme, a wrong one, a stale one), and each Stripe event translated into
what omskit records."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
import stripe
from omskit import (
    InvalidWebhook,
    Money,
    Oms,
    OrderPayment,
    PaymentAction,
    PaymentDeclined,
    PaymentEntrySource,
    PaymentNotification,
    PaymentOutcome,
    PaymentRequest,
    Tender,
)
from omskit.testing import MutableClock, location, order_command

from fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from omskit_payment_stripe import StripePlugin, StripeProvider, StripeSettings, metadata

KEY = "o-1.1:authorise:placement"


def request(action: PaymentAction, key: str, amount: str = "100.00", *,
            reference: str | None = None, method: str = "pm_card_visa",
            final: bool = False) -> PaymentRequest:
    return PaymentRequest(action=action, idempotency_key=key, amount=Money(amount, "EUR"),
                          order_id="o-1", transaction_id="o-1.1", provider_reference=reference,
                          method_token=method, final=final)


def read(provider: StripeProvider, fake: FakeStripe) -> list[tuple[str, PaymentNotification]]:
    """Every delivery since the last call, parsed: ``(event type, notification)``."""
    found = []
    for headers, body in fake.deliveries():
        for note in provider.parse_webhook(headers, body):
            found.append((json.loads(body)["type"], note))
    return found


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None
           ) -> dict[str, str]:
    return {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, at if at is not None else int(time.time()))}


def event(event_type: str, obj: dict[str, Any], *, key: str | None = None,
          event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "api_version": stripe.api_version,
                       "created": 1_800_000_000, "data": {"object": obj}, "livemode": False,
                       "pending_webhooks": 1, "request": {"id": None, "idempotency_key": key},
                       "type": event_type}).encode()


# -- the signature -------------------------------------------------------------------------------


def test_a_real_signature_verifies_and_a_wrong_one_is_refused(
        payment_provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    payment_provider.authorise(request(PaymentAction.AUTHORISE, KEY))
    deliveries = fake_stripe.deliveries()
    headers, body = deliveries[-1]  # payment_intent.amount_capturable_updated
    (note,) = payment_provider.parse_webhook(headers, body)
    assert note.action is PaymentAction.AUTHORISE
    # The header in any case, as web frameworks hand them over.
    assert payment_provider.parse_webhook({"stripe-signature": headers["Stripe-Signature"]},
                                          body) == [note]
    wrong_secret = signed(body, secret="whsec_someone_else")
    reformatted = json.dumps(json.loads(body)).encode()  # the same event, other bytes
    for bad_headers, bad_body in ((wrong_secret, body), (headers, reformatted),
                                  ({}, body), ({"Stripe-Signature": "v1=abc"}, body),
                                  (headers, b"\xff\xfe")):
        with pytest.raises(InvalidWebhook) as caught:
            payment_provider.parse_webhook(bad_headers, bad_body)
        assert caught.value.provider == "stripe"


def test_a_stale_signature_is_refused_within_a_configurable_tolerance(
        payment_provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    body = event("payment_intent.created", {"id": "pi_1", "object": "payment_intent"})
    ten_minutes_ago = int(time.time()) - 600
    with pytest.raises(InvalidWebhook) as caught:
        payment_provider.parse_webhook(signed(body, at=ten_minutes_ago), body)
    assert "tolerance" in caught.value.problems[0]
    patient = StripeProvider(StripeSettings(secret_key=API_KEY, webhook_secret=WEBHOOK_SECRET,
                                            webhook_tolerance=3600),
                             http_client=fake_stripe.http_client())
    assert patient.parse_webhook(signed(body, at=ten_minutes_ago), body) == []


@pytest.mark.parametrize("body", [b"[]", b'{"object": "event"}', b'{"id": "x"}', b"not json",
                                  event("payment_intent.amount_capturable_updated",
                                        {"id": "pi_1"})])
def test_a_signed_body_that_is_no_stripe_event_is_invalid(payment_provider: StripeProvider,
                                                         body: bytes) -> None:
    with pytest.raises(InvalidWebhook) as caught:
        payment_provider.parse_webhook(signed(body), body)
    assert caught.value.problems[0].startswith("body: not a Stripe event")


# -- what events say -----------------------------------------------------------------------------


def test_an_authorisation_and_its_captures(payment_provider: StripeProvider,
                                          fake_stripe: FakeStripe) -> None:
    reference = payment_provider.authorise(request(PaymentAction.AUTHORISE, KEY)
                                           ).provider_reference
    ((kind, note),) = read(payment_provider, fake_stripe)
    assert kind == "payment_intent.amount_capturable_updated"
    assert (note.action, note.outcome, note.amount, note.idempotency_key,
            note.provider_reference) == (PaymentAction.AUTHORISE, PaymentOutcome.SUCCESS,
                                         Money("100", "EUR"), KEY, reference)
    assert note.notification_id.startswith("evt_")
    payment_provider.capture(request(PaymentAction.CAPTURE, "cap-1", "30", reference=reference))
    ((kind, part),) = read(payment_provider, fake_stripe)
    assert kind == "payment_intent.amount_capturable_updated"
    assert (part.action, part.amount, part.idempotency_key, part.final) == (
        PaymentAction.CAPTURE, Money("30", "EUR"), "cap-1", False)
    payment_provider.capture(request(PaymentAction.CAPTURE, "cap-2", "20", reference=reference,
                                     final=True))
    ((kind, last),) = read(payment_provider, fake_stripe)
    assert kind == "payment_intent.succeeded"
    assert (last.action, last.amount, last.idempotency_key, last.final) == (
        PaymentAction.CAPTURE, Money("20", "EUR"), "cap-2", True)
    assert last.operation_reference.startswith("ch_")


def test_a_decline_reports_the_decline_code(payment_provider: StripeProvider,
                                           fake_stripe: FakeStripe) -> None:
    with pytest.raises(PaymentDeclined):
        payment_provider.authorise(request(
            PaymentAction.AUTHORISE, KEY, method="pm_card_chargeDeclinedInsufficientFunds"))
    ((kind, note),) = read(payment_provider, fake_stripe)
    assert kind == "payment_intent.payment_failed"
    assert (note.action, note.outcome, note.reason, note.idempotency_key) == (
        PaymentAction.AUTHORISE, PaymentOutcome.FAILURE, "insufficient_funds", KEY)


def test_a_void_and_refunds(payment_provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    reference = payment_provider.authorise(request(PaymentAction.AUTHORISE, KEY)
                                           ).provider_reference
    payment_provider.capture(request(PaymentAction.CAPTURE, "cap", "60", reference=reference))
    payment_provider.void(request(PaymentAction.VOID, "void", "40", reference=reference))
    payment_provider.refund(request(PaymentAction.REFUND, "re-1", "15", reference=reference))
    notes = read(payment_provider, fake_stripe)[2:]  # after the authorisation and capture
    assert [(kind, n.action, n.amount.amount, n.idempotency_key) for kind, n in notes] == [
        ("payment_intent.canceled", PaymentAction.VOID, Decimal("40"), "void"),
        ("refund.created", PaymentAction.REFUND, Decimal("15"), "re-1")]
    assert notes[1][1].operation_reference in fake_stripe.refunds


def test_what_stripe_does_on_its_own(payment_provider: StripeProvider, fake_stripe: FakeStripe,
                                     payment_clock: MutableClock) -> None:
    reference = payment_provider.authorise(request(PaymentAction.AUTHORISE, KEY)
                                           ).provider_reference
    read(payment_provider, fake_stripe)
    # A lapsed authorisation Stripe cancels is not news: omskit knew when it would lapse.
    payment_clock.advance(fake_stripe.lapse(reference))
    fake_stripe.handle("GET", f"/v1/payment_intents/{reference}", {},
                       {"Authorization": f"Bearer {API_KEY}"})
    assert fake_stripe.intents[reference]["cancellation_reason"] == "automatic"
    assert read(payment_provider, fake_stripe) == []


def test_cancelling_what_was_never_authorised_releases_nothing(
        payment_provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    for method in ("pm_card_chargeDeclined", "pm_card_authenticationRequired"):
        with pytest.raises(PaymentDeclined):
            payment_provider.authorise(request(PaymentAction.AUTHORISE, method, method=method))
    read(payment_provider, fake_stripe)
    for reference in fake_stripe.intents:  # someone cancels them in the Dashboard
        fake_stripe.handle("POST", f"/v1/payment_intents/{reference}/cancel", {},
                           {"Authorization": f"Bearer {API_KEY}"})
    deliveries = fake_stripe.deliveries()
    assert [json.loads(b)["type"] for _, b in deliveries] == [
        "payment_intent.canceled", "payment_intent.canceled"]
    assert [payment_provider.parse_webhook(h, b) for h, b in deliveries] == [[], []]


def test_a_capture_made_outside_omskit_is_not_reported(payment_provider: StripeProvider) -> None:
    intent = {"id": "pi_1", "object": "payment_intent", "amount": 1000, "amount_capturable": 0,
              "amount_received": 1000, "currency": "eur", "status": "succeeded",
              "metadata": {metadata.KEY: KEY}, "latest_charge": "ch_1"}
    dashboard = event("payment_intent.succeeded", intent, key="dashboard-generated")
    assert payment_provider.parse_webhook(signed(dashboard), dashboard) == []


def test_disputes_inquiries_and_their_outcomes(payment_provider: StripeProvider) -> None:
    dispute = {"id": "dp_1", "object": "dispute", "amount": 4000, "currency": "eur",
               "charge": "ch_1", "payment_intent": "pi_1", "reason": "fraudulent",
               "status": "needs_response"}

    def parse(event_type: str, **changes: Any) -> list[PaymentNotification]:
        body = event(event_type, {**dispute, **changes})
        return list(payment_provider.parse_webhook(signed(body), body))

    (chargeback,) = parse("charge.dispute.created")
    assert (chargeback.action, chargeback.amount, chargeback.operation_reference,
            chargeback.provider_reference, chargeback.reason) == (
        PaymentAction.CHARGEBACK, Money("40", "EUR"), "dp_1", "pi_1", "fraudulent")
    assert parse("charge.dispute.created", status="warning_needs_response") == []
    (reversal,) = parse("charge.dispute.closed", status="won")
    assert reversal.action is PaymentAction.CHARGEBACK_REVERSAL
    assert parse("charge.dispute.closed", status="lost") == []
    assert parse("charge.dispute.closed", status="warning_closed") == []


def test_charge_refunded_reports_the_refunds_it_lists(payment_provider: StripeProvider) -> None:
    refund = {"id": "re_1", "object": "refund", "amount": 500, "currency": "jpy",
              "payment_intent": "pi_1", "status": "succeeded", "metadata": {}}
    charge = {"id": "ch_1", "object": "charge", "currency": "jpy", "amount_refunded": 500,
              "refunds": {"object": "list", "data": [refund]}}
    body = event("charge.refunded", charge)
    (note,) = payment_provider.parse_webhook(signed(body), body)
    assert (note.notification_id, note.amount, note.operation_reference,
            note.idempotency_key) == ("evt_1/re_1", Money("500", "JPY"), "re_1", None)
    bare = event("charge.refunded", {**charge, "refunds": None})
    assert payment_provider.parse_webhook(signed(bare), bare) == []
    failed = event("refund.failed", {**refund, "status": "failed",
                                     "failure_reason": "expired_or_canceled_card"})
    (failure,) = payment_provider.parse_webhook(signed(failed), failed)
    assert (failure.outcome, failure.reason) == (PaymentOutcome.FAILURE,
                                                 "expired_or_canceled_card")


def test_events_omskit_does_not_track_report_nothing(payment_provider: StripeProvider,
                                                    fake_stripe: FakeStripe) -> None:
    payment_provider.authorise(request(PaymentAction.AUTHORISE, KEY))
    types = []
    for headers, body in fake_stripe.deliveries():
        types.append(json.loads(body)["type"])
        notes = payment_provider.parse_webhook(headers, body)
        assert bool(notes) == (types[-1] == "payment_intent.amount_capturable_updated")
    assert types == ["payment_intent.created", "charge.succeeded",
                     "payment_intent.amount_capturable_updated"]


# -- through the core ----------------------------------------------------------------------------


@pytest.fixture
def shop(make_oms: Callable[..., Oms], payment_provider: StripeProvider,
         payment_clock: MutableClock) -> Oms:
    oms = make_oms(plugins=[StripePlugin(payment_provider)], clock=payment_clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 100)
    return oms


def test_a_refund_made_in_the_dashboard_is_recorded_once(shop: Oms,
                                                        fake_stripe: FakeStripe) -> None:
    command = attrs.evolve(order_command("W-1", {"SKU-1": 5}), payment=OrderPayment(
        tenders=[Tender(provider="stripe", amount=Decimal("50"), method_token="pm_card_visa")]))
    order_id = shop.orders.place(command).id
    shop.payments.capture(order_id, reference="ship-1", final=True)
    reference = shop.payments.summary(order_id).transactions[0].transaction.provider_reference
    # Someone refunds 12.50 in the Dashboard: no omskit key anywhere.
    fake_stripe.handle("POST", "/v1/refunds", {"payment_intent": reference, "amount": "1250"},
                       {"Authorization": f"Bearer {API_KEY}"})
    deliveries = fake_stripe.deliveries()
    for headers, body in [*deliveries, *deliveries]:
        shop.payments.handle_webhook("stripe", headers, body)
    (ledger,) = shop.payments.summary(order_id).transactions
    (refund,) = [e for e in ledger.entries if e.action is PaymentAction.REFUND]
    assert (refund.amount, refund.source) == (Money("12.50", "EUR"), PaymentEntrySource.WEBHOOK)
    assert refund.provider_reference in fake_stripe.refunds
    assert shop.payments.summary(order_id).balance == Money("12.50", "EUR")
