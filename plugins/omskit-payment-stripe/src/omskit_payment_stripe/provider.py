"""The Stripe payment provider: omskit's payment operations as PaymentIntents and Refunds.

- ``authorise``: ``POST /v1/payment_intents`` with ``confirm=true``,
  ``capture_method=manual``, the tender's PaymentMethod, card only, and
  ``payment_method_options[card][request_multicapture]=if_available`` when the account has
  multicapture.
- ``capture``: ``POST /v1/payment_intents/{id}/capture`` with ``amount_to_capture``, and
  ``final_capture`` when the intent's charge reports multicapture available (otherwise
  Stripe's capture is final by itself).
- ``void``: ``POST /v1/payment_intents/{id}/cancel``.
- ``refund``: ``POST /v1/refunds`` with the PaymentIntent and the amount.
- ``retrieve``: the intent found by its authorisation's key (search), its capture markers,
  or its refunds, by the keys omskit wrote in their metadata (:mod:`.metadata`).
- ``parse_webhook``: the SDK verifies ``Stripe-Signature``; :mod:`.webhooks` translates.

Every request that changes something sends omskit's idempotency key as Stripe's
``Idempotency-Key``, so the same key twice never moves money twice. Amounts are Stripe's
integers in each currency's smallest unit (:mod:`.currencies`). Errors are omskit's three
classes (:mod:`.errors`); no SDK exception gets out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import stripe
from omskit import (
    InvalidCommand,
    InvalidWebhook,
    Money,
    PaymentAction,
    PaymentCapability,
    PaymentDeclined,
    PaymentNotification,
    PaymentOutcomeUnknown,
    PaymentRequest,
    PaymentResult,
)

from omskit_payment_stripe import currencies, metadata, webhooks
from omskit_payment_stripe.errors import translate
from omskit_payment_stripe.settings import StripeSettings

#: How long a card authorisation holds when the charge does not say (``capture_before``).
AUTHORISATION_TTL: Final = timedelta(days=7)

#: What every Stripe provider can do; ``multi_capture`` is added when the account has it.
BASE_CAPABILITIES: Final = frozenset({
    PaymentCapability.MANUAL_CAPTURE, PaymentCapability.PARTIAL_CAPTURE,
    PaymentCapability.VOID, PaymentCapability.PARTIAL_REFUND,
    PaymentCapability.MULTIPLE_REFUNDS, PaymentCapability.WEBHOOKS})

T = TypeVar("T")


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _dict(value: Any) -> dict[str, Any]:
    """A response as plain data (webhook events are plain data too, so one reading serves
    both)."""
    if isinstance(value, stripe.StripeObject):
        return value.to_dict()
    return dict(value)


def charge_of(intent: Mapping[str, Any]) -> Mapping[str, Any]:
    """The intent's latest charge when expanded (an empty mapping otherwise)."""
    found = intent.get("latest_charge")
    return found if isinstance(found, Mapping) else {}


def card_details(charge: Mapping[str, Any]) -> Mapping[str, Any]:
    """``payment_method_details.card`` of a charge (empty when absent)."""
    details = charge.get("payment_method_details") or {}
    return details.get("card") or {}


def authorisation_expiry(intent: Mapping[str, Any]) -> datetime:
    """When the authorisation lapses: the charge's ``capture_before`` when Stripe gives it,
    else 7 days after the charge (or the intent) was made."""
    charge = charge_of(intent)
    before = card_details(charge).get("capture_before")
    if isinstance(before, int):
        return _at(before)
    made = charge.get("created") or intent["created"]
    return _at(int(made)) + AUTHORISATION_TTL


def multicapture_available(intent: Mapping[str, Any]) -> bool:
    """Whether Stripe reports this payment may be captured in several parts."""
    found = card_details(charge_of(intent)).get("multicapture") or {}
    return bool(found.get("status") == "available")


def decline_reason(intent: Mapping[str, Any]) -> tuple[str, str]:
    """The reason and message of the intent's last failed payment attempt."""
    error = intent.get("last_payment_error") or {}
    reason = error.get("decline_code") or error.get("code") or "card_declined"
    return str(reason), str(error.get("message") or "the card was declined")


def _quoted(value: str) -> str:
    """A string literal of Stripe's search query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StripeProvider:
    """A ``PaymentProvider`` on one Stripe account (see the module docstring).

    ``http_client`` is the SDK's HTTP client (by default ``stripe.RequestsClient`` with the
    settings' timeout); tests give one whose transport plays Stripe. The SDK's own retries
    are off: the core retries retryable calls under the same key and reconciles the rest.
    Safe to call from several threads.
    """

    def __init__(self, settings: StripeSettings, *, code: str = "stripe",
                 http_client: stripe.HTTPClient | None = None) -> None:
        self._code = code
        self._settings = settings
        self._client = stripe.StripeClient(
            settings.secret_key, stripe_version=settings.api_version, max_network_retries=0,
            http_client=http_client or stripe.RequestsClient(timeout=settings.timeout))
        self._capabilities = BASE_CAPABILITIES | (
            {PaymentCapability.MULTI_CAPTURE} if settings.multicapture else set())

    @property
    def code(self) -> str:
        """``stripe`` unless another was given."""
        return self._code

    @property
    def capabilities(self) -> frozenset[PaymentCapability]:
        """Manual, partial capture, void, partial and multiple refunds and webhooks; several
        captures per payment when the settings say the account has multicapture. No
        incremental authorisation: Stripe's ``increment_authorization`` takes the new total,
        which two concurrent raises would both compute from the same old one."""
        return self._capabilities

    @property
    def settings(self) -> StripeSettings:
        """The account's settings."""
        return self._settings

    # -- calls ----------------------------------------------------------------------------------

    def _send(self, call: Callable[[], T]) -> T:
        """A request that may change something (it carries the idempotency key)."""
        try:
            return call()
        except stripe.StripeError as exc:
            raise translate(exc) from exc

    def _read(self, call: Callable[[], T]) -> T:
        """A request that changes nothing."""
        try:
            return call()
        except stripe.StripeError as exc:
            raise translate(exc, changes=False) from exc

    @staticmethod
    def _minor(amount: Money) -> int:
        try:
            return currencies.to_minor(amount)
        except ValueError as exc:
            raise PaymentDeclined("invalid_amount", str(exc)) from None

    @staticmethod
    def _reference(request: PaymentRequest) -> str:
        if not request.provider_reference:
            raise PaymentDeclined("no_payment_intent",
                                  f"transaction {request.transaction_id} has no PaymentIntent")
        return request.provider_reference

    def _intent(self, reference: str) -> dict[str, Any]:
        return _dict(self._read(lambda: self._client.v1.payment_intents.retrieve(
            reference, params={"expand": ["latest_charge"]})))

    # -- the PaymentProvider Protocol -----------------------------------------------------------

    def authorise(self, request: PaymentRequest) -> PaymentResult:
        """Create and confirm a manual-capture PaymentIntent on the tender's PaymentMethod."""
        if request.provider_reference is not None:
            raise PaymentDeclined("incremental_authorisation_unsupported",
                                  "the Stripe plugin does not raise an authorisation")
        if not request.method_token:
            raise PaymentDeclined("payment_method_missing",
                                  "the tender carries no Stripe PaymentMethod (pm_...)")
        params: dict[str, Any] = {
            "amount": self._minor(request.amount),
            "currency": request.amount.currency.lower(),
            "capture_method": "manual",
            "confirm": True,
            "payment_method": request.method_token,
            # Card only: manual capture, capture_before and multicapture are card features,
            # and a redirecting method could not be completed from the server anyway.
            "payment_method_types": ["card"],
            "description": f"omskit order {request.order_id}",
            "metadata": {metadata.ORDER: request.order_id,
                         metadata.KEY: request.idempotency_key},
            "expand": ["latest_charge"],
        }
        if self._settings.multicapture:
            params["payment_method_options"] = {"card": {"request_multicapture": "if_available"}}
        intent = _dict(self._send(lambda: self._client.v1.payment_intents.create(
            params=params,  # type: ignore[arg-type]  # built as plain data, as sent
            options={"idempotency_key": request.idempotency_key})))
        return self._authorised(intent, request.amount)

    def capture(self, request: PaymentRequest) -> PaymentResult:
        """Capture part or all of the authorisation; ``request.final`` releases the rest
        where the payment has multicapture (elsewhere every capture is final)."""
        reference = self._reference(request)
        amount = self._minor(request.amount)
        intent = self._intent(reference)
        params: dict[str, Any] = {
            "amount_to_capture": amount,
            # The marker is written with the capture, so it exists exactly when it does.
            "metadata": {metadata.capture_marker(request.idempotency_key): str(amount)},
        }
        if multicapture_available(intent):
            params["final_capture"] = request.final
        captured = _dict(self._send(lambda: self._client.v1.payment_intents.capture(
            reference, params=params,  # type: ignore[arg-type]
            options={"idempotency_key": request.idempotency_key})))
        charge = captured.get("latest_charge")
        return PaymentResult(provider_reference=str(captured["id"]), amount=request.amount,
                             operation_reference=str(charge) if isinstance(charge, str) else "")

    def void(self, request: PaymentRequest) -> PaymentResult:
        """Cancel the PaymentIntent, releasing what is left of the authorisation."""
        reference = self._reference(request)
        try:
            self._send(lambda: self._client.v1.payment_intents.cancel(
                reference, options={"idempotency_key": request.idempotency_key}))
        except PaymentDeclined as exc:
            # Nothing left to release (a capture Stripe made final, an authorisation Stripe
            # cancelled when it lapsed) is what a void asks for.
            if exc.reason != "payment_intent_unexpected_state" or \
                    self._intent(reference)["status"] not in ("canceled", "succeeded"):
                raise
        return PaymentResult(provider_reference=reference, amount=request.amount)

    def refund(self, request: PaymentRequest) -> PaymentResult:
        """Refund part of what was captured, as a Refund of the PaymentIntent."""
        reference = self._reference(request)
        params = {
            "payment_intent": reference,
            "amount": self._minor(request.amount),
            "metadata": {metadata.KEY: request.idempotency_key, metadata.ORDER: request.order_id},
        }
        refund = _dict(self._send(lambda: self._client.v1.refunds.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": request.idempotency_key})))
        return self._refunded(refund, request)

    def retrieve(self, request: PaymentRequest) -> PaymentResult | None:
        """How the operation made under ``request.idempotency_key`` ended, read from Stripe:
        ``None`` when Stripe holds nothing made under it."""
        if request.action is PaymentAction.AUTHORISE:
            query = f"metadata[{_quoted(metadata.KEY)}]:{_quoted(request.idempotency_key)}"
            found = _dict(self._read(lambda: self._client.v1.payment_intents.search(
                params={"query": query, "expand": ["data.latest_charge"]})))
            if not found["data"]:
                # Stripe's search lags its writes by up to a minute: a miss may be an intent
                # too new to be found. The core then sends the same key again, which Stripe
                # answers with the first response, so a miss never authorises twice.
                return None
            return self._authorised(found["data"][0], request.amount)
        reference = self._reference(request)
        if request.action is PaymentAction.CAPTURE:
            intent = self._intent(reference)
            marker = intent.get("metadata", {}).get(
                metadata.capture_marker(request.idempotency_key))
            if marker is None:
                return None
            charge = charge_of(intent).get("id", "")
            return PaymentResult(provider_reference=reference, amount=request.amount,
                                 operation_reference=str(charge))
        if request.action is PaymentAction.VOID:
            if self._intent(reference)["status"] != "canceled":
                return None  # the same key again cancels it, or says why not
            return PaymentResult(provider_reference=reference, amount=request.amount)
        refunds = self._read(lambda: self._client.v1.refunds.list(
            params={"payment_intent": reference, "limit": 100}))
        for item in self._read(lambda: list(refunds.auto_paging_iter())):
            refund = _dict(item)
            if (refund.get("metadata") or {}).get(metadata.KEY) == request.idempotency_key:
                return self._refunded(refund, request)
        return None

    def parse_webhook(self, headers: Mapping[str, str],
                      body: bytes) -> Sequence[PaymentNotification]:
        """Verify ``Stripe-Signature`` over the raw body with the SDK, then translate the
        event (:mod:`.webhooks`)."""
        signature = {k.lower(): v for k, v in headers.items()}.get("stripe-signature")
        try:
            stripe.WebhookSignature.verify_header(
                body, signature, self._settings.webhook_secret,
                tolerance=self._settings.webhook_tolerance)
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook([f"headers.Stripe-Signature: {exc.user_message}"],
                                 provider=self._code) from None
        except UnicodeDecodeError:
            raise InvalidWebhook(["body: not UTF-8"], provider=self._code) from None
        try:
            event = json.loads(body)
            return webhooks.notifications(event)
        except (ValueError, KeyError, TypeError, AttributeError, InvalidCommand) as exc:
            # InvalidCommand: an amount no omskit Money can hold (an unknown currency).
            raise InvalidWebhook([f"body: not a Stripe event ({type(exc).__name__}: {exc})"],
                                 provider=self._code) from None

    # -- answers --------------------------------------------------------------------------------

    def _authorised(self, intent: Mapping[str, Any], asked: Money) -> PaymentResult:
        status = intent["status"]
        charge = charge_of(intent)
        held = status == "requires_capture" or (
            # Authorised, then captured or cancelled elsewhere: the authorisation happened,
            # and what followed reaches omskit through its own webhook.
            status in ("succeeded", "canceled") and charge.get("status") == "succeeded")
        if held:
            return PaymentResult(provider_reference=str(intent["id"]), amount=asked,
                                 operation_reference=str(charge.get("id", "")),
                                 expires_at=authorisation_expiry(intent))
        if status == "requires_action":
            raise PaymentDeclined("authentication_required",
                                  "the card asks for 3-D Secure, which a server-side "
                                  "authorisation cannot complete")
        if status in ("requires_payment_method", "canceled"):
            raise PaymentDeclined(*decline_reason(intent))
        raise PaymentOutcomeUnknown(str(status), f"PaymentIntent {intent['id']} is {status}")

    @staticmethod
    def _refunded(refund: Mapping[str, Any], request: PaymentRequest) -> PaymentResult:
        status = refund.get("status")
        if status in ("failed", "canceled"):
            raise PaymentDeclined(str(refund.get("failure_reason") or f"refund_{status}"),
                                  f"Refund {refund['id']} {status}")
        return PaymentResult(provider_reference=str(request.provider_reference),
                             amount=request.amount, operation_reference=str(refund["id"]))
