"""The sandbox's own rules, called directly (no database): cards, expiry, capture limits,
idempotency, faults and webhook signatures."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from omskit import (
    InvalidWebhook,
    Money,
    PaymentAction,
    PaymentDeclined,
    PaymentOutcome,
    PaymentOutcomeUnknown,
    PaymentRequest,
    PaymentRetryable,
)
from omskit.testing import MutableClock

from omskit_payment_sandbox import MAX_CAPTURES, Fault, SandboxProvider, cards


def request(action: PaymentAction, key: str, amount: str = "100.00", *,
            reference: str | None = None, card: str | None = cards.APPROVED,
            final: bool = False) -> PaymentRequest:
    return PaymentRequest(action=action, idempotency_key=key, amount=Money(amount, "EUR"),
                          order_id="o-1", transaction_id="o-1.1", provider_reference=reference,
                          method_token=card, final=final)


def authorise(sandbox: SandboxProvider, amount: str = "100.00") -> str:
    return sandbox.authorise(request(PaymentAction.AUTHORISE, "auth", amount)).provider_reference


@pytest.mark.parametrize(("card", "reason"), [
    (cards.DECLINED, "card_declined"), (cards.INSUFFICIENT_FUNDS, "insufficient_funds"),
    (cards.EXPIRED_CARD, "expired_card"), ("12", "invalid_number"), (None, "invalid_number")])
def test_test_cards_decline_with_their_reason(payment_provider: SandboxProvider,
                                             card: str | None, reason: str) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.authorise(request(PaymentAction.AUTHORISE, "k", card=card))
    assert caught.value.reason == reason
    assert caught.value.error_class == "permanent"


def test_an_authorisation_expires_after_seven_days(payment_provider: SandboxProvider,
                                                  payment_clock: MutableClock) -> None:
    result = payment_provider.authorise(request(PaymentAction.AUTHORISE, "auth"))
    assert result.expires_at == payment_clock() + timedelta(days=7)
    payment_clock.advance(timedelta(days=7))
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.capture(request(PaymentAction.CAPTURE, "cap", "10",
                                         reference=result.provider_reference))
    assert caught.value.reason == "authorisation_expired"


def test_at_most_fifty_captures(payment_provider: SandboxProvider) -> None:
    reference = authorise(payment_provider)
    for i in range(MAX_CAPTURES):
        payment_provider.capture(request(PaymentAction.CAPTURE, f"cap-{i}", "1.00",
                                         reference=reference))
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.capture(request(PaymentAction.CAPTURE, "cap-51", "1.00",
                                         reference=reference))
    assert caught.value.reason == "capture_limit_reached"
    assert payment_provider.captured(reference) == MAX_CAPTURES


def test_no_capture_above_the_authorised_remainder(payment_provider: SandboxProvider) -> None:
    reference = authorise(payment_provider)
    payment_provider.capture(request(PaymentAction.CAPTURE, "a", "60", reference=reference))
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.capture(request(PaymentAction.CAPTURE, "b", "40.01",
                                         reference=reference))
    assert caught.value.reason == "amount_too_large"


def test_a_final_capture_closes_the_authorisation(payment_provider: SandboxProvider) -> None:
    reference = authorise(payment_provider)
    payment_provider.capture(request(PaymentAction.CAPTURE, "a", "10", reference=reference,
                                     final=True))
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.capture(request(PaymentAction.CAPTURE, "b", "10", reference=reference))
    assert caught.value.reason == "authorisation_closed"


def test_the_same_key_replays_the_first_answer(payment_provider: SandboxProvider) -> None:
    reference = authorise(payment_provider)
    capture = request(PaymentAction.CAPTURE, "same", "30", reference=reference)
    first = payment_provider.capture(capture)
    assert payment_provider.capture(capture) == first
    assert payment_provider.captured(reference) == 30
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.capture(request(PaymentAction.CAPTURE, "same", "31",
                                         reference=reference))
    assert caught.value.reason == "idempotency_key_reused"
    assert payment_provider.retrieve(capture) == first
    assert payment_provider.retrieve(request(PaymentAction.CAPTURE, "never-sent")) is None


def test_a_declined_key_stays_declined_and_retrieve_says_so(
        payment_provider: SandboxProvider) -> None:
    declined = request(PaymentAction.AUTHORISE, "k", card=cards.DECLINED)
    for call in (payment_provider.authorise, payment_provider.retrieve):
        with pytest.raises(PaymentDeclined):
            call(declined)


def test_faults_happen_before_or_after_the_operation(payment_provider: SandboxProvider) -> None:
    reference = authorise(payment_provider)
    payment_provider.fail_next(PaymentAction.CAPTURE, Fault.RETRYABLE)
    with pytest.raises(PaymentRetryable):
        payment_provider.capture(request(PaymentAction.CAPTURE, "a", "10", reference=reference))
    payment_provider.fail_next(PaymentAction.CAPTURE, Fault.TIMEOUT_BEFORE)
    with pytest.raises(PaymentOutcomeUnknown):
        payment_provider.capture(request(PaymentAction.CAPTURE, "a", "10", reference=reference))
    assert payment_provider.captured(reference) == 0
    payment_provider.fail_next(PaymentAction.CAPTURE, Fault.TIMEOUT_AFTER)
    with pytest.raises(PaymentOutcomeUnknown):
        payment_provider.capture(request(PaymentAction.CAPTURE, "a", "10", reference=reference))
    assert payment_provider.captured(reference) == 10


def test_refunds_never_exceed_what_was_captured(payment_provider: SandboxProvider) -> None:
    reference = authorise(payment_provider)
    payment_provider.capture(request(PaymentAction.CAPTURE, "c", "50", reference=reference))
    payment_provider.refund(request(PaymentAction.REFUND, "r1", "30", reference=reference))
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.refund(request(PaymentAction.REFUND, "r2", "20.01",
                                        reference=reference))
    assert caught.value.reason == "amount_too_large"


def test_webhooks_are_signed_over_the_raw_body(payment_provider: SandboxProvider) -> None:
    reference = authorise(payment_provider)
    (headers, body), = payment_provider.webhooks()
    (note,) = payment_provider.parse_webhook(headers, body)
    assert (note.action, note.outcome) == (PaymentAction.AUTHORISE, PaymentOutcome.SUCCESS)
    assert note.provider_reference == reference
    assert note.idempotency_key == "auth"
    # The same event, re-serialised: other bytes, so the signature no longer matches.
    reformatted = json.dumps(json.loads(body), indent=2).encode()
    with pytest.raises(InvalidWebhook):
        payment_provider.parse_webhook(headers, reformatted)
    other = SandboxProvider(secret=b"another-secret", clock=payment_provider._clock)
    with pytest.raises(InvalidWebhook):
        other.parse_webhook(headers, body)


def test_an_old_signature_is_refused(payment_provider: SandboxProvider,
                                    payment_clock: MutableClock) -> None:
    authorise(payment_provider)
    (headers, body), = payment_provider.webhooks()
    payment_clock.advance(timedelta(minutes=6))
    with pytest.raises(InvalidWebhook) as caught:
        payment_provider.parse_webhook(headers, body)
    assert "300 s" in caught.value.problems[0]


def test_a_signed_body_that_is_no_event_is_invalid(payment_provider: SandboxProvider) -> None:
    for body in (b"[]", b'{"id": "evt_1", "type": "payment.teleported", "data": {}}'):
        with pytest.raises(InvalidWebhook) as caught:
            payment_provider.parse_webhook(payment_provider.sign(body), body)
        assert caught.value.provider == "sandbox"
