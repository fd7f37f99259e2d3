"""Stripe's errors, and faults on the wire, as omskit's three classes: declines and invalid
requests permanent, refusals before anything happened retryable, lost answers outcome-unknown
(and then reconciled). Faults are injected at the SDK's HTTP transport (tests/fake_stripe.py),
so the SDK's own error handling runs as in production."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
import stripe
from omskit import (
    Money,
    Oms,
    OrderPayment,
    PaymentAction,
    PaymentDeclined,
    PaymentEntrySource,
    PaymentOutcome,
    PaymentOutcomeUnknown,
    PaymentRequest,
    PaymentRetryable,
    Tender,
)
from omskit.testing import MutableClock, location, order_command

from fake_stripe import API_KEY, FakeStripe, Fault
from omskit_payment_stripe import StripePlugin, StripeProvider, StripeSettings, translate
from omskit_payment_stripe.errors import never_sent


def request(action: PaymentAction, key: str, amount: str = "100.00", *,
            reference: str | None = None, method: str | None = "pm_card_visa"
            ) -> PaymentRequest:
    return PaymentRequest(action=action, idempotency_key=key, amount=Money(amount, "EUR"),
                          order_id="o-1", transaction_id="o-1.1", provider_reference=reference,
                          method_token=method)


def authorise(provider: StripeProvider, key: str = "auth") -> str:
    return provider.authorise(request(PaymentAction.AUTHORISE, key)).provider_reference


@pytest.mark.parametrize(("method", "reason"), [
    ("pm_card_chargeDeclined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card")])
def test_a_card_decline_is_permanent_with_the_decline_code(
        payment_provider: StripeProvider, method: str, reason: str) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.authorise(request(PaymentAction.AUTHORISE, "k", method=method))
    assert (caught.value.reason, caught.value.error_class) == (reason, "permanent")
    assert caught.value.message == "Your card was declined."
    assert isinstance(caught.value.__cause__, stripe.CardError)


def test_invalid_requests_are_permanent_with_stripes_code(payment_provider: StripeProvider,
                                                         fake_stripe: FakeStripe) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.authorise(request(PaymentAction.AUTHORISE, "k", method="pm_nope"))
    assert caught.value.reason == "resource_missing"
    reference = authorise(payment_provider)
    with pytest.raises(PaymentDeclined) as caught:  # more than is left: Stripe refuses
        payment_provider.capture(request(PaymentAction.CAPTURE, "cap", "100.01",
                                         reference=reference))
    assert caught.value.reason == "amount_too_large"
    assert fake_stripe.captured(reference) == 0


def test_the_same_key_with_other_parameters_is_permanent(
        payment_provider: StripeProvider) -> None:
    reference = authorise(payment_provider)
    payment_provider.capture(request(PaymentAction.CAPTURE, "cap", "10", reference=reference))
    with pytest.raises(PaymentDeclined) as caught:
        payment_provider.capture(request(PaymentAction.CAPTURE, "cap", "11",
                                         reference=reference))
    assert caught.value.reason == "idempotency_error"


@pytest.mark.parametrize("fault", [Fault.RATE_LIMITED, Fault.CONNECT_TIMEOUT,
                                   Fault.CONNECTION_REFUSED])
def test_a_refusal_before_anything_happened_is_retryable(
        payment_provider: StripeProvider, fake_stripe: FakeStripe, fault: Fault) -> None:
    fake_stripe.fail_next(fault, path="/v1/payment_intents")
    with pytest.raises(PaymentRetryable):
        authorise(payment_provider)
    assert fake_stripe.intents == {}
    authorise(payment_provider)  # the same call, the same key, goes through
    assert len(fake_stripe.intents) == 1


@pytest.mark.parametrize("fault", [Fault.READ_TIMEOUT, Fault.SERVER_ERROR])
def test_a_lost_answer_is_outcome_unknown_and_retrieve_tells(
        payment_provider: StripeProvider, fake_stripe: FakeStripe, fault: Fault) -> None:
    reference = authorise(payment_provider)
    capture = request(PaymentAction.CAPTURE, "cap", "30", reference=reference)
    fake_stripe.fail_next(fault, path="/capture")
    with pytest.raises(PaymentOutcomeUnknown):
        payment_provider.capture(capture)
    assert fake_stripe.captured(reference) == 3000  # Stripe did it
    found = payment_provider.retrieve(capture)
    assert found is not None
    assert found.amount == Money("30", "EUR")


def test_a_failed_read_changed_nothing_so_it_is_retryable(
        payment_provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    reference = authorise(payment_provider)
    fake_stripe.fail_next(Fault.READ_TIMEOUT, method="GET", path=reference)
    with pytest.raises(PaymentRetryable):
        payment_provider.capture(request(PaymentAction.CAPTURE, "cap", "30",
                                         reference=reference))
    assert fake_stripe.captured(reference) == 0


def test_a_wrong_api_key_is_retryable(fake_stripe: FakeStripe) -> None:
    provider = StripeProvider(StripeSettings(secret_key="sk_test_wrong", webhook_secret="whsec_x"),
                              http_client=fake_stripe.http_client())
    with pytest.raises(PaymentRetryable) as caught:
        authorise(provider)
    assert caught.value.reason == "AuthenticationError"
    assert fake_stripe.intents == {}


def test_translate_classes_what_the_wire_tests_do_not_reach() -> None:
    conflict = stripe.APIError("in progress", http_status=409)
    unavailable = stripe.APIError("down", http_status=503)
    forbidden = stripe.PermissionError("restricted key", http_status=403)
    assert isinstance(translate(conflict), PaymentRetryable)
    assert isinstance(translate(unavailable), PaymentOutcomeUnknown)
    assert translate(unavailable).reason == "http_503"
    assert isinstance(translate(unavailable, changes=False), PaymentRetryable)
    assert isinstance(translate(forbidden), PaymentRetryable)


def test_never_sent_reads_the_whole_chain() -> None:
    def raised(cause: BaseException) -> stripe.APIConnectionError:
        error = stripe.APIConnectionError("network")
        error.__cause__ = cause
        return error

    assert never_sent(raised(ConnectionRefusedError(111, "refused")))
    assert never_sent(raised(OSError(RuntimeError(), ConnectionRefusedError())))
    assert not never_sent(raised(TimeoutError("read")))
    assert not never_sent(raised(ConnectionResetError(104, "reset by peer")))


# -- through the core: faults on the wire are recovered from ------------------------------------


@pytest.fixture
def shop(make_oms: Callable[..., Oms], payment_provider: StripeProvider,
         payment_clock: MutableClock) -> Oms:
    oms = make_oms(plugins=[StripePlugin(payment_provider)], clock=payment_clock)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SKU-1", 100)
    return oms


def place(oms: Oms, external_id: str = "W-1", method: str = "pm_card_visa") -> str:
    command = attrs.evolve(order_command(external_id, {"SKU-1": 10}), payment=OrderPayment(
        tenders=[Tender(provider="stripe", amount=Money("100", "EUR").amount,
                        method_token=method)]))
    return oms.orders.place(command).id


def test_an_authorisation_whose_answer_was_lost_is_found_not_made_twice(
        shop: Oms, fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next(Fault.READ_TIMEOUT, path="/v1/payment_intents")
    order_id = place(shop)
    assert not shop.orders.get(order_id).active_holds
    (ledger,) = shop.payments.summary(order_id).transactions
    (result,) = [e for e in ledger.entries if e.is_result]
    assert (result.action, result.source) == (PaymentAction.AUTHORISE,
                                              PaymentEntrySource.RECONCILE)
    assert len(fake_stripe.intents) == 1


def test_a_search_that_lags_makes_the_core_send_the_same_key_again(
        shop: Oms, fake_stripe: FakeStripe) -> None:
    # The answer is lost and Stripe's search does not see the new intent yet: the core sends
    # the same key again, and Stripe answers with the first response instead of charging.
    fake_stripe.searchable = False
    fake_stripe.fail_next(Fault.READ_TIMEOUT, path="/v1/payment_intents")
    order_id = place(shop)
    assert not shop.orders.get(order_id).active_holds
    assert len(fake_stripe.intents) == 1
    creates = [h for m, p, _, h in fake_stripe.requests if p == "/v1/payment_intents"]
    assert len(creates) == 2
    assert creates[0]["Idempotency-Key"] == creates[1]["Idempotency-Key"]


def test_a_capture_answered_by_a_500_is_reconciled_once(
        shop: Oms, fake_stripe: FakeStripe) -> None:
    order_id = place(shop)
    reference = shop.payments.summary(order_id).transactions[0].transaction.provider_reference
    assert reference is not None
    fake_stripe.fail_next(Fault.SERVER_ERROR, path="/capture")
    summary = shop.payments.capture(order_id, Money("40", "EUR").amount, reference="ship-1")
    assert summary.captured == Money("40", "EUR")
    (ledger,) = summary.transactions
    assert [(e.outcome, e.source) for e in ledger.entries
            if e.action is PaymentAction.CAPTURE] == [
        (PaymentOutcome.REQUEST, PaymentEntrySource.CORE),
        (PaymentOutcome.SUCCESS, PaymentEntrySource.RECONCILE)]
    assert fake_stripe.captured(reference) == 4000


def test_a_rate_limited_capture_is_retried_with_the_same_key(
        shop: Oms, fake_stripe: FakeStripe) -> None:
    order_id = place(shop)
    fake_stripe.fail_next(Fault.RATE_LIMITED, path="/capture")
    fake_stripe.fail_next(Fault.CONNECT_TIMEOUT, path="/capture")
    summary = shop.payments.capture(order_id, reference="ship-1", final=True)
    assert summary.captured == Money("100", "EUR")
    keys = [h.get("Idempotency-Key") for m, p, _, h in fake_stripe.requests
            if p.endswith("/capture")]
    # The 429 and the capture reached Stripe, under one key; the timed-out connect did not.
    assert len(keys) == 2
    assert len(set(keys)) == 1


def test_a_decline_at_placement_holds_the_order_with_the_decline_code(shop: Oms) -> None:
    order_id = place(shop, method="pm_card_chargeDeclinedExpiredCard")
    (hold,) = shop.orders.get(order_id).active_holds
    assert hold.reason.startswith("payment declined: expired_card: ")


def test_the_api_version_setting_is_sent(fake_stripe: FakeStripe) -> None:
    other = StripeProvider(StripeSettings(secret_key=API_KEY, webhook_secret="whsec_x",
                                          api_version="2025-03-31.basil"),
                           http_client=fake_stripe.http_client())
    authorise(other)
    assert fake_stripe.requests[-1][3]["Stripe-Version"] == "2025-03-31.basil"
