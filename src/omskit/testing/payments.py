"""The payment provider conformance kit: what every ``PaymentProvider`` plugin must pass.

The core owns the invariants (never capture above what is authorised, never refund more
than was captured, never charge twice); the kit checks that a provider lets it keep them:
that it passes the idempotency key on, answers ``retrieve`` truthfully, classes its errors,
and verifies and reports its webhooks. Faults (timeouts, a crash between the provider's
answer and the ledger, a retryable error) are injected by wrapping the provider, so a plugin
needs no fault switches of its own.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from omskit import (
    AuthorisationExpired,
    EditOrder,
    InvalidWebhook,
    Money,
    Oms,
    OrderPayment,
    OrderStatus,
    PaymentAction,
    PaymentAmountExceeded,
    PaymentCapability,
    PaymentEntrySource,
    PaymentErrorClass,
    PaymentNotification,
    PaymentOutcome,
    PaymentOutcomeUnknown,
    PaymentProvider,
    PaymentRequest,
    PaymentResult,
    PaymentRetryable,
    Tender,
    hookimpl,
)
from omskit.testing.builders import location, order_command, table_contents

#: Where the kit's clock starts.
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class MutableClock:
    """A clock tests move by hand: ``clock()`` is the time, ``clock.advance(delta)`` moves
    it. Give the same one to ``make_oms(clock=...)`` and to the provider."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        with self._lock:
            self.now += delta


class SimulatedCrash(BaseException):
    """The process died between the provider's answer and the ledger (the kit raises it
    after the provider took effect; nothing in omskit catches a ``BaseException``)."""


#: Faults :class:`FaultyProvider` can inject into the next call of an action.
FAULTS = ("retryable", "timeout_before", "timeout_after", "crash_after")


class FaultyProvider:
    """Wraps a provider and injects faults into chosen calls; otherwise passes through."""

    def __init__(self, inner: PaymentProvider) -> None:
        self.inner = inner
        self._faults: dict[PaymentAction, list[str]] = {}
        self._lock = threading.Lock()
        #: How many calls of each action reached the wrapped provider.
        self.reached: dict[PaymentAction, int] = {}

    @property
    def code(self) -> str:
        """The wrapped provider's code."""
        return self.inner.code

    @property
    def capabilities(self) -> frozenset[PaymentCapability]:
        """The wrapped provider's capabilities."""
        return self.inner.capabilities

    def fail_next(self, action: PaymentAction, fault: str) -> None:
        """Make the next call of ``action`` fail with ``fault`` (one of :data:`FAULTS`)."""
        assert fault in FAULTS, fault
        with self._lock:
            self._faults.setdefault(action, []).append(fault)

    def _call(self, request: PaymentRequest,
              call: Callable[[PaymentRequest], PaymentResult]) -> PaymentResult:
        with self._lock:
            queued = self._faults.get(request.action) or []
            fault = queued.pop(0) if queued else None
        if fault == "retryable":
            raise PaymentRetryable("injected", "the kit refused before calling")
        if fault == "timeout_before":
            raise PaymentOutcomeUnknown("injected", "the kit lost the request")
        with self._lock:
            self.reached[request.action] = self.reached.get(request.action, 0) + 1
        result = call(request)
        if fault == "timeout_after":
            raise PaymentOutcomeUnknown("injected", "the kit lost the answer")
        if fault == "crash_after":
            raise SimulatedCrash(request.idempotency_key)
        return result

    def authorise(self, request: PaymentRequest) -> PaymentResult:
        """Pass through, unless a fault is due."""
        return self._call(request, self.inner.authorise)

    def capture(self, request: PaymentRequest) -> PaymentResult:
        """Pass through, unless a fault is due."""
        return self._call(request, self.inner.capture)

    def void(self, request: PaymentRequest) -> PaymentResult:
        """Pass through, unless a fault is due."""
        return self._call(request, self.inner.void)

    def refund(self, request: PaymentRequest) -> PaymentResult:
        """Pass through, unless a fault is due."""
        return self._call(request, self.inner.refund)

    def retrieve(self, request: PaymentRequest) -> PaymentResult | None:
        """Always the wrapped provider's answer."""
        return self.inner.retrieve(request)

    def parse_webhook(self, headers: Mapping[str, str],
                      body: bytes) -> Sequence[PaymentNotification]:
        """Always the wrapped provider's answer."""
        return self.inner.parse_webhook(headers, body)


@attrs.define
class _ProviderPlugin:
    provider: PaymentProvider
    omskit_name: str = "payment-conformance"

    @hookimpl
    def omskit_register_payment_providers(
            self, register: Callable[[PaymentProvider], None]) -> None:
        register(self.provider)


#: Webhooks as a provider sent them: ``(headers, raw body)``.
Webhooks = list[tuple[Mapping[str, str], bytes]]


class PaymentProviderConformance:
    """Tests every payment provider must pass. Subclass it in the plugin's tests and provide
    the fixtures:

    - ``payment_provider``: a new provider whose clock is the kit's ``payment_clock``;
    - ``approved_method`` / ``declined_method``: payment-method tokens it authorises /
      declines;
    - ``sent_webhooks``: ``sent_webhooks(provider) -> [(headers, body), ...]``, the webhooks
      the provider sent since the last call;
    - ``dispute``: ``dispute(provider, provider_reference, amount, won)`` makes the provider
      send a chargeback (``won=False``) or its reversal (``won=True``);
    - ``provider_captured``: ``provider_captured(provider, provider_reference) -> Decimal``,
      what the provider holds on a payment (captured, less refunds and chargebacks).

    The provider must declare ``manual_capture``, ``partial_capture``, ``multi_capture``,
    ``multiple_refunds``, ``partial_refund``, ``void``, ``partial_void`` and ``webhooks`` for
    every test to run; a test whose capability is missing is skipped, saying which. An order
    whose total rises is authorised for the difference, as an increment when the provider
    declares ``incremental_authorisation``, else as a second authorisation on the tender.
    """

    @pytest.fixture
    def payment_clock(self) -> MutableClock:
        """The time of the ``Oms`` and of the provider."""
        return MutableClock()

    @pytest.fixture
    def faults(self, payment_provider: PaymentProvider) -> FaultyProvider:
        """The provider, wrapped so tests can inject faults."""
        return FaultyProvider(payment_provider)

    @pytest.fixture
    def payment_oms(self, make_oms: Callable[..., Oms], faults: FaultyProvider,
                    payment_clock: MutableClock) -> Oms:
        """An ``Oms`` with the provider (wrapped) and SKU-1 stocked."""
        oms = make_oms(plugins=[_ProviderPlugin(faults)], clock=payment_clock)
        oms.inventory.save_location(location("conformance-dc", 45.0, 9.0))
        oms.inventory.receive("conformance-dc", "SKU-1", 1000)
        return oms

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def place(oms: Oms, provider: str, method: str, external_id: str = "PAY-1",
              units: int = 10) -> str:
        """Place an order of ``units`` × 10.00 EUR paid by one tender; returns its id."""
        command = attrs.evolve(order_command(external_id, {"SKU-1": units}), payment=OrderPayment(
            tenders=[Tender(provider=provider, amount=Decimal(10 * units), method_token=method)]))
        return oms.orders.place(command).id

    @staticmethod
    def reference(oms: Oms, order_id: str) -> str:
        """The provider's reference of the order's first tender."""
        found = oms.payments.summary(order_id).transactions[0].transaction.provider_reference
        assert found, "the authorisation gave no provider reference"
        return found

    @staticmethod
    def needs(provider: PaymentProvider, *wanted: PaymentCapability) -> None:
        """Skip the test unless the provider declares every capability in ``wanted``."""
        missing = [c.value for c in wanted if c not in provider.capabilities]
        if missing:
            pytest.skip(f"the provider does not declare {', '.join(missing)}")

    @staticmethod
    def in_parallel(calls: Sequence[Callable[[], Any]]) -> list[BaseException | None]:
        """Run the calls at once on their own threads; each one's exception or None."""
        outcomes: list[BaseException | None] = [None] * len(calls)
        barrier = threading.Barrier(len(calls))

        def run(i: int) -> None:
            barrier.wait()
            try:
                calls[i]()
            except BaseException as exc:  # collected for the test to judge
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return outcomes

    # -- the contract ------------------------------------------------------------------------------

    def test_registers_under_its_code_with_capabilities(self, payment_oms: Oms,
                                                       faults: FaultyProvider) -> None:
        assert payment_oms.payment_provider(faults.code) is faults
        assert isinstance(faults.capabilities, frozenset)
        assert PaymentCapability.MANUAL_CAPTURE in faults.capabilities

    def test_authorisation_releases_the_payment_hold(self, payment_oms: Oms,
                                                    faults: FaultyProvider,
                                                    approved_method: str) -> None:
        order_id = self.place(payment_oms, faults.code, approved_method)
        order = payment_oms.orders.get(order_id)
        assert not order.active_holds
        assert order.status is OrderStatus.ALLOCATED
        summary = payment_oms.payments.summary(order_id)
        assert summary.authorised == Money("100.00", "EUR")
        assert summary.authorise_status.value == "full"
        assert summary.charge_status.value == "none"
        assert self.reference(payment_oms, order_id)

    def test_decline_keeps_the_hold_with_its_reason(self, payment_oms: Oms,
                                                   faults: FaultyProvider,
                                                   declined_method: str) -> None:
        order_id = self.place(payment_oms, faults.code, declined_method)
        order = payment_oms.orders.get(order_id)
        (hold,) = order.active_holds
        assert hold.code == "payment_pending"
        assert hold.reason.startswith("payment declined: ")
        (ledger,) = payment_oms.payments.summary(order_id).transactions
        failure = ledger.authorisation_failure
        assert failure is not None
        assert failure.error_class is PaymentErrorClass.PERMANENT
        assert ledger.authorised.amount == 0

    def test_capture_above_the_authorised_remainder_is_refused(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str) -> None:
        order_id = self.place(payment_oms, faults.code, approved_method)
        before = table_contents(payment_oms)
        with pytest.raises(PaymentAmountExceeded):
            payment_oms.payments.capture(order_id, Decimal("100.01"), reference="too-much")
        assert table_contents(payment_oms) == before

    def test_concurrent_captures_never_exceed_the_authorisation(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            provider_captured: Callable[[PaymentProvider, str], Decimal]) -> None:
        self.needs(faults, PaymentCapability.PARTIAL_CAPTURE, PaymentCapability.MULTI_CAPTURE)
        order_id = self.place(payment_oms, faults.code, approved_method)
        outcomes = self.in_parallel([
            functools.partial(payment_oms.payments.capture, order_id, Decimal("30"),
                              reference=f"part-{i}")
            for i in range(8)])
        assert sum(o is None for o in outcomes) == 3
        assert all(isinstance(o, PaymentAmountExceeded) for o in outcomes if o is not None)
        assert payment_oms.payments.summary(order_id).captured == Money("90", "EUR")
        assert provider_captured(faults.inner, self.reference(payment_oms, order_id)) == 90

    def test_partial_then_final_capture_releases_the_rest(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str) -> None:
        self.needs(faults, PaymentCapability.PARTIAL_CAPTURE, PaymentCapability.MULTI_CAPTURE)
        order_id = self.place(payment_oms, faults.code, approved_method)
        payment_oms.payments.capture(order_id, Decimal("30"), reference="first")
        summary = payment_oms.payments.capture(order_id, Decimal("20"), reference="last",
                                               final=True)
        assert summary.captured == Money("50", "EUR")
        assert summary.uncaptured == Money("0", "EUR")
        assert summary.transactions[0].closed
        with pytest.raises(PaymentAmountExceeded):
            payment_oms.payments.capture(order_id, Decimal("1"), reference="after")

    def test_concurrent_refunds_never_exceed_what_was_captured(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            provider_captured: Callable[[PaymentProvider, str], Decimal]) -> None:
        self.needs(faults, PaymentCapability.PARTIAL_REFUND, PaymentCapability.MULTIPLE_REFUNDS)
        order_id = self.place(payment_oms, faults.code, approved_method)
        payment_oms.payments.capture(order_id, reference="all", final=True)
        outcomes = self.in_parallel([
            functools.partial(payment_oms.payments.refund, order_id, Decimal("30"),
                              refund_key=f"refund-{i}")
            for i in range(8)])
        assert sum(o is None for o in outcomes) == 3
        assert all(isinstance(o, PaymentAmountExceeded) for o in outcomes if o is not None)
        summary = payment_oms.payments.summary(order_id)
        assert summary.refunded == Money("90", "EUR")
        assert provider_captured(faults.inner, self.reference(payment_oms, order_id)) == 10

    def test_duplicate_and_out_of_order_webhooks_change_nothing_twice(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            sent_webhooks: Callable[[PaymentProvider], Webhooks]) -> None:
        self.needs(faults, PaymentCapability.WEBHOOKS, PaymentCapability.PARTIAL_CAPTURE)
        order_id = self.place(payment_oms, faults.code, approved_method)
        # The capture took effect at the provider, but the process died before the ledger
        # heard: only the webhooks tell.
        faults.fail_next(PaymentAction.CAPTURE, "crash_after")
        with pytest.raises(SimulatedCrash):
            payment_oms.payments.capture(order_id, Decimal("40"), reference="ship-1")
        sent = sent_webhooks(faults.inner)
        assert sent, "the provider sent no webhook"
        # Newest first (the capture before the authorisation), each twice.
        for headers, body in [*reversed(sent), *reversed(sent)]:
            payment_oms.payments.handle_webhook(faults.code, headers, body)
        (ledger,) = payment_oms.payments.summary(order_id).transactions
        assert ledger.captured == Money("40", "EUR")
        assert ledger.authorised == Money("100", "EUR")
        assert not ledger.pending()
        results = [e for e in ledger.entries if e.is_result]
        assert [(e.action, e.outcome) for e in results] == [
            (PaymentAction.AUTHORISE, PaymentOutcome.SUCCESS),
            (PaymentAction.CAPTURE, PaymentOutcome.SUCCESS)]
        before = table_contents(payment_oms)
        for headers, body in sent:
            assert payment_oms.payments.handle_webhook(faults.code, headers, body) == []
        payment_oms.payments.capture(order_id, Decimal("40"), reference="ship-1")
        assert table_contents(payment_oms) == before

    def test_a_wrongly_signed_webhook_is_refused(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            sent_webhooks: Callable[[PaymentProvider], Webhooks]) -> None:
        self.needs(faults, PaymentCapability.WEBHOOKS)
        sent_webhooks(faults.inner)
        order_id = self.place(payment_oms, faults.code, approved_method)
        payment_oms.payments.capture(order_id, Decimal("10"), reference="ship-1")
        headers, body = sent_webhooks(faults.inner)[-1]
        before = table_contents(payment_oms)
        tampered = body.replace(b"10", b"99", 1) if b"10" in body else body + b" "
        for bad in ((headers, tampered), ({}, body), (headers, b"not json")):
            with pytest.raises(InvalidWebhook):
                payment_oms.payments.handle_webhook(faults.code, *bad)
        assert table_contents(payment_oms) == before

    def test_an_expired_authorisation_is_renewed_before_release(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            payment_clock: MutableClock) -> None:
        order_id = self.place(payment_oms, faults.code, approved_method)
        payment_clock.advance(timedelta(days=8))
        before = table_contents(payment_oms)
        with pytest.raises(AuthorisationExpired):
            payment_oms.payments.capture(order_id, Decimal("10"), reference="late")
        assert table_contents(payment_oms) == before
        # Releasing holds the order and renews the authorisation (after the commit); once
        # renewed, the hold is gone and the next release goes through.
        held = payment_oms.fulfillment.release(order_id)
        assert all(fo.status.value == "created" for fo in held.fulfillment_orders)
        summary = payment_oms.payments.summary(order_id)
        old, new = summary.transactions
        assert old.closed
        assert not old.expired(payment_clock())
        assert new.authorised == Money("100", "EUR")
        assert not payment_oms.orders.get(order_id).active_holds
        released = payment_oms.fulfillment.release(order_id)
        assert all(fo.status.value == "released" for fo in released.fulfillment_orders)
        assert payment_oms.payments.capture(order_id, Decimal("10"),
                                            reference="on-time").captured.amount == 10

    def test_outcome_unknown_is_reconciled_through_retrieve(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            provider_captured: Callable[[PaymentProvider, str], Decimal]) -> None:
        self.needs(faults, PaymentCapability.PARTIAL_CAPTURE, PaymentCapability.MULTI_CAPTURE)
        order_id = self.place(payment_oms, faults.code, approved_method)
        faults.fail_next(PaymentAction.CAPTURE, "timeout_after")
        payment_oms.payments.capture(order_id, Decimal("25"), reference="lost-answer")
        faults.fail_next(PaymentAction.CAPTURE, "timeout_before")
        payment_oms.payments.capture(order_id, Decimal("25"), reference="lost-request")
        (ledger,) = payment_oms.payments.summary(order_id).transactions
        assert ledger.captured == Money("50", "EUR")
        sources = [e.source for e in ledger.entries
                   if e.action is PaymentAction.CAPTURE and e.is_result]
        assert sources == [PaymentEntrySource.RECONCILE, PaymentEntrySource.CORE]
        assert faults.reached[PaymentAction.CAPTURE] == 2
        assert provider_captured(faults.inner, self.reference(payment_oms, order_id)) == 50

    def test_retry_after_a_crash_does_not_charge_twice(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            provider_captured: Callable[[PaymentProvider, str], Decimal]) -> None:
        order_id = self.place(payment_oms, faults.code, approved_method)
        faults.fail_next(PaymentAction.CAPTURE, "crash_after")
        with pytest.raises(SimulatedCrash):
            payment_oms.payments.capture(order_id, reference="ship-1", final=True)
        (ledger,) = payment_oms.payments.summary(order_id).transactions
        assert [e.outcome for e in ledger.pending()] == [PaymentOutcome.REQUEST]
        summary = payment_oms.payments.capture(order_id, reference="ship-1", final=True)
        assert summary.captured == Money("100", "EUR")
        reference = self.reference(payment_oms, order_id)
        assert provider_captured(faults.inner, reference) == 100
        (ledger,) = summary.transactions
        requests = [e for e in ledger.entries if e.action is PaymentAction.CAPTURE
                    and e.outcome is PaymentOutcome.REQUEST]
        assert len(requests) == 1

    def test_a_retryable_error_is_retried_with_the_same_key(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str) -> None:
        order_id = self.place(payment_oms, faults.code, approved_method)
        faults.fail_next(PaymentAction.CAPTURE, "retryable")
        summary = payment_oms.payments.capture(order_id, Decimal("100"), reference="ship-1")
        assert summary.captured == Money("100", "EUR")
        (ledger,) = summary.transactions
        assert [e.outcome for e in ledger.entries if e.action is PaymentAction.CAPTURE] == [
            PaymentOutcome.REQUEST, PaymentOutcome.SUCCESS]

    def test_a_chargeback_and_its_reversal(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            sent_webhooks: Callable[[PaymentProvider], Webhooks],
            dispute: Callable[[PaymentProvider, str, Money, bool], None]) -> None:
        self.needs(faults, PaymentCapability.WEBHOOKS)
        order_id = self.place(payment_oms, faults.code, approved_method)
        payment_oms.payments.capture(order_id, reference="all", final=True)
        reference = self.reference(payment_oms, order_id)
        sent_webhooks(faults.inner)
        dispute(faults.inner, reference, Money("40", "EUR"), False)
        chargeback = sent_webhooks(faults.inner)
        assert chargeback, "the provider sent no chargeback webhook"
        for headers, body in [*chargeback, *chargeback]:  # a second delivery changes nothing
            payment_oms.payments.handle_webhook(faults.code, headers, body)
        lost = payment_oms.payments.summary(order_id)
        assert lost.charged_back == Money("40", "EUR")
        assert lost.balance == Money("40", "EUR")
        assert lost.charge_status.value == "partial"
        dispute(faults.inner, reference, Money("40", "EUR"), True)
        reversal = sent_webhooks(faults.inner)
        for headers, body in [*reversal, *reversal]:
            payment_oms.payments.handle_webhook(faults.code, headers, body)
        won = payment_oms.payments.summary(order_id)
        assert won.charged_back == Money("0", "EUR")
        assert won.charge_status.value == "full"

    def test_a_higher_total_is_authorised_for_the_difference(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            provider_captured: Callable[[PaymentProvider, str], Decimal]) -> None:
        self.needs(faults, PaymentCapability.MULTI_CAPTURE)
        order_id = self.place(payment_oms, faults.code, approved_method, units=2)
        payment_oms.edits.submit(EditOrder(channel="conformance", idempotency_key="raise",
                                           order_id=order_id, quantities={"1": 3}))
        summary = payment_oms.payments.summary(order_id)
        assert summary.authorised == Money("30", "EUR")
        assert summary.authorise_status.value == "full"
        assert not payment_oms.orders.get(order_id).active_holds
        # Raised in place when the provider declares it; else a second authorisation on the
        # same tender (its provider and payment method).
        incremental = PaymentCapability.INCREMENTAL_AUTHORISATION in faults.capabilities
        assert len(summary.transactions) == (1 if incremental else 2)
        assert {x.transaction.method_token for x in summary.transactions} == {approved_method}
        payment_oms.payments.capture(order_id, reference="all", final=True)
        assert sum(provider_captured(faults.inner, str(x.transaction.provider_reference))
                   for x in payment_oms.payments.summary(order_id).transactions) == 30

    def test_a_lower_total_releases_part_of_the_authorisation(
            self, payment_oms: Oms, faults: FaultyProvider, approved_method: str,
            provider_captured: Callable[[PaymentProvider, str], Decimal]) -> None:
        self.needs(faults, PaymentCapability.VOID, PaymentCapability.PARTIAL_VOID)
        order_id = self.place(payment_oms, faults.code, approved_method, units=3)
        payment_oms.orders.cancel_lines(order_id, {"1": 1})
        (ledger,) = payment_oms.payments.summary(order_id).transactions
        assert ledger.voided == Money("10", "EUR")
        assert ledger.uncaptured == Money("20", "EUR")
        assert not ledger.closed
        # What is left is still held, and capturable in full by the provider.
        payment_oms.payments.capture(order_id, reference="rest", final=True)
        assert provider_captured(faults.inner, self.reference(payment_oms, order_id)) == 20
