"""The sandbox card processor: in memory, thread-safe, with a real processor's rules.

- Authorisations by test card number (``cards.py``): declines and insufficient funds are
  refused; an authorisation holds for 7 days (by the injected clock) and can be raised.
- Captures: at most 50 per payment, never above what is left of the authorisation, never
  after it expired or closed; a final capture closes it.
- Voids: release what is left of the authorisation, or part of it (``partial_void``: the
  rest stays held for the captures).
- Refunds: never above what was captured and not refunded.
- Idempotency by key, as Stripe does it: the same key again replays the first answer (a
  success or a decline); the same key with other parameters is refused.
- Every outcome is also sent as a webhook signed with HMAC-SHA256 over the raw body
  (:meth:`SandboxProvider.webhooks` hands them over for delivery).
- Faults on demand (:meth:`SandboxProvider.fail_next`): a retryable error, or a timeout
  before or after the operation took effect, for testing the core's recovery.
"""

from __future__ import annotations

import enum
import itertools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from omskit import (
    InvalidWebhook,
    Money,
    PaymentAction,
    PaymentCapability,
    PaymentDeclined,
    PaymentNotification,
    PaymentOutcome,
    PaymentOutcomeUnknown,
    PaymentRequest,
    PaymentResult,
    PaymentRetryable,
)

from omskit_payment_sandbox import cards, webhooks

#: How long an authorisation holds.
AUTHORISATION_TTL = timedelta(days=7)
#: Most captures of one payment.
MAX_CAPTURES = 50
#: The secret webhooks are signed with unless another is given.
DEFAULT_SECRET = b"whsec_sandbox"

#: Webhook event types and what they report.
EVENT_TYPES: dict[str, tuple[PaymentAction, PaymentOutcome]] = {
    "payment.authorised": (PaymentAction.AUTHORISE, PaymentOutcome.SUCCESS),
    "payment.authorisation_failed": (PaymentAction.AUTHORISE, PaymentOutcome.FAILURE),
    "payment.captured": (PaymentAction.CAPTURE, PaymentOutcome.SUCCESS),
    "payment.voided": (PaymentAction.VOID, PaymentOutcome.SUCCESS),
    "payment.refunded": (PaymentAction.REFUND, PaymentOutcome.SUCCESS),
    "payment.charged_back": (PaymentAction.CHARGEBACK, PaymentOutcome.SUCCESS),
    "payment.chargeback_reversed": (PaymentAction.CHARGEBACK_REVERSAL, PaymentOutcome.SUCCESS),
}


class Fault(enum.StrEnum):
    """A failure :meth:`SandboxProvider.fail_next` injects into the next call."""

    #: Refused before doing anything (a 503): ``PaymentRetryable``.
    RETRYABLE = "retryable"
    #: Timed out before the request arrived: ``PaymentOutcomeUnknown``, nothing done.
    TIMEOUT_BEFORE = "timeout_before"
    #: Timed out after the operation took effect: ``PaymentOutcomeUnknown``, done.
    TIMEOUT_AFTER = "timeout_after"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@attrs.define
class _Payment:
    reference: str
    currency: str
    authorised: Decimal
    expires_at: datetime
    captured: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    charged_back: Decimal = Decimal(0)
    captures: int = 0
    closed: bool = False


#: What a key answered: the request's parameters, and its result or decline.
_Answer = tuple[tuple[Any, ...], PaymentResult | PaymentDeclined]


class SandboxProvider:
    """An in-process payment provider with a card processor's rules (module docstring).

    ``clock`` decides authorisation expiry and webhook timestamps; ``secret`` signs the
    webhooks. All methods are safe to call from several threads.
    """

    def __init__(self, *, code: str = "sandbox", secret: bytes = DEFAULT_SECRET,
                 clock: Callable[[], datetime] = _utcnow,
                 authorisation_ttl: timedelta = AUTHORISATION_TTL,
                 capabilities: frozenset[PaymentCapability] = frozenset(PaymentCapability)
                 ) -> None:
        self._code = code
        self._secret = secret
        self._clock = clock
        self._ttl = authorisation_ttl
        self._capabilities = capabilities
        self._lock = threading.Lock()
        self._payments: dict[str, _Payment] = {}
        self._answers: dict[str, _Answer] = {}
        self._faults: dict[PaymentAction, list[Fault]] = {}
        self._outbox: list[tuple[dict[str, str], bytes]] = []
        self._ids = itertools.count(1)
        #: Every call that reached the processor, in order: (action, idempotency key).
        self.calls: list[tuple[str, str]] = []

    # -- the PaymentProvider Protocol -----------------------------------------------------------

    @property
    def code(self) -> str:
        """``sandbox`` unless another was given."""
        return self._code

    @property
    def capabilities(self) -> frozenset[PaymentCapability]:
        """Everything, unless restricted (to test how the core copes with less)."""
        return self._capabilities

    def authorise(self, request: PaymentRequest) -> PaymentResult:
        """A new authorisation on the test card, or a raise of an existing one."""
        return self._run(request, self._authorise)

    def capture(self, request: PaymentRequest) -> PaymentResult:
        """Capture part or all of what is left of the authorisation."""
        return self._run(request, self._capture)

    def void(self, request: PaymentRequest) -> PaymentResult:
        """Release what is left of the authorisation, or part of it (a partial void)."""
        return self._run(request, self._void)

    def refund(self, request: PaymentRequest) -> PaymentResult:
        """Give back part of what was captured."""
        return self._run(request, self._refund)

    def retrieve(self, request: PaymentRequest) -> PaymentResult | None:
        """The answer given under the request's key; ``None`` if it never arrived."""
        with self._lock:
            found = self._answers.get(request.idempotency_key)
        if found is None:
            return None
        answer = found[1]
        if isinstance(answer, PaymentDeclined):
            raise PaymentDeclined(answer.reason, answer.message)
        return answer

    def parse_webhook(self, headers: Mapping[str, str],
                      body: bytes) -> Sequence[PaymentNotification]:
        """Verify the signature over the raw body, then read the event."""
        problems = webhooks.verify(self._secret, headers, body, self._clock())
        if problems:
            raise InvalidWebhook(problems, provider=self._code)
        try:
            event = json.loads(body)
            data = event["data"]
            action, outcome = EVENT_TYPES[event["type"]]
            currency = str(data["currency"])
            amount = Money(Decimal(str(data["amount"])), currency)
            note = PaymentNotification(
                notification_id=str(event["id"]), provider_reference=str(data["payment"]),
                action=action, outcome=outcome, amount=amount,
                occurred_at=datetime.fromisoformat(event["created"]),
                idempotency_key=data.get("idempotency_key"),
                operation_reference=str(data.get("operation") or ""),
                reason=str(data.get("reason") or ""), final=bool(data.get("final")),
                expires_at=(None if data.get("expires_at") is None
                            else datetime.fromisoformat(data["expires_at"])))
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise InvalidWebhook([f"body: not a sandbox event ({type(exc).__name__}: {exc})"],
                                 provider=self._code) from None
        return [note]

    # -- for tests and demos --------------------------------------------------------------------

    def fail_next(self, action: PaymentAction, fault: Fault) -> None:
        """Make the next call of ``action`` fail with ``fault`` (queued: call again for
        several)."""
        with self._lock:
            self._faults.setdefault(action, []).append(fault)

    def webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The webhooks sent since the last call, oldest first, as ``(headers, body)``."""
        with self._lock:
            sent, self._outbox = self._outbox, []
        return sent

    def dispute(self, reference: str, amount: Money) -> None:
        """The card holder disputes ``amount`` and loses the merchant it: a chargeback."""
        self._disputed(reference, amount, "payment.charged_back", 1)

    def win_dispute(self, reference: str, amount: Money) -> None:
        """The merchant won the dispute: the chargeback is reversed."""
        self._disputed(reference, amount, "payment.chargeback_reversed", -1)

    def captured(self, reference: str) -> Decimal:
        """What the processor captured on the payment, less refunds and chargebacks."""
        with self._lock:
            p = self._payments[reference]
            return p.captured - p.refunded - p.charged_back

    def sign(self, body: bytes) -> dict[str, str]:
        """Headers that make ``body`` a validly signed delivery now."""
        return webhooks.sign(self._secret, body, self._clock())

    # -- the processor ---------------------------------------------------------------------------

    def _run(self, request: PaymentRequest,
             operate: Callable[[PaymentRequest, datetime], PaymentResult]) -> PaymentResult:
        params = (request.action.value, request.amount, request.provider_reference,
                  request.method_token, request.final)
        with self._lock:
            queued = self._faults.get(request.action) or []
            fault = queued.pop(0) if queued else None
            if fault is Fault.RETRYABLE:
                raise PaymentRetryable("service_unavailable", "the sandbox is busy; retry")
            if fault is Fault.TIMEOUT_BEFORE:
                raise PaymentOutcomeUnknown("timeout", "no answer (the request was lost)")
            self.calls.append((request.action.value, request.idempotency_key))
            answer: PaymentResult | PaymentDeclined
            replay = self._answers.get(request.idempotency_key)
            if replay is not None:
                if replay[0] != params:
                    raise PaymentDeclined("idempotency_key_reused",
                                          "this key was used with other parameters")
                answer = replay[1]
            else:
                try:
                    answer = operate(request, self._clock())
                except PaymentDeclined as exc:
                    answer = exc
                    self._send_failure(request, exc)
                self._answers[request.idempotency_key] = (params, answer)
        if fault is Fault.TIMEOUT_AFTER:
            raise PaymentOutcomeUnknown("timeout", "no answer (the request was processed)")
        if isinstance(answer, PaymentDeclined):
            raise PaymentDeclined(answer.reason, answer.message)
        return answer

    def _payment(self, request: PaymentRequest) -> _Payment:
        found = self._payments.get(request.provider_reference or "")
        if found is None:
            raise PaymentDeclined("no_such_payment", f"{request.provider_reference!r}")
        if found.currency != request.amount.currency:
            raise PaymentDeclined("currency_mismatch",
                                  f"the payment is in {found.currency}")
        return found

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _authorise(self, request: PaymentRequest, at: datetime) -> PaymentResult:
        if request.provider_reference is not None:  # incremental authorisation
            p = self._payment(request)
            if p.closed or at >= p.expires_at:
                raise PaymentDeclined("authorisation_closed", "cannot raise a closed one")
            p.authorised += request.amount.amount
        else:
            reason = cards.decline_reason(request.method_token)
            if reason is not None:
                raise PaymentDeclined(reason, "the issuer declined the authorisation")
            p = _Payment(reference=self._new_id("pay"), currency=request.amount.currency,
                         authorised=request.amount.amount, expires_at=at + self._ttl)
            self._payments[p.reference] = p
        result = PaymentResult(provider_reference=p.reference, amount=request.amount,
                               expires_at=p.expires_at)
        self._send(request, result, "payment.authorised", at)
        return result

    def _capture(self, request: PaymentRequest, at: datetime) -> PaymentResult:
        p = self._payment(request)
        if p.closed:
            raise PaymentDeclined("authorisation_closed", "the authorisation is closed")
        if at >= p.expires_at:
            raise PaymentDeclined("authorisation_expired", f"expired at {p.expires_at}")
        if p.captures >= MAX_CAPTURES:
            raise PaymentDeclined("capture_limit_reached", f"at most {MAX_CAPTURES} captures")
        if request.amount.amount > p.authorised - p.captured:
            raise PaymentDeclined("amount_too_large",
                                  f"only {p.authorised - p.captured} left to capture")
        p.captured += request.amount.amount
        p.captures += 1
        p.closed = request.final
        result = PaymentResult(provider_reference=p.reference, amount=request.amount,
                               operation_reference=self._new_id("cap"))
        self._send(request, result, "payment.captured", at)
        return result

    def _void(self, request: PaymentRequest, at: datetime) -> PaymentResult:
        p = self._payment(request)
        if p.closed:
            raise PaymentDeclined("authorisation_closed", "the authorisation is closed")
        if request.amount.amount < p.authorised - p.captured:
            p.authorised -= request.amount.amount  # a partial void: the rest stays held
        else:
            p.closed = True
        result = PaymentResult(provider_reference=p.reference, amount=request.amount,
                               operation_reference=self._new_id("void"))
        self._send(request, result, "payment.voided", at)
        return result

    def _refund(self, request: PaymentRequest, at: datetime) -> PaymentResult:
        p = self._payment(request)
        left = p.captured - p.refunded - p.charged_back
        if request.amount.amount > left:
            raise PaymentDeclined("amount_too_large", f"only {left} left to refund")
        p.refunded += request.amount.amount
        result = PaymentResult(provider_reference=p.reference, amount=request.amount,
                               operation_reference=self._new_id("re"))
        self._send(request, result, "payment.refunded", at)
        return result

    def _disputed(self, reference: str, amount: Money, event_type: str, sign: int) -> None:
        at = self._clock()
        with self._lock:
            p = self._payments[reference]
            p.charged_back += sign * amount.amount
            self._queue(event_type, at, {
                "payment": reference, "amount": str(amount.amount),
                "currency": amount.currency, "operation": self._new_id("dp")})

    # -- webhooks ---------------------------------------------------------------------------------

    def _send(self, request: PaymentRequest, result: PaymentResult, event_type: str,
              at: datetime) -> None:
        self._queue(event_type, at, {
            "payment": result.provider_reference, "amount": str(result.amount.amount),
            "currency": result.amount.currency, "idempotency_key": request.idempotency_key,
            "operation": result.operation_reference, "final": request.final,
            "expires_at": None if result.expires_at is None else result.expires_at.isoformat()})

    def _send_failure(self, request: PaymentRequest, exc: PaymentDeclined) -> None:
        if request.action is not PaymentAction.AUTHORISE:
            return  # the caller learns of other refusals from the answer itself
        self._queue("payment.authorisation_failed", self._clock(), {
            "payment": request.provider_reference or self._new_id("pay"),
            "amount": str(request.amount.amount), "currency": request.amount.currency,
            "idempotency_key": request.idempotency_key, "reason": exc.reason})

    def _queue(self, event_type: str, at: datetime, data: dict[str, Any]) -> None:
        body = json.dumps({"id": self._new_id("evt"), "type": event_type,
                           "created": at.isoformat(), "data": data},
                          separators=(",", ":")).encode()
        self._outbox.append((webhooks.sign(self._secret, body, at), body))
